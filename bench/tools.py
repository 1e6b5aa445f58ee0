"""Load tools the benchmarks drive, installed on first use into the project's tool cache.

vegeta comes from the Go module proxy (``go install``) at a pinned version: Debian has no
open-loop HTTP load tool (wrk and hey wait for each answer before sending the next request).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from core.settings import get_settings
from storage.model_keys import STATS

VEGETA = "github.com/tsenart/vegeta/v12@v12.13.0"


def vegeta() -> Path:
    """The vegeta binary: on PATH, in the cache, or built now (about 20 s with Go)."""
    found = shutil.which("vegeta")
    if found:
        return Path(found)
    bin_dir = get_settings().cache_dir / "bin"
    tool = bin_dir / "vegeta"
    if not tool.exists():
        if shutil.which("go") is None:
            raise SystemExit("error: vegeta needs Go to build (apt-get install -y golang), or put vegeta on PATH")
        print(f"building {VEGETA} into {bin_dir} …", flush=True)
        bin_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "install", VEGETA], check=True, env={**os.environ, "GOBIN": str(bin_dir)})
    return tool


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def still_running(proc: subprocess.Popen[bytes], errors: IO[bytes], what: str) -> None:
    """A bench's background ``what`` must still run: its figures mean nothing otherwise. Stop the bench
    with its exit code and its own last words (``errors``: the file its stderr goes to; a pipe nobody
    reads until the end could fill and stall it)."""
    if proc.poll() is not None:
        errors.seek(0)
        raise SystemExit(f"{what} stopped (exit code {proc.returncode}): "
                         f"{errors.read().decode(errors='replace').strip()[-500:]}")


def wait_until_learned(client: Any, n: int, stall_s: float, log_hint: str, poll_s: float = 0.01) -> None:
    """Block until the learning workers' prequential count (``STATS`` n) reaches ``n``; stop the bench
    with where to look when it has not moved for ``stall_s`` seconds."""
    learned, last_change = 0.0, time.monotonic()
    while learned < n:
        time.sleep(poll_s)
        now = float(client.hget(STATS, "n") or 0)
        if now > learned:
            learned, last_change = now, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            raise SystemExit(f"stalled at {learned:,.0f} of {n:,} events for {stall_s:.0f}s: {log_hint}")


def listening_pid(port: int) -> int | None:
    """The process listening on ``port`` (TCP, IPv4 or IPv6), from ``/proc``: its socket's inode, then
    the process holding a descriptor to it; None when it is not found (another user's process)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                return int(fd_dir.parent.name)
    return None


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
