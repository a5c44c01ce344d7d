"""The sandbox and the kernel runner, against hostile and broken notebooks.

Every notebook here is a few tiny cells built in the test.  Limits are small (cell timeouts of a
few seconds, 1 GiB of address space, a few dozen processes) so that the bombs stay harmless and
the whole file runs in about two minutes on two cores.  A cell that hangs on purpose gets HANG_S:
a timeout proves its mechanism at 1.5 s as well as at 30, and the trivial cells next to it take
milliseconds.
"""
from __future__ import annotations

import errno
import os
import resource
import socket
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest

import gradekit
from gradekit import sandbox
from gradekit.sandbox import events, recipe, supervise
from gradekit.config import Limits
from gradekit.errors import SandboxUnavailable
from gradekit.model import Status
from gradekit.probes import ProbeSpec, as_array
from gradekit.sandbox import run_notebook

REPO = Path(gradekit.__file__).resolve().parent.parent
SLOT = 100 + os.getpid() % 3000     # concurrent test runs (other checkouts) get other uids
UID = sandbox.SLOT_UID_BASE + SLOT
LIMITS = Limits(cell_timeout_s=3, notebook_timeout_s=40, probe_timeout_s=5, memory_mb=1024,
                max_processes=48, output_kb_per_cell=64)
HANG_S = 1.5        # the cell limit of tests whose notebook hangs a cell on purpose (its other cells are trivial)
HANG_LIMITS = Limits(**{**LIMITS.__dict__, "cell_timeout_s": HANG_S})

needs_bwrap = pytest.mark.sandbox      # skipped together, with one reason, when bubblewrap is absent (conftest)


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a submission")] +
                                  [nbformat.v4.new_code_cell(s) for s in sources])
    return nbformat.writes(nb)


def expr_probe(name: str, expr: str, timeout_s: float = 5) -> ProbeSpec:
    """A probe returning the value of a Python expression in the student's namespace."""
    return ProbeSpec(name, "def probe(params):\n    return eval(params['expr'])", {"expr": expr}, timeout_s)


def run(nb: str, probes=(), limits: Limits = LIMITS, **kw):
    kw.setdefault("slot", SLOT)
    return run_notebook(nb, list(probes), {}, limits, **kw)


def statuses(report) -> list[str]:
    return [c.status for c in report.cells]


