"""One control group per sandboxed run: CPU, processes and memory for the WHOLE sandbox.

prlimit's limits are per process (address space) or per uid (processes).  They do not stop one
sandbox from taking the machine's CPU away from the sandbox graded next to it: the hostile corpus
found that a notebook whose background processes each call setsid() and spin (the scheduler's
autogroups are per session, so fair sharing between sessions does not help) starved the honest
notebook graded concurrently into cell timeouts -- a student losing points because of a neighbour.
Per-process address-space caps also multiply with the process count (a fork bomb times a memory
bomb).  A control group per run caps the sandbox at :data:`CPUS_PER_RUN` CPUs, ``max_processes``
tasks and ``memory_mb`` of memory in total (the kernel's OOM killer then picks inside the sandbox).

cgroup v1 (separate ``cpu``, ``pids``, ``memory`` hierarchies) and v2 (unified) are supported.  A
run's groups are made under this process's own groups; the sandbox's first process (a shell that
then execs bubblewrap) moves itself in before anything else starts; after the run every process
still inside is killed and the groups are removed.  Where no hierarchy with a CPU controller is
writable, :meth:`RunGroup.create` returns None and runs are not confined; :func:`problem` says why.
"""
from __future__ import annotations

import errno
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .tempdirs import alive, owner

CPUS_PER_RUN = 1.0              # a notebook's kernel is single-threaded (OMP/MKL/torch set to 1 thread)
PERIOD_US = 100_000
CONTROLLERS = ("cpu", "pids", "memory")
PREFIX = "gradekit-run-"
_MOVE_FAILED = 97


def _read(path: str | Path) -> str:
    with open(path) as f:
        return f.read()


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _hierarchies() -> tuple[dict[str, Path], Path | None]:
    """({controller: this process's group folder} for v1, this process's v2 group folder or None)."""
    mounts_v1: dict[str, str] = {}
    mount_v2 = None
    for line in _read("/proc/self/mountinfo").splitlines():
        parts = line.split()
        if "-" not in parts:
            continue
        sep = parts.index("-")
        fstype, options = parts[sep + 1], parts[sep + 3] if len(parts) > sep + 3 else ""
        if fstype == "cgroup2" and mount_v2 is None and parts[3] == "/":
            mount_v2 = parts[4]
        elif fstype == "cgroup" and parts[3] == "/":
            for opt in options.split(","):
                if opt in CONTROLLERS:
                    mounts_v1.setdefault(opt, parts[4])
    own_v1: dict[str, Path] = {}
    own_v2 = None
    for line in _read("/proc/self/cgroup").splitlines():
        hid, controllers, path = line.split(":", 2)
        if hid == "0" and not controllers and mount_v2:
            own_v2 = Path(mount_v2 + path)
        for c in controllers.split(","):
            if c in mounts_v1:
                own_v1[c] = Path(mounts_v1[c] + path)
    return {c: p for c, p in own_v1.items() if p.is_dir()}, own_v2 if own_v2 and own_v2.is_dir() else None


@dataclass
class RunGroup:
    """The control group(s) of one run: one folder per v1 controller, or one v2 folder."""

    dirs: dict[str, Path]         # controller (or "unified") -> the run's group folder
    version: int

    @classmethod
    def create(cls, name: str, *, max_processes: int, memory_mb: int, cpus: float = CPUS_PER_RUN) -> "RunGroup | None":
        """Make and configure the run's groups; None when this machine does not let us (see problem())."""
        try:
            v1, v2 = _hierarchies()
        except OSError:
            return None
        leaf = f"{PREFIX}{os.getpid()}-{name}-{secrets.token_hex(3)}"
        quota = str(max(1000, int(cpus * PERIOD_US)))
        if "cpu" in v1:
            group = cls({c: p / leaf for c, p in v1.items()}, 1)
            settings = {"cpu": {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": quota},
                        "pids": {"pids.max": str(max_processes)},
                        "memory": {"memory.limit_in_bytes": str(memory_mb << 20)}}
        elif v2 is not None:
            try:   # the controllers must be enabled for our children (fails where we are not allowed)
                _write(v2 / "cgroup.subtree_control", "+cpu +pids +memory")
            except OSError:
                return None
            group = cls({"unified": v2 / leaf}, 2)
            settings = {"unified": {"cpu.max": f"{quota} {PERIOD_US}", "pids.max": str(max_processes),
                                    "memory.max": str(memory_mb << 20), "memory.swap.max": "0"}}
        else:
            return None
        try:
            for controller, folder in group.dirs.items():
                _sweep_stale(folder.parent)
                folder.mkdir()
                for key, value in settings.get(controller, {}).items():
                    try:
                        _write(folder / key, value)
                    except OSError as e:
                        if controller == "cpu" or key == "cpu.max" or e.errno not in (errno.ENOENT, errno.EINVAL):
                            raise
        except OSError:
            group.remove()
            return None
        return group

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def wrap(self, argv: list[str]) -> list[str]:
        """argv run by a shell that first moves itself into the groups, then execs argv (same pid:
        bubblewrap and everything it starts are inside from their first instruction)."""
        script = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit %d; shift; n=$((n-1)); done; '
                  'exec "$@"' % _MOVE_FAILED)
        return ["/bin/sh", "-c", script, "gradekit-cgroup", str(len(self.procs_files)), *self.procs_files, *argv]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for f in self.procs_files:
            try:
                out |= {int(p) for p in _read(f).split()}
            except (OSError, ValueError):
                pass
        return out

    def remove(self, timeout: float = 5.0) -> None:
        """Kill whatever is still inside, then delete the groups (never raises)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            busy = False
            for folder in self.dirs.values():
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    busy = True
            if not busy or time.monotonic() > deadline:
                return
            time.sleep(0.05)


def _sweep_stale(parent: Path) -> None:
    """Remove empty run groups left by a grader process that died (its pid is in the name)."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for d in entries:
        pid = owner(d, PREFIX)
        if pid is None or alive(pid):
            continue                       # not ours, or its grader is alive
        try:
            d.rmdir()
        except OSError:
            pass


def problem() -> str | None:
    """None when runs can be confined here, else why not (for the self-check and the docs)."""
    group = RunGroup.create("probe", max_processes=8, memory_mb=64)
    if group is None:
        return ("no writable cgroup hierarchy with a cpu controller (v1) or delegable cpu/pids/memory controllers "
                "(v2): sandboxes share CPU and memory without per-run caps")
    group.remove()
    return None
