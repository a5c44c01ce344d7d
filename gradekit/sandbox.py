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
* ``--unshare-net``: only a loopback interface exists inside (bwrap brings it up; the kernel talks
  to the runner over unix sockets anyway).  ``--die-with-parent`` plus the pid namespace means
  killing bwrap kills every process the student started.
* A control group per run (:mod:`gradekit.cgroups`, where the machine allows it) caps the whole
  sandbox at one CPU, ``max_processes`` tasks and ``memory_mb`` of memory: per-process and per-uid
  limits alone let a notebook starve the run next to it (processes that setsid() and spin).

``run_notebook(..., sandboxed=False)`` runs the same runner directly, with the same prlimits and no
isolation: for machines without bubblewrap, behind the CLI's ``--unsafe-no-sandbox`` and its warning.
"""
from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, Sequence

from .cgroups import RunGroup
from .config import Limits
from .errors import SandboxUnavailable, SetupError
from .model import CellRun, ExecutionReport, ProbeResult, Status
from .probes import MAX_PROBE_BYTES, ProbeSpec, parse_probe_output, wrap_probe

RUNNER = Path(__file__).with_name("kernel_runner.py")
RUNNER_IN_SANDBOX = "/opt/gradekit/kernel_runner.py"
MPL_CACHE_IN_SANDBOX = "/opt/gradekit/mpl"
JOB_IN_SANDBOX = "/job"
NOTEBOOK_NAME = "submission.ipynb"
SLOT_UID_BASE = 61000
MAX_SLOTS = 4000
FSIZE_BYTES = 1 << 30           # the largest file the student's code may write
TMPFS_MB = (64, 1024)           # /tmp and /dev/shm: a quarter of memory_mb, within these bounds
OUTSIDE_MARGIN_S = 60.0         # kernel starts/stops and interrupt waits beyond the runner's deadlines
INTERRUPT_GRACE_S = 5.0         # how long an interrupted cell may take to come back
MAX_RESTARTS = 3
EVENT_LINE_BYTES = 6 * MAX_PROBE_BYTES + 65536   # one probe answer, JSON-escaped (\u00XX: 6 bytes)
EVENTS_BASE_BYTES = 8 << 20
LOG_TAIL_BYTES = 64 << 10
EXECUTED_NOTEBOOK_BYTES = 8 << 20  # the notebook as it ran, handed back for staff: at most this size
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc")

FIX_HINT = ("install bubblewrap (`apt-get install bubblewrap`) and run gradekit as root, or grade without "
            "isolation with `--unsafe-no-sandbox` (only for trusted notebooks)")


# -- the sandbox command line -------------------------------------------------------------------

def _python_roots() -> list[str]:
    """Folders holding the interpreter, its standard library and the venv, as the sandbox must see
    them (derived from this interpreter, not hard-coded; system folders are bound anyway)."""
    cands = {sys.prefix, os.path.realpath(sys.prefix), sys.base_prefix, os.path.realpath(sys.base_prefix),
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    roots = sorted({os.path.abspath(c) for c in cands if c and os.path.isdir(c)})
    roots = [r for r in roots if not any(_under(r, s) for s in SYSTEM_DIRS) and r != "/"]
    return [r for r in roots if not any(o != r and _under(r, o) for o in roots)]


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _tmpfs_bytes(limits: Limits) -> int:
    lo, hi = TMPFS_MB
    return max(lo, min(hi, limits.memory_mb // 4)) << 20


def _limit_argv(limits: Limits) -> list[str]:
    """prlimit: address space per process, processes per uid, file size, no core files (a core
    written by a crashing kernel could be piped to a host helper)."""
    return ["prlimit", f"--as={limits.memory_mb << 20}", f"--nproc={limits.max_processes}",
            f"--fsize={FSIZE_BYTES}", "--core=0", "--"]


def _bwrap_argv(job: Path, uid: int, limits: Limits, mpl_cache: str | None = None) -> list[str]:
    venv_bin = os.path.join(sys.prefix, "bin")
    argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "gradekit",
            "--ro-bind", "/usr", "/usr"]
    for d in SYSTEM_DIRS[1:]:
        if os.path.islink(d):              # merged-/usr systems: /lib -> usr/lib
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    # The private /tmp comes BEFORE the Python binds: bwrap applies its arguments in order, and a
    # later --tmpfs /tmp would hide a virtual environment that lives under /tmp (a CI checkout).
    tmpfs = str(_tmpfs_bytes(limits))
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", tmpfs, "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", tmpfs, "--tmpfs", "/tmp"]
    roots = _python_roots()
    parents = sorted({p for r in roots for p in _ancestors(r)}, key=lambda p: (p.count("/"), p))
    for p in parents:                      # traversable parents (the host's /root is 0700)
        if p != "/tmp":
            argv += ["--perms", "0755", "--dir", p]
    for r in roots:
        argv += ["--ro-bind", r, r]
    argv += ["--bind", str(job), JOB_IN_SANDBOX]
    for p in _ancestors(RUNNER_IN_SANDBOX):
        argv += ["--perms", "0755", "--dir", p]
    if mpl_cache:
        argv += ["--ro-bind", mpl_cache, MPL_CACHE_IN_SANDBOX]
    argv += ["--ro-bind", str(RUNNER), RUNNER_IN_SANDBOX,
             "--chdir", JOB_IN_SANDBOX, "--clearenv",
             "--setenv", "HOME", JOB_IN_SANDBOX,
             "--setenv", "PATH", f"{venv_bin}:/usr/bin:/bin",
             "--setenv", "LANG", "C.UTF-8",
             "--"]
    argv += _limit_argv(limits)
    argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
             "--inh-caps=-all", "--bounding-set=-all"]
    return argv


def _ancestors(path: str) -> list[str]:
    out, p = [], os.path.dirname(path)
    while p not in ("/", ""):
        out.append(p)
        p = os.path.dirname(p)
    return out


_MPL_CACHE: dict[str, str | None] = {}
_MPL_LOCK = threading.Lock()


def _mpl_cache() -> str | None:
    """A folder holding matplotlib's font list, built once per process and shared read-only with
    every sandbox: otherwise each notebook that imports matplotlib rebuilds it (about 1.5 s)."""
    with _MPL_LOCK:
        if "dir" not in _MPL_CACHE:
            _MPL_CACHE["dir"] = _build_mpl_cache()
        return _MPL_CACHE["dir"]


def _build_mpl_cache() -> str | None:
    d = tempfile.mkdtemp(prefix="gradekit-mpl-")
    atexit.register(shutil.rmtree, d, True)
    try:
        subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], check=True, timeout=300,
                       capture_output=True, stdin=subprocess.DEVNULL,
                       env={"MPLCONFIGDIR": d, "HOME": d, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    except (OSError, subprocess.SubprocessError):
        return None                                 # no matplotlib, or it failed: notebooks build their own
    names = [n for n in os.listdir(d) if n.startswith("fontlist") and n.endswith(".json")]
    for n in names:
        os.chmod(os.path.join(d, n), 0o644)
    os.chmod(d, 0o755)                              # readable by the slot uids
    return d if names else None


_SELF_TEST: dict[str, str | None] = {}
_SELF_TEST_LOCK = threading.Lock()


def sandbox_self_test() -> str | None:
    """None when the sandbox works on this machine, else the reason (cached per process).

    Starts the real recipe once (bubblewrap, prlimit, setpriv, this interpreter) and checks the
    process inside runs as the slot's uid without network interfaces other than loopback.
    """
    with _SELF_TEST_LOCK:
        if "result" not in _SELF_TEST:
            _SELF_TEST["result"] = _self_test()
        return _SELF_TEST["result"]


def _self_test() -> str | None:
    missing = [t for t in ("bwrap", "prlimit", "setpriv") if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not found; {FIX_HINT}"
    if os.geteuid() != 0:
        return f"the sandbox switches to a per-slot uid and so needs root (running as uid {os.geteuid()}); {FIX_HINT}"
    probe = ("import os,socket;print(os.getuid(),os.geteuid(),"
             "','.join(sorted(n for _,n in socket.if_nameindex())),os.access(%r,os.R_OK))" % RUNNER_IN_SANDBOX)
    root = Path(tempfile.mkdtemp(prefix="gradekit-selftest-"))
    try:
        job = root / "job"
        job.mkdir()
        os.chown(job, SLOT_UID_BASE, SLOT_UID_BASE)
        argv = _bwrap_argv(job, SLOT_UID_BASE, Limits(memory_mb=1024, max_processes=64)) + \
            [sys.executable, "-I", "-c", probe]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"bubblewrap did not run: {e}; {FIX_HINT}"
        want = f"{SLOT_UID_BASE} {SLOT_UID_BASE} lo True"
        if p.returncode != 0 or p.stdout.strip() != want:
            err = (p.stderr.strip().splitlines() or ["no error output"])[-1]
            return f"bubblewrap self-test failed (exit {p.returncode}: {err}); {FIX_HINT}"
        return None
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- running ------------------------------------------------------------------------------------

@dataclass
class _Run:
    events: list[dict] = field(default_factory=list)
    returncode: int | None = None
    killed_outside: bool = False
    events_truncated: bool = False
    log: bytes = b""


def run_notebook(notebook_json: str, probes: Sequence[ProbeSpec], job_files: Mapping[str, Path],
                 limits: Limits, *, sandboxed: bool = True, slot: int = 0,
                 workdir: Path | None = None) -> ExecutionReport:
    """Execute the notebook's code cells in order, then each probe; never raises for a bad notebook.

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
    root = Path(tempfile.mkdtemp(prefix="gradekit-job-", dir=workdir))
    group = None
    try:
        job = root / "job"
        job.mkdir()
        (job / NOTEBOOK_NAME).write_text(notebook_json, encoding="utf-8")
        for rel, src in job_files.items():
            _copy_job_file(job, rel, Path(src))
        uid = SLOT_UID_BASE + slot
        mpl = _mpl_cache()
        plan = _plan(probes, limits, job, root, sandboxed)
        if mpl:
            plan["mpl_cache"] = MPL_CACHE_IN_SANDBOX if sandboxed else mpl
        if sandboxed:
            _chown_tree(job, uid)
            argv = _bwrap_argv(job, uid, limits, mpl) + [sys.executable, "-I", RUNNER_IN_SANDBOX]
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
        wall = float(limits.notebook_timeout_s) + sum(p["timeout_s"] for p in plan["probes"]) + OUTSIDE_MARGIN_S
        try:
            run = _supervise(argv, env, cwd, json.dumps(plan).encode(), wall, len(probes), sandboxed)
        except OSError as e:
            return ExecutionReport(Status.ERROR, f"could not start the runner: {e}; {FIX_HINT}",
                                   seconds=time.monotonic() - t0)
        return _report(run, probes, limits, wall, time.monotonic() - t0)
    finally:
        if group is not None:
            group.remove()
        _remove_tree(root)


