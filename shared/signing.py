"""Time-limited signed links (HMAC-SHA256), so a department's system can download an attachment
without an account at intake. The router signs when it dispatches; intake verifies."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode


def _key(signing_key: str) -> bytes:
    # A key of its own, derived from the signing key: a link never doubles as a token.
    return hmac.new(signing_key.encode(), b"xiaoer attachment links", hashlib.sha256).digest()


def signature(signing_key: str, attachment_id: str, expires: int) -> str:
    return hmac.new(_key(signing_key), f"{attachment_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def attachment_link(
    signing_key: str, base_url: str, attachment_id: str, ttl_seconds: int, now: float | None = None
) -> str:
    """``{base_url}/{id}/download?expires=…&signature=…``; ``base_url`` is where intake serves
    attachments as the department sees it."""
    expires = int((time.time() if now is None else now) + ttl_seconds)
    query = urlencode({"expires": expires, "signature": signature(signing_key, attachment_id, expires)})
    return f"{base_url}/{attachment_id}/download?{query}"


def link_is_valid(signing_key: str, attachment_id: str, expires: int, given: str, now: float | None = None) -> bool:
    if expires < (time.time() if now is None else now):
        return False
    # Bytes, not str: compare_digest refuses non-ASCII text, and a link is anyone's to mangle.
    return hmac.compare_digest(signature(signing_key, attachment_id, expires).encode(), given.encode())
