"""``make vendor``: installs the front-end packages pinned in ``package.json`` /
``package-lock.json`` with ``npm ci`` in a scratch directory and copies their minified builds
into ``static/vendor/`` under content-hashed names, with ``manifest.json`` (what ``asset()``
reads) and each package's licence. The copied files are committed: the service needs no
Node.js at run time and no CDN.

    python -m services.web.vendor_assets           # re-vendor after changing package.json
    python -m services.web.vendor_assets --check   # the committed files match their names
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .assets import sha8

HERE = Path(__file__).parent
VENDOR_DIR = HERE / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"
# package → (its minified browser build, the name templates ask asset() for)
BUILDS = {
    "htmx.org": ("dist/htmx.min.js", "htmx.min.js"),
    # Alpine's CSP build: no eval/new Function, so the pages run under a CSP without 'unsafe-eval'
    # (components are registered with Alpine.data() in our own scripts, not written in attributes).
    "@alpinejs/csp": ("dist/cdn.min.js", "alpine-csp.min.js"),
    "echarts": ("dist/echarts.min.js", "echarts.min.js"),
}
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "NOTICE")


def vendor() -> dict:
    with tempfile.TemporaryDirectory(prefix="xiaoer-vendor-") as scratch:
        work = Path(scratch)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(HERE / name, work / name)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=work, check=True)
        modules = work / "node_modules"
        shutil.rmtree(VENDOR_DIR, ignore_errors=True)
        (VENDOR_DIR / "licenses").mkdir(parents=True)
        files, versions = {}, {}
        for package, (build, served_as) in BUILDS.items():
            meta = json.loads((modules / package / "package.json").read_text())
            version = meta["version"]
            data = (modules / package / build).read_bytes()
            stem = served_as.removesuffix(".min.js")
            name = f"{stem}.{version}.{sha8(data)}.min.js"
            (VENDOR_DIR / name).write_bytes(data)
            files[served_as] = f"vendor/{name}"
            versions[package] = {"version": version, "license": meta.get("license")}  # alpinejs ships no file
        # Every installed package's licence: the builds bundle their dependencies (zrender, @vue/reactivity).
        for package_json in sorted(modules.glob("**/package.json")):
            folder = package_json.parent
            if folder.parent.name != "node_modules" and folder.parent.parent.name != "node_modules":
                continue  # a package's own sub-folder, not a package
            package = folder.relative_to(modules).as_posix()
            for licence in LICENCE_FILES:
                if (folder / licence).exists():
                    suffix = "" if licence.endswith((".md", ".txt")) else ".txt"
                    target = VENDOR_DIR / "licenses" / f"{package.replace('/', '__')}.{licence}{suffix}"
                    shutil.copy2(folder / licence, target)
    manifest = {"files": files, "packages": versions}
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def check() -> list[str]:
    """Names whose hash does not match their content, or manifest entries with no file."""
    manifest = json.loads(MANIFEST.read_text())
    problems = []
    for served_as, path in manifest["files"].items():
        file = VENDOR_DIR.parent / path
        if not file.exists():
            problems.append(f"{served_as}: {path} is missing")
        elif sha8(file.read_bytes()) not in file.name:
            problems.append(f"{served_as}: {path} does not carry its content's hash")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files instead")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)
    manifest = vendor()
    for served_as, path in manifest["files"].items():
        print(f"{served_as:<16} → static/{path}")


if __name__ == "__main__":
    main()
