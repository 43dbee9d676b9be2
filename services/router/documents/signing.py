"""PAdES signatures on the certificates xiaoer writes for units (pyHanko).

Each unit signs with a key and certificate of its own (CN = the unit's name, OU and serialNumber =
its unit code, e.g. ``440112.tax``), issued by a configurable CA (``XIAOER_SIGNING_CA``):

- ``development``: a CA generated on first use under ``var_dir`` (``signing-dev-ca/ca.pem``), kept
  there, and one key per unit issued by it on first use (``signing-dev-ca/units/<unit>.pem``).
  Several processes may start at once: each file is written aside and linked into place, so the
  first one wins and the others read it. Refused with ``XIAOER_ENV=production``.
- ``file`` with ``XIAOER_SIGNING_CA_PATH`` naming a PKCS#12 file: an operator's CA (key and
  certificate, with its chain); units' keys are issued by it as in development and kept under
  ``XIAOER_SIGNING_UNITS_DIR``.
- ``file`` with ``XIAOER_SIGNING_CA_PATH`` naming a directory: one ``<unit_code>.p12`` per unit,
  issued by an outside CA (e.g. a 电子认证服务机构); xiaoer generates nothing, and a unit with no
  file cannot have certificates written for it (:class:`SigningUnavailable`).

An HSM or a cloud KMS plugs in as another :class:`SigningAuthority`: its ``signer_for`` returns a
pyHanko :class:`~pyhanko.sign.signers.pdf_cms.Signer` whose key never leaves the device —
:class:`pyhanko.sign.pkcs11.PKCS11Signer` for a PKCS#11 token or HSM (``python-pkcs11``), or a
subclass of ``Signer`` implementing ``async_sign_raw(data, digest_algorithm)`` with the KMS's sign
call (the certificate is then loaded from a file or the KMS). Nothing else here changes; it is
not implemented (docs/certificates.md).

**SM2/SM3 (GB/T 38540-2020 安全电子签章).** Chinese government seals and signatures use SM2 keys
with SM3 digests, and GB/T 38540 defines its own seal data (SES_Signature, with the seal image and
the signer's certificate) rather than a PAdES CMS. pyHanko's CMS and PDF machinery would carry an
SM2 signature through the same ``Signer.async_sign_raw`` hook (gmssl signs), but missing today:
SM2/SM3 in ``cryptography``/OpenSSL bindings as used by pyHanko and asn1crypto (the OIDs
1.2.156.10197.1.501 sm2sign-with-sm3 and 1.2.156.10197.1.401 sm3 are unknown to them, so neither
signing nor validation resolves the algorithm), an SM2 CA (certificates from a licensed 电子认证
服务机构), the GB/T 38540 seal structure itself (and its OFD counterpart, GB/T 33190), and a
validator that readers' software accepts. See docs/certificates.md.

Signing and validating are CPU-bound (tens of milliseconds): from async code, call the
``async_`` variants, or the plain ones through ``asyncio.to_thread`` together with rendering.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from services.router.documents.settings import DocumentSettings

# A unit code names a file: letters, digits, dots, dashes, underscores; no path, no leading dot.
_UNIT_CODE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
SIGNATURE_FIELD = "xiaoer-issuer"
_RENEW_BEFORE = dt.timedelta(days=30)  # a unit certificate this close to expiry is renewed


class SigningUnavailable(RuntimeError):
    """No signing key can be had for a unit (a missing PKCS#12 file, a bad password, a bad path)."""


class SigningAuthority(Protocol):
    """Where units' signers come from. ``signer_for`` is called per document (implementations
    cache), ``trust_roots`` are the certificates a unit's signature must chain to."""

    def signer_for(self, unit_code: str, unit_name: str) -> signers.Signer: ...

    def trust_roots(self) -> list[asn1_x509.Certificate]: ...


# --- Keys and certificates (cryptography), handed to pyHanko as asn1crypto objects --------------
def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key: ec.EllipticCurvePrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return asn1_keys.PrivateKeyInfo.load(der)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # ECDSA P-256: fast to make and to sign with. SM2 is a curve too, but see the module's note.
    return ec.generate_private_key(ec.SECP256R1())


def _pem_bundle(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> bytes:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


def _read_bundle(path: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningUnavailable(f"{path.name}: not an EC key")
    return key, x509.load_pem_x509_certificate(data)


def _write_once(path: Path, data: bytes) -> None:
    """Write ``path`` unless it exists, atomically: aside, then linked into place (the first of
    several processes wins; the others' copies are dropped and they read the winner's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    scratch.write_bytes(data)
    scratch.chmod(0o600)
    with contextlib.suppress(FileExistsError):
        os.link(scratch, path)
    scratch.unlink()


def _replace(path: Path, data: bytes) -> None:
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    scratch.write_bytes(data)
    scratch.chmod(0o600)
    os.replace(scratch, path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_unit_code(unit_code: str) -> None:
    if not _UNIT_CODE.match(unit_code):
        raise ValueError(f"not a unit code: {unit_code!r}")


def _unit_certificate(
    unit_code: str,
    unit_name: str,
    public_key: ec.EllipticCurvePublicKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    days: int,
) -> x509.Certificate:
    now = _now()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit_code),
            # UTF8String: a unit code's "_" (440112.housing_fund) is not a PrintableString character.
            x509.NameAttribute(NameOID.SERIAL_NUMBER, unit_code, _type=_ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.COMMON_NAME, unit_name),
        ]
    )
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # a little slack for clocks
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: the unit stands behind what it signs
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _development_ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _new_key()
    now = _now()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "店小二 xiaoer"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=20 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


# --- Authorities ---------------------------------------------------------------------------------
class IssuingCA:
    """A CA whose key xiaoer holds: it issues each unit a key and certificate on first use and
    keeps them under ``units_dir`` (``<unit_code>.pem``, key and certificate, mode 0600). A
    unit's certificate is issued again (same key) when its name changed or it nears expiry."""

    def __init__(
        self,
        ca_key: ec.EllipticCurvePrivateKey,
        ca_cert: x509.Certificate,
        units_dir: Path,
        *,
        chain: Sequence[x509.Certificate] = (),
        unit_cert_days: int = 3 * 365,
    ) -> None:
        self.ca_key = ca_key
        self.ca_cert = ca_cert
        self.chain = list(chain)  # the CA's own issuers, up to its root, if it is not one
        self.units_dir = units_dir
        self.unit_cert_days = unit_cert_days
        self._signers: dict[tuple[str, str], signers.SimpleSigner] = {}
        self._lock = threading.Lock()

    @classmethod
    def development(cls, directory: Path, *, unit_cert_days: int = 3 * 365) -> IssuingCA:
        """The development CA under ``directory``: generated on first use, then read."""
        ca_file = directory / "ca.pem"
        if not ca_file.exists():
            _write_once(ca_file, _pem_bundle(*_development_ca("店小二开发环境证书颁发机构 (development only)")))
        key, cert = _read_bundle(ca_file)
        return cls(key, cert, directory / "units", unit_cert_days=unit_cert_days)

    @classmethod
    def from_pkcs12(
        cls, path: Path, password: bytes | None, units_dir: Path, *, unit_cert_days: int = 3 * 365
    ) -> IssuingCA:
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(path.read_bytes(), password)
        except (OSError, ValueError) as error:
            raise SigningUnavailable(f"cannot read the CA's PKCS#12 {path}: {error}") from error
        if not isinstance(key, ec.EllipticCurvePrivateKey) or cert is None:
            raise SigningUnavailable(f"{path}: a CA PKCS#12 with an EC key and its certificate is needed")
        return cls(key, cert, units_dir, chain=chain, unit_cert_days=unit_cert_days)

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        roots = [c for c in [self.ca_cert, *self.chain] if c.issuer == c.subject]
        return [_asn1_cert(c) for c in roots or [self.ca_cert]]

    def unit_certificate(self, unit_code: str, unit_name: str) -> x509.Certificate:
        return self.unit_credentials(unit_code, unit_name)[1]

    def signer_for(self, unit_code: str, unit_name: str) -> signers.Signer:
        _check_unit_code(unit_code)
        with self._lock:
            cached = self._signers.get((unit_code, unit_name))
            if cached is not None and cached.signing_cert.not_valid_after > _now() + _RENEW_BEFORE:
                return cached
            key, cert = self.unit_credentials(unit_code, unit_name)
            store = SimpleCertificateStore.from_certs([_asn1_cert(c) for c in [self.ca_cert, *self.chain]])
            signer = signers.SimpleSigner(_asn1_cert(cert), _asn1_key(key), store)
            self._signers[(unit_code, unit_name)] = signer
            return signer

    def unit_credentials(self, unit_code: str, unit_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The unit's key and certificate: made on first use, renewed when stale or renamed."""
        _check_unit_code(unit_code)
        path = self.units_dir / f"{unit_code}.pem"
        if not path.exists():
            key = _new_key()
            cert = _unit_certificate(
                unit_code, unit_name, key.public_key(), self.ca_key, self.ca_cert, self.unit_cert_days
            )
            _write_once(path, _pem_bundle(key, cert))
        key, cert = _read_bundle(path)
        names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        stale = cert.not_valid_after_utc - _now() < _RENEW_BEFORE
        foreign = cert.issuer != self.ca_cert.subject  # e.g. the CA was replaced
        if names != [unit_name] or stale or foreign:
            cert = _unit_certificate(
                unit_code, unit_name, key.public_key(), self.ca_key, self.ca_cert, self.unit_cert_days
            )
            _replace(path, _pem_bundle(key, cert))
        return key, cert


class Pkcs12Directory:
    """Per-unit PKCS#12 files, ``<unit_code>.p12``, from an outside CA: xiaoer makes no keys.
    The unit code a validator reports comes from the certificate's serialNumber (or OU), so
    the outside CA must put it there. Trust roots: the self-signed certificates the files carry,
    unless ``XIAOER_SIGNING_TRUST_ROOTS`` names others."""

    def __init__(self, directory: Path, password: bytes | None) -> None:
        self.directory = directory
        self.password = password
        self._signers: dict[str, signers.SimpleSigner] = {}
        self._lock = threading.Lock()

    def _load(self, path: Path) -> signers.SimpleSigner:
        signer = signers.SimpleSigner.load_pkcs12_data(path.read_bytes(), other_certs=[], passphrase=self.password)
        if signer is None:
            raise SigningUnavailable(f"cannot read {path.name}: wrong password or not a PKCS#12 with a key")
        return signer

    def signer_for(self, unit_code: str, unit_name: str) -> signers.Signer:
        _check_unit_code(unit_code)
        with self._lock:
            if unit_code not in self._signers:
                path = self.directory / f"{unit_code}.p12"
                if not path.is_file():
                    raise SigningUnavailable(f"no signing key for unit {unit_code}: {path.name} is missing")
                self._signers[unit_code] = self._load(path)
            return self._signers[unit_code]

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        roots: dict[bytes, asn1_x509.Certificate] = {}
        for path in sorted(self.directory.glob("*.p12")):
            for cert in self._load(path).cert_registry:
                if cert.self_signed:
                    roots[cert.sha256] = cert
        return list(roots.values())


def authority_from_settings(settings: DocumentSettings) -> SigningAuthority:
    """The signing authority ``XIAOER_SIGNING_CA`` names (see the module's docstring)."""
    days = settings.signing_unit_cert_days
    if settings.signing_ca == "development":
        return IssuingCA.development(settings.signing_dev_path, unit_cert_days=days)
    path = settings.signing_ca_path
    assert path is not None  # DocumentSettings refuses signing_ca=file without a path
    password = settings.signing_ca_password.get_secret_value().encode() if settings.signing_ca_password else None
    if path.is_dir():
        return Pkcs12Directory(path, password)
    if path.is_file():
        return IssuingCA.from_pkcs12(path, password, settings.signing_units_path, unit_cert_days=days)
    raise SigningUnavailable(f"XIAOER_SIGNING_CA_PATH {path} is neither a PKCS#12 file nor a directory")


def trust_roots(settings: DocumentSettings, authority: SigningAuthority) -> list[asn1_x509.Certificate]:
    """What a signature must chain to: ``XIAOER_SIGNING_TRUST_ROOTS`` when set, else the
    authority's own roots."""
    if settings.signing_trust_roots:
        from pyhanko.keys import load_certs_from_pemder

        return list(load_certs_from_pemder([str(p) for p in settings.signing_trust_roots]))
    return authority.trust_roots()


# --- Signing -------------------------------------------------------------------------------------
def _metadata(unit_name: str, reason: str, location: str | None) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,  # PAdES baseline B-B (no time-stamp authority here)
        name=unit_name,
        reason=reason,
        location=location,
        # A certification (author) signature that allows no later change: what the unit issued
        # is final; a correction is a new document and a revocation of this one.
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )


def sign_pdf(
    pdf: bytes, signer: signers.Signer, *, unit_name: str, reason: str = "出具证明", location: str | None = None
) -> bytes:
    """``pdf`` with the unit's invisible PAdES signature added (an incremental update)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.PdfSigner(_metadata(unit_name, reason, location), signer).sign_pdf(writer)
    return out.getvalue()


async def async_sign_pdf(
    pdf: bytes, signer: signers.Signer, *, unit_name: str, reason: str = "出具证明", location: str | None = None
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await signers.PdfSigner(_metadata(unit_name, reason, location), signer).async_sign_pdf(writer)
    return out.getvalue()


# --- Validation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignatureCheck:
    """What pyHanko's validator found in a PDF.

    ``intact``: the signed bytes hash to what was signed; ``valid``: the signature over that hash
    checks out with the signer's key; ``trusted``: the signer's certificate chains to a trust root
    (and was valid when it signed); ``whole_file``: nothing but permitted updates follows the
    signature. ``unit_code`` and ``unit_name`` are read from the signer's certificate."""

    signed: bool
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    whole_file: bool = False
    unit_code: str | None = None
    unit_name: str | None = None
    signed_at: dt.datetime | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.signed and self.intact and self.valid and self.trusted and self.whole_file


def _name_attr(cert: asn1_x509.Certificate, attr: str) -> str | None:
    value = cert.subject.native.get(attr)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _context(roots: Iterable[asn1_x509.Certificate], at: dt.datetime | None) -> ValidationContext:
    # No fetching (no network from here) and soft-fail revocation: the development CA publishes no
    # CRL or OCSP. A unit key's revocation is the CA's business; a document's is xiaoer's record.
    return ValidationContext(trust_roots=list(roots), allow_fetching=False, revocation_mode="soft-fail", moment=at)


async def async_validate_signed_pdf(
    pdf: bytes, roots: Iterable[asn1_x509.Certificate], *, at: dt.datetime | None = None
) -> SignatureCheck:
    """Validate the issuer's signature in ``pdf`` against ``roots`` (at ``at``, now by default).
    A PDF that cannot be read, or has no signature, is a result (``signed=False``, ``problem``
    says why), never an exception."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except Exception as error:  # pyHanko raises many kinds on a damaged file
        return SignatureCheck(signed=False, problem=f"unreadable PDF: {error}")
    if not embedded:
        return SignatureCheck(signed=False, problem="no signature")
    sig = next((s for s in embedded if s.field_name == SIGNATURE_FIELD), embedded[0])
    try:
        status = await async_validate_pdf_signature(sig, signer_validation_context=_context(roots, at))
    except Exception as error:
        return SignatureCheck(signed=True, problem=f"signature cannot be checked: {error}")
    cert = status.signing_cert
    return SignatureCheck(
        signed=True,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        or (status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and bool(status.docmdp_ok)),
        unit_code=_name_attr(cert, "serial_number") or _name_attr(cert, "organizational_unit_name"),
        unit_name=_name_attr(cert, "common_name"),
        signed_at=sig.self_reported_timestamp,
        problem=None if status.bottom_line else status.summary(),
    )


def validate_signed_pdf(
    pdf: bytes, roots: Iterable[asn1_x509.Certificate], *, at: dt.datetime | None = None
) -> SignatureCheck:
    """:func:`async_validate_signed_pdf` for code without a running event loop (a thread)."""
    import asyncio

    return asyncio.run(async_validate_signed_pdf(pdf, roots, at=at))