def _plan(probes: list[ProbeSpec], limits: Limits, job: Path, root: Path, sandboxed: bool) -> dict:
    job_path = JOB_IN_SANDBOX if sandboxed else str(job)
    return {
        "notebook": f"{job_path}/{NOTEBOOK_NAME}",
        "cwd": job_path,
        "tmp": "/tmp" if sandboxed else str(root / "tmp"),
        "cell_timeout_s": float(limits.cell_timeout_s),
        "notebook_timeout_s": float(limits.notebook_timeout_s),
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


def _remove_tree(root: Path) -> None:
    """Delete the job folder whatever the student did to it (modes, odd files)."""
    def fix(func, path, exc):  # noqa: ARG001 - rmtree's onerror signature
        try:
            os.chmod(path, 0o700)
            func(path)
        except OSError:
            pass
    shutil.rmtree(root, onerror=fix)


def _supervise(argv: list[str], env: dict[str, str], cwd: str, plan: bytes, wall: float,
               n_probes: int, sandboxed: bool) -> _Run:
    """Start the runner, feed the plan, collect events and the log tail, kill it at the wall limit.

    Everything is read in this thread with a selector, and every buffer is capped, so a runner
    that floods its pipes costs CPU time, not memory.
    """
    ev_r, ev_w = os.pipe()
    run = _Run()
    events_cap = EVENTS_BASE_BYTES + n_probes * EVENT_LINE_BYTES + 6 * EXECUTED_NOTEBOOK_BYTES
    try:
        proc = subprocess.Popen(argv + ["--events-fd", str(ev_w)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(ev_w,),
                                env=env, cwd=cwd, start_new_session=True)
    except BaseException:
        os.close(ev_r)
        os.close(ev_w)
        raise
    os.close(ev_w)
    deadline = time.monotonic() + wall
    sel = selectors.DefaultSelector()
    for f in (proc.stdin, proc.stdout):
        os.set_blocking(f.fileno(), False)
    os.set_blocking(ev_r, False)
    sel.register(ev_r, selectors.EVENT_READ, "events")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "log")
    sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "plan")
    pending = memoryview(plan)
    ev_buf, ev_total, skipping = bytearray(), 0, False
    log = bytearray()
    exited_at = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 2.0:
                break                      # a leftover child (unsandboxed) may hold the pipes open
            if now > deadline and not run.killed_outside:
                run.killed_outside = True
                _kill(proc, sandboxed)
                deadline = now + 10.0
            elif now > deadline:
                break
            for key, _ in sel.select(timeout=0.25):
                fd = key.fd
                if key.data == "plan":
                    try:
                        n = os.write(fd, pending[:65536])
                        pending = pending[n:]
                    except (BrokenPipeError, BlockingIOError) as e:
                        if isinstance(e, BlockingIOError):
                            continue
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    continue
                if key.data == "log":
                    log += chunk
                    if len(log) > 2 * LOG_TAIL_BYTES:
                        del log[:-LOG_TAIL_BYTES]
                    continue
                ev_buf += chunk
                while True:
                    nl = ev_buf.find(b"\n")
                    if nl < 0:
                        if len(ev_buf) > EVENT_LINE_BYTES:   # an over-long line: drop it whole
                            ev_buf.clear()
                            skipping = True
                        break
                    line = bytes(ev_buf[:nl])
                    del ev_buf[:nl + 1]
                    if skipping:
                        skipping = False
                        continue
                    ev_total += len(line)
                    if ev_total > events_cap:
                        run.events_truncated = True
                        continue
                    try:
                        ev = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(ev, dict):
                        run.events.append(ev)
    finally:
        if proc.poll() is None:
            _kill(proc, sandboxed)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        sel.close()
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        os.close(ev_r)
    run.returncode = proc.returncode
    run.log = bytes(log[-LOG_TAIL_BYTES:])
    return run


