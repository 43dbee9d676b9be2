"""Settings of issued documents (``XIAOER_*`` variables), a mixin for the router's settings.

``class RouterSettings(Settings, DocumentSettings)`` takes them in (issue 27, phase B); the
documents' modules also work from a ``DocumentSettings`` alone. Paths, when relative, are
relative to the working directory, as ``XIAOER_VAR_DIR`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DocumentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOER_", env_file=".env", extra="ignore")

    # The same field as shared.settings.Settings.var_dir (one variable, XIAOER_VAR_DIR): the
    # development CA lives under it.
    var_dir: Path = Path("var")

    # --- Signing (services/router/documents/signing.py) -----------------------------------
    # Where each unit's signing key and certificate come from:
    #   development: a CA generated on first use under var_dir (signing_dev_dir), one key and
    #                certificate per unit issued by it on first use; refused in production.
    #   file:        signing_ca_path names either a PKCS#12 file holding a CA's key and
    #                certificate (units' keys are then issued by it, as in development, and
    #                kept under signing_units_dir), or a directory of per-unit PKCS#12 files
    #                named <unit_code>.p12 issued by an outside CA (nothing is generated).
    # An HSM or KMS is not a setting yet: docs/certificates.md says where it plugs in.
    signing_ca: Literal["development", "file"] = Field(
        "development", description="where units' signing keys come from: development CA or files"
    )
    signing_ca_path: Path | None = Field(
        None, description="signing_ca=file: a CA's PKCS#12, or a directory of <unit_code>.p12 files"
    )
    signing_ca_password: SecretStr | None = Field(None, description="the PKCS#12 files' password")
    signing_dev_dir: Path | None = Field(
        None, description="where the development CA and units' keys are kept; var_dir/signing-dev-ca when unset"
    )
    signing_units_dir: Path | None = Field(
        None, description="signing_ca=file with a CA: where issued unit keys are kept; var_dir/signing-units"
    )
    signing_trust_roots: list[Path] = Field(
        default_factory=list,
        description="PEM or DER certificates a signature must chain to; the signing CA's own when empty",
    )
    signing_unit_cert_days: int = Field(3 * 365, ge=1, description="validity of a unit certificate the CA issues")

    # --- What xiaoer writes on a certificate and what the verification shows -------------
    # The look-back period (审查期间) when a request names none: an IPO prospectus covers three years.
    document_default_period_months: int = Field(36, ge=1, le=120)
    # Readers (保荐机构, the exchange) want certificates issued recently; past this many days a
    # genuine certificate shows 超出建议使用期 (it stays genuine, and 有效 unless revoked).
    document_use_within_days: int = Field(90, ge=1, description="advised period of use after issue, in days")
    # Where the public verification page is: the QR code opens {this}/verify/{code}. The pages'
    # (web) public URL when unset (phase B decides; the builder takes the base explicitly).
    verification_public_url: str | None = Field(None, description="base URL of the public /verify page")
    # An uploaded PDF to compare with the registered one is refused (422) beyond this size.
    verification_pdf_max_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    # Per-client limits on verification lookups (``limits`` syntax: "N/second|minute|hour|day",
    # several joined by ';'); misses (codes that do not exist) count against a stricter one, so
    # nobody enumerates codes. Storage: memory:// per process, or redis://… shared by replicas.
    verification_rate_limit: str = Field("30/minute;300/hour", description="lookups per client")
    verification_miss_limit: str = Field("10/minute;50/hour", description="unknown codes per client")
    verification_rate_limit_storage: str = Field("memory://", description="limits storage URI")
    # Who may tell the router a reader's address (X-Forwarded-For): the pages' server and reverse
    # proxies. From them the limiter counts the forwarded address, so readers of the public pages do
    # not share the web server's limit; from anyone else the header is ignored.
    verification_trusted_proxies: list[str] = Field(
        ["127.0.0.1", "::1"], description="addresses whose X-Forwarded-For the lookup limit believes"
    )

    @model_validator(mode="after")
    def _no_development_ca_in_production(self) -> DocumentSettings:
        # ``env`` is shared.settings.Settings's; the mixin alone has none and means development.
        if getattr(self, "env", "development") == "production" and self.signing_ca == "development":
            raise ValueError("XIAOER_SIGNING_CA=development is refused when XIAOER_ENV=production")
        if self.signing_ca == "file" and self.signing_ca_path is None:
            raise ValueError("XIAOER_SIGNING_CA=file needs XIAOER_SIGNING_CA_PATH")
        return self

    @property
    def signing_dev_path(self) -> Path:
        return self.signing_dev_dir or self.var_dir / "signing-dev-ca"

    @property
    def signing_units_path(self) -> Path:
        return self.signing_units_dir or self.var_dir / "signing-units"
