"""The hostile case library: broken and malicious submissions, each built by code from the course's notebooks.

Every case is a function of two honest students made by the course's ``student`` hook from the
release -- A (full marks) and B (the last seeded bug fixed and the first task solved; the others left as
released) -- plus the targets the corpus planted (canary paths, the grader's port, ...).  A hostile case
is A or B with ONE hostile cell inserted (after the first code cell, or at the end), so the same
notebook without that cell is its honest baseline; the other cases are files that are not (quite)
notebooks and entries of a learning platform's bulk-download zip.  Each case states what its gradebook
row must look like (:class:`Expect`).  :mod:`gradekit.corpus` builds, grades and judges them.

The cells are files in ``cells/`` (:func:`cell_source`).  Reporting cells run after ``cells/prelude.py``
with the exfiltration channel: whatever a cell manages to read or change outside its sandbox is passed to
``_gk_report``, which makes every student function raise ``LEAKED <what>`` and fails the cell with it --
so a leak lands in probe answers, check messages and the row's message, exactly where the corpus looks
for it (and a TA would see it).  Cells that need a course's names or libraries come from the course's
``hostile_cells`` hook (:func:`course_cases`, group "course").
"""
from __future__ import annotations

import io
import json
import stat
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import SetupError
from ..model import Status
from .model import CID_A, CID_B, Case, Ctx, Expect, Sparse, ZipCase, cell_source

LMS_ASSIGNMENT = "Corpus Assignment"       # the bulk download's assignment name (any name parses)
NOTEBOOK = "submission.ipynb"              # the file name a student uploaded

# A forged probe answer: type confusion everywhere, no honest value in it (a course's own cases forge
# targeted answers).
_FORGED_VALUE = {"__array__": [1], "shape": [2], "items": [True, "nan", 10 ** 30, None],
                 "nested": {"__array__": ["inf"], "shape": [1, 1, 1]}, "empty": {"__array__": [], "shape": [0]},
                 "mapping": {"all": "all"}, "flag": True, "count": -1, "CID": 0}


# ==================================================================================================
# Building a case

def _details(nb, case: str, cid: int):
    from .. import fabricate

    return fabricate.set_details(nb, f"Corpus {case}", cid)


def _insert(ctx: Ctx, base: str, source: str, where: str):
    """Base notebook ``base`` with one hostile cell: "early" (after the first code cell) or "end"."""
    from .. import fabricate

    nb = ctx.a if base == "a" else ctx.b
    nb = _details(nb, ctx.case, CID_A if base == "a" else CID_B)
    if where == "early":
        index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code") + 1
    else:
        index = len(nb.cells)
    return fabricate.insert_cell(nb, source, index=index, cell_id=f"hostile-{ctx.case.replace('_', '-')}")


def _cells(*names: str, forged: bool = False) -> str:
    """The cells ``names`` as one cell's source; ``forged``: with the forged answer substituted."""
    source = "\n".join(cell_source(n) for n in names)
    return source.replace('"__FORGED__"', repr(_FORGED_VALUE)) if forged else source


def _hostile(base: str, where: str, *names: str, report: bool = True):
    """Cells run after the prelude (the targets, the exfiltration channel)."""
    return lambda ctx: _insert(ctx, base, ctx.cell(_cells(*names), report=report), where)


def _plain(base: str, where: str, *names: str, forged: bool = False):
    return lambda ctx: _insert(ctx, base, _cells(*names, forged=forged), where)


def _text(base: str, where: str, source: str):
    return lambda ctx: _insert(ctx, base, source, where)


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
    """Markdown and the first code cell gone -- the first one that is not "Your details" (without that
    cell a notebook has no CID, which is another case: the one its row must name)."""
    nb = _details(ctx.a, ctx.case, CID_A)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "CID" not in c.source)
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
    name = _lms("zipslip", _T1, NOTEBOOK)
    # from <work>/gradebook/intake/<zip>-xxxx/ up to <work>, then into the confidential folder
    entry = "../../../confidential/" + name
    return ZipCase([(entry, _nb_bytes(ctx.a)), _receipt("zipslip", _T1, NOTEBOOK)],
                    forbidden=(ctx.work / "confidential" / name, ctx.work.parent / "confidential" / name))


