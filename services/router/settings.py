"""router's own settings, beside those every service shares (``XIAOER_*`` variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import Settings

from .documents.settings import DocumentSettings


class RouterSettings(Settings, DocumentSettings):
    # DocumentSettings: signing keys, certificates' periods and the public verification (issue 27).
    router_database_url: str = "sqlite+aiosqlite:///var/router.db"

    # Work items carry signed links to the request's attachments, served by intake.
    attachment_link_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    attachment_links_url: str | None = Field(
        None, description="where department systems download attachments; intake's public URL by default"
    )

    # Department systems sign their Kafka actions with a per-key secret derived from this key
    # (services/router/credentials.py); the JWT signing key when unset.
    department_key_secret: SecretStr | None = Field(
        None, description="deployment key from which each department key's secret is derived"
    )
    # A migration window for department systems not yet signing: unsigned actions are accepted
    # (checked by ce_source only, as before). Off by default: unsigned actions are dead letters.
    department_unsigned_actions: bool = False
    # Where department systems reach the broker: on the production broker a listener of its own
    # (compose: DEPARTMENTS, 9094), not the services' internal one. The onboarding sheet prints it.
    department_kafka_bootstrap_servers: str | None = Field(
        None, description="the broker address given to department systems; the services' own when unset"
    )

    @property
    def department_key(self) -> bytes:
        secret = self.department_key_secret.get_secret_value() if self.department_key_secret else self.signing_key
        return secret.encode()

    @property
    def database_url(self) -> str:
        return self.router_database_url

    @property
    def department_bootstrap(self) -> str:
        return self.department_kafka_bootstrap_servers or self.kafka_bootstrap_servers

    @property
    def attachment_download_base(self) -> str:
        return self.attachment_links_url or f"{self.public_url('intake')}/v1/attachments"