def slot_processes() -> list[int]:
    """Host processes still running as the slot's uid (there must be none after a run)."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat(f"/proc/{p}").st_uid == UID:
                    out.append(int(p))
            except FileNotFoundError:
                pass
    return out


@needs_bwrap
def test_error_cell_does_not_stop_later_cells(tmp_path):
    nb = notebook("a = 2", "1/0", "b = a * 21", "print('done')")
    r = run(nb, [expr_probe("b", "b"), expr_probe("missing", "nope")], workdir=tmp_path)
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "error", "ok", "ok"]
    assert [c.index for c in r.cells] == [1, 2, 3, 4]          # positions in the notebook
    assert r.cells[1].error == "ZeroDivisionError: division by zero"
    assert "code cell 2 (“1/0”)" in r.message and "ZeroDivisionError" in r.message
    assert r.probes["b"].status == "ok" and r.probes["b"].value == 42
    assert r.probes["b"].params == {"expr": "b"}
    assert r.probes["missing"].status == "error" and "NameError" in r.probes["missing"].error
    assert list(tmp_path.iterdir()) == []                        # job folder removed
    assert slot_processes() == []


@needs_bwrap
def test_probe_calls_student_function_and_a_slow_probe_times_out():
    nb = notebook("import numpy as np\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-np.asarray(z)))")
    call = ProbeSpec("sigmoid", "def probe(params):\n    return plain(sigmoid(params['z']))",
                     {"z": [0.0, 2.0, -1.0]}, 5)
    slow = ProbeSpec("slow", "def probe(params):\n    while True:\n        pass", {}, 2)
    r = run(nb, [slow, call])
    assert r.status is Status.GRADED, r.message
    assert r.probes["slow"].status == "timeout"
    got = as_array(r.probes["sigmoid"].value)
    assert got == pytest.approx([0.5, 1 / (1 + 2.718281828459045 ** -2), 1 / (1 + 2.718281828459045)])


@needs_bwrap
def test_infinite_loop_is_interrupted_and_later_cells_run():
    t = time.monotonic()
    r = run(notebook("x = 1", "while True:\n    pass", "y = x + 1"), [expr_probe("y", "y")], limits=HANG_LIMITS)
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "timeout", "ok"]
    assert "code cell 2 (“while True:”) timed out after 1.5 s and was skipped" in r.message
    assert "restarted" not in r.message                          # SIGINT worked: same kernel
    assert r.probes["y"].value == 2
    assert time.monotonic() - t < 20


@needs_bwrap
def test_sigint_ignoring_cells_restart_the_kernel_and_replay():
    # Both ways of ignoring SIGINT (a busy loop, a sleep) in one notebook: each wedges its kernel,
    # so each costs a restart, and the replay brings x and f back both times.
    stuck = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    r = run(notebook("x = 5", "def f():\n    return x * 2", stuck + "while True:\n    pass",
                     stuck + "time.sleep(10**6)", "y = f()"), [expr_probe("y", "[x, y]")], limits=HANG_LIMITS)
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "ok", "timeout", "timeout", "ok"]
    assert "code cell 3 (“import signal, time”) and code cell 4 (“import signal, time”) timed out" in r.message
    assert "kernel restarted 2 times" in r.message
    assert r.probes["y"].value == [5, 10]                        # x and f came back by replay


@needs_bwrap
@pytest.mark.parametrize("killer", ["import os\nos._exit(0)", "import ctypes\nctypes.string_at(0)"],
                         ids=["os_exit", "segfault"])
def test_dead_kernel_is_restarted_and_replayed(killer):
    r = run(notebook("x = 3", "1/0", killer, "y = x + 1"), [expr_probe("y", "y")])
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "error", "dead", "ok"]
    assert "code cell 3" in r.message and "killed the kernel" in r.message and "kernel restarted" in r.message
    assert r.probes["y"].value == 4


@needs_bwrap
def test_kernel_that_keeps_dying_is_reported():
    # Every replay kills the new kernel again: restarts are capped, the run still ends.
    r = run(notebook("import os\nif os.path.exists('/job/armed'):\n    os._exit(1)",
                     "open('/job/armed', 'w').close()\nos._exit(1)", "y = 1"),
            [expr_probe("y", "y")])
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "dead", "ok"]
    assert "code cell 1 (“import os”) failed when replayed and was left out" in r.message
    assert r.probes["y"].value == 1


@needs_bwrap
def test_restarts_are_capped():
    die = "import os\nos._exit(1)"
    r = run(notebook("x = 1", die, die, die, die, "y = 1"), [expr_probe("y", "y")])
    assert r.status is Status.KERNEL_DIED, r.message
    assert statuses(r) == ["ok", "dead", "dead", "dead", "dead", "skipped"]
    assert "kernel restarted 3 times" in r.message and "code cell 6 (“y = 1”) not run" in r.message
    assert r.probes["y"].status == "not_run" and "kernel died" in r.probes["y"].error


@needs_bwrap
def test_sys_exit_is_an_error_not_a_death():
    r = run(notebook("x = 1", "import sys\nsys.exit()", "y = x + 1"), [expr_probe("y", "y")])
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "error", "ok"]
    assert "SystemExit" in r.cells[1].error
    assert "restarted" not in r.message
    assert r.probes["y"].value == 2


@needs_bwrap
def test_memory_bomb_hits_the_address_space_limit():
    bomb = "hog = []\nwhile True:\n    hog.append(bytearray(32 * 2**20))"
    t = time.monotonic()
    r = run(notebook("x = 1", bomb, "hog = None\ny = x + 1"), [expr_probe("y", "y")],
            limits=Limits(**{**LIMITS.__dict__, "cell_timeout_s": 15}))   # slack for a loaded machine
    assert r.status is Status.GRADED, r.message
    assert r.cells[1].status in ("error", "dead")
    if r.cells[1].status == "error":
        assert "MemoryError" in r.cells[1].error
    assert r.probes["y"].value == 2
    assert time.monotonic() - t < 30


@needs_bwrap
def test_fork_bomb_is_bounded_by_the_process_limit():
    bomb = ("import os, time\nkids = 0\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n"
            "        os._exit(0)\n    kids += 1")
    count = ("import os\nmine = sum(1 for p in os.listdir('/proc') if p.isdigit() "
             "and os.stat('/proc/' + p).st_uid == os.getuid())")
    r = run(notebook(bomb, count), [expr_probe("n", "[kids, mine]")])
    assert r.status is Status.GRADED, r.message
    assert r.cells[0].status == "error" and "BlockingIOError" in r.cells[0].error
    kids, mine = r.probes["n"].value
    assert 0 < kids < LIMITS.max_processes and mine <= LIMITS.max_processes
    assert slot_processes() == []                                 # all gone with the sandbox


@needs_bwrap
def test_huge_outputs_do_not_grow_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prints = "for _ in range(100):\n    print('x' * 1_000_000)"       # 100 MB of text
    image = ("import base64, os\nfrom IPython.display import display\n"
             "display({'image/png': base64.b64encode(os.urandom(50 * 10**6)).decode()}, raw=True)")
    limits = Limits(**{**LIMITS.__dict__, "memory_mb": 2048, "cell_timeout_s": 30})
    r = run(notebook(prints, image, "y = 1"), [expr_probe("y", "y")], limits=limits)
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "ok", "ok"]
    assert r.probes["y"].value == 1
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50


@needs_bwrap
def test_network_is_unreachable():
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen(1)
    host.setblocking(False)
    port = host.getsockname()[1]
    # A UDP connect() only looks up a route and sends nothing, so this test never emits a packet
    # even if isolation were broken; on the host the same call succeeds.
    code = (
        "import socket\nnet = {}\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n    u.connect(('1.1.1.1', 53)); net['udp'] = 'connected'\n"
        "except OSError as e:\n    net['udp'] = e.errno\n"
        f"t = socket.socket(); t.settimeout(2)\ntry:\n    t.connect(('127.0.0.1', {port})); net['host'] = 'connected'\n"
        "except OSError as e:\n    net['host'] = type(e).__name__\n"
        "net['ifs'] = sorted(n for _, n in socket.if_nameindex())")
    try:
        r = run(notebook(code), [expr_probe("net", "net")])
        with pytest.raises(BlockingIOError):
            host.accept()
    finally:
        host.close()
    assert r.probes["net"].value == {"udp": errno.ENETUNREACH, "host": "ConnectionRefusedError", "ifs": ["lo"]}


@needs_bwrap
def test_sandbox_sees_only_what_it_must():
    token = uuid.uuid4().hex
    canaries = [REPO / "reference" / f".canary-{token}", Path("/root") / f".canary-{token}"]
    for c in canaries:
        c.write_text("secret")
    spy = f"""
