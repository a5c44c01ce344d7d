"""The hostile corpus (gradekit.hostile cases and cells, the course's hostile_cells, gradekit.corpus runner).

Fast tests: every case builds from the release, files that are not notebooks are refused as the case
expects, each hostile notebook is its honest baseline plus one cell, and the detector is not blind
(hostile cells executed in THIS process, where nothing is hidden, do find and change the canaries, and
the host-side checks and the judge see it).  The slow test grades the whole corpus in one batch on the
sandbox and asserts the guarantees: 0 escapes, 0 marks gained, 0 rows lost, every row as expected,
the honest students unchanged, the time within the limits' bound.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import time
import types
from pathlib import Path

import nbformat
import pytest

from gradekit import corpus, hostile
from gradekit.api import HostileCell
from gradekit.errors import SetupError
from gradekit.hostile import CASES, CONTROLS, Ctx, cell_source
from gradekit.model import CheckResult, Status, SubmissionResult
from mini_course import released_mini

SECRET = corpus.SECRET_PREFIX + "0123456789abcdef01234567"


def cells(*names: str) -> str:
    return "\n".join(cell_source(n) for n in names)


def fake_listeners():
    return types.SimpleNamespace(port=9, abstract="gradekit-corpus-test", daemon_tag="86399.000001")


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_cfg, course):
    work = tmp_path_factory.mktemp("corpus")
    return corpus._build(tiny_cfg, course, work, work / "gradebook", SECRET, fake_listeners(),
                         list(hostile.cases_for(course)) + list(CONTROLS)), work


def read(path: Path, cfg):
    from gradekit.intake import read_submission

    return read_submission(path, key=path.stem, source_name=path.name, cid_placeholder=cfg.cid_placeholder,
                           max_bytes=int(cfg.limits.max_notebook_mb * 1024 * 1024))


def test_cases_are_well_formed(course):
    every = hostile.cases_for(course) + CONTROLS
    names = [c.name for c in every]
    assert len(names) == len(set(names)) and not set(names) & set(corpus.HONEST)
    for c in every:
        assert c.group in {"read", "write", "patch", "liar", "resource", "network", "intake", "zip", "isolation",
                           "names", "course", "control"}
        assert c.expect.points in {"same", "at_most", "zero"}
        assert (c.group == "zip") == (re.fullmatch(r"zip[a-z]+", c.name) is not None)   # LMS usernames
    groups = {c.group for c in CASES}
    assert groups == {"read", "write", "patch", "liar", "resource", "network", "intake", "zip", "isolation", "names"}
    assert sum(c.base is not None for c in CASES) >= 30


def test_every_case_builds_from_the_release(built, tiny_cfg, course):
    b, work = built
    folder = work / "inputs" / "notebooks"
    assert b.solo.keys() == set(corpus.HONEST)
    assert all(SECRET in b.solo[k].notebook_json for k in corpus.HONEST)      # the canary in their files
    for case in hostile.cases_for(course) + CONTROLS:
        if case.group == "zip":
            continue
        sub = read((work / "inputs" / "ordered" if case.ordered else folder) / (case.file or f"{case.name}.ipynb"),
                   tiny_cfg)
        if Status.INVALID_NOTEBOOK in case.expect.status:
            assert sub.notebook_json is None, case.name
            assert re.search(case.expect.message, sub.problem, re.I), (case.name, sub.problem)
            continue
        assert sub.notebook_json is not None, (case.name, sub.problem)
        assert set(case.expect.flags) <= set(sub.flags), (case.name, sub.flags)
        nb = nbformat.reads(sub.notebook_json, as_version=4)
        if case.group == "control":
            continue
        hostile_cells = [c for c in nb.cells if c.get("id", "").startswith("hostile-")]
        if case.group == "names":       # honest A under an odd file name or Name: no hostile cell
            assert hostile_cells == [] and sub.key == case.name, case.name
        elif case.group != "intake":
            assert len(hostile_cells) == 1, case.name
            compile(hostile_cells[0].source, case.name, "exec")
            assert SECRET not in hostile_cells[0].source           # hostile cells never hold the secret
            # without its hostile cell, the notebook is its honest baseline (but for the Name line)
            base = nbformat.reads(b.solo["honest_a" if case.base == "a" else "honest_b"].notebook_json, as_version=4)
            code = [c.source for c in nb.cells if c.cell_type == "code" and c not in hostile_cells]
            want = [c.source for c in base.cells if c.cell_type == "code"]
            assert [re.sub(r"Name = .*", "", s) for s in code] == [re.sub(r"Name = .*", "", s) for s in want]


def test_zip_cases_refused_with_a_row_and_nothing_written_outside(built, tmp_path):
    from gradekit.intake import expand_inputs

    b, work = built
    [zpath] = [p for p in b.inputs if p.suffix == ".zip"]
    intake = expand_inputs([zpath], tmp_path / "intake")
    assert [i.key for i in intake.items] == ["zipattempts"]
    assert intake.items[0].flags == ("several_attempts",) and intake.items[0].source_name == "submission_final.ipynb"
    refused = {r.key: r.reason for r in intake.refused}
    for case in CASES:
        if case.group == "zip" and case.base is None:
            assert re.search(case.expect.message, refused[case.name], re.I), (case.name, refused)
    assert not any(os.path.lexists(p) for p in b.forbidden)
    assert not [p for p in (tmp_path / "intake").rglob("*") if p.is_symlink()]


def ctx_for(tmp_path: Path) -> tuple[Ctx, Path, Path]:
    """Targets in a temporary folder only: a canary file and a folder to write into."""
    secret_dir = tmp_path / "secrets"
    canary = corpus._plant(secret_dir, SECRET)
    targets = {"files": [str(canary)], "repo_files": [], "repo_rel": [], "repo_root": str(tmp_path / "nowhere"),
               "dirs": [str(secret_dir)], "read_dirs": [str(secret_dir)], "names": [corpus.CANARY_NAME],
               "port": 9, "abstract": "x", "host_ips": [], "env_var": corpus.CANARY_ENV, "daemon_tag": "1",
               "modules": [], "probe_names": ["answer"]}
    return Ctx(a=None, b=None, targets=targets, work=tmp_path, case="selftest"), canary, secret_dir


def run_here(source: str) -> dict:
    """Execute a hostile cell in this process (no sandbox!) after a student function was defined."""
    ns = {"__name__": "__main__"}
    exec(compile("def answer(*args):\n    return 1\n", "<student>", "exec"), ns)
    exec(compile(source, "<hostile>", "exec"), ns)
    return ns


def test_read_cells_report_what_they_can_see(tmp_path):
    """The exfiltration channel: unsandboxed, the read cell finds the canary, fails with the secret and
    turns the student's functions into ones that raise it (what probes and check messages then show)."""
    ctx, canary, _ = ctx_for(tmp_path)
    with pytest.raises(RuntimeError, match=f"^{hostile.LEAK_MARK} read b'{SECRET}") as err:
        run_here(ctx.cell(cell_source("read_paths")))
    assert str(canary)[:40] in str(err.value)
    # the environment too
    os.environ[corpus.CANARY_ENV] = SECRET
    try:
        with pytest.raises(RuntimeError, match=f"environment {corpus.CANARY_ENV}={SECRET}"):
            run_here(ctx.cell(cell_source("read_env_imports")))
    finally:
        del os.environ[corpus.CANARY_ENV]


