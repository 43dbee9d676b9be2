"""Pictures of the documents xiaoer issues, for docs/screenshots/: a signed certificate
(certificate.png) and a 核验单 (verification-slip.png), rendered by poppler's pdftoppm as a
reader's viewer would show them. Demo data only; the development CA goes to a scratch directory.

    python -m services.router.documents.screenshots [--out docs/screenshots] [--dpi 110]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

from services.router.documents import codes, issuing, signing, templates, verification, wording
from shared.clock import utcnow
from shared.validation import make_uscc

ROOT = Path(__file__).resolve().parents[3]
VERIFY_BASE = "https://xiaoer.example.cn"
SUBJECT = "广州小二智能科技有限公司"
USCC = make_uscc("91440112MA5D2XJ39")


def _png(pdf: bytes, out: Path, dpi: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch, "document.pdf")
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", source, out.with_suffix("")], check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    issued_at = utcnow()
    with tempfile.TemporaryDirectory() as ca_dir:
        ca = signing.IssuingCA.development(Path(ca_dir))
        unit_name = "国家税务总局广州市黄埔区税务局"
        cert = issuing.certificate(
            code=codes.new_code(),
            kind="tax",
            document_number=wording.document_number("穗埔税证", issued_at.year, 123),
            unit_name=unit_name,
            subject_name=SUBJECT,
            subject_uscc=USCC,
            issued_at=issued_at,
            period_months=36,
            verify_base_url=VERIFY_BASE,
        )
        signed = issuing.write_certificate(cert, ca.signer_for("440112.tax", unit_name), location="广州市黄埔区")
        _png(signed.pdf, args.out / "certificate.png", args.dpi)

        own_pdf = templates.render_certificate(cert)  # stands in for a unit's own system's PDF
        slip = templates.VerificationSlip(
            code=codes.new_code(),
            document_number=wording.document_number("穗埔市监证", issued_at.year, 45),
            kind="market_regulation",
            unit_name="广州市黄埔区市场监督管理局",
            subject_name=SUBJECT,
            subject_uscc=USCC,
            file_name=f"无违法违规证明-{SUBJECT}.pdf",
            file_size=len(own_pdf),
            sha256=verification.sha256_hex(own_pdf),
            registered_at=issued_at - timedelta(minutes=3),
            verify_base_url=VERIFY_BASE,
        )
        _png(issuing.write_verification_slip(slip).pdf, args.out / "verification-slip.png", args.dpi)
    print(f"wrote {args.out / 'certificate.png'} and {args.out / 'verification-slip.png'}")


if __name__ == "__main__":
    main()
