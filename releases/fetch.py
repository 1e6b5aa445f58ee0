"""Download a dataset archive with a cache, resume, checksum verification and a progress bar.

The archive is streamed to ``<cache>/downloads/<name>.zip.part``; an interrupted download
resumes with an HTTP Range request. Only a verified archive is renamed into place and
unpacked into the data directory; a checksum mismatch deletes the partial file and says so.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from catalogue.layouts import find_layout
from catalogue.readers import BadFileError
from releases.registry import ARCHIVES, Archive

Progress = Callable[[int, int | None], None]  # (bytes just received, total size if known)


class FetchError(RuntimeError):
    pass


def _digests(path: Path) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def _pinned(cache: Path) -> dict[str, str]:
    try:
        return dict(json.loads((cache / "checksums.json").read_text()))
    except (OSError, ValueError):
        return {}


def verify(path: Path, archive: Archive, cache: Path) -> str:
    """Check every checksum we have for ``archive``; pin the SHA-256 on first use. Returns it."""
    cache.mkdir(parents=True, exist_ok=True)
    md5, sha256 = _digests(path)
    pinned = _pinned(cache)
    expected_sha = archive.sha256 or pinned.get(archive.name)
    if archive.md5 and md5 != archive.md5:
        raise FetchError(f"{archive.filename()}: MD5 {md5} does not match the published {archive.md5}")
    if expected_sha and sha256 != expected_sha:
        raise FetchError(f"{archive.filename()}: SHA-256 {sha256} does not match the expected {expected_sha}")
    if archive.name not in pinned:
        pinned[archive.name] = sha256
        (cache / "checksums.json").write_text(json.dumps(pinned, indent=2, sort_keys=True) + "\n")
    return sha256


def download(url: str, target: Path, progress: Progress | None = None, timeout: float = 30.0) -> None:
    """Stream ``url`` into ``target``, resuming a previous partial download of it."""
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
        if response.status_code == 416:  # the partial file is already complete
            part.rename(target)
            return
        if response.status_code not in (200, 206):
            raise FetchError(f"GET {url} answered HTTP {response.status_code}")
        if response.status_code == 200:
            have = 0  # the server ignored the Range header: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else None
        if progress:
            progress(have, total)
        with part.open("ab" if have else "wb") as out:
            for chunk in response.iter_bytes(1 << 16):
                out.write(chunk)
                if progress:
                    progress(len(chunk), total)
    part.rename(target)


def _holds_a_release(folder: Path) -> bool:
    try:
        return find_layout(folder).ratings.is_file()
    except BadFileError:
        return False


def fetch(name: str, base_url: str, cache: Path, data_dir: Path, progress: Progress | None = None,
          archive: Archive | None = None) -> Path:
    """Make ``data_dir/name`` hold the unpacked dataset; download only what is not cached."""
    folder = data_dir / name
    marker = folder / ".verified"
    if marker.exists() or _holds_a_release(folder):
        return folder  # fetched before, or provided in any layout (a shared copy, a generated release)
    archive = archive or ARCHIVES.get(name)
    if archive is None:
        raise FetchError(f"unknown dataset {name!r}; known: {', '.join(ARCHIVES)}")
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    placed = data_dir / archive.filename()  # an archive the user brought (offline machines)
    target = placed if placed.exists() else downloads / archive.filename()
    if not target.exists():
        url = base_url.rstrip("/") + "/" + archive.filename()
        offline = (f"to work offline, put {archive.filename()} or the unpacked {name}/ folder in {data_dir} "
                   "(CINESTREAM_DATA_DIR), or set CINESTREAM_DATASET_BASE_URL to a mirror")
        try:
            download(url, target, progress)
        except httpx.TransportError as exc:
            raise FetchError(f"cannot reach {httpx.URL(url).host} ({exc or type(exc).__name__}); {offline}") from None
        except FetchError as exc:
            raise FetchError(f"{exc}; {offline}") from None
    try:
        sha256 = verify(target, archive, cache)
    except FetchError:
        if target != placed:
            target.unlink(missing_ok=True)
        raise
    staging = data_dir / f".{name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(target) as zipped:
        zipped.extractall(staging)
    inner = staging / name if (staging / name).is_dir() else staging
    if not (inner / archive.ratings_file).exists():
        raise FetchError(f"{archive.filename()} holds no {archive.ratings_file}")
    shutil.rmtree(folder, ignore_errors=True)
    inner.rename(folder)
    shutil.rmtree(staging, ignore_errors=True)
    marker.write_text(sha256 + "\n")
    return folder
