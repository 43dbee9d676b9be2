"""Certificates xiaoer writes for a unit, and the 核验单 beside a unit's own PDF: rendered to A4 PDF
in Chinese, read back by poppler (pdftoppm, pdftotext) and the QR code by zxing-cpp, as a reader's
viewer and phone would."""

from __future__ import annotations

import io
import subprocess

import pytest
import zxingcpp
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from services.router.documents import codes, issuing, qr, templates, wording
from shared.catalogue import CERTIFICATE_KINDS, DEPARTMENT_KINDS
from shared.clock import utcnow
from tests.documents.conftest import SUBJECT, UNIT_NAME, USCC, VERIFY_BASE, compact, pdf_text, pdf_to_png, tool

A4_AT_100_DPI = (827, 1169)  # 210 × 297 mm


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


def ink(image: Image.Image, top: float = 0.0, bottom: float = 1.0) -> float:
    """The share of dark pixels between two heights (fractions of the page)."""
    band = image.crop((0, int(image.height * top), image.width, int(image.height * bottom)))
    dark = sum(count for value, count in enumerate(band.histogram()) if value < 128)
    return dark / (band.width * band.height)


def decoded_qr_codes(image: Image.Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image) if found.format == zxingcpp.BarcodeFormat.QRCode]


def test_a_certificate_is_one_a4_page_with_text_and_the_qr_code_on_it(certificate_pdf):
    assert certificate_pdf.startswith(b"%PDF-")
    assert page_count(certificate_pdf) == 1
    image = pdf_to_png(certificate_pdf)
    assert abs(image.width - A4_AT_100_DPI[0]) <= 2 and abs(image.height - A4_AT_100_DPI[1]) <= 2
    assert ink(image, 0.10, 0.20) > 0.005  # the title and the 文号
    assert ink(image, 0.20, 0.40) > 0.01  # the statement
    assert ink(image, 0.78, 0.92) > 0.03  # the QR code and the 核验码 at the foot
    assert ink(image) < 0.25  # text on a white page, not a black one
    # Nothing runs off the page: the margins stay white.
    assert ink(image, 0.0, 0.05) == 0 and ink(image, 0.96, 1.0) == 0
    left, right = image.crop((0, 0, 40, image.height)), image.crop((image.width - 40, 0, image.width, image.height))
    assert ink(left) == 0 and ink(right) == 0


def test_the_certificate_says_in_chinese_what_was_put_in(certificate, certificate_pdf):
    text = compact(pdf_text(certificate_pdf))
    words = wording.statement(certificate.kind, SUBJECT, USCC, certificate.period_start, certificate.period_end)
    assert words == (
        f"经查，{SUBJECT}（统一社会信用代码：{USCC}）在{wording.chinese_date(certificate.period_start)}至"
        f"{wording.chinese_date(certificate.period_end)}期间无税务违法违规记录。"
    )
    for expected in (
        "无违法违规证明",
        certificate.document_number,
        words,
        "特此证明。",
        UNIT_NAME,
        wording.chinese_date(certificate.issued_on),
        f"核验码{codes.group(certificate.code)}",
        f"扫码或访问{codes.verification_url(VERIFY_BASE, certificate.code)}核验",
    ):
        assert compact(expected) in text, expected


def test_the_fonts_are_noto_cjk_embedded(certificate_pdf, tmp_path):
    fonts = templates.cjk_fonts()
    assert all(path.is_file() for path in fonts.values())
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate_pdf)
    listing = subprocess.run([tool("pdffonts"), str(path)], capture_output=True, text=True, check=True).stdout
    rows = listing.splitlines()[2:]
    assert rows and all("Noto-Serif-CJK-SC" in row for row in rows), listing
    assert all(row.split()[-5:-2] == ["yes", "yes", "yes"] for row in rows), listing  # embedded, subset, unicode


def test_the_qr_code_on_the_certificate_opens_its_verification_page(certificate, certificate_pdf):
    image = pdf_to_png(certificate_pdf, dpi=150)
    assert decoded_qr_codes(image) == [codes.verification_url(VERIFY_BASE, certificate.code)]


