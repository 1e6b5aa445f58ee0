"""What every local server has in common: install once into the cache, start detached, check health.

Each concrete server (Kafka, FerretDB, Redis) says how to install itself, its command line and
its protocol-level health check; this base turns that into idempotent ``start``/``stop``/``status``.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from deploy.local.background import bring_to_foreground, send_to_background
from deploy.local.process import StackError, port_open, read_pid, spawn, tail, terminate, wait_until


@dataclass(frozen=True)
class ServerStatus:
    name: str
    address: str
    version: str
    healthy: bool
    pid: int | None
    external: bool


class LocalServer(ABC):
    name: str
    #: the ``CINESTREAM_*`` setting of the port, named in "port taken" errors
    port_setting: str
    start_timeout: float = 60.0
    #: the stream's side of the machine (FerretDB), not a request's path: under ``CINESTREAM_BACKGROUND_IDLE``
    #: it yields the CPU to the API. Redis answers every request, and Kafka acknowledges every event the API
    #: accepts before the API answers (``api.event_sender``): starved, it had made intake wait 2.5 s past
    #: capacity (docs/benchmarks.md, "Past capacity").
    background: bool = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.stack_dir / "run"
        self.pid_file = self.run_dir / f"{self.name}.pid"
        self.log_file = settings.stack_dir / "logs" / f"{self.name}.log"
        self.data_dir = settings.stack_dir / self.name
        self._launched: int | None = None  # the pid ``launch`` spawned, until ``ready`` waited for it

    # --- what each server defines -------------------------------------------------------------
    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    @abstractmethod
    def address(self) -> str: ...

    @property
    @abstractmethod
    def marker(self) -> str:
        """A string found in the server's command line, to recognise our own process."""

    @abstractmethod
    def install(self) -> None:
        """Make the binary available (cached under ``cache_dir``); no-op when cached."""

    @abstractmethod
    def argv(self) -> list[str]: ...

    @abstractmethod
    def healthy(self) -> bool:
        """A real protocol round trip, not just an open port."""

    @abstractmethod
    def version(self) -> str: ...

    def prepare(self) -> None:
        """One-off work before the first start (data directories, storage format)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    # --- shared behaviour ---------------------------------------------------------------------
    @property
    def external(self) -> bool:
        return self.settings.is_external(self.name.split("-")[0])

    def pid(self) -> int | None:
        return read_pid(self.pid_file, self.marker)

    def start(self) -> bool:
        """Start unless already running, and wait until healthy; returns True if a process was started."""
        started = self.launch()
        self.ready()
        return started

    def launch(self) -> bool:
        """Spawn the server unless it runs already (or is the user's own), without waiting for it:
        the stack launches every server before waiting, as a Kafka node is healthy only once a
        majority of its controllers runs. Returns True if a process was started."""
        if self.external or self.pid() is not None:
            return False
        if port_open(self.port):
            raise StackError(
                f"{self.name}: port {self.port} is taken by another process; stop it, "
                f"or set {self.port_setting} to a free port"
            )
        self.install()
        self.prepare()
        # kept for ``ready``: until the child has exec'd, its command line is not yet the server's
        self._launched = spawn(self.argv(), self.log_file, self.pid_file, cwd=self.data_dir)
        return True

    def ready(self) -> None:
        """Wait until the server answers; it then gets the CPU policy the settings ask for (also one that
        was already running, perhaps sent to the background by an earlier version)."""
        if self.external:
            if not self.healthy():
                raise StackError(f"{self.name}: the server you configured at {self.address} does not answer; "
                                 f"start it, or unset its CINESTREAM_ address setting so the stack runs one")
            return
        pid, self._launched = self._launched or self.pid(), None
        if pid is None:
            raise StackError(f"{self.name} exited during start-up: {tail(self.log_file)} (full log: {self.log_file})")
        wait_until(self.healthy, self.start_timeout, self.name, self.log_file, pid)
        (send_to_background if self.background and self.settings.background_idle else bring_to_foreground)(pid)

    def stop(self) -> bool:
        """Stop only a process we started (pid file + matching command line)."""
        pid = self.pid()
        if pid is None:
            return False
        terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> ServerStatus:
        healthy = self.healthy()
        return ServerStatus(
            name=self.name,
            address=self.address,
            version=self.version() if healthy else "-",
            healthy=healthy,
            pid=self.pid(),
            external=self.external,
        )


def require_tool(tool: str, fix: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"'{tool}' not found on PATH: {fix}")
    return path


def cached(path: Path) -> bool:
    return path.exists() and path.with_name(path.name + ".complete").exists()


def mark_cached(path: Path) -> None:
    path.with_name(path.name + ".complete").write_text("ok\n")
