"""The web service's own settings, beside those every service shares (``XIAOER_*`` variables)."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import Field

from shared.settings import Settings


class WebSettings(Settings):
    web_database_url: str = "sqlite+aiosqlite:///var/web.db"
    web_max_failed_sign_ins: int = Field(5, ge=1, description="wrong passwords in a row before an account locks")
    web_lockout_minutes: int = Field(15, ge=1, description="how long a locked account stays locked")
    web_api_timeout_seconds: float = Field(10.0, gt=0, description="how long a page waits for an API")
    web_live_refresh_seconds: int = Field(
        20, ge=1, le=600, description="live pages (a request, a queue, the board) ask for changes this often"
    )

    @property
    def database_url(self) -> str:
        return self.web_database_url

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS in production (behind the TLS-terminating proxy)."""
        return self.env == "production"

    def derived_secret(self, purpose: str) -> str:
        """A key for one purpose (session cookie, CSRF cookie) derived from the JWT signing key,
        so that production needs no second secret and one purpose's key never signs another's."""
        return hmac.new(self.signing_key.encode(), f"xiaoer.web.{purpose}".encode(), hashlib.sha256).hexdigest()
