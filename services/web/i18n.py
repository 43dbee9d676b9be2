"""Chinese first, English too. Messages are written in Chinese (the msgids) and translated in
``locale/en/LC_MESSAGES/messages.po`` (Babel). The catalogue is compiled in memory when the
service starts, so no .mo file can go stale; ``make i18n`` extracts new strings into it.

The page's language: the ``lang`` cookie (the 中/EN toggle), else the browser's
``Accept-Language``, else Chinese. One context variable holds it while a request is handled, so
``_()`` works alike in templates and in Python."""

from __future__ import annotations

import io
from contextvars import ContextVar
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import HTTPConnection

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "zh"
LOCALES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "lang"

_current: ContextVar[str] = ContextVar("xiaoer_web_locale", default=DEFAULT)


def _load(locale: str) -> NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()  # Chinese: the msgids are the text
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled)


_catalogues: dict[str, NullTranslations] = {locale: _load(locale) for locale in LOCALES}


def current() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return _catalogues[_current.get()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogues[_current.get()].ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks a message for extraction (Babel's ``-k N_``) where it is defined; it is translated
    where it is shown."""
    return message


def pick(connection: HTTPConnection) -> str:
    chosen = connection.cookies.get(COOKIE)
    if chosen in LOCALES:
        return chosen
    header = connection.headers.get("accept-language", "")
    preferred = [part.split(";")[0].strip().replace("-", "_") for part in header.split(",") if part.strip()]
    return negotiate_locale(preferred, LOCALES, sep="_") or DEFAULT


def display_name(locale: str) -> str:
    return Locale.parse(locale).get_display_name(locale)


class LocaleMiddleware:
    """Sets the request's language (``scope["state"]["locale"]``, and ``_()``'s) before anything runs."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        locale = pick(HTTPConnection(scope))
        scope.setdefault("state", {})["locale"] = locale
        token = _current.set(locale)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
