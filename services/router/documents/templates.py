"""Certificates xiaoer writes for units without their own system, and the 核验单 beside a unit's
own PDF: Jinja2 HTML rendered to A4 PDF by WeasyPrint, in Debian's Noto CJK fonts.

One template serves every certificate kind; the title and the statement per kind come from
:mod:`services.router.documents.wording`.

The 核验单 (verification slip) is one page that names a PDF the unit uploaded (unit, 文号,
subject, SHA-256) with the QR code and 核验码: the unit's file is never altered.

Rendering is CPU-bound (about 0.1–0.2 s a page): from async code, run it in a thread.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import jinja2
from weasyprint import HTML

from services.router.documents import codes, qr
from services.router.documents.wording import chinese_date, chinese_datetime, statement, wording
from shared.catalogue import DEPARTMENT_KINDS

TEMPLATES = Path(__file__).parent / "templates"
GENERATOR = "店小二"  # the platform, as the documents name it


# --- Fonts ---------------------------------------------------------------------------------------
class FontsMissing(RuntimeError):
    """The Chinese fonts are not installed: nothing can be rendered without them."""


# Family → the file Debian's fonts-noto-cjk installs it in (when fontconfig's fc-match is absent).
# One family (regular and bold) on every page: each face embedded costs ~0.1 s of subsetting.
FONT_FAMILIES = {
    "Noto Serif CJK SC": "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
}


@functools.cache
def cjk_fonts() -> dict[str, Path]:
    """The font file of each family the templates use, as fontconfig resolves it (WeasyPrint
    finds fonts through fontconfig too). :class:`FontsMissing` when one resolves to no CJK font:
    fontconfig silently substitutes another family, which would print boxes or nothing."""
    found: dict[str, Path] = {}
    fc_match = shutil.which("fc-match")
    for family, debian_path in FONT_FAMILIES.items():
        if fc_match:
            out = subprocess.run(
                [fc_match, "-f", "%{family[0]}\n%{file}", family], capture_output=True, text=True, check=False
            ).stdout.splitlines()
            if len(out) == 2 and out[0] == family:
                found[family] = Path(out[1])
                continue
        elif Path(debian_path).is_file():
            found[family] = Path(debian_path)
            continue
        raise FontsMissing(
            f"the Chinese font {family!r} is not installed: install Debian's fonts-noto-cjk "
            "(apt-get install fonts-noto-cjk); certificates cannot be rendered without it"
        )
    return found


# --- What goes on the page -----------------------------------------------------------------------
@dataclass(frozen=True)
class Certificate:
    """A certificate xiaoer writes for a unit. ``code`` is the 核验码 (any form);
    ``verify_base_url`` where the public verification page is (``{it}/verify/{code}``)."""

    code: str
    document_number: str
    kind: str
    unit_name: str
    subject_name: str
    subject_uscc: str
    period_start: date
    period_end: date
    issued_on: date
    verify_base_url: str


@dataclass(frozen=True)
class VerificationSlip:
    """The 核验单 for a PDF the unit uploaded from its own system."""

    code: str
    document_number: str
    kind: str
    unit_name: str
    subject_name: str
    subject_uscc: str
    file_name: str
    file_size: int
    sha256: str
    registered_at: datetime
    verify_base_url: str


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["chinese_date"] = chinese_date
    return env


# Beside the QR code a line holds about 64 characters of the address at 9.5 pt; a longer one is set
# smaller (up to about 85) so that it stays whole on the page. Keep XIAOER_VERIFICATION_PUBLIC_URL short.
LONG_URL = 64


def _verification(code: str, base_url: str) -> dict[str, object]:
    url = codes.verification_url(base_url, code)
    return {"code": codes.group(code), "url": url, "qr": qr.svg_data_uri(url), "long_url": LONG_URL}


def certificate_html(cert: Certificate) -> str:
    words = wording(cert.kind)
    return (
        _environment()
        .get_template("certificate.html")
        .render(
            cert=cert,
            title=words.title,
            statement=statement(cert.kind, cert.subject_name, cert.subject_uscc, cert.period_start, cert.period_end),
            kind_name=DEPARTMENT_KINDS.zh(cert.kind),
            generator=GENERATOR,
            **_verification(cert.code, cert.verify_base_url),
        )
    )


def verification_slip_html(slip: VerificationSlip) -> str:
    return (
        _environment()
        .get_template("verification_slip.html")
        .render(
            slip=slip,
            kind_title=wording(slip.kind).title,
            kind_name=DEPARTMENT_KINDS.zh(slip.kind),
            registered=chinese_datetime(slip.registered_at),
            sha256_groups=" ".join(slip.sha256[i : i + 8] for i in range(0, len(slip.sha256), 8)),
            generator=GENERATOR,
            **_verification(slip.code, slip.verify_base_url),
        )
    )


def _pdf(html: str) -> bytes:
    cjk_fonts()  # refuse clearly before WeasyPrint substitutes a font without Chinese
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def render_certificate(cert: Certificate) -> bytes:
    """The certificate as an unsigned A4 PDF (sign it with ``signing.sign_pdf``)."""
    return _pdf(certificate_html(cert))


def render_verification_slip(slip: VerificationSlip) -> bytes:
    """The one-page 核验单 as an A4 PDF."""
    return _pdf(verification_slip_html(slip))
