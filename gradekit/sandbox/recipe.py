"""The bubblewrap recipe: the command line that confines one run, and the self-test that proves it works here.

Why this recipe is what it is: see the package docstring (gradekit/sandbox/__init__.py).
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..config import Limits
from ..probes import MAX_PROBE_BYTES
from .syscalls import FilterUnavailable, filter_fd, filter_program

RUNNER = Path(__file__).resolve().parent.parent / "kernel_runner.py"
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
LOG_READ_BYTES = 1 << 20          # of the runner's stdout/stderr, then it is no longer read
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


def _bwrap_argv(job: Path, uid: int, limits: Limits, mpl_cache: str | None = None,
                seccomp_fd: int | None = None) -> list[str]:
    """The command line; ``seccomp_fd`` holds the syscall filter (gradekit.sandbox.syscalls), which
    the caller passes to bubblewrap (``pass_fds``)."""
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
             "--setenv", "LANG", "C.UTF-8"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--"]
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


def mpl_cache() -> str | None:
    """A folder holding matplotlib's font list, built once per process and shared read-only with
    every sandbox: otherwise each notebook that imports matplotlib rebuilds it (about 1.5 s)."""
    with _MPL_LOCK:
        if "dir" not in _MPL_CACHE:
            from ..tempdirs import owned_tempdir

            d = str(owned_tempdir("gradekit-mpl-"))     # atexit does not run in a killed worker: swept later
            atexit.register(shutil.rmtree, d, True)
            _MPL_CACHE["dir"] = _build_mpl_cache(d)
        return _MPL_CACHE["dir"]


def share_mpl_cache(built: str | None) -> None:
    """Use a font list another process built (a local pool's workers use their batch process's
    `mpl_cache`: one build per grading process, not one per worker).  None: there is none (notebooks
    build their own)."""
    with _MPL_LOCK:
        _MPL_CACHE["dir"] = built


def _build_mpl_cache(d: str) -> str | None:
    """matplotlib's font list, built into the existing folder ``d`` (made readable by the slot uids):
    ``d``, or None without matplotlib."""
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

    Starts the real recipe once (bubblewrap, prlimit, setpriv, this interpreter, the syscall filter)
    and checks the process inside runs as the slot's uid without network interfaces other than
    loopback, and that the keyring calls are refused.
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
    try:
        filter_program()                          # FilterUnavailable without libseccomp/pyseccomp
        keyctl_nr = _keyctl_number()
        seccomp_fd = filter_fd()
    except (FilterUnavailable, OSError) as e:
        return f"{e}; install them (`apt-get install libseccomp2`, `pip install pyseccomp`)"
    # keyctl(KEYCTL_GET_KEYRING_ID, session) must fail with ENOSYS (38) under the filter
    probe = ("import os,socket,ctypes;c=ctypes.CDLL(None,use_errno=True);c.syscall.restype=ctypes.c_long;"
             "k=c.syscall(%d,0,ctypes.c_int(-3),0);print(os.getuid(),os.geteuid(),"
             "','.join(sorted(n for _,n in socket.if_nameindex())),os.access(%r,os.R_OK),k,ctypes.get_errno())"
             % (keyctl_nr, RUNNER_IN_SANDBOX))
    root = Path(tempfile.mkdtemp(prefix="gradekit-selftest-"))
    try:
        job = root / "job"
        job.mkdir()
        os.chown(job, SLOT_UID_BASE, SLOT_UID_BASE)
        argv = _bwrap_argv(job, SLOT_UID_BASE, Limits(memory_mb=1024, max_processes=64), seccomp_fd=seccomp_fd) + \
            [sys.executable, "-I", "-c", probe]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                               pass_fds=(seccomp_fd,))
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"bubblewrap did not run: {e}; {FIX_HINT}"
        want = f"{SLOT_UID_BASE} {SLOT_UID_BASE} lo True"
        if p.returncode == 0 and p.stdout.startswith(want + " ") and p.stdout.strip() != f"{want} -1 38":
            return f"the seccomp filter did not refuse keyctl (got {p.stdout.split()[-2:]}); {FIX_HINT}"
        if p.returncode != 0 or p.stdout.strip() != f"{want} -1 38":
            err = (p.stderr.strip().splitlines() or ["no error output"])[-1]
            return f"bubblewrap self-test failed (exit {p.returncode}: {err}); {FIX_HINT}"
        return None
    finally:
        os.close(seccomp_fd)
        shutil.rmtree(root, ignore_errors=True)


def _keyctl_number() -> int:
    import pyseccomp

    return pyseccomp.resolve_syscall(pyseccomp.system_arch(), "keyctl")