def test_student_functions_raise_the_leak():
    ctx = Ctx(a=None, b=None, targets={}, work=Path("."), case="t")
    ns = {"__name__": "__main__"}
    exec(compile("def answer(*args):\n    return 1\n", "<student>", "exec"), ns)
    exec(compile(ctx.cell("_gk_note('found it')", report=False), "<hostile>", "exec"), ns)
    with pytest.raises(RuntimeError, match="LEAKED found it"):
        ns["_gk_report"]()
    with pytest.raises(RuntimeError, match="LEAKED found it"):
        ns["answer"](1, 2)


def test_write_cell_is_seen_by_the_host_checks(tmp_path):
    ctx, canary, secret_dir = ctx_for(tmp_path)
    watched = {canary: corpus._fingerprint(canary)}
    with pytest.raises(RuntimeError, match=f"{hostile.LEAK_MARK} visible"):
        run_here(ctx.cell(cell_source("write_outside")))
    found = corpus.host_escapes(watched, [tmp_path / "must-not-exist"], [tmp_path])
    assert f"{canary} was deleted" in found
    assert any(f"{hostile.PWNED}-selftest was written from inside the sandbox" in f for f in found)
    (tmp_path / "must-not-exist").write_text("x")
    assert f"{tmp_path / 'must-not-exist'} was written by the zip intake" in \
        corpus.host_escapes({}, [tmp_path / "must-not-exist"], [])


