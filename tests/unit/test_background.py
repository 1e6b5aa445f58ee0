"""A background process yields the CPU across scheduling groups, not only inside its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from deploy.local import background


def threads_policies(pid: int) -> set[int]:
    return {os.sched_getscheduler(int(task)) for task in os.listdir(f"/proc/{pid}/task")}


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of several threads in a session (so an autogroup) of its own, as the servers start."""
    code = "import threading, time\nfor _ in range(3): threading.Thread(target=time.sleep, args=(30,)).start()\n"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    while proc.poll() is None and len(os.listdir(f"/proc/{proc.pid}/task")) < 4:
        pass
    yield proc
    proc.kill()
    proc.wait()


def test_every_thread_goes_idle_and_comes_back(sleeper: subprocess.Popen[bytes]) -> None:
    background.send_to_background(sleeper.pid)
    assert threads_policies(sleeper.pid) == {os.SCHED_IDLE}
    background.bring_to_foreground(sleeper.pid)
    assert threads_policies(sleeper.pid) == {os.SCHED_OTHER}
    assert not background.in_idle_group(sleeper.pid)


def test_it_joins_the_idle_group_where_the_kernel_allows(sleeper: subprocess.Popen[bytes]) -> None:
    group = background.idle_group()
    if isinstance(group, str):
        pytest.skip(f"no idle CPU group here: {group}")
    assert background.send_to_background(sleeper.pid)
    assert background.in_idle_group(sleeper.pid)
    assert (group / "cpu.idle").read_text().strip() == "1"
    background.bring_to_foreground(sleeper.pid)
    assert not background.in_idle_group(sleeper.pid)


def test_the_command_form_runs_the_command_in_the_background() -> None:
    out = subprocess.run([sys.executable, "-m", "deploy.local.background", sys.executable, "-c",
                          "import os; print(os.sched_getscheduler(0))"], capture_output=True, text=True, check=True)
    assert int(out.stdout) == os.SCHED_IDLE
