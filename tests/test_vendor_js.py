"""W7: the dashboard needs no network.

Every file the page loads is served from ``web/static``; each vendored library carries its
licence and a ``VERSION`` line (name, version, npm's sha512 integrity); ``scripts/vendor_js.py``
refreshes and checks them against a registry's integrity hash (here a local fake registry:
comparing the vendored bytes with npm's own tarballs needs the network, ``vendor_js.py --check``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "web" / "static"
VENDOR = STATIC / "vendor"
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import vendor_js  # noqa: E402

#: What a page or script names to load: attributes, module imports, worker imports.
_LOADS = re.compile(r'(?:src|href)="([^"]+)"|\bfrom\s+"([^"]+)"|importScripts\("([^"]+)"\)')
#: A version line: the package, a plain release and a sha512 subresource-integrity hash.
_VERSION_LINE = re.compile(r"(\S+) (\d+\.\d+\.\d+) sha512-[A-Za-z0-9+/]{86}==\n")


def own_files() -> list[Path]:
    """The dashboard's own page, scripts and styles (the vendored libraries are not read)."""
    return [STATIC / "index.html", *sorted(STATIC.glob("*.js")), *sorted(STATIC.glob("*.css"))]


def loads() -> list[tuple[Path, str]]:
    """Every (file, reference) of what the dashboard's own page, scripts and styles load."""
    out = []
    for path in own_files():
        for match in _LOADS.finditer(path.read_text(encoding="utf-8")):
            out.append((path, next(g for g in match.groups() if g)))
    return out


@pytest.mark.unit
def test_the_dashboard_loads_every_file_from_its_own_server() -> None:
    refs = loads()
    assert refs
    for path, ref in refs:
        assert not re.match(r"[a-z]+:|//", ref), f"{path.name} loads {ref} from the network"
        local = STATIC / ref.removeprefix("/static/") if ref.startswith("/") else path.parent / ref
        assert local.is_file(), f"{path.name} loads {ref}, which is not in web/static"
    for path in own_files():
        assert not re.search(r"https?://", path.read_text(encoding="utf-8")), path.name
    vendored = {ref.split("/")[3] for _, ref in refs if ref.startswith("/static/vendor/")}
    assert vendored == {p.name for p in VENDOR.iterdir() if p.is_dir()}  # none unused


@pytest.mark.unit
def test_every_vendored_library_has_its_licence_and_version() -> None:
    for folder in sorted(p for p in VENDOR.iterdir() if p.is_dir()):
        assert (folder / "LICENSE").stat().st_size > 0, folder.name
        line = (folder / "VERSION").read_text(encoding="utf-8")
        assert _VERSION_LINE.fullmatch(line), (folder.name, line)


def tarball(package: vendor_js.Package, folder: Path) -> bytes:
    """An npm-style tarball (``package/...``) holding ``folder``'s copies of the package's files."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for source, target in package.files:
            data = (folder / target).read_bytes()
            info = tarfile.TarInfo(f"package/{source}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def integrity(data: bytes) -> str:
    """The sha512 subresource-integrity string of ``data``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


@contextmanager
def registry(served: dict[str, bytes]) -> Iterator[str]:
    """A local HTTP server answering each path of ``served`` with its bytes (else 404)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
            body = served.get(urllib.parse.unquote(self.path))
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def fake_npm(dest: Path, corrupt: str = "") -> Iterator[str]:
    """A registry publishing each vendored library as it is in ``dest`` (``VERSION`` rewritten
    to the fake tarball's integrity); the tarball of package ``corrupt`` is served altered."""
    served: dict[str, bytes] = {}
    with registry(served) as url:
        for package in vendor_js.PACKAGES:
            folder = dest / package.dir
            version = (folder / "VERSION").read_text(encoding="utf-8").split()[1]
            data = tarball(package, folder)
            digest = integrity(data)
            (folder / "VERSION").write_text(f"{package.name} {version} {digest}\n")
            path = f"/tarballs/{package.dir}-{version}.tgz"
            served[path] = data + b"x" if package.name == corrupt else data
            served[f"/{package.name}"] = json.dumps({"versions": {version: {"dist": {
                "tarball": url + path, "integrity": digest}}}}).encode()
        yield url


@pytest.mark.integration
def test_the_refresher_checks_the_registrys_integrity_and_every_vendored_byte(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "vendor"
    shutil.copytree(VENDOR, dest)
    with fake_npm(dest) as url:
        assert vendor_js.main(["--check", "--dest", str(dest), "--registry", url]) == 0
        fresh = tmp_path / "fresh"
        assert vendor_js.main(["--dest", str(fresh), "--registry", url]) == 0
        for package in vendor_js.PACKAGES:
            for name in [*(target for _, target in package.files), "VERSION"]:
                assert (fresh / package.dir / name).read_bytes() == \
                    (dest / package.dir / name).read_bytes()
        capsys.readouterr()
        script = dest / "uplot" / "uPlot.iife.min.js"
        script.write_bytes(script.read_bytes() + b"\n")
        assert vendor_js.main(["--check", "--dest", str(dest), "--registry", url]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "uPlot.iife.min.js differs from uplot@" in err
    shutil.rmtree(dest)
    shutil.copytree(VENDOR, dest)
    with fake_npm(dest, corrupt="uplot") as url:
        assert vendor_js.main(["--check", "--dest", str(dest), "--registry", url]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "tarball: integrity mismatch" in err