def result(key: str, points: dict[str, float], *, status=Status.GRADED, message="ran 3 cells in 1.5 s",
           secret_in: str = "") -> SubmissionResult:
    checks = tuple(CheckResult(part=k, name=f"test_{k}", points=v, max_points=1.0, passed=v == 1.0, visible=True,
                               message=secret_in) for k, v in points.items())
    return SubmissionResult(key=key, file=f"{key}.ipynb", name=None, cid=None, status=status, message=message,
                            checks=checks, timings={"sandbox": 5.0})


def test_judge_counts_escapes_gains_and_lost_rows():
    cases = [hostile.Case("leaky", "read", "", "a", lambda ctx: None),
             hostile.Case("greedy", "patch", "", "b", lambda ctx: None, hostile.Expect(points="at_most")),
             hostile.Case("vanished", "intake", "", None, lambda ctx: None,
                          hostile.Expect(status=(Status.INVALID_NOTEBOOK,), points="zero")),
             hostile.Case("control_leak", "control", "", "a", lambda ctx: None, hostile.Expect(points="at_most"))]
    solo = {"honest_a": result("honest_a", {"p": 1.0, "q": 1.0}), "honest_b": result("honest_b", {"p": 0.0, "q": 1.0})}
    rows = {"honest_a": [result("honest_a", {"p": 1.0, "q": 1.0}, message="ran 3 cells in 9.0 s")],
            "honest_b": [result("honest_b", {"p": 0.0, "q": 0.0})],                          # changed by the batch
            "leaky": [result("leaky", {"p": 1.0, "q": 1.0}, secret_in=f"raised RuntimeError: LEAKED {SECRET}")],
            "greedy": [result("greedy", {"p": 1.0, "q": 1.0})],                               # +1 over B
            "control_leak": [result("control_leak", {"p": 0.0, "q": 0.0}, secret_in=f"LEAKED {SECRET}")],
            "stranger": [result("stranger", {})]}
    outcomes, escapes, problems, gained, lost, controls = corpus.judge_corpus(cases, rows, solo, SECRET, 100.0)
    assert escapes[0] == "leaky: the canary secret appears in its gradebook row"
    assert escapes[1].startswith("leaky: a hostile cell reported 'LEAKED gk-canary-")
    assert len(escapes) == 2 and gained == 1.0 and lost == 1
    assert any(p.startswith("honest_b: its row in the batch") for p in problems)        # the batch changed B
    assert not any(p.startswith("honest_a") for p in problems)                           # timings do not count
    assert "stranger: a gradebook row nobody submitted" in problems
    assert "greedy: 1 marks above its honest baseline" in problems
    assert "vanished: 0 gradebook rows" in problems
    assert [c.split(":")[0] for c in controls] == ["control_leak", "control_leak"]       # seen, not counted
    assert {o.case: o.gained for o in outcomes}["greedy"] == 1.0


def test_judge_holds_cases_to_their_time_and_cpu_bounds():
    cases = [hostile.Case("slow_judge", "liar", "", "a", lambda ctx: None, hostile.Expect(judge_s=5.0)),
             hostile.Case("costly_watch", "resource", "", "a", lambda ctx: None, hostile.Expect(supervisor_cpu_s=1.0)),
             hostile.Case("cheap", "resource", "", "a", lambda ctx: None,
                          hostile.Expect(judge_s=5.0, supervisor_cpu_s=1.0))]
    solo = {"honest_a": result("honest_a", {"p": 1.0}), "honest_b": result("honest_b", {"p": 0.0})}
    rows = {k: [v] for k, v in solo.items()}
    for name, timings in (("slow_judge", {"judge": 41.0}), ("costly_watch", {"supervisor (CPU)": 17.7}),
                          ("cheap", {"judge": 1.0, "supervisor (CPU)": 0.01})):
        rows[name] = [dataclasses.replace(result(name, {"p": 1.0}), timings={"sandbox": 5.0, **timings})]
    _, _, problems, _, _, _ = corpus.judge_corpus(cases, rows, solo, SECRET, 100.0)
    assert problems == ["slow_judge: judging its answers took 41.0 s, above its bound of 5 s",
                        "costly_watch: the trusted side spent 17.7 s of CPU watching its run, above 1 s"]