def test_each_certificate_kind_has_a_statement_from_the_catalogue():
    for term in CERTIFICATE_KINDS:
        words = wording.wording(term.code)
        assert words.title == "无违法违规证明"
        assert words.field and not words.field.endswith("局")
        if term.code not in ("customs", "fire_rescue", "foreign_exchange", "public_security"):
            # derived from the kind's own name: 税务局 → 税务, 住房公积金管理中心 → 住房公积金
            assert DEPARTMENT_KINDS.zh(term.code).startswith(words.field), term.code
    assert wording.wording("tax").field == "税务"
    assert wording.wording("emergency_management").field == "应急管理"
    assert wording.wording("customs").field == "海关监管"
    # a kind the catalogue does not list as issuing certificates still gets words, never a failure
    assert wording.wording("justice").field == "司法"
    assert wording.wording("unheard_of").field == "unheard_of"


def test_another_kind_prints_its_own_statement():
    issued_at = utcnow()
    cert = issuing.certificate(
        code=codes.new_code(),
        kind="customs",
        document_number=wording.document_number("黄关证", issued_at.year, 7),
        unit_name="中华人民共和国黄埔海关",
        subject_name=SUBJECT,
        subject_uscc=USCC,
        issued_at=issued_at,
        period_months=24,
        verify_base_url=VERIFY_BASE,
    )
    text = compact(pdf_text(templates.render_certificate(cert)))
    assert "无海关监管违法违规记录" in text
    assert compact(wording.chinese_date(cert.period_start)) in text


def test_the_verification_slip_names_the_units_file_with_its_qr_code(slip):
    pdf = templates.render_verification_slip(slip)
    assert page_count(pdf) == 1
    text = compact(pdf_text(pdf))
    for expected in (
        "电子文件核验单",
        slip.unit_name,
        slip.document_number,
        "无违法违规证明（市场监督管理局）",
        slip.subject_name,
        slip.subject_uscc,
        slip.file_name,
        slip.sha256,  # grouped by eight on the page, whole once the spaces are gone
        wording.chinese_datetime(slip.registered_at),
        f"核验码{codes.group(slip.code)}",
    ):
        assert compact(expected) in text, expected
    image = pdf_to_png(pdf, dpi=150)
    assert decoded_qr_codes(image) == [codes.verification_url(VERIFY_BASE, slip.code)]
    assert ink(pdf_to_png(pdf), 0.25, 0.6) > 0.01  # the table


def test_the_qr_code_alone_as_png_and_svg():
    url = codes.verification_url(VERIFY_BASE, codes.new_code())
    assert decoded_qr_codes(Image.open(io.BytesIO(qr.png(url))).convert("L")) == [url]
    svg = qr.svg(url)
    assert svg.startswith("<svg") and "viewBox" in svg and "<title>核验二维码</title>" in svg
    assert qr.svg_data_uri(url).startswith("data:image/svg+xml")


@pytest.mark.parametrize("html", ["certificate", "slip"])
def test_what_is_put_in_is_escaped(html, certificate, slip):
    hostile = "<script>alert(1)</script>某公司"
    if html == "certificate":
        page = templates.certificate_html(certificate.__class__(**{**certificate.__dict__, "subject_name": hostile}))
    else:
        page = templates.verification_slip_html(slip.__class__(**{**slip.__dict__, "file_name": hostile}))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_long_verification_address_stays_whole_on_the_page(certificate):
    long_base = "https://qiye.guangdong.gov.cn/xiaoer/services"
    cert = certificate.__class__(**{**certificate.__dict__, "verify_base_url": long_base})
    pdf = templates.render_certificate(cert)
    url = codes.verification_url(long_base, cert.code)
    assert len(url) > templates.LONG_URL
    assert f"扫码或访问{url}核验" in compact(pdf_text(pdf))
    image = pdf_to_png(pdf)
    right_margin = image.crop((image.width - int(image.width * 24 / 210), 0, image.width, image.height))
    assert ink(right_margin) == 0
