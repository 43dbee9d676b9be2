"""The 核验码: the code printed on every document xiaoer issues, by which anyone verifies it.

A code is 80 random bits from :mod:`secrets` written as 16 characters of Crockford's base32
(digits and upper-case letters without I, L, O and U, so nothing reads as something else), shown
in four groups of four to be read aloud or typed: ``7KQ4-M2XA-9HTR-C3VB``. 80 bits make guessing
hopeless: at a million guesses a second, finding one of a billion issued codes takes about
38 years on average, and verification lookups are rate-limited per client besides
(:class:`~services.router.documents.verification.LookupLimiter`).

What a person types is normalised before it is looked up: full-width characters (a Chinese input
method's ``７ＫＱ４－…``) become ASCII, spaces and dashes of any kind are dropped, letters are
upper-cased, and O reads as 0, I and L as 1 (Crockford's rule). Anything else is refused with
:class:`MalformedCode`, whose Chinese and English messages say what is wrong; the public API
answers a malformed code like an unknown one (404), so the message is for forms that check as
someone types, never an oracle.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

import base32_crockford

CODE_BITS = 80
CODE_LENGTH = 16  # characters of 5 bits each
GROUP = 4  # characters per group when shown
ALPHABET = base32_crockford.symbols  # "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# Separators a person may type between groups: spaces of any kind, ASCII and typographic dashes
# (after NFKC, the full-width ones are ASCII already), underscores and middle dots.
_SEPARATORS = re.compile(r"[\s\-_\u2010-\u2015\u2212\u00b7\u30fb]+")
_CANONICAL = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


@dataclass(frozen=True)
class MalformedCode(ValueError):
    """What someone typed is not a 核验码; ``reason`` is a machine code (``empty``,
    ``characters``, ``length``), ``zh`` and ``en`` say it to a person."""

    reason: str
    zh: str
    en: str

    def __str__(self) -> str:
        return self.en


def new_code() -> str:
    """A fresh code, canonical form (16 characters, no separators)."""
    return base32_crockford.encode(secrets.randbits(CODE_BITS)).zfill(CODE_LENGTH)


def group(code: str) -> str:
    """The code as printed and read aloud: ``7KQ4-M2XA-9HTR-C3VB``."""
    canonical = normalise(code)
    return "-".join(canonical[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalise(text: str) -> str:
    """The canonical code for what a person typed, or :class:`MalformedCode`."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))
    if not compact:
        raise MalformedCode("empty", "请填写核验码", "Enter the verification code")
    # Crockford: case does not matter, O is 0, I and L are 1.
    upper = compact.upper().translate(str.maketrans("OIL", "011"))
    wrong = sorted({ch for ch in upper if ch not in ALPHABET})
    if wrong:
        shown = "、".join(wrong)
        raise MalformedCode(
            "characters",
            f"核验码只含数字和字母（不含 U），无法识别：{shown}",
            f"A verification code has only digits and letters (no U); not recognised: {', '.join(wrong)}",
        )
    if len(upper) != CODE_LENGTH:
        raise MalformedCode(
            "length",
            f"核验码应为 {CODE_LENGTH} 位（不计分隔符），填写了 {len(upper)} 位",
            f"A verification code has {CODE_LENGTH} characters (not counting separators); got {len(upper)}",
        )
    return upper


def is_canonical(code: str) -> bool:
    """Whether ``code`` is already in canonical form (as stored)."""
    return bool(_CANONICAL.match(code))


def verification_url(public_url: str, code: str) -> str:
    """``{public_url}/verify/{code}``: what the QR code opens. The code is grouped, so the URL
    printed beside the QR code can be typed as it reads; the page accepts any form."""
    return f"{public_url.rstrip('/')}/verify/{group(code)}"