def test_ordered_cases_run_store_before_take_outside_the_batch(built):
    b, work = built
    keys = [s.key for s in b.ordered]
    assert keys == [c.name for c in CASES if c.ordered == 1] + [c.name for c in CASES if c.ordered == 2]
    assert {"keyring_store", "keyring_take", "state_store", "state_take"} <= set(keys)
    assert not any((work / "inputs" / "notebooks" / f"{k}.ipynb").exists() for k in keys)


def test_keyring_cells_detect_a_hand_over_without_the_filter(tmp_path):
    """The detector is not blind: outside the sandbox (no seccomp filter), under a throwaway uid, the
    store cell reports its key and the take cell, in a second process of the same uid, finds it."""
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to switch to a throwaway uid")
    uid = 64000 + os.getpid() % 900
    ctx, _, _ = ctx_for(tmp_path)
    as_uid = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-I", "-c"]
    clear = ("import ctypes;c=ctypes.CDLL(None);c.syscall.restype=ctypes.c_long;"
             "[c.syscall(%d, 7, ctypes.c_int(r)) for r in (-4, -5)]" % {"aarch64": 219}.get(os.uname().machine, 250))
    try:
        stored = subprocess.run(as_uid + ["def answer(*a):\n    return 1\n" + ctx.cell(cells("keyring_syscalls", "keyring_store"))],
                                capture_output=True, text=True, timeout=60, cwd="/")
        taken = subprocess.run(as_uid + ["def answer(*a):\n    return 1\n" + ctx.cell(cells("keyring_syscalls", "keyring_take"))],
                               capture_output=True, text=True, timeout=60, cwd="/")
    finally:
        subprocess.run(as_uid + [clear], capture_output=True, timeout=60, cwd="/")
    assert "LEAKED add_key stored key" in stored.stderr, stored.stderr[-500:]
    assert "LEAKED the previous run's key in the user keyring" in taken.stderr, taken.stderr[-500:]


def test_listeners_see_a_connection():
    listeners = corpus._Listeners()
    try:
        socket.create_connection(("127.0.0.1", listeners.port), timeout=2).close()
        deadline = time.monotonic() + 5
        while not listeners.connections and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listeners.close()
    assert len(listeners.connections) == 1 and f"tcp port {listeners.port}" in listeners.connections[0]


def test_summary_line():
    s = corpus.CorpusSummary(cases=36, escapes=[], marks_gained=0.0, rows_lost=0, problems=[], controls=[],
                             outcomes=[], seconds=1.0, time_bound_s=2.0, run_bound_s=1.0, out_dir=Path("."))
    assert s.line() == "corpus: 36 cases, 0 escapes, 0 marks gained, 0 rows lost" and s.ok


# ------------------------------------------------------------------------------- cells and the course

def test_hostile_cells_are_real_files_no_import_runs():
    """Every engine cell is a .py file that compiles, every one is used, and cells/ is no package (so
    nothing -- pkgutil.walk_packages in test_imports included -- imports, that is runs, one)."""
    import pkgutil

    files = sorted(hostile.CELLS.glob("*.py"))
    assert len(files) >= 40 and not (hostile.CELLS / "__init__.py").exists()
    for f in files:
        compile(f.read_text(), str(f), "exec")
    assert not [m.name for m in pkgutil.walk_packages(hostile.__path__, "gradekit.hostile.") if "cells" in m.name]
    cases_py = (Path(hostile.__file__).parent / "cases.py").read_text() + (Path(hostile.__file__).parent
                                                                          / "model.py").read_text()
    unused = [f.stem for f in files if f'"{f.stem}"' not in cases_py]
    assert unused == [], f"cells no case uses: {unused}"


def test_the_course_cells_are_its_own_cases(course):
    """The ANN course's hostile_cells hook (autograder/ann/hostile/) becomes cases of group "course"
    under the names the corpus has always used; the engine's cases name no chapter."""
    course_cases = [c for c in hostile.cases_for(course) if c.group == "course"]
    assert {c.name for c in course_cases} >= {"liar_tensor", "forged_printed_answers", "partial_sweep_diverged",
                                               "partial_sweep_made_up", "answer_out_of_range", "patch_torch_asserts"}
    assert {c.name: c.expect.judge_s for c in course_cases}["answer_out_of_range"] is not None
    assert not {c.name for c in course_cases} & {c.name for c in CASES}