import os, importlib.util
canaries = {[str(c) for c in canaries]!r}
seen = {{}}
for c in canaries:
    try:
        seen[c] = open(c).read()
    except OSError as e:
        seen[c] = type(e).__name__
writable = {{}}
for d in ['/job', '/tmp', '/', '/usr', '/etc', '/root', {str(REPO)!r}, {str(REPO / '.venv')!r}, '/opt/gradekit']:
    try:
        with open(os.path.join(d, 'w-{token}'), 'w') as f:
            f.write('x')
        writable[d] = True
    except OSError:
        writable[d] = False
facts = dict(uid=os.getuid(), cwd=os.getcwd(), repo=sorted(os.listdir({str(REPO)!r})),
             reference=os.path.exists({str(REPO / 'reference')!r}), root=sorted(os.listdir('/')),
             gradekit=importlib.util.find_spec('gradekit') is not None, job=sorted(os.listdir('/job')),
             caps=[l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0],
             mpl_fonts=any(n.startswith('fontlist') for n in os.listdir(os.environ['MPLCONFIGDIR'])))
runner = {{}}   # the runner (our parent, same uid) is not dumpable: its pipes and memory are out of reach
for what in ('fd', 'mem', 'environ'):
    try:
        p = f'/proc/{{os.getppid()}}/{{what}}'
        runner[what] = len(os.listdir(p)) if what == 'fd' else len(open(p, 'rb').read(1))
    except OSError as e:
        runner[what] = type(e).__name__
