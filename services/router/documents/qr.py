"""The QR code that opens a document's public verification page (segno).

Error correction level M (15 % of the code may be lost to a fold, a stain or a poor copy) and
the standard quiet zone of four modules, so a phone reads it off paper and off a screen.
"""

from __future__ import annotations

import io

import segno

ERROR_CORRECTION = "m"
QUIET_ZONE = 4  # modules; ISO/IEC 18004 asks for four


def make(url: str) -> segno.QRCode:
    return segno.make_qr(url, error=ERROR_CORRECTION, boost_error=False)


def png(url: str, *, scale: int = 8) -> bytes:
    """The QR code as a PNG, ``scale`` pixels a module (for downloads and e-mail)."""
    out = io.BytesIO()
    make(url).save(out, kind="png", scale=scale, border=QUIET_ZONE)
    return out.getvalue()


def svg(url: str, *, title: str = "核验二维码") -> str:
    """The QR code as an inline ``<svg>`` element for pages: a ``viewBox`` and no fixed size, so
    CSS sizes it without blur; white behind the modules on any page colour; ``title`` is its
    accessible name."""
    return make(url).svg_inline(border=QUIET_ZONE, title=title, omitsize=True, light="#fff")


def svg_data_uri(url: str) -> str:
    """The QR code as a ``data:image/svg+xml`` URI: vector in a rendered PDF."""
    return make(url).svg_data_uri(border=QUIET_ZONE, light="#fff")
