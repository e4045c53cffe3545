#!/usr/bin/env python3
"""Refresh the dashboard's vendored JavaScript libraries from the npm registry.

Usage: ``python scripts/vendor_js.py [--check] [--dest DIR] [--registry URL]``.

For each package in :data:`PACKAGES` it fetches the registry's metadata, picks the newest release in
the pinned range (``@msgpack/msgpack`` 3.x, ``uplot`` 1.6.x), downloads the tarball, checks it
against the metadata's ``dist.integrity`` (a sha512 subresource-integrity hash) and copies only the
files the dashboard loads into ``web/static/vendor/<dir>/``, with the package's licence and a
``VERSION`` file (``name version integrity``, one line).

``--check`` writes nothing: it reads each ``VERSION`` file, downloads the version it names (which
must lie in the pinned range and have the recorded integrity), verifies the tarball and compares
every vendored file with the tarball's bytes.

Exits 0 when everything was written (or matches), 1 with one line on stderr when a download fails,
a tarball's integrity does not match or a vendored file differs, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import re
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

PROG: Final = "vendor_js"
ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_DEST: Final = ROOT / "web" / "static" / "vendor"
DEFAULT_REGISTRY: Final = "https://registry.npmjs.org"

#: The pinned ranges: the newest release whose version starts with these numbers.
MSGPACK_RANGE: Final[tuple[int, ...]] = (3,)
UPLOT_RANGE: Final[tuple[int, ...]] = (1, 6)

#: Largest metadata document or tarball accepted, in bytes.
MAX_DOWNLOAD: Final = 64 << 20
TIMEOUT_S: Final = 60.0
VERSION_FILE: Final = "VERSION"
_VERSION_RE: Final = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class Package:
    """One npm package to vendor: which releases, where to, and which of its files."""

    name: str
    range: tuple[int, ...]
    dir: str
    #: tarball path (below ``package/``) → file name in the vendor directory
    files: tuple[tuple[str, str], ...]

    @property
    def range_text(self) -> str:
        """The pinned range as people write it: ``3.x``, ``1.6.x``."""
        return ".".join(str(part) for part in self.range) + ".x"


PACKAGES: Final[tuple[Package, ...]] = (
    Package(
        name="@msgpack/msgpack",
        range=MSGPACK_RANGE,
        dir="msgpack",
        files=(("dist.umd/msgpack.min.js", "msgpack.min.js"), ("LICENSE", "LICENSE")),
    ),
    Package(
        name="uplot",
        range=UPLOT_RANGE,
        dir="uplot",
        files=(
            ("dist/uPlot.iife.min.js", "uPlot.iife.min.js"),
            ("dist/uPlot.min.css", "uPlot.min.css"),
            ("LICENSE", "LICENSE"),
        ),
    ),
)


class VendorError(Exception):
    """A one-line reason the refresh or the check failed."""


@dataclass(frozen=True, slots=True)
class Release:
    """One published version of a package: its number, tarball URL and integrity string."""

    version: str
    tarball: str
    integrity: str


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line and exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of a plain release ``X.Y.Z``; None for pre-releases and junk."""
    match = _VERSION_RE.fullmatch(text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def in_range(version: str, pinned: tuple[int, ...]) -> bool:
    """Whether ``version`` is a plain release whose leading numbers are ``pinned``."""
    parsed = parse_version(version)
    return parsed is not None and parsed[: len(pinned)] == pinned


def _fetch(url: str, accept: str | None = None) -> bytes:
    """The body of ``url`` (http or https only), at most :data:`MAX_DOWNLOAD` bytes."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise VendorError(f"refusing to fetch {url}: not an http(s) URL")
    headers = {"Accept": accept} if accept else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked above)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            body: bytes = response.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as err:
        raise VendorError(f"cannot fetch {url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise VendorError(f"cannot fetch {url}: {reason}") from err
    if len(body) > MAX_DOWNLOAD:
        raise VendorError(f"cannot fetch {url}: larger than {MAX_DOWNLOAD} bytes")
    return body


def fetch_metadata(registry: str, name: str) -> dict[str, Any]:
    """The registry's (abbreviated) metadata document of package ``name``."""
    url = f"{registry.rstrip('/')}/{urllib.parse.quote(name, safe='@')}"
    body = _fetch(url, accept="application/vnd.npm.install-v1+json; q=1.0, application/json")
    try:
        data = json.loads(body)
    except ValueError as err:
        raise VendorError(f"metadata of {name} is not JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("versions"), dict):
        raise VendorError(f"metadata of {name} has no versions")
    return data


def release(metadata: dict[str, Any], name: str, version: str) -> Release:
    """The tarball URL and integrity of ``version`` in a package's metadata."""
    entry = metadata["versions"].get(version)
    dist = entry.get("dist") if isinstance(entry, dict) else None
    if not isinstance(dist, dict):
        raise VendorError(f"{name}@{version} is not in the registry")
    tarball, integrity = dist.get("tarball"), dist.get("integrity")
    if not isinstance(tarball, str) or not isinstance(integrity, str):
        raise VendorError(f"{name}@{version} has no tarball or no integrity hash")
    return Release(version=version, tarball=tarball, integrity=integrity)


def pick_release(metadata: dict[str, Any], package: Package) -> Release:
    """The newest plain release of ``package`` in its pinned range."""
    candidates = {
        parsed: version
        for version in metadata["versions"]
        if in_range(version, package.range) and (parsed := parse_version(version)) is not None
    }
    if not candidates:
        raise VendorError(f"{package.name} has no release in {package.range_text}")
    return release(metadata, package.name, candidates[max(candidates)])


def verify_integrity(data: bytes, integrity: str, what: str) -> None:
    """Raise :class:`VendorError` unless ``data`` matches a sha512 hash of SRI ``integrity``."""
    expected = [
        token.split("-", 1)[1].split("?", 1)[0]
        for token in integrity.split()
        if token.startswith("sha512-")
    ]
    if not expected:
        raise VendorError(f"{what}: no sha512 integrity hash ({integrity!r})")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if not any(hmac.compare_digest(actual, want) for want in expected):
        raise VendorError(f"{what}: integrity mismatch: expected {expected[0]}, got {actual}")


def extract(tarball: bytes, package: Package, version: str) -> dict[str, bytes]:
    """The vendored files of ``package`` read from its tarball: vendor file name → bytes."""
    what = f"{package.name}@{version}"
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for source, target in package.files:
                try:
                    member = archive.getmember(f"package/{source}")
                except KeyError:
                    raise VendorError(f"{what}: the tarball has no {source}") from None
                stream = archive.extractfile(member) if member.isfile() else None
                if stream is None:
                    raise VendorError(f"{what}: {source} in the tarball is not a regular file")
                with stream:
                    out[target] = stream.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise VendorError(f"{what}: cannot read the tarball: {err}") from err
    return out


def version_line(package: Package, rel: Release) -> str:
    """The contents of a package's ``VERSION`` file."""
    return f"{package.name} {rel.version} {rel.integrity}\n"


def download(package: Package, rel: Release) -> dict[str, bytes]:
    """Download and verify the tarball of ``rel``; the files to vendor, ``VERSION`` included."""
    tarball = _fetch(rel.tarball)
    verify_integrity(tarball, rel.integrity, f"{package.name}@{rel.version} tarball")
    files = extract(tarball, package, rel.version)
    files[VERSION_FILE] = version_line(package, rel).encode("utf-8")
    return files


def refresh(registry: str, dest: Path, package: Package) -> str:
    """Vendor the newest release of ``package`` in its range into ``dest``; a summary line."""
    rel = pick_release(fetch_metadata(registry, package.name), package)
    files = download(package, rel)
    target = dest / package.dir
    try:
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.iterdir():
            if stale.is_file() and stale.name not in files:
                stale.unlink()
        for name, data in files.items():
            (target / name).write_bytes(data)
    except OSError as err:
        raise VendorError(f"cannot write {target}: {err.strerror or err}") from err
    return f"{package.name} {rel.version} -> {target}"


def read_version_file(path: Path, package: Package) -> tuple[str, str]:
    """``(version, integrity)`` recorded in a vendor directory's ``VERSION`` file."""
    try:
        fields = path.read_text(encoding="utf-8").split()
    except OSError as err:
        raise VendorError(f"cannot read {path}: {err.strerror or err}") from err
    if len(fields) != 3 or fields[0] != package.name:
        raise VendorError(f"{path}: expected '{package.name} VERSION INTEGRITY'")
    return fields[1], fields[2]


def check(registry: str, dest: Path, package: Package) -> str:
    """Verify the vendored files of ``package`` against its registry tarball; a summary line."""
    target = dest / package.dir
    version, integrity = read_version_file(target / VERSION_FILE, package)
    if not in_range(version, package.range):
        raise VendorError(
            f"{target / VERSION_FILE}: {package.name} {version} is not in {package.range_text}"
        )
    rel = release(fetch_metadata(registry, package.name), package.name, version)
    if rel.integrity != integrity:
        raise VendorError(
            f"{target / VERSION_FILE}: integrity {integrity} differs from the registry's "
            f"{rel.integrity}"
        )
    expected = download(package, rel)
    for name, data in expected.items():
        path = target / name
        try:
            actual = path.read_bytes()
        except OSError as err:
            raise VendorError(f"cannot read {path}: {err.strerror or err}") from err
        if actual != data:
            raise VendorError(f"{path} differs from {package.name}@{version}")
    extra = sorted(p.name for p in target.iterdir() if p.name not in expected)
    if extra:
        raise VendorError(f"{target}: unexpected file(s): {', '.join(extra)}")
    return f"{package.name} {version}: ok"


def main(argv: list[str] | None = None) -> int:
    """Refresh (or ``--check``) every package; the exit status says whether all went well."""
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true",
                    help="verify the vendored files against the registry without writing")
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, metavar="DIR",
                    help="vendor directory (default web/static/vendor)")
    ap.add_argument("--registry", default=DEFAULT_REGISTRY, metavar="URL",
                    help=f"npm registry (default {DEFAULT_REGISTRY})")
    args = ap.parse_args(argv)
    action = check if args.check else refresh
    try:
        for package in PACKAGES:
            print(action(args.registry, args.dest, package))
    except VendorError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