def _kill(proc: subprocess.Popen, sandboxed: bool) -> None:
    """Sandboxed: SIGKILL bwrap's process group; the pid namespace takes every student process
    with it.  Unsandboxed: SIGTERM first so the runner can kill the kernel's own process group."""
    try:
        if not sandboxed:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# -- events -> report ---------------------------------------------------------------------------

CELL_STATUSES = {"ok", "error", "timeout", "dead", "skipped"}
PROBE_STATUSES = {"ok", "error", "timeout", "not_run"}


def _num(v: Any) -> float:
    return float(v) if type(v) in (int, float) and v == v and abs(v) < 1e9 else 0.0


def _text(v: Any, n: int = 300) -> str | None:
    return v[:n] if isinstance(v, str) else None


def _report(run: _Run, probes: list[ProbeSpec], limits: Limits, wall: float, seconds: float) -> ExecutionReport:
    """Turn the runner's (untrusted) events into an ExecutionReport; validate every field."""
    cells: dict[int, CellRun] = {}
    results: dict[str, ProbeResult] = {}
    specs = {p.name: p for p in probes}
    kernel_events: list[dict] = []
    notebook_parts: list[dict] = []
    done: dict | None = None
    for ev in run.events:
        kind = ev.get("event")
        if kind == "cell":
            i, st = ev.get("index"), ev.get("status")
            if type(i) is int and 0 <= i < 100_000 and st in CELL_STATUSES and i not in cells:
                cells[i] = CellRun(i, st, _text(ev.get("error")), _num(ev.get("seconds")))
        elif kind == "probe":
            name, st = ev.get("name"), ev.get("status")
            if name in specs and name not in results and st in PROBE_STATUSES:
                results[name] = _probe_result(specs[name], ev)
        elif kind == "kernel":
            kernel_events.append(ev)
        elif kind == "notebook":
            notebook_parts.append(ev)
        elif kind == "done" and done is None:
            done = ev

    restarts = sum(1 for e in kernel_events if e.get("status") == "restarted")
    kernel_failed = next((e for e in kernel_events if e.get("status") == "failed"), None)
    started = any(e.get("status") == "started" for e in kernel_events)
    if run.killed_outside:
        status, head = Status.TIMEOUT, f"the run was stopped after {wall:.0f} s (its time limit)"
    elif done is not None and done.get("status") == "error":
        status = Status.ERROR
        head = (f"the notebook could not be started: {_text(done.get('error'), 200)}; if the kernel did not start, "
                f"check memory_mb ({limits.memory_mb}) and max_processes ({limits.max_processes}) in gradekit.toml")
    elif done is None and not started:
        status = Status.ERROR
        last = _log_tail(run.log, 3).replace("\n", " | ") or "no output"
        head = f"the sandbox did not start (exit {run.returncode}: {last}); {FIX_HINT}"
    elif done is None:
        status = Status.KERNEL_DIED
        head = f"the grading runner stopped unexpectedly (exit {run.returncode}); the notebook may have killed it"
    elif done.get("status") == "timeout":
        status, head = Status.TIMEOUT, f"the notebook hit its time limit of {limits.notebook_timeout_s:.0f} s"
    elif done.get("kernel_alive") is False:
        status, head = Status.KERNEL_DIED, "the kernel died and could not be restarted"
    else:
        status, head = Status.GRADED, None

    for p in probes:
        if p.name not in results:
            why = ("the run timed out before this probe" if status is Status.TIMEOUT
                   else "the kernel died before this probe" if status is Status.KERNEL_DIED
                   else "the probe did not report (runner stopped)")
            results[p.name] = ProbeResult(p.name, "not_run", dict(p.params), error=why)

    ordered = tuple(cells[i] for i in sorted(cells))
    dropped = [i for e in kernel_events if isinstance(e.get("dropped"), list)
               for i in e["dropped"] if type(i) is int and 0 <= i < 100_000][:50]
    parts = ([head] if head else []) + _cell_story(ordered, restarts, dropped, kernel_failed, limits)
    parts += [f"probe {r.name} {'timed out' if r.status == 'timeout' else 'was not run'}"
              for r in results.values() if r.status in ("timeout", "not_run") and status is Status.GRADED]
    if run.events_truncated:
        parts.append("some runner events were dropped (too much data)")
    if not parts:
        n = sum(1 for c in ordered if c.status == "ok")
        parts = [f"ran {n} code cell{'' if n == 1 else 's'} in {seconds:.1f} s"]
    message = "; ".join(parts[:5]) + (f"; (+{len(parts) - 5} more)" if len(parts) > 5 else "")
    return ExecutionReport(status=status, message=message, cells=ordered, probes=results,
                           seconds=round(seconds, 3), log_tail=_log_tail(run.log, 20),
                           notebook=_executed_notebook(notebook_parts, ordered))


