"""Static files under content-hashed names, served with ``Cache-Control: immutable``: WeChat's
browser caches hard, so a changed file must have a new URL, and an unchanged one never needs
asking for again.

- Vendored front-end packages (``static/vendor/``) are hashed when ``make vendor`` copies them
  in; ``static/vendor/manifest.json`` maps ``htmx.min.js`` to ``vendor/htmx.2.0.11.<sha8>.min.js``.
- Our own files (``static/css/app.css`` …) are hashed when the service starts:
  ``asset("css/app.css")`` is ``/static/css/app.<sha8>.css``.

Only those names are served; a name without its hash answers 404, so nothing is ever cached
forever under a name whose content can change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"


def sha8(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def hashed_name(path: str, digest: str) -> str:
    """``css/app.css`` → ``css/app.<digest>.css``."""
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{path}.{digest}"


class Assets:
    """Which URL each asset has, and which file each URL serves."""

    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        manifest = static_dir / "vendor" / "manifest.json"
        vendored: dict[str, str] = json.loads(manifest.read_text())["files"] if manifest.exists() else {}
        self.urls: dict[str, str] = {}
        self.files: dict[str, str] = {}  # served name → file under static_dir
        for name, path in vendored.items():
            self.urls[name] = PREFIX + path
            self.files[path] = path
        for file in sorted(static_dir.rglob("*")):
            relative = file.relative_to(static_dir).as_posix()
            if file.is_file() and not relative.startswith("vendor/"):
                served = hashed_name(relative, sha8(file.read_bytes()))
                self.urls[relative] = PREFIX + served
                self.files[served] = relative

    def url(self, name: str) -> str:
        """For templates: ``{{ asset('htmx.min.js') }}``, ``{{ asset('css/app.css') }}``."""
        try:
            return self.urls[name]
        except KeyError:
            raise KeyError(f"no asset {name!r}: vendored ones are {sorted(self.urls)}") from None


class HashedStaticFiles(StaticFiles):
    """Serves only the hashed names of :class:`Assets`, each with an immutable cache header."""

    def __init__(self, assets: Assets, directory: Path = STATIC_DIR) -> None:
        super().__init__(directory=directory)
        self.assets = assets

    def get_path(self, scope: Scope) -> str:
        served = super().get_path(scope).replace("\\", "/")
        # An unknown name maps to a file that is not there: StaticFiles answers 404.
        return self.assets.files.get(served, "__no_such_asset__")

    async def get_response(self, path: str, scope: Scope):
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE
        return response
