"""Run one untrusted notebook and the grader's probes under bubblewrap -> ExecutionReport.

The trusted side of the sandbox.  It makes a private job folder (the notebook and copies of the
course's job files, nothing else), starts ``kernel_runner.py`` inside bubblewrap, reads the runner's
events from a pipe (with a byte cap: the runner shares its uid with the student's code, so whatever
it says is untrusted data), enforces the wall-clock limit from outside, and deletes the folder.

Why this recipe (run as root, no user namespace):

* bubblewrap gives a fresh mount, pid, ipc, uts, cgroup and network namespace.  The sandbox sees
  read-only /usr, /lib*, /bin, /etc, the Python installation and the virtual environment, a private
  /tmp and /dev/shm (size-capped tmpfs), and /job.  Not the repository, not other submissions, not
  the output folder: the venv lives inside the repository, but only that sub-folder is bound (the
  editable install's finder then points at a folder that does not exist in the sandbox).
* ``setpriv`` drops to a per-slot *real* uid (61000 + slot) with no capabilities and no_new_privs.
  A real unprivileged uid is what makes RLIMIT_NPROC bind (it does not for root, or for root inside
  a user namespace); ``prlimit`` sets the address-space, process, file-size and core limits.
* A seccomp filter (:mod:`.syscalls`, bubblewrap's ``--seccomp``) refuses the kernel keyring calls:
  keyrings belong to the uid, not to any namespace, and would carry data from one run of a slot to
  the next.  IPC objects (``--unshare-ipc``), abstract sockets (``--unshare-net``), /tmp and /dev/shm
  (fresh tmpfs) and processes (pid namespace) end with the run.
* ``--unshare-net``: only a loopback interface exists inside (bwrap brings it up; the kernel talks
  to the runner over unix sockets anyway).  ``--die-with-parent`` plus the pid namespace means
  killing bwrap kills every process the student started.
* A control group per run (:mod:`gradekit.cgroups`, where the machine allows it) caps the whole
  sandbox at one CPU, ``max_processes`` tasks and ``memory_mb`` of memory: per-process and per-uid
  limits alone let a notebook starve the run next to it (processes that setsid() and spin).

``run_notebook(..., sandboxed=False)`` runs the same runner directly, with the same prlimits and no
isolation: for machines without bubblewrap, behind the CLI's ``--unsafe-no-sandbox`` and its warning.

The package: ``recipe`` builds the bubblewrap command line, ``supervise`` runs and watches it,
``events`` turns what the runner said into an ExecutionReport; this module prepares the job folder.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

from ..cgroups import RunGroup
from ..config import Limits
from ..errors import SandboxUnavailable, SetupError
from ..model import ExecutionReport, Status
from ..tempdirs import owned_tempdir
from ..probes import MAX_PROBE_BYTES, ProbeSpec, wrap_probe
from ..budgets import Budget
from .events import _report, cell_labels
from .recipe import (EXECUTED_NOTEBOOK_BYTES, FIX_HINT, INTERRUPT_GRACE_S, JOB_IN_SANDBOX, MAX_RESTARTS, MAX_SLOTS, MPL_CACHE_IN_SANDBOX,
                     NOTEBOOK_NAME, OUTSIDE_MARGIN_S, RUNNER, RUNNER_IN_SANDBOX, SLOT_UID_BASE, _bwrap_argv,
                     _limit_argv, mpl_cache, sandbox_self_test)
from .supervise import _supervise

JOB_PREFIX = "gradekit-job-"
from .syscalls import filter_fd

__all__ = ["run_notebook", "sandbox_self_test", "remove_tree", "SLOT_UID_BASE", "OUTSIDE_MARGIN_S", "FIX_HINT"]


def run_notebook(notebook_json: str, probes: Sequence[ProbeSpec], job_files: Mapping[str, Path],
                 limits: Limits, *, sandboxed: bool = True, slot: int = 0,
                 workdir: Path | None = None, budget: Budget | None = None) -> ExecutionReport:
    """Execute the notebook's code cells in order, then each probe; never raises for a bad notebook.

    ``budget`` (gradekit.budgets) gives each code cell and the notebook a time limit below the
    ceilings of ``limits``; without it every cell gets ``limits.cell_timeout_s``.

    ``job_files`` maps a relative path in the job folder to a host file or folder (copied in).
    ``slot`` picks the uid (61000 + slot): concurrent runs need distinct slots, since the process
    limit counts per uid.  Raises SandboxUnavailable when sandboxed and bubblewrap does not work,
    SetupError for a bad job file.
    """
    t0 = time.monotonic()
    if not 0 <= slot < MAX_SLOTS:
        raise SetupError(f"sandbox slot {slot} out of range 0..{MAX_SLOTS - 1}")
    if sandboxed:
        reason = sandbox_self_test()
        if reason:
            raise SandboxUnavailable(reason)
    probes = list(probes)
    root = owned_tempdir(JOB_PREFIX, workdir)      # a killed worker's job folder is swept later
    group, seccomp_fd = None, None
    try:
        job = root / "job"
        job.mkdir()
        (job / NOTEBOOK_NAME).write_text(notebook_json, encoding="utf-8")
        for rel, src in job_files.items():
            _copy_job_file(job, rel, Path(src))
        uid = SLOT_UID_BASE + slot
        mpl = mpl_cache()
        plan = _plan(probes, limits, job, root, sandboxed, budget)
        if mpl:
            plan["mpl_cache"] = MPL_CACHE_IN_SANDBOX if sandboxed else mpl
        if sandboxed:
            _chown_tree(job, uid)
            seccomp_fd = filter_fd()       # no kernel keyrings: they would outlive the run (see .syscalls)
            argv = _bwrap_argv(job, uid, limits, mpl, seccomp_fd) + [sys.executable, "-I", RUNNER_IN_SANDBOX]
            # CPU, processes and memory capped for the whole sandbox, so that it cannot starve the
            # runs next to it (see gradekit.cgroups); unconfined where the machine has no cgroups for us
            group = RunGroup.create(f"slot{slot}", max_processes=limits.max_processes, memory_mb=limits.memory_mb)
            if group is not None:
                argv = group.wrap(argv)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            cwd = str(root)
        else:
            (root / "tmp").mkdir()
            limit = _limit_argv(limits) if shutil.which("prlimit") else []
            argv = limit + [sys.executable, "-I", str(RUNNER)]
            env = {"PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/bin:/bin", "HOME": str(job), "LANG": "C.UTF-8"}
            cwd = str(job)
        wall = plan["notebook_timeout_s"] + sum(p["timeout_s"] for p in plan["probes"]) + OUTSIDE_MARGIN_S
        try:
            run = _supervise(argv, env, cwd, json.dumps(plan).encode(), wall, len(probes), sandboxed,
                             pass_fds=() if seccomp_fd is None else (seccomp_fd,))
        except OSError as e:
            return ExecutionReport(Status.ERROR, f"could not start the runner: {e}; {FIX_HINT}",
                                   seconds=time.monotonic() - t0)
        return _report(run, probes, limits, wall, time.monotonic() - t0, cell_labels(notebook_json), budget)
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
        if group is not None:
            group.remove()
        remove_tree(root)


def _plan(probes: list[ProbeSpec], limits: Limits, job: Path, root: Path, sandboxed: bool,
          budget: Budget | None = None) -> dict:
    job_path = JOB_IN_SANDBOX if sandboxed else str(job)
    notebook_s = float(limits.notebook_timeout_s if budget is None else budget.notebook_timeout_s)
    return {
        "notebook": f"{job_path}/{NOTEBOOK_NAME}",
        "cwd": job_path,
        "tmp": "/tmp" if sandboxed else str(root / "tmp"),
        "cell_timeout_s": float(limits.cell_timeout_s),
        "notebook_timeout_s": notebook_s,
        # per code cell (by index), each at most cell_timeout_s; cells not listed get cell_timeout_s
        "cell_timeouts_s": {str(i): float(min(s, limits.cell_timeout_s))
                            for i, s in (budget.cell_timeouts.items() if budget else ())},
        "output_bytes_per_cell": int(limits.output_kb_per_cell) * 1024,
        "probe_answer_bytes": MAX_PROBE_BYTES,
        "executed_notebook_bytes": EXECUTED_NOTEBOOK_BYTES,
        "interrupt_grace_s": INTERRUPT_GRACE_S if limits.cell_timeout_s >= 10 else 2.0,
        "max_restarts": MAX_RESTARTS,
        # A probe gets its own timeout, capped by the operator's limit (small in test profiles).
        "probes": [{"name": p.name, "source": wrap_probe(p),
                    "timeout_s": float(min(p.timeout_s, limits.probe_timeout_s))} for p in probes],
    }


def _copy_job_file(job: Path, rel: str, src: Path) -> None:
    rp = PurePosixPath(rel)
    if rp.is_absolute() or ".." in rp.parts or not rp.parts or str(rp) == NOTEBOOK_NAME:
        raise SetupError(f"job file name {rel!r} must be a relative path inside the job folder")
    dest = job.joinpath(*rp.parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=False)
    elif src.is_file():
        shutil.copyfile(src, dest)
    else:
        raise SetupError(f"job file {src} (for {rel}) does not exist")


def _chown_tree(top: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        os.chown(dirpath, uid, uid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), uid, uid, follow_symlinks=False)


def remove_tree(root: Path) -> None:
    """Delete the job folder whatever the student left in it: modes, links, fifos, a folder chain
    thousands deep.  Python 3.11's shutil.rmtree recurses (RecursionError at ~1,000 levels) and a
    path-based walk hits PATH_MAX; coreutils' ``rm`` walks iteratively with directory fds and never
    follows links.  ``chmod -R u+rwx`` first (it ignores links), for when we are not root and the
    student took the permissions away.  A folder that still exists afterwards is a grader fault:
    RuntimeError, never a silent leak."""
    for argv in (["rm", "-rf", "--one-file-system", "--", str(root)],
                 ["chmod", "-R", "u+rwx", "--", str(root)], ["rm", "-rf", "--one-file-system", "--", str(root)]):
        if not os.path.lexists(root):
            return
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
    if os.path.lexists(root):
        raise RuntimeError(f"the job folder {root} could not be removed")
