"""Time-limited signed links (HMAC-SHA256), so a department's system can download an attachment
without an account at intake. The router signs when it dispatches; intake verifies."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from shared.settings import Settings


def _key(settings: Settings) -> bytes:
    # A key of its own, derived from the signing key: a link never doubles as a token.
    return hmac.new(settings.signing_key.encode(), b"xiaoer attachment links", hashlib.sha256).digest()


def signature(settings: Settings, attachment_id: str, expires: int) -> str:
    return hmac.new(_key(settings), f"{attachment_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def attachment_link(settings: Settings, attachment_id: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + settings.attachment_link_ttl_seconds)
    query = urlencode({"expires": expires, "signature": signature(settings, attachment_id, expires)})
    return f"{settings.public_url('intake')}/v1/attachments/{attachment_id}/download?{query}"


def link_is_valid(settings: Settings, attachment_id: str, expires: int, given: str, now: float | None = None) -> bool:
    if expires < (time.time() if now is None else now):
        return False
    # Bytes, not str: compare_digest refuses non-ASCII text, and a link is anyone's to mangle.
    return hmac.compare_digest(signature(settings, attachment_id, expires).encode(), given.encode())
