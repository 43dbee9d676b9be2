"""intake's own settings, beside those every service shares (``XIAOER_*`` variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import Settings


class IntakeSettings(Settings):
    intake_database_url: str = "sqlite+aiosqlite:///var/intake.db"

    # Attachments: intake stores them; departments get signed, time-limited links to them.
    attachments_dir: Path = Path("var/attachments")
    attachment_max_bytes: int = Field(20 * 1024 * 1024, ge=1)
    attachment_types: list[str] = ["application/pdf", "application/ofd", "image/jpeg", "image/png"]

    @property
    def database_url(self) -> str:
        return self.intake_database_url
