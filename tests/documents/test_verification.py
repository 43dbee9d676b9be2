"""What the public verification shows (pure functions) and the per-client limit on lookups."""

from __future__ import annotations

import calendar
import itertools
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from services.router.documents import codes, verification
from services.router.documents.settings import DocumentSettings
from shared.clock import SHANGHAI, utcnow
from tests.documents.conftest import USCC


def test_the_look_back_period_ends_on_the_issue_day_and_spans_whole_months():
    year = utcnow().year
    assert verification.lookback_period(date(year, 1, 15), 36) == (date(year - 3, 1, 16), date(year, 1, 15))
    assert verification.lookback_period(date(year, 3, 1), 12) == (date(year - 1, 3, 2), date(year, 3, 1))
    assert verification.lookback_period(date(year, 1, 15), None) == verification.lookback_period(date(year, 1, 15), 36)
    assert verification.lookback_period(date(year, 1, 15), None, default_months=24)[0] == date(year - 2, 1, 16)
    leap = next(y for y in itertools.count(year) if calendar.isleap(y))
    # 12 months before 29 February is 28 February: the period starts the day after.
    assert verification.lookback_period(date(leap, 2, 29), 12) == (date(leap - 1, 3, 1), date(leap, 2, 29))
    with pytest.raises(ValueError):
        verification.lookback_period(date(year, 1, 15), -1)


def test_the_issue_day_is_the_day_in_shanghai():
    late_evening_utc = datetime.combine(utcnow().date(), datetime.min.time(), UTC) + timedelta(hours=16, minutes=30)
    assert verification.issue_day(late_evening_utc) == late_evening_utc.date() + timedelta(days=1)


def test_past_the_use_window_a_certificate_is_still_genuine_but_shows_it():
    issued_at = utcnow() - timedelta(days=20)
    issued_on = issued_at.astimezone(SHANGHAI).date()
    fresh = verification.validity(issued_at, 36, utcnow(), use_within_days=90)
    assert fresh.within_use_window and fresh.use_window.zh == "在建议使用期内"
    assert fresh.issued_on == issued_on and fresh.use_until == issued_on + timedelta(days=90)
    assert (fresh.period_start, fresh.period_end) == verification.lookback_period(issued_on, 36)
    last_day = datetime.combine(fresh.use_until, datetime.max.time(), SHANGHAI)
    assert verification.validity(issued_at, 36, last_day, use_within_days=90).within_use_window
    day_after = datetime.combine(fresh.use_until + timedelta(days=1), datetime.min.time(), SHANGHAI)
    old = verification.validity(issued_at, 36, day_after, use_within_days=90)
    assert not old.within_use_window and old.use_window.zh == "超出建议使用期"


def test_the_uscc_is_masked_to_its_first_two_and_last_four_characters():
    assert verification.mask_uscc(USCC) == USCC[:2] + "*" * 12 + USCC[-4:]
    assert verification.mask_uscc(USCC.lower()) == verification.mask_uscc(USCC)
    assert verification.mask_uscc("123") == "***"  # not a USCC: nothing of it shows


def test_status_is_valid_or_revoked_with_the_day_and_reason_class():
    assert verification.status(None).term.zh == "有效"
    revoked_at = datetime.combine(utcnow().date(), datetime.min.time(), UTC) + timedelta(hours=17)
    revoked = verification.status(revoked_at, "duplicate")
    assert revoked.revoked and revoked.term.zh == "已撤销"
    assert revoked.revoked_on == revoked_at.date() + timedelta(days=1)  # 01:00 the next day in Shanghai
    assert revoked.reason.zh == "重复出具"
    assert verification.status(revoked_at, "something_new").reason.zh == "其他"
    assert [t.zh for t in verification.REVOCATION_REASONS.values()] == ["内容有误", "重复出具", "依法撤销", "其他"]


def test_uploads_that_cannot_be_compared_are_refused():
    pdf = b"%PDF-1.7\n..."
    verification.check_pdf_upload(pdf, 1024)
    verification.check_pdf_upload(b"\xef\xbb\xbf garbage first " + pdf, 1024)  # header within 1024 bytes
    for data, code in ((b"", "file_empty"), (pdf + b"x" * 2000, "file_too_large"), (b"PK\x03\x04zip", "file_not_pdf")):
        with pytest.raises(verification.UploadRefused) as refused:
            verification.check_pdf_upload(data, 1024)
        assert refused.value.code == code and refused.value.zh and refused.value.en


def test_the_public_view_shows_what_a_reader_needs_and_no_more():
    issued_at = utcnow() - timedelta(days=100)
    doc = verification.IssuedDocument(
        code=codes.new_code(),
        form="certificate",
        kind="tax",
        document_number="穗埔税证〔2026〕123号",
        unit_code="440112.tax",
        unit_name="国家税务总局广州市黄埔区税务局",
        unit_region_code="440112",
        subject_name="广州小二智能科技有限公司",
        subject_uscc=USCC,
        issued_at=issued_at,
        period_months=36,
        sha256="ab" * 32,
    )
    view = verification.public_view(doc, utcnow())
    assert view.code == codes.group(doc.code)
    assert view.kind.zh == "税务局" and view.form.zh == "证明" and view.title == "无违法违规证明"
    assert view.unit_region_name.endswith("黄埔区")
    assert view.subject_uscc_masked == verification.mask_uscc(USCC) and USCC not in repr(view)
    assert view.status.term.zh == "有效"
    assert not view.validity.within_use_window and "超出建议使用期" in view.notes[0]
    revoked_at = utcnow() - timedelta(days=1)
    gone = verification.public_view(
        verification.IssuedDocument(**{**doc.__dict__, "revoked_at": revoked_at, "revocation_reason": "content_error"}),
        utcnow(),
    )
    assert gone.status.term.zh == "已撤销" and "内容有误" in gone.notes[0]


async def test_a_burst_of_lookups_beyond_the_limit_is_refused_with_a_retry_after():
    limiter = verification.LookupLimiter("3/minute", "2/minute")
    client = f"203.0.113.{time.monotonic_ns() % 250}"
    for _ in range(3):
        assert (await limiter.lookup(client)).allowed
    refused = await limiter.lookup(client)
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    assert refused.headers == {"Retry-After": str(refused.retry_after)}
    assert (await limiter.lookup(client + "-other")).allowed  # per client
    assert (await limiter.lookup(client + "-other")).headers == {}


async def test_misses_count_against_a_stricter_limit_so_codes_cannot_be_enumerated():
    limiter = verification.LookupLimiter("100/minute", "2/minute")
    client = "enumerator"
    for _ in range(2):
        assert (await limiter.lookup(client)).allowed
        await limiter.miss(client)
    refused = await limiter.lookup(client)
    assert not refused.allowed and 1 <= refused.retry_after <= 60


def test_the_limiter_takes_its_limits_from_the_settings():
    limiter = verification.LookupLimiter.from_settings(
        DocumentSettings(verification_rate_limit="5/second;20/minute", verification_miss_limit="1/minute")
    )
    assert [(item.amount, item.get_expiry()) for item in limiter.lookups] == [(5, 1), (20, 60)]
    assert [(item.amount, item.get_expiry()) for item in limiter.misses] == [(1, 60)]
