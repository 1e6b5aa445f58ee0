"""Start a faust worker as a child process and wait until it has joined its group.

Used by the tests and the benchmarks, which run the real worker command against the local
stack with topics and a Redis database of their own (passed as ``CINESTREAM_*`` overrides).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def worker_argv(loglevel: str = "info", datadir: Path | None = None) -> list[str]:
    """The worker command. No web server: faust's would bind 0.0.0.0:6066, one per machine.

    ``datadir`` is created here, with its parents: faust makes only the last folder of it, and a
    fresh machine has none of the stack folder yet.
    """
    argv = [sys.executable, "-m", "faust", "-A", "streams.worker"]
    if datadir is not None:
        datadir.mkdir(parents=True, exist_ok=True)
        argv += ["--datadir", str(datadir)]
    return [*argv, "worker", "--without-web", "-l", loglevel]


def start_worker(overrides: dict[str, str], workdir: Path, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    log = workdir / f"worker-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        worker_argv("info", workdir),
        env={**os.environ, **overrides}, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while b"Worker ready" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_worker(proc)
            raise RuntimeError(f"worker did not start: {log.read_text(errors='replace')[-1500:]}")
        time.sleep(0.1)
    return proc


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:  # still draining a long batch: do not hang the caller
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def stop_strays(workdir: Path) -> list[int]:
    """SIGKILL every worker still running with its data directory under ``workdir``; their pids.
    ``stop_worker`` stops the process it started; this finds any it did not (once in a passing soak a
    learning worker outlived its run, and a worker left in a consumer group holds partitions)."""
    stray = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            datadir = _datadir((entry / "cmdline").read_bytes().split(b"\0"))
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if datadir is not None and datadir.is_relative_to(workdir):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                stray.append(int(entry.name))
            except ProcessLookupError:
                continue
    return stray


def _datadir(argv: list[bytes]) -> Path | None:
    """The ``--datadir`` a command line names (None: none).

    >>> _datadir([b"faust", b"-A", b"streams.worker", b"--datadir", b"/tmp/w/learn-0", b"worker"])
    PosixPath('/tmp/w/learn-0')
    >>> _datadir([b"faust", b"--datadir"]) is None
    True
    """
    at = argv.index(b"--datadir") + 1 if b"--datadir" in argv else len(argv)
    return Path(os.fsdecode(argv[at])) if at < len(argv) else None


def rss_mib(proc: subprocess.Popen[bytes]) -> float:
    status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS"))) / 1024
