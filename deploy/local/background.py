"""Run a process on the CPU time the API and Redis leave: every thread under ``SCHED_IDLE``, inside
a CPU cgroup marked idle (``cpu.idle``) where the kernel lets this user make one.

Why both. ``SCHED_IDLE`` ranks a thread only against the threads of its own scheduling group. With
autogroups (``kernel.sched_autogroup_enabled``, on here) every session is a group of its own, and the
local servers and the benches' helpers start in sessions of their own. So an "idle" FerretDB serving a
refit's reads took turns from the API as an equal. A group whose ``cpu.idle`` is set yields to any
other task that wakes, whichever group that task is in. Beside two idle busy loops in sessions of
their own, a loop that sleeps 2 ms and wakes saw p99 3.9 ms (max 12.6) with the policy alone, and
0.48 ms (max 3.0) with the loops in the idle group: the same as without them (0.5 ms).

The group is made under this process' own CPU cgroup, so a container's limits still hold. Without a
cgroup this user may write (not root, or cgroup v2 without the cpu controller delegated), the policy
alone is applied and :func:`idle_group` says why.

``python -m deploy.local.background CMD ARGS…`` runs a command that way (the main job's batch jobs).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

GROUP = "cinestream-background"


def send_to_background(pid: int) -> bool:
    """``pid`` (every thread, also ones already running) under SCHED_IDLE and into the idle group.
    True if it is in the group; False if only the policy could be applied."""
    _set_policy(pid, os.SCHED_IDLE)
    group = idle_group()
    if isinstance(group, str):
        return False
    try:
        (group / "cgroup.procs").write_text(str(pid))
    except ProcessLookupError:
        return False
    return True


def bring_to_foreground(pid: int) -> None:
    """Undo :func:`send_to_background`: the default policy, and back in this process' own cgroup."""
    _set_policy(pid, os.SCHED_OTHER)
    group = idle_group()
    if not isinstance(group, str):
        with contextlib.suppress(ProcessLookupError):
            (group.parent / "cgroup.procs").write_text(str(pid))


def in_idle_group(pid: int) -> bool:
    """Whether ``pid`` is in the idle group now."""
    group = idle_group()
    if isinstance(group, str):
        return False
    return str(pid) in (group / "cgroup.procs").read_text().split()


@functools.cache
def idle_group() -> Path | str:
    """The idle group's folder (made on first use), or why there is none."""
    own = _own_cpu_cgroup()
    if isinstance(own, str):
        return own
    group = own / GROUP
    try:
        group.mkdir(exist_ok=True)
        if not (group / "cpu.idle").exists():
            return f"{own} offers no cpu.idle (a kernel before 5.15, or the cpu controller not delegated)"
        (group / "cpu.idle").write_text("1")
    except OSError as exc:
        return f"cannot make {group}: {exc.strerror}"
    return group


def _own_cpu_cgroup() -> Path | str:
    """The folder of the CPU cgroup this process is in: cgroup v1's cpu hierarchy, else v2's."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        kind, _, options = [*rest.split(), "", ""][:3]
        if kind == "cgroup" and "cpu" in options.split(","):
            mounts["cpu"] = Path(fields.split()[4])
        elif kind == "cgroup2":
            mounts.setdefault("", Path(fields.split()[4]))
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        name = "cpu" if "cpu" in controllers.split(",") else "" if controllers == "" else None
        if name is not None and name in mounts:
            return mounts[name] / path.lstrip("/")
    return "no CPU cgroup is mounted"


def _set_policy(pid: int, policy: int) -> None:
    """Per thread: a policy set on a process reaches only the threads it starts afterwards, and a
    JVM has started dozens by the time it answers."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            if os.sched_getscheduler(int(task.name)) != policy:
                os.sched_setscheduler(int(task.name), policy, os.sched_param(0))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m deploy.local.background COMMAND [ARGS…]")
    send_to_background(os.getpid())
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