def _zip_absolute(ctx: Ctx) -> ZipCase:
    name = _lms("zipabsolute", _T1, NOTEBOOK)
    target = ctx.work / "confidential" / name
    return ZipCase([(str(target), _nb_bytes(ctx.a)), _receipt("zipabsolute", _T1, NOTEBOOK)],
                    forbidden=(target,))


def _zip_link(ctx: Ctx) -> ZipCase:
    info = zipfile.ZipInfo(_lms("ziplink", _T1, NOTEBOOK))
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return ZipCase([(info, ctx.targets["files"][0].encode()), _receipt("ziplink", _T1, NOTEBOOK)])


def _zip_bomb(ctx: Ctx) -> ZipCase:
    # 80 MiB of spaces (valid JSON whitespace) packs into ~80 KiB; the per-entry cap is 64 MiB
    return ZipCase([(_lms("zipbomb", _T1, NOTEBOOK), b" " * (80 << 20)), _receipt("zipbomb", _T1, NOTEBOOK)])


def _zip_nested(ctx: Ctx) -> ZipCase:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(_lms("zipnested", _T1, NOTEBOOK), _nb_bytes(ctx.a))
    return ZipCase([(_lms("zipnested", _T1, "submission.zip"), inner.getvalue()), _receipt("zipnested", _T1, "submission.zip")])


def _zip_attempts(ctx: Ctx) -> ZipCase:
    first = _details(ctx.b, "zipattempts", CID_A)
    second = _details(ctx.a, "zipattempts", CID_A)
    return ZipCase([(_lms("zipattempts", _T1, NOTEBOOK), _nb_bytes(first)),
                     _receipt("zipattempts", _T1, NOTEBOOK),
                     (_lms("zipattempts", _T2, "submission_final.ipynb"), _nb_bytes(second)),
                     _receipt("zipattempts", _T2, "submission_final.ipynb")])


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
    Case("keyring_store", "isolation", "stores its results with add_key in its uid's user, user-session "
         "and session keyrings (they outlive the run)", "a",
         _hostile("a", "end", "keyring_syscalls", "keyring_store"), ordered=1),
    Case("state_store", "isolation", "leaves SysV shm/msg/sem, a POSIX queue, files in every writable folder, "
         "an abstract socket held by a daemon", "a", _hostile("a", "end", "state_common", "state_store"), ordered=1),
    Case("keyring_take", "isolation", "the next run in the same slot (same uid) reads the keys back", "a",
         _hostile("a", "end", "keyring_syscalls", "keyring_take"), ordered=2),
    Case("state_take", "isolation", "the next run in the same slot looks for the IPC objects, files and socket",
         "a", _hostile("a", "end", "state_common", "state_take"), ordered=2),
    Case("cid_cell_too_deep", "intake", "a code cell mentioning CID holds an expression 20,000 operators deep "
         "(the parser's MemoryError stopped the whole batch)", "a",
         _text("a", "early", "# CID: not changed here\n_deep = " + "-" * 20000 + "1\n"), _AT_MOST),
    Case("too_many_cells", "intake", "290,000 markdown cells in 17 MB", None, _too_many_cells,
         replace(_INVALID, message=r"290,\d{3} cells, more than the limit of 2,000")),
    Case("answer_oversized", "liar", "every probe answers an array whose shape lists 90,000 18-digit integers",
         "a", _plain("a", "early", "oversized"), replace(_AT_MOST, judge_s=_BOUNDED_JUDGE_S)),
    Case("deep_folder_chain", "write", "leaves a folder chain 3,000 deep, the last one unreadable, in its job "
         "folder", "a", _plain("a", "end", "deep_folders")),
    Case("stdout_flood", "resource", "a thread writes to the runner's own stdout/stderr for 60 s", "a",
         _plain("a", "early", "stdout_flood"),
         replace(_AT_MOST, supervisor_cpu_s=_BOUNDED_TRUSTED_CPU_S)),
)