def test_course_hostile_cells_become_cases_with_their_helpers():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("Name = 'x'\nCID = 1"),
                                         nbformat.v4.new_code_cell("def answer(x):\n    return x")])
    ctx = Ctx(a=nb, b=nb, targets={"files": []}, work=Path("."), case="mine")
    [liar, channel] = hostile.course_cases([
        HostileCell("mine", "lies", "_gk_lie_about_everything(lambda args: 0)\n", helpers=("liar",)),
        HostileCell("mine_too", "reports", "_gk_note(_GK['files'])\n", base="a", where="early", expect="at_most",
                    helpers=("channel",), judge_s=5.0)])
    assert (liar.group, liar.base, liar.expect) == ("course", "b", hostile.Expect())
    assert (channel.expect.points, channel.expect.judge_s) == ("at_most", 5.0)
    source = liar.make(ctx).cells[-1].source
    assert cell_source("liar_head") in source and source.endswith("_gk_lie_about_everything(lambda args: 0)\n")
    ctx.case = "mine_too"
    made = channel.make(ctx)
    assert made.cells[1].id == "hostile-mine-too"                  # early: after the first code cell
    assert made.cells[1].source.rstrip().endswith("_gk_report()") and '"__TARGETS__"' not in made.cells[1].source
    compile(made.cells[1].source, "mine_too", "exec")


@pytest.mark.parametrize("bad, why", [
    (HostileCell("read_direct", "", ""), "taken by another case"),
    (HostileCell("x", "", "", base="c"), "base 'c'"),
    (HostileCell("x", "", "", where="middle"), "where 'middle'"),
    (HostileCell("x", "", "", expect="zero"), "expect 'zero'"),
    (HostileCell("x", "", "", helpers=("torch",)), "unknown helper 'torch'"),
    (HostileCell("zipper", "", ""), "not starting with 'zip'"),
])
def test_course_hostile_cells_are_checked(bad, why):
    with pytest.raises(SetupError, match=re.escape(why)):
        hostile.course_cases([bad])


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """tests/courses/mini, released: a course with no hostile_cells hook whose notebook runs in ~1 s."""
    from gradekit.grading import Course

    return Course(released_mini(tmp_path_factory.mktemp("mini")))


def test_a_course_without_hostile_cells_builds_the_generic_corpus(mini, tmp_path):
    """Its corpus is the engine's cases, and every one of them builds from its release (no grading).
    Its honest B leaves its only seeded bug in: B must miss marks, or no liar could gain any over B."""
    assert mini.hook("hostile_cells") is None and hostile.cases_for(mini) == CASES
    b = corpus._build(mini.cfg, mini, tmp_path / "corpus", tmp_path / "corpus" / "gradebook", SECRET,
                      fake_listeners(), list(CASES) + list(CONTROLS))
    built = {p.stem for p in (tmp_path / "corpus" / "inputs").rglob("*.ipynb")}
    assert built == {c.name for c in CASES + CONTROLS if c.group != "zip"} | set(corpus.HONEST)
    assert len(b.ordered) == 4 and b.sandboxed_runs == 2 + sum(c.base is not None for c in CASES + CONTROLS)
    honest_b = nbformat.reads(b.solo["honest_b"].notebook_json, as_version=4)
    assert "return x + x" in "".join(c.source for c in honest_b.cells)          # the seeded bug, left in
    assert corpus.honest_b_bugs(("square",)) == ((), ("square",))
    assert corpus.honest_b_bugs(("p", "s", "c")) == (("c",), ("p", "s"))


# ------------------------------------------------------------------------------------------ the corpus
# CI grades the engine's cases on the mini course (the sandbox's and the engine's guarantees do not
# depend on the notebook, and a mini run costs ~1 s where the ANN notebook's imports cost ~5 s) and the
# course's own cases on the ANN course.  `make corpus` grades every case on the ANN course.

#: the mini course's honest cells take milliseconds: a 5-s cell timeout still separates hangs from work
MINI_LIMITS = dict(corpus.CORPUS_LIMITS, cell_timeout_s=5, notebook_timeout_s=40)


