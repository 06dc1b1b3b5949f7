"""Vendor the browser pages' JavaScript and CSS into apicore/static/vendor (`make assets`).

GraphiQL (with its explorer plugin and React), Swagger UI and ReDoc are served by the
processes themselves, so the playground and the API docs work on a machine without
internet. Each pinned package is downloaded from the npm registry as its release
tarball, checked against the sha512 pinned here (the registry's `dist.integrity`), and
only the minified browser builds and the licence files are kept. The files are
committed: this command runs only to change a version. A build that would still reach
for another origin gets that one URL replaced (`Patch`, listed in the manifest).

python -m tools.fetch_assets          # download, verify, write vendor/ and its manifest
python -m tools.fetch_assets --check  # exit 1 when vendor/ differs from its manifest

To move a package to another version: change its version and integrity below (the
integrity is `dist.integrity` of `https://registry.npmjs.org/<package>/<version>`), run
the command, and look at the pages (tests/browser).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent.parent / "apicore" / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Patch:
    file: str  # its name in the pin's folder
    old: str
    new: str
    why: str


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    integrity: str
    files: tuple[str, ...]  # paths inside the tarball's package/ folder, kept flat
    folder: str
    patches: tuple[Patch, ...] = ()

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.package}/-/{self.package.split('/')[-1]}-{self.version}.tgz"


# React 18: the last major with UMD builds, which GraphiQL 3's UMD build expects as globals.
PINS = (
    Pin(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        ("umd/react.production.min.js", "LICENSE"),
        "react",
    ),
    Pin(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        ("umd/react-dom.production.min.js", "LICENSE"),
        "react-dom",
    ),
    # GraphiQL 4 and later ship no UMD build.
    Pin(
        "graphiql",
        "3.9.0",
        "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
        ("graphiql.min.js", "graphiql.min.css", "LICENSE"),
        "graphiql",
    ),
    # Its tarball has no licence file; package.json says MIT (the GraphiQL repository's).
    Pin(
        "@graphiql/plugin-explorer",
        "3.2.6",
        "sha512-MXzG/zVNzZfes4Em253bHyAbD/lwwAZkPKvxCAQkjz0i3dtcv4uF3D8iqJ7214iu3SCphbORYZZUC93fik1yew==",
        ("dist/index.umd.js", "dist/style.css", "package.json"),
        "graphiql-plugin-explorer",
    ),
    Pin(
        "swagger-ui-dist",
        "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        (
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "LICENSE",
            "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt",
        ),
        "swagger-ui",
    ),
    Pin(
        "redoc",
        "2.5.4",
        "sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==",
        ("bundles/redoc.standalone.js", "LICENSE", "bundles/redoc.standalone.js.LICENSE.txt"),
        "redoc",
        (
            Patch(
                "redoc.standalone.js",
                "https://cdn.redoc.ly/redoc/logo-mini.svg",
                "data:,",
                "the sidebar's Redocly logo, an image from a CDN; it hides itself when it"
                " does not load, as it then does not",
            ),
        ),
    ),
)


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return body


def verified(pin: Pin, tarball: bytes) -> bytes:
    algorithm, _, expected = pin.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode("ascii")
    if actual != expected:
        raise SystemExit(f"{pin.package} {pin.version}: integrity {actual} is not the pinned one")
    return tarball


def extract(pin: Pin, tarball: bytes, into: Path) -> dict[str, str]:
    """The pin's files from the tarball, written flat into `into`: {name: inner path}."""
    kept: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for inner in pin.files:
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{pin.package} {pin.version}: no file {inner}")
            name = inner.rsplit("/", 1)[-1]
            (into / name).write_bytes(member.read())
            kept[name] = inner
    for patch in pin.patches:
        path, old = into / patch.file, patch.old.encode()
        content = path.read_bytes()
        if content.count(old) != 1:
            raise SystemExit(f"{pin.package} {pin.version}: {patch.old} is not in it once")
        path.write_bytes(content.replace(old, patch.new.encode()))
    return kept


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch() -> dict[str, object]:
    shutil.rmtree(VENDOR_DIR, ignore_errors=True)
    VENDOR_DIR.mkdir(parents=True)
    packages = []
    for pin in PINS:
        folder = VENDOR_DIR / pin.folder
        folder.mkdir()
        kept = extract(pin, verified(pin, _download(pin.tarball)), folder)
        files = {
            f"{pin.folder}/{name}": {
                "from": inner,
                "bytes": (folder / name).stat().st_size,
                "sha256": sha256_of(folder / name),
            }
            for name, inner in kept.items()
        }
        packages.append(
            {
                "package": pin.package,
                "version": pin.version,
                "source": pin.tarball,
                "integrity": pin.integrity,
                "files": files,
                "patches": [
                    {"file": p.file, "replaced": p.old, "with": p.new, "why": p.why}
                    for p in pin.patches
                ],
            }
        )
        print(f"{pin.package} {pin.version}: {', '.join(kept)}")
    manifest: dict[str, object] = {
        "generated_by": "python -m tools.fetch_assets",
        "packages": packages,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def problems() -> list[str]:
    """How vendor/ differs from its manifest and from PINS (empty: it matches)."""
    if not MANIFEST.exists():
        return [f"{MANIFEST.name} is missing"]
    packages = json.loads(MANIFEST.read_text())["packages"]
    found = []
    pinned = {(p.package, p.version, p.integrity) for p in PINS}
    listed = {(p["package"], p["version"], p["integrity"]) for p in packages}
    if pinned != listed:
        found.append(f"the manifest lists {sorted(listed)}, PINS says {sorted(pinned)}")
    expected = {name: f for p in packages for name, f in p["files"].items()}
    present = {
        str(path.relative_to(VENDOR_DIR))
        for path in VENDOR_DIR.rglob("*")
        if path.is_file() and path != MANIFEST
    }
    found += [f"{name}: not in the manifest" for name in sorted(present - set(expected))]
    for name, entry in sorted(expected.items()):
        path = VENDOR_DIR / name
        if not path.exists():
            found.append(f"{name}: missing")
        elif sha256_of(path) != entry["sha256"]:
            found.append(f"{name}: its sha256 is not the manifest's")
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        print("\n".join(found) or "vendor/ matches its manifest")
        return 1 if found else 0
    fetch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
