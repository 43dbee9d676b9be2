"""intake's own settings, beside those every service shares (``XIAOER_*`` variables)."""

from __future__ import annotations

from shared.settings import Settings


class IntakeSettings(Settings):
    intake_database_url: str = "sqlite+aiosqlite:///var/intake.db"

    @property
    def database_url(self) -> str:
        return self.intake_database_url