def assert_corpus_holds(summary, cases) -> None:
    report = summary.report()
    print(report)
    assert summary.escapes == [], report
    assert summary.marks_gained == 0, report
    assert summary.rows_lost == 0, report
    assert summary.problems == [], report
    assert summary.ok and summary.line().endswith(", 0 escapes, 0 marks gained, 0 rows lost")
    # the controls were detected: the detector is not blind
    assert any(c.startswith("control_leak: the canary secret appears") for c in summary.controls), report
    assert any(c.startswith("control_gain:") and "marks above" in c for c in summary.controls), report
    # time: each run within its bound (judged above); the whole batch within what the limits allow
    assert summary.seconds <= summary.time_bound_s
    rows = json.loads(json.dumps([o.__dict__ for o in summary.outcomes]))
    assert {r["case"] for r in rows} == {c.name for c in list(cases) + list(CONTROLS)}


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_engines_corpus_in_one_batch(mini, tmp_path):
    """Every case of gradekit.hostile (read, write, patch, liar, resource, network, intake, zip,
    isolation, names) in one batch, on the mini course."""
    t0 = time.perf_counter()
    summary = corpus.run_corpus(mini.cfg, tmp_path / "corpus", workers=2, limits=MINI_LIMITS)
    assert_corpus_holds(summary, CASES)
    assert summary.cases == len(CASES) >= 60
    assert time.perf_counter() - t0 < 5 * 60, "the engine's corpus should cost CI a few minutes at most"


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_courses_corpus_in_one_batch(tiny_cfg, course, tmp_path):
    """The course's hostile_cells (its answers forged, partial sweeps, tensors that lie, ...) in one batch
    on the ANN notebook, with the honest students and the controls."""
    mine = hostile.course_cases(course.hook("hostile_cells")())
    t0 = time.perf_counter()
    summary = corpus.run_corpus(tiny_cfg, tmp_path / "corpus", workers=2, only=[c.name for c in mine])
    assert_corpus_holds(summary, mine)
    assert summary.cases == len(mine) >= 6
    assert time.perf_counter() - t0 < 5 * 60, "the course's corpus should cost CI a few minutes at most"


def test_output_problems_sees_formulas_split_rows_and_missing_outputs(tmp_path):
    """The corpus's check of what a TA opens: it must fail on each kind of unsafe output."""
    from gradekit.corpus import REQUIRED_OUTPUTS, output_problems
    from gradekit.report import FEEDBACK_DIR, feedback_filename

    for name in REQUIRED_OUTPUTS:
        (tmp_path / name).write_text("")
    (tmp_path / "gradebook.csv").write_text("\ufeffstudent,name,total\n'=1+2,\"'=HYPERLINK(\"\"x\"\")\",-2.5\n",
                                            encoding="utf-8")
    (tmp_path / "blackboard_upload.xls").write_text("Username\tScore\r\n'@SUM(A1)\t3\r\n", encoding="utf-16")
    (tmp_path / FEEDBACK_DIR).mkdir()
    (tmp_path / FEEDBACK_DIR / feedback_filename("=1+2")).write_text("<p>ok</p>")
    assert output_problems(tmp_path, ["=1+2"]) == []                     # escaped: clean

    (tmp_path / "gradebook.csv").write_text("student,name,total\n=1+2,x,3\n", encoding="utf-8-sig")
    (tmp_path / "blackboard_upload.xls").write_text("Username\tScore\r\nbob\r\nsmith\t3\r\n", encoding="utf-16")
    (tmp_path / "report.html").unlink()
    problems = output_problems(tmp_path, ["=1+2", "ghost"])
    assert "report.html was not written" in problems
    assert any("gradebook.csv line 2: a formula cell '=1+2'" in p for p in problems)
    assert any("blackboard_upload.xls line 2: 1 cells" in p for p in problems)
    assert "no feedback page for 'ghost'" in problems


def test_odd_file_names_are_corpus_cases():
    from gradekit.hostile import CASES, NAME_CASES

    files = {c.file for c in NAME_CASES if c.file}
    assert {"corpus trailing space .ipynb", "\tcorpus leading tab.ipynb", "=1+2.ipynb"} <= files
    assert all(c in CASES for c in NAME_CASES)
    assert all(c.file is None or c.file == c.name + ".ipynb" for c in NAME_CASES)   # the key is the stem