"""
    try:
        r = run(notebook(spy), [expr_probe("spy", "[seen, writable, facts, runner]")],
                limits=Limits(**{**LIMITS.__dict__, "cell_timeout_s": 10}))
    finally:
        for c in canaries:
            c.unlink()
    assert r.status is Status.GRADED, r.message
    seen, writable, facts, runner = r.probes["spy"].value
    assert runner == {"fd": "PermissionError", "mem": "PermissionError", "environ": "PermissionError"}
    assert set(seen.values()) <= {"FileNotFoundError", "PermissionError"}
    assert writable == {"/job": True, "/tmp": True, "/": False, "/usr": False, "/etc": False, "/root": False,
                        str(REPO): False, str(REPO / ".venv"): False, "/opt/gradekit": False}
    assert not Path(f"/tmp/w-{token}").exists()                    # the sandbox's /tmp is private
    assert facts["uid"] == UID and facts["caps"] == "0000000000000000"
    assert facts["cwd"] == "/job" and facts["job"] == ["submission.ipynb", f"w-{token}"]
    assert facts["repo"] == [".venv"] and not facts["reference"] and not facts["gradekit"]
    assert facts["mpl_fonts"]                                     # prebuilt font list: no 1.5 s rebuild
    assert set(facts["root"]) <= {"bin", "dev", "etc", "job", "lib", "lib32", "lib64", "libx32", "opt", "proc",
                                  "root", "sbin", "tmp", "usr", REPO.parts[1]}


@needs_bwrap
def test_kernel_does_not_hold_the_events_pipe(monkeypatch):
    made = []
    real_pipe = os.pipe

    def pipe():
        r, w = real_pipe()
        made.append(os.fstat(r).st_ino)
        return r, w

    monkeypatch.setattr(sandbox.os, "pipe", pipe)   # the first pipe run_notebook makes is the events'
    code = ("import os\nfds = []\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n"
            "        fds.append(os.readlink('/proc/self/fd/' + fd))\n    except OSError:\n        pass")
    r = run(notebook(code), [expr_probe("fds", "fds")])
    fds = r.probes["fds"].value
    assert any(f.startswith("socket:") for f in fds)
    assert f"pipe:[{made[0]}]" not in fds


@needs_bwrap
def test_job_files_are_copied_in(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("41")
    r = run_notebook(notebook("v = int(open('data/numbers.txt').read()) + 1"), [expr_probe("v", "v")],
                     {"data/numbers.txt": data}, LIMITS, slot=SLOT)
    assert r.probes["v"].value == 42
    assert data.read_text() == "41"


@needs_bwrap
def test_deleting_its_own_working_directory(tmp_path):
    r = run(notebook("open('mine.txt', 'w').write('x')",
                     "import shutil, os\nshutil.rmtree('/job', ignore_errors=True)\nleft = os.listdir('/job')",
                     "y = 7"), [expr_probe("y", "[left, y]")], workdir=tmp_path)
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "ok", "ok"]
    assert r.probes["y"].value == [[], 7]
    assert list(tmp_path.iterdir()) == []


@needs_bwrap
def test_notebook_timeout_is_enforced():
    # The notebook's clock starts with the kernel: 7 s leave time for cell 2 (even after a kernel
    # start slowed by a loaded machine), not for cell 3.
    limits = Limits(**{**LIMITS.__dict__, "notebook_timeout_s": 7, "cell_timeout_s": 15})
    t = time.monotonic()
    r = run(notebook("x = 1", "import time\ntime.sleep(1)", "time.sleep(30)", "y = 2"),
            [expr_probe("x", "x"), expr_probe("y", "y")], limits=limits)
    elapsed = time.monotonic() - t
    assert r.status is Status.TIMEOUT, r.message
    assert statuses(r) == ["ok", "ok", "timeout", "skipped"]
    assert "time limit of 7 s" in r.message and "code cell 3 (“time.sleep(30)”) was stopped" in r.message
    assert r.probes["x"].value == 1                               # what could be probed was
    assert r.probes["y"].status == "error" and "NameError" in r.probes["y"].error
    assert elapsed < 7 + 10


@needs_bwrap
def test_notebook_timeout_with_a_wedged_kernel():
    # The cell's own limit (8 s) is above the notebook's, so the notebook's deadline is what stops it;
    # below 10 s the interrupt grace is 2 s (the run then ends ~6 s sooner than with a 20-s cell limit).
    limits = Limits(**{**LIMITS.__dict__, "notebook_timeout_s": 5, "cell_timeout_s": 8})
    stuck = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(10**6)"
    t = time.monotonic()
    r = run(notebook("x = 1", stuck, "y = 2"), [expr_probe("x", "x")], limits=limits)
    assert r.status is Status.TIMEOUT, r.message
    assert statuses(r) == ["ok", "timeout", "skipped"]
    assert r.probes["x"].status == "not_run" and "stuck or dead" in r.probes["x"].error
    assert time.monotonic() - t < 5 + 10


@needs_bwrap
def test_outside_watchdog_kills_a_runaway_sandbox(monkeypatch):
    # Pretend the runner misbehaves: the outer limit (normally the runner's own deadlines plus a
    # margin) is made shorter than the notebook, so the trusted side must kill the whole sandbox.
    monkeypatch.setattr(sandbox, "OUTSIDE_MARGIN_S", 6.0 - LIMITS.notebook_timeout_s - LIMITS.probe_timeout_s)
    t = time.monotonic()
    # 16 processes: well under the 48-task limit with the kernel's own threads (32 hit it on a loaded machine)
    r = run(notebook("import os\nfor _ in range(4):\n    os.fork()\nimport time\ntime.sleep(30)"),
            [expr_probe("x", "1")], limits=Limits(**{**LIMITS.__dict__, "cell_timeout_s": 30}))
    assert time.monotonic() - t < 12
    assert r.status is Status.TIMEOUT and "stopped after" in r.message
    assert r.probes["x"].status == "not_run"
    assert slot_processes() == []


@needs_bwrap
def test_student_killing_the_runner_is_reported():
    r = run(notebook("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "y = 1"), [expr_probe("y", "y")])
    assert r.status is Status.KERNEL_DIED, r.message
    assert "runner stopped unexpectedly" in r.message
    assert r.probes["y"].status == "not_run"
    assert slot_processes() == []


@needs_bwrap
def test_large_probe_answers_arrive_up_to_the_cap():
    # The answer is JSON with \\u escapes: 1.2 MB here, under probes.MAX_PROBE_BYTES; 7 MB is refused.
    r = run(notebook("s = 'é€😀' * 50_000"), [expr_probe("s", "s"), expr_probe("big", "s * 6")])
    assert r.probes["s"].status == "ok" and r.probes["s"].value == "é€😀" * 50_000
    assert r.probes["big"].status == "error" and "too large" in r.probes["big"].error


@needs_bwrap
def test_sandbox_failing_to_start_is_an_error(monkeypatch):
    real = sandbox._bwrap_argv
    monkeypatch.setattr(sandbox, "_bwrap_argv", lambda *a: real(*a)[:1] + ["--no-such-option"] + real(*a)[1:])
    r = run(notebook("x = 1"), [expr_probe("x", "x")])
    assert r.status is Status.ERROR
    assert "sandbox did not start" in r.message and "--unsafe-no-sandbox" in r.message
    assert r.probes["x"].status == "not_run"


def test_unsandboxed_run_uses_the_same_runner(tmp_path):
    r = run(notebook("x = 1", "1/0", "y = x + 1"), [expr_probe("y", "y")], sandboxed=False, workdir=tmp_path)
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "error", "ok"]
    assert r.probes["y"].value == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_unsandboxed_watchdog_kills_the_kernel_too(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "OUTSIDE_MARGIN_S", 4.0 - LIMITS.notebook_timeout_s - LIMITS.probe_timeout_s)
    limits = Limits(**{**LIMITS.__dict__, "cell_timeout_s": 30})
    r = run(notebook("import time\ntime.sleep(1000)"), [expr_probe("x", "1")], limits=limits,
            sandboxed=False, workdir=tmp_path)
    assert r.status is Status.TIMEOUT and "stopped after" in r.message
    time.sleep(0.5)
    inside = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.readlink(f"/proc/{p}/cwd").startswith(str(tmp_path)):
                inside.append(p)
        except OSError:
            pass
    assert inside == []                                           # the kernel's own session was killed


def test_missing_bubblewrap_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    reason = recipe._self_test()
    assert "apt-get install bubblewrap" in reason and "--unsafe-no-sandbox" in reason
    monkeypatch.setattr(sandbox, "sandbox_self_test", lambda: reason)
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        run(notebook("x = 1"))


def test_hostile_events_are_validated():
    run_ = supervise._Run(events=[
        {"event": "kernel", "status": "started"},
        {"event": "cell", "index": "0", "status": "ok"},                  # wrong type: ignored
        {"event": "cell", "index": 1, "status": "pwned"},                 # unknown status: ignored
        {"event": "cell", "index": 2, "status": "ok", "seconds": 1e300},
        {"event": "probe", "name": "other", "status": "ok", "output": "{}"},  # not asked for
        {"event": "probe", "name": "p", "status": "ok", "output": "[1]"},     # wrong shape
        {"event": "probe", "name": "p", "status": "ok", "output": '{"ok": true, "value": 1}'},  # duplicate
        {"event": "done", "status": "ok", "kernel_alive": True},
    ], returncode=0)
    r = events._report(run_, [expr_probe("p", "1"), expr_probe("q", "1")], LIMITS, 60.0, 1.0)
    assert r.status is Status.GRADED
    assert [(c.index, c.status, c.seconds) for c in r.cells] == [(2, "ok", 0.0)]
    assert set(r.probes) == {"p", "q"}
    assert r.probes["p"].status == "error" and r.probes["p"].error == "probe answer has the wrong shape"
    assert r.probes["q"].status == "not_run"


def test_private_tmp_is_mounted_before_the_python_binds(tmp_path):
    """bwrap applies mounts in order: a --tmpfs /tmp after the venv's bind would hide a venv that
    lives under /tmp (CI checks the project out there)."""
    from gradekit.config import Limits
    from gradekit.sandbox.recipe import _bwrap_argv, _python_roots

    argv = _bwrap_argv(tmp_path, 61000, Limits())
    tmp_at = max(i for i, a in enumerate(argv) if a == "/tmp" and argv[i - 1] == "--tmpfs")
    for root in _python_roots():
        bind_at = next(i for i, a in enumerate(argv) if a == "--ro-bind" and argv[i + 1] == root)
        assert tmp_at < bind_at, root


# -- nothing survives a run (issue 12, item 3) -------------------------------------------------------

_SYSCALL = ("import ctypes, os, platform\n"
            "_libc = ctypes.CDLL(None, use_errno=True)\n_libc.syscall.restype = ctypes.c_long\n"
            "_NR = {'x86_64': (248, 250), 'aarch64': (217, 219)}[platform.machine()]   # add_key, keyctl\n")
_LEAVE_STATE = _SYSCALL + r'''
import socket, subprocess, sys
left = {}
r = _libc.syscall(_NR[0], b"user", b"gk-handover", b"a sweep", 7, ctypes.c_int(-4))   # the user keyring
left["add_key"] = [r, ctypes.get_errno()]
r = _libc.syscall(_NR[1], 0, ctypes.c_int(-3), 1)                                       # the session keyring
left["keyctl"] = [r, ctypes.get_errno()]
_libc.shmget.restype = ctypes.c_int
left["shm"] = _libc.shmget(0x6b6579, 4096, 0o1666) >= 0                                 # IPC_CREAT | 0666
left["msg"] = _libc.msgget(0x6b6579, 0o1666) >= 0
open("/dev/shm/gk-handover", "w").write("x")
open("/tmp/gk-handover", "w").write("x")
# an abstract socket, held by a process that tries to outlive the run
subprocess.Popen([sys.executable, "-c", "import socket,time,os;os.setsid();s=socket.socket(socket.AF_UNIX);"
                  "s.bind('\\0gk-handover');s.listen(1);time.sleep(600)"], start_new_session=True)
'''
_LOOK_FOR_STATE = _SYSCALL + r'''
import socket
found = []
r = _libc.syscall(_NR[1], 10, ctypes.c_int(-4), 0, 0)        # KEYCTL_SEARCH would need a key id: list @u
if r >= 0:
    found.append("keyctl answered")
if "gk-handover" in open("/proc/keys").read():
    found.append("a key in /proc/keys")
for what in ("shm", "msg", "sem"):
    if "6b6579" in open("/proc/sysvipc/" + what).read().lower() or "7038329" in open("/proc/sysvipc/" + what).read():
        found.append("SysV " + what)
for path in ("/dev/shm/gk-handover", "/tmp/gk-handover"):
    if os.path.exists(path):
        found.append(path)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("\0gk-handover")
    found.append("the abstract socket")
except OSError:
    pass
'''


@needs_bwrap
def test_nothing_a_run_leaves_reaches_the_next_run_in_the_same_slot():
    first = run(notebook(_LEAVE_STATE), [expr_probe("left", "left")])
    assert first.status is Status.GRADED, first.message
    left = first.probes["left"].value
    assert left["add_key"] == [-1, errno.ENOSYS] and left["keyctl"] == [-1, errno.ENOSYS], left
    assert left["shm"] and left["msg"], left                # they were made, in the run's own IPC namespace
    second = run(notebook(_LOOK_FOR_STATE), [expr_probe("found", "found")])
    assert second.status is Status.GRADED, second.message
    assert second.probes["found"].value == []
    assert slot_processes() == []


@needs_bwrap
def test_a_notebook_flooding_the_runners_stdout_costs_the_supervisor_nothing():
    # A 3-s flood: with the kernel's output on the runner's pipe and that pipe read to the end, the
    # supervisor spent 1.8 s of CPU on it (4.5 s for 8 s); as built, 0.005 s.
    flood = ("import os, sys, threading, time\n_fd = sys.stdout._original_stdstream_copy\n"
             "def _flood():\n    chunk = b'x' * 65536\n    end = time.monotonic() + 3\n"
             "    while time.monotonic() < end:\n        try:\n            os.write(_fd, chunk)\n"
             "        except OSError:\n            pass\n"
             "threading.Thread(target=_flood, daemon=True).start()\nos.write(1, b'fd 1 too')")
    r = run(notebook(flood, "import time\ntime.sleep(4)", "y = 7"), [expr_probe("y", "y")],
            limits=Limits(cell_timeout_s=20, notebook_timeout_s=60, probe_timeout_s=5, memory_mb=1024,
                          max_processes=48))
    assert r.status is Status.GRADED, r.message
    assert statuses(r) == ["ok", "ok", "ok"] and r.probes["y"].value == 7
    assert r.supervisor_cpu_s < 0.5, r.supervisor_cpu_s     # 17.7 s for a 60 s flood when the pipe was read


@pytest.fixture
def memory_workdir(tmp_path):
    """A job folder's parent in memory (/dev/shm) where there is one: removing a folder chain costs
    ~3 ms a level on this machine's disk and ~0.05 ms in memory; what is tested is that the remover
    copes with the depth, the same on any file system."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="gradekit-test-", dir=shm))
    try:
        yield folder
    finally:
        sandbox.remove_tree(folder)


@needs_bwrap
def test_a_folder_chain_thousands_deep_is_removed(memory_workdir):
    # 3,000 levels: past Python's recursion limit (shutil.rmtree gave up at ~1,000) and past PATH_MAX
    # (4,096 bytes: ~2,000 levels of "d/") for a path-based walk; the cell gets time for a loaded machine
    chain = ("import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
             "os.chmod('.', 0)\nos.chdir('/job')\ndepth = 3000")
    r = run(notebook(chain), [expr_probe("depth", "depth")], workdir=memory_workdir,
            limits=Limits(**{**LIMITS.__dict__, "cell_timeout_s": 20}))
    assert r.status is Status.GRADED, r.message
    assert r.probes["depth"].value == 3000
    assert list(memory_workdir.iterdir()) == []
