"""PAdES signatures on certificates: made with the issuing unit's key from the development CA (or an
operator's CA, or per-unit PKCS#12 files) and checked by pyHanko's validator."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from services.router.documents import signing, verification
from services.router.documents.settings import DocumentSettings
from shared.clock import utcnow
from shared.settings import Settings
from tests.documents.conftest import UNIT_CODE, UNIT_NAME, compact, pdf_text


def test_the_signature_validates_and_names_the_issuing_unit(signed_certificate, dev_ca):
    check = signing.validate_signed_pdf(signed_certificate.pdf, dev_ca.trust_roots())
    assert check.ok, check
    assert (check.signed, check.intact, check.valid, check.trusted, check.whole_file) == (True,) * 5
    assert check.unit_code == UNIT_CODE
    assert check.unit_name == UNIT_NAME
    assert check.signed_at is not None and abs(check.signed_at - utcnow()) < timedelta(minutes=10)
    assert signed_certificate.sha256 == verification.sha256_hex(signed_certificate.pdf)


def test_signing_keeps_what_the_page_says(signed_certificate, certificate_pdf):
    assert signed_certificate.pdf.startswith(certificate_pdf)  # an incremental update: the page is untouched
    assert compact(pdf_text(signed_certificate.pdf)) == compact(pdf_text(certificate_pdf))


def test_a_byte_changed_in_the_signed_file_breaks_the_signature_and_the_identity(signed_certificate, dev_ca):
    pdf = bytearray(signed_certificate.pdf)
    at = pdf.index(b"stream", len(pdf) // 4) + 40  # inside a content stream, within the signed range
    pdf[at] ^= 0x01
    tampered = bytes(pdf)
    check = signing.validate_signed_pdf(tampered, dev_ca.trust_roots())
    assert check.signed and not check.intact and not check.ok
    identity = verification.compare_upload(signed_certificate.sha256, tampered)
    assert not identity.identical and identity.result.zh == "与登记的文件不一致"
    assert verification.compare_upload(signed_certificate.sha256, signed_certificate.pdf).identical


def test_an_edit_saved_after_signing_is_caught(signed_certificate, dev_ca):
    # What a PDF editor does: the signed bytes stay, a revision is appended that changes the page.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_certificate.pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    edited = out.getvalue()
    check = signing.validate_signed_pdf(edited, dev_ca.trust_roots())
    assert check.intact and check.valid  # the signed revision itself is unchanged
    assert not check.whole_file and not check.ok, check
    assert not verification.compare_upload(signed_certificate.sha256, edited).identical


def test_a_signature_by_another_ca_is_not_trusted(signed_certificate, dev_ca, tmp_path):
    stranger = signing.IssuingCA.development(tmp_path / "another-ca")
    check = signing.validate_signed_pdf(signed_certificate.pdf, stranger.trust_roots())
    assert check.intact and check.valid and not check.trusted and not check.ok
    # and a key a stranger issued in the unit's name is not trusted by the real CA
    forged = signing.sign_pdf(
        signed_certificate.pdf[: signed_certificate.pdf.index(b"%%EOF") + 6],
        stranger.signer_for(UNIT_CODE, UNIT_NAME),
        unit_name=UNIT_NAME,
    )
    forged_check = signing.validate_signed_pdf(forged, dev_ca.trust_roots())
    assert forged_check.unit_code == UNIT_CODE and forged_check.intact  # it claims the unit, intact…
    assert not forged_check.trusted and not forged_check.ok  # …but no CA we trust vouches for it


def test_unsigned_and_unreadable_files_are_results_not_errors(certificate_pdf, dev_ca):
    unsigned = signing.validate_signed_pdf(certificate_pdf, dev_ca.trust_roots())
    assert not unsigned.signed and unsigned.problem == "no signature"
    garbage = signing.validate_signed_pdf(b"not a pdf at all", dev_ca.trust_roots())
    assert not garbage.signed and garbage.problem.startswith("unreadable PDF")


async def test_the_async_variants_work_inside_an_event_loop(certificate_pdf, dev_ca):
    signer = dev_ca.signer_for(UNIT_CODE, UNIT_NAME)
    signed = await signing.async_sign_pdf(certificate_pdf, signer, unit_name=UNIT_NAME)
    check = await signing.async_validate_signed_pdf(signed, dev_ca.trust_roots())
    assert check.ok and check.unit_code == UNIT_CODE


def test_the_development_ca_is_made_once_and_kept(ca_dir, dev_ca):
    again = signing.IssuingCA.development(ca_dir)
    assert again.ca_cert == dev_ca.ca_cert
    first = dev_ca.unit_certificate("440112.customs", "中华人民共和国黄埔海关")
    kept = again.unit_certificate("440112.customs", "中华人民共和国黄埔海关")
    assert kept == first
    assert (ca_dir / "ca.pem").stat().st_mode & 0o077 == 0  # the keys are the owner's alone
    assert (ca_dir / "units" / "440112.customs.pem").stat().st_mode & 0o077 == 0
    subject = first.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "中华人民共和国黄埔海关"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "440112.customs"
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "440112.customs"
    assert first.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment


def test_a_renamed_unit_gets_a_new_certificate_for_the_same_key(tmp_path):
    ca = signing.IssuingCA.development(tmp_path)
    before = ca.unit_certificate("440112.statistics", "广州市黄埔区统计局")
    after = ca.unit_certificate("440112.statistics", "广州市黄埔区统计局（新名称）")
    assert after.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "广州市黄埔区统计局（新名称）"
    assert after.public_key() == before.public_key() and after.serial_number != before.serial_number


def test_unit_codes_cannot_name_other_files(dev_ca):
    for bad in ("../ca", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            dev_ca.signer_for(bad, "某单位")


def test_an_operators_ca_from_a_pkcs12_file(tmp_path, certificate_pdf):
    made = signing.IssuingCA.development(tmp_path / "made")  # stands in for the operator's CA
    p12 = tmp_path / "operator-ca.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(b"ca", made.ca_key, made.ca_cert, None, BestAvailableEncryption(b"pw"))
    )
    settings = DocumentSettings(
        signing_ca="file",
        signing_ca_path=p12,
        signing_ca_password="pw",
        signing_units_dir=tmp_path / "units",
    )
    authority = signing.authority_from_settings(settings)
    assert isinstance(authority, signing.IssuingCA)
    signed = signing.sign_pdf(certificate_pdf, authority.signer_for(UNIT_CODE, UNIT_NAME), unit_name=UNIT_NAME)
    check = signing.validate_signed_pdf(signed, signing.trust_roots(settings, authority))
    assert check.ok and check.unit_code == UNIT_CODE
    assert (tmp_path / "units" / f"{UNIT_CODE}.pem").is_file()
    wrong = DocumentSettings(signing_ca="file", signing_ca_path=p12, signing_ca_password="nope")
    with pytest.raises(signing.SigningUnavailable):
        signing.authority_from_settings(wrong)


def test_per_unit_pkcs12_files_from_an_outside_ca(tmp_path, certificate_pdf):
    outside = signing.IssuingCA.development(tmp_path / "outside")
    key, cert = outside.unit_credentials(UNIT_CODE, UNIT_NAME)
    units = tmp_path / "p12"
    units.mkdir()
    (units / f"{UNIT_CODE}.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(b"unit", key, cert, [outside.ca_cert], BestAvailableEncryption(b"pw"))
    )
    roots_file = tmp_path / "root.pem"
    roots_file.write_bytes(outside.ca_cert.public_bytes(signing.serialization.Encoding.PEM))
    settings = DocumentSettings(
        signing_ca="file", signing_ca_path=units, signing_ca_password="pw", signing_trust_roots=[roots_file]
    )
    authority = signing.authority_from_settings(settings)
    assert isinstance(authority, signing.Pkcs12Directory)
    signed = signing.sign_pdf(certificate_pdf, authority.signer_for(UNIT_CODE, UNIT_NAME), unit_name=UNIT_NAME)
    assert signing.validate_signed_pdf(signed, signing.trust_roots(settings, authority)).ok
    assert signing.validate_signed_pdf(signed, authority.trust_roots()).ok  # the files' own root
    with pytest.raises(signing.SigningUnavailable, match=r"440112\.tax2\.p12 is missing"):
        authority.signer_for("440112.tax2", "另一个单位")


def test_the_settings_refuse_a_development_ca_in_production(tmp_path):
    class RouterLike(Settings, DocumentSettings):  # how phase B mixes them into RouterSettings
        pass

    secret = "s" * 32
    with pytest.raises(ValidationError, match="XIAOER_SIGNING_CA=development"):
        RouterLike(env="production", jwt_secret=secret)
    ok = RouterLike(env="production", jwt_secret=secret, signing_ca="file", signing_ca_path=tmp_path)
    assert ok.signing_ca_path == tmp_path
    with pytest.raises(ValidationError, match="XIAOER_SIGNING_CA_PATH"):
        DocumentSettings(signing_ca="file")
    dev = RouterLike(var_dir=tmp_path)
    assert dev.signing_dev_path == tmp_path / "signing-dev-ca"
    assert dev.document_use_within_days == 90