def _executed_notebook(parts: list[dict], cells: tuple[CellRun, ...]) -> str | None:
    """The runner's executed notebook, put together from its pieces and checked: every piece once,
    at most EXECUTED_NOTEBOOK_BYTES, a valid nbformat-4 notebook; each code cell then marked with
    what the trusted side saw happen to it.  None when any of that fails (it is only for reading)."""
    from .notebook_html import mark_cells

    n = parts[0].get("parts") if parts else None
    if type(n) is not int or not 0 < n == len(parts):
        return None
    pieces = sorted(parts, key=lambda e: e.get("part") if type(e.get("part")) is int else -1)
    if [e.get("part") for e in pieces] != list(range(n)) or not all(isinstance(e.get("data"), str) for e in pieces):
        return None
    text = "".join(e["data"] for e in pieces)
    if len(text) > EXECUTED_NOTEBOOK_BYTES:
        return None
    return mark_cells(text, cells)


def _probe_result(spec: ProbeSpec, ev: dict) -> ProbeResult:
    st, secs = ev["status"], _num(ev.get("seconds"))
    if st == "ok":
        out = ev.get("output")
        if not isinstance(out, str):
            return ProbeResult(spec.name, "error", dict(spec.params), error="the probe produced no answer", seconds=secs)
        st, value, err = parse_probe_output(out)
        return ProbeResult(spec.name, st, dict(spec.params), value, err, secs)
    return ProbeResult(spec.name, st, dict(spec.params), error=_text(ev.get("error")) or st, seconds=secs)