def _named(case: str, name: str):  # noqa: ARG001 - the case's name documents the call
    """Honest student A whose notebook says its student's Name is ``name`` (a formula, say)."""
    from .. import fabricate

    return lambda ctx: fabricate.set_details(ctx.a, name, CID_A)


def _odd_file(stem: str) -> Case:
    """Honest student A submitted under a file name a careless writer mishandles: its key is the stem."""
    return Case(stem, "names", f"file name {stem + '.ipynb'!r}: every output (gradebook, upload, review, "
                "feedback, report) is still written, its text escaped", "a",
                lambda ctx: _details(ctx.a, "odd file name", CID_A), file=stem + ".ipynb")


#: File names and Names a spreadsheet or a writer mishandles (issue 12): a trailing space broke every
#: output after the gradebook; a leading tab or a newline splits a TSV row; a formula runs when a TA
#: opens the file.  corpus.output_problems checks every output file for all of them.
NAME_CASES: tuple[Case, ...] = (
    _odd_file("corpus trailing space "),
    _odd_file(" corpus leading space"),
    _odd_file("\tcorpus leading tab"),
    _odd_file("corpus new\nline"),
    _odd_file("=1+2"),
    _odd_file("@SUM(A1)"),
    Case("formula_name", "names", "Name is =HYPERLINK(...) in the notebook: escaped in every CSV/TSV/HTML", "a",
         _named("formula_name", '=HYPERLINK("https://evil.example/?q=1","Open your feedback")')),
    Case("formula_name_tab", "names", "Name starts with a tab and holds a newline and a formula", "a",
         _named("formula_name_tab", '\t-2+3\n=cmd|" /C calc"!A0')),
)

