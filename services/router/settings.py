"""router's own settings, beside those every service shares (``XIAOER_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class RouterSettings(Settings):
    router_database_url: str = "sqlite+aiosqlite:///var/router.db"

    # Work items carry signed links to the request's attachments, served by intake.
    attachment_link_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    attachment_links_url: str | None = Field(
        None, description="where department systems download attachments; intake's public URL by default"
    )

    @property
    def database_url(self) -> str:
        return self.router_database_url

    @property
    def attachment_download_base(self) -> str:
        return self.attachment_links_url or f"{self.public_url('intake')}/v1/attachments"