def _cell_story(cells: tuple[CellRun, ...], restarts: int, dropped_cells: list[int], kernel_failed: dict | None,
                limits: Limits) -> list[str]:
    """What a TA needs to know about the cells, shortest first.  Cells count from 1, top to bottom,
    markdown included (CellRun.index is the 0-based position)."""
    parts: list[str] = []
    stopped = [c for c in cells if c.status == "timeout" and c.error and "time limit" in c.error]
    timeouts = [c for c in cells if c.status == "timeout" and c not in stopped]
    if timeouts:
        parts.append(f"{_cells(timeouts)} timed out after {limits.cell_timeout_s:g} s and "
                     f"{'was' if len(timeouts) == 1 else 'were'} skipped")
    dead = [c for c in cells if c.status == "dead"]
    if dead:
        parts.append(f"{_cells(dead)} killed the kernel")
    if restarts:
        parts.append("kernel restarted" + (f" {restarts} times" if restarts > 1 else "") +
                     " and the successful cells replayed")
    dropped = sorted({i + 1 for i in dropped_cells})
    if dropped:
        parts.append(f"{_numbers('cell', dropped)} failed when replayed and "
                     f"{'was' if len(dropped) == 1 else 'were'} left out")
    if kernel_failed is not None:
        parts.append(f"kernel restart failed ({_text(kernel_failed.get('error'), 120)})")
    if stopped:
        parts.append(f"{_cells(stopped)} was stopped at the notebook's time limit")
    errors = [c for c in cells if c.status == "error"]
    if errors:
        first = errors[0]
        parts.append(f"{len(errors)} cell{'s' if len(errors) > 1 else ''} raised errors "
                     f"(first: cell {first.index + 1}, {(first.error or '')[:80]})")
    skipped = [c.index + 1 for c in cells if c.status == "skipped"]
    if skipped:
        span = f"cell {skipped[0]}" if len(skipped) == 1 else f"cells {skipped[0]}-{skipped[-1]}"
        parts.append(f"{span} not run")
    return parts


def _cells(cells: list[CellRun]) -> str:
    return _numbers("cell", [c.index + 1 for c in cells])


def _numbers(word: str, ns: list[int]) -> str:
    """'cell 3', 'cells 3 and 5', 'cells 3, 5, 6, 8, ... (9 in all)'."""
    if len(ns) == 1:
        return f"{word} {ns[0]}"
    if len(ns) > 5:
        return f"{word}s {', '.join(map(str, ns[:4]))}, ... ({len(ns)} in all)"
    return f"{word}s {', '.join(map(str, ns[:-1]))} and {ns[-1]}"


def _log_tail(log: bytes, lines: int) -> str:
    text = log.decode("utf-8", errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])[-4000:]