CASES: tuple[Case, ...] = (
    # -- reading what it must not see
    Case("read_direct", "read", "checks, reference, source, cache, gradebook, other submissions by absolute and "
         "relative paths; environment variables; imports of the engine and reference; the course's files by path",
         "a", _hostile("a", "end", "read_paths", "read_env_imports")),
    Case("read_indirect", "read", "the same through /proc (self/cwd, self/root, other pids' roots), neighbouring "
         "jobs, the grader's processes; walking up and over the whole visible tree for canaries", "a",
         _hostile("a", "end", "read_proc", "read_walk")),
    # -- writing where it must not
    Case("write_outside", "write", "appends to, truncates, deletes canaries, the store, other submissions; "
         "drops files into the output folder", "a", _hostile("a", "end", "write_outside")),
    Case("poison_job_files", "write", "overwrites its job's data files; plants links to host files, a fifo, "
         "an unreadable folder for the cleanup", "a", _hostile("a", "end", "poison_job", report=False),
         _AT_MOST),
    # -- patching the checks' tools inside the kernel (on B: seeded bugs are still there)
    Case("patch_numeric_asserts", "patch", "np.allclose, numpy.testing, math.isclose always agree", "b", _plain("b", "early", "patch_numeric")),
    Case("patch_builtins", "patch", "sum/min/max/sorted/abs/round/print lie", "b",
         _plain("b", "early", "patch_builtins"), _AT_MOST),
    Case("patch_pytest_files", "patch", "pytest.approx/fail patched; conftest.py, sitecustomize, fake gradekit "
         "and reference packages written to its folder", "b", _plain("b", "early", "patch_pytest_files")),
    Case("patch_probe_machinery", "patch", "exec, json.dumps and publish_display_data forge every probe answer",
         "b", _plain("b", "early", "patch_probe_machinery", forged=True), _AT_MOST),
    Case("ipython_transformers", "patch", "input transformers strip asserts and rewrite the probe cells",
         "b", _plain("b", "early", "ipython_transformers", forged=True), _AT_MOST),
    Case("ipython_event_hooks", "patch", "a post_run_cell hook publishes a forged answer after every cell",
         "b", _plain("b", "early", "ipython_events", forged=True), _AT_MOST),
    Case("atexit_signals", "patch", "atexit hook that writes and sleeps forever, SIGTERM ignored, a "
         "non-daemon thread", "b", _hostile("b", "early", "atexit_signals", report=False)),
    # -- lying return values (on B: the seeded bugs are unfixed)
    Case("liar_always_equal", "liar", "every function returns an object equal to everything", "b",
         _plain("b", "end", "liar_head", "liar_always_equal")),
    Case("liar_float", "liar", "every function returns a float subclass whose ==, float() and repr lie", "b",
         _plain("b", "end", "liar_head", "liar_float")),
    Case("liar_ndarray", "liar", "every function returns an ndarray subclass whose ==, __array__, astype lie",
         "b", _plain("b", "end", "liar_head", "liar_ndarray")),
    # -- resources and crashes
    Case("infinite_loop", "resource", "while True: pass", "a", _plain("a", "early", "infinite_loop"),
         Expect(message="timed out after")),
    Case("sigint_ignored_loop", "resource", "a busy loop that ignores SIGINT", "a",
         _plain("a", "early", "sigint_ignored"), Expect(message="kernel restarted")),
    Case("sleep_forever", "resource", "time.sleep(10**6)", "a", _plain("a", "early", "sleep_forever"),
         Expect(message="timed out after")),
    Case("fork_bomb", "resource", "forks until the process limit, forever", "a", _plain("a", "early", "fork_bomb"),
         Expect(status=(Status.GRADED, Status.KERNEL_DIED), points="at_most", message="timed out|kernel")),
    Case("cpu_hog", "resource", "30 setsid'd processes spin for 20 s in the background: the runs next to it "
         "must not slow down", "a", _plain("a", "end", "cpu_hog"),
         Expect(status=(Status.GRADED, Status.TIMEOUT, Status.KERNEL_DIED), points="at_most")),
    Case("memory_bomb", "resource", "1 TiB at once, then 256 MiB blocks until the address-space limit", "a",
         _plain("a", "end", "memory_bomb"), Expect(message="MemoryError")),
    Case("os_exit", "resource", "os._exit(0)", "a", _plain("a", "early", "os_exit"),
         Expect(message="killed the kernel")),
    Case("sys_exit", "resource", "sys.exit()", "a", _plain("a", "early", "sys_exit"), Expect(message="SystemExit")),
    Case("segfault", "resource", "ctypes.string_at(0)", "a", _plain("a", "early", "segfault"),
         Expect(message="killed the kernel")),
    Case("delete_workdir", "resource", "deletes its own working folder (data included)", "a",
         _plain("a", "early", "delete_workdir"), _AT_MOST),
    Case("output_flood", "resource", "prints 100 MB, then displays a 50 MB image", "a",
         _plain("a", "early", "print_100mb", "image_50mb")),
    Case("daemon_process", "resource", "a setsid'd grandchild (sleep) meant to outlive the run", "a",
         _hostile("a", "early", "daemon", report=False)),
    Case("kill_runner", "resource", "SIGKILLs the grading runner (same uid) and bubblewrap", "a",
         _plain("a", "end", "kill_runner"),
         Expect(status=(Status.KERNEL_DIED,), points="at_most", message="runner stopped unexpectedly")),
    Case("forge_events", "resource", "writes forged runner events to every pipe it holds and the runner's fds",
         "a", _hostile("a", "end", "forge_events")),
    # -- network
    Case("network", "network", "DNS, TCP out, the grader's loopback port and abstract socket on the host", "a",
         _hostile("a", "end", "network")),
    # -- files that are not (quite) notebooks
    Case("invalid_json", "intake", "truncated JSON", None, _invalid_json,
         replace(_INVALID, message="not valid JSON: .* at line")),
    Case("json_not_notebook", "intake", "valid JSON, not a notebook", None,
         lambda ctx: b'{"cells": "none", "hello": [1, 2, 3]}', replace(_INVALID, message="not a Jupyter notebook")),
    Case("nbformat_v3", "intake", "the full-marks notebook saved as nbformat 3", "a", _as_v3,
         Expect(flags=("upgraded_from_v3",))),
    Case("duplicate_cell_ids", "intake", "every cell has the same id", "a", _duplicate_ids,
         Expect(flags=("cell_ids_duplicated",))),
    Case("deleted_cells", "intake", "markdown and the first code cell (not the details) deleted", "a", _deleted_cells, _AT_MOST),
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
    *NAME_CASES,
)


