"""``data fetch`` against a local HTTP server serving an archive built from the shared dataset."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from releases.fetch import FetchError, fetch
from releases.registry import Archive


class RangeHandler(BaseHTTPRequestHandler):
    """Serves one archive with HTTP Range support; counts the bytes it sent."""

    payload = b""
    sent = 0

    def do_GET(self) -> None:
        if not self.path.endswith("ml-latest-small.zip"):
            self.send_error(404)
            return
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(self.payload):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}")
        else:
            self.send_response(200)
        body = self.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        type(self).sent += len(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def archive_bytes(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    target = tmp_path_factory.mktemp("zip") / "ml-latest-small.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in ("movies.csv", "ratings.csv", "links.csv", "tags.csv"):
            zipped.write(data_dir / "ml-latest-small" / name, f"ml-latest-small/{name}")
    return target.read_bytes()


@pytest.fixture()
def server(archive_bytes: bytes) -> Iterator[str]:
    RangeHandler.payload, RangeHandler.sent = archive_bytes, 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/datasets/"
    httpd.shutdown()


def test_fetch_verifies_unpacks_and_caches(server: str, archive_bytes: bytes, tmp_path: Path) -> None:
    archive = Archive("ml-latest-small", sha256=hashlib.sha256(archive_bytes).hexdigest())
    received: list[int] = []
    folder = fetch("ml-latest-small", server, tmp_path / "cache", tmp_path / "data",
                   lambda n, total: received.append(n), archive=archive)
    assert (folder / "ratings.csv").read_text().count("\n") == 100837
    assert sum(received) == len(archive_bytes)
    sent = RangeHandler.sent
    fetch("ml-latest-small", server, tmp_path / "cache", tmp_path / "data", archive=archive)
    assert RangeHandler.sent == sent  # second call: served from the cache, nothing downloaded


def test_checksum_mismatch_fails_and_keeps_nothing(server: str, tmp_path: Path) -> None:
    archive = Archive("ml-latest-small", sha256="0" * 64)
    with pytest.raises(FetchError, match=r"SHA-256 .* does not match"):
        fetch("ml-latest-small", server, tmp_path / "cache", tmp_path / "data", archive=archive)
    assert not (tmp_path / "data" / "ml-latest-small").exists()
    assert not (tmp_path / "cache" / "downloads" / "ml-latest-small.zip").exists()


def test_interrupted_download_resumes_where_it_stopped(server: str, archive_bytes: bytes, tmp_path: Path) -> None:
    downloads = tmp_path / "cache" / "downloads"
    downloads.mkdir(parents=True)
    half = len(archive_bytes) // 2
    (downloads / "ml-latest-small.zip.part").write_bytes(archive_bytes[:half])
    archive = Archive("ml-latest-small", sha256=hashlib.sha256(archive_bytes).hexdigest())
    fetch("ml-latest-small", server, tmp_path / "cache", tmp_path / "data", archive=archive)
    assert RangeHandler.sent == len(archive_bytes) - half
    assert (tmp_path / "data" / "ml-latest-small" / "movies.csv").exists()


def test_first_download_pins_its_sha256(server: str, archive_bytes: bytes, tmp_path: Path) -> None:
    fetch("ml-latest-small", server, tmp_path / "cache", tmp_path / "data", archive=Archive("ml-latest-small"))
    pinned = (tmp_path / "cache" / "checksums.json").read_text()
    assert hashlib.sha256(archive_bytes).hexdigest() in pinned


def test_unknown_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="unknown dataset 'ml-7k'"):
        fetch("ml-7k", "http://127.0.0.1:9/", tmp_path, tmp_path)
