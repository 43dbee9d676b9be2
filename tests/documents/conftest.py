"""What the documents' tests share: a certificate and a 核验单 as a unit would issue them today,
the development CA in a scratch directory, and poppler's pdftoppm and pdftotext to read PDFs back
as a person's viewer would (Debian's poppler-utils)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from services.router.documents import codes, issuing, signing, templates, verification, wording
from shared.clock import utcnow
from shared.validation import make_uscc

VERIFY_BASE = "https://xiaoer.example.gov.cn"
UNIT_CODE = "440112.tax"
UNIT_NAME = "国家税务总局广州市黄埔区税务局"
SUBJECT = "广州小二智能科技有限公司"
USCC = make_uscc("91440112MA5D2XJ39")  # with its check character


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: install Debian's poppler-utils (apt-get install poppler-utils)"
    return found


def pdf_to_png(pdf: bytes, *, dpi: int = 100) -> Image.Image:
    """The first page as poppler renders it (grey levels)."""
    with tempfile.TemporaryDirectory() as scratch:
        source, page = Path(scratch, "document.pdf"), Path(scratch, "page")
        source.write_bytes(pdf)
        subprocess.run([tool("pdftoppm"), "-r", str(dpi), "-png", "-singlefile", source, page], check=True)
        with Image.open(page.with_suffix(".png")) as image:
            return image.convert("L")


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        [tool("pdftotext"), "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def compact(text: str) -> str:
    """Text without any whitespace: a PDF's lines break wherever the page is full."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("signing-dev-ca")


@pytest.fixture(scope="module")
def dev_ca(ca_dir) -> signing.IssuingCA:
    return signing.IssuingCA.development(ca_dir)


@pytest.fixture(scope="module")
def certificate() -> templates.Certificate:
    issued_at = utcnow() - timedelta(hours=2)
    return issuing.certificate(
        code=codes.new_code(),
        kind="tax",
        document_number=wording.document_number("穗埔税证", issued_at.year, 123),
        unit_name=UNIT_NAME,
        subject_name=SUBJECT,
        subject_uscc=USCC,
        issued_at=issued_at,
        period_months=36,
        verify_base_url=VERIFY_BASE,
    )


@pytest.fixture(scope="module")
def certificate_pdf(certificate) -> bytes:
    return templates.render_certificate(certificate)


@pytest.fixture(scope="module")
def signed_certificate(certificate, dev_ca) -> issuing.IssuedFile:
    return issuing.write_certificate(certificate, dev_ca.signer_for(UNIT_CODE, UNIT_NAME), location="广州市黄埔区")


@pytest.fixture(scope="module")
def slip() -> templates.VerificationSlip:
    registered_at = utcnow() - timedelta(minutes=5)
    own_pdf = b"%PDF-1.7\n% the unit's own certificate, as its system wrote it\n"
    return templates.VerificationSlip(
        code=codes.new_code(),
        document_number=wording.document_number("穗埔市监证", registered_at.year, 45),
        kind="market_regulation",
        unit_name="广州市黄埔区市场监督管理局",
        subject_name=SUBJECT,
        subject_uscc=USCC,
        file_name="无违法违规证明-广州小二智能科技有限公司.pdf",
        file_size=len(own_pdf),
        sha256=verification.sha256_hex(own_pdf),
        registered_at=registered_at,
        verify_base_url=VERIFY_BASE,
    )