# ==================================================================================================
# Controls: planted failures the corpus must detect (so that "0 escapes, 0 marks gained" means something)

def _control_leak(ctx: Ctx):
    """A (not hostile) notebook that carries the canary secret itself -- planted by this builder, which
    runs outside the sandbox -- and reads it back inside: the corpus must report an escape."""
    from .. import fabricate

    secret = Path(ctx.targets["files"][0]).read_text().split()[0]
    nb = _insert(ctx, "a", ctx.cell(cell_source("control_read_own")), "end")
    return fabricate.insert_cell(nb, f"<!-- {secret} -->", cell_type="markdown", cell_id="planted")


def _control_gain(ctx: Ctx):
    """B with one of its seeded bugs fixed: honest work its baseline lacks -- marks the corpus must count."""
    from .. import fabricate

    nb = _details(ctx.b, ctx.case, CID_B)
    return fabricate.fix_bug(nb, ctx.source, ctx.bug_parts[0])


CONTROLS: tuple[Case, ...] = (
    Case("control_leak", "control", "reads the secret planted in its own notebook: must count as an escape",
         "a", _control_leak, Expect(points="at_most")),
    Case("control_gain", "control", "B with a seeded bug fixed: must count as marks gained over B", "b",
         _control_gain, Expect(points="at_most")),
)


# ==================================================================================================
# The course's own cases (its optional hook hostile_cells; gradekit.api.HostileCell)

#: Engine cells a course's cell may run after (HostileCell.helpers): "channel" wraps the cell in the
#: prelude and ends it with _gk_report(); "liar" puts cells/liar_head.py before it.
_HELPER_CELLS = {"liar": "liar_head"}
_COURSE_EXPECT = {"same": Expect(), "at_most": Expect(points="at_most")}


def _course_make(cell) -> Any:
    def make(ctx: Ctx):
        source = "\n".join([*(cell_source(_HELPER_CELLS[h]) for h in cell.helpers if h != "channel"), cell.source])
        return _insert(ctx, cell.base, ctx.cell(source) if "channel" in cell.helpers else source, cell.where)
    return make


def course_cases(cells) -> tuple[Case, ...]:
    """The course's HostileCells as corpus cases (group "course"); SetupError names what is wrong."""
    out = []
    taken = {c.name for c in CASES + CONTROLS}
    for cell in cells:
        checks = [(cell.base in ("a", "b"), f"base {cell.base!r} is not 'a' or 'b'"),
                  (cell.where in ("end", "early"), f"where {cell.where!r} is not 'end' or 'early'"),
                  (cell.expect in _COURSE_EXPECT, f"expect {cell.expect!r} is not 'same' or 'at_most'"),
                  (cell.name not in taken, "the name is taken by another case"),
                  (cell.name.isidentifier() and not cell.name.startswith("zip"),
                   "the name must be an identifier, not starting with 'zip' (the corpus's LMS users)"),
                  *((h == "channel" or h in _HELPER_CELLS, f"unknown helper {h!r} (known: channel, liar)")
                    for h in cell.helpers)]
        problems = [why for ok, why in checks if not ok]
        if problems:
            raise SetupError(f"course.py hostile_cells: case {cell.name!r}: {'; '.join(problems)}")
        taken.add(cell.name)
        expect = replace(_COURSE_EXPECT[cell.expect], judge_s=cell.judge_s)
        out.append(Case(cell.name, "course", cell.what, cell.base, _course_make(cell), expect))
    return tuple(out)


def cases_for(course) -> tuple[Case, ...]:
    """Every case of the corpus for ``course`` (gradekit.grading.Course): the engine's, then the course's."""
    hook = course.hook("hostile_cells")
    return CASES + (course_cases(hook()) if hook is not None else ())
