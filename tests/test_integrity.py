"""Integrity evidence (gradekit/integrity.py + the course's matches_cid hook): a sweep computed with a
classmate's CID names that classmate; identical wrong answers and identical rewritten code are
reported; an honest cohort gets no rows; nothing of it reaches a feedback page or the marks.

The engine's rules are tested on in-memory results; the course hook on sweeps run in this process
(test_mistakes.run_in_process); one batch proves the outputs end to end: four students of the
session's shared cohort (tests/shared_cohort.py), whose other students must not blur their rows.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from gradekit import integrity
from gradekit.model import CheckResult, Mistake, Status, SubmissionResult
from shared_cohort import wants
# At import (collection): inside a fixture, `conftest` may by then name the course's conftest (loaded by
# an in-process judge), and test_mistakes imports `conftest`.
from test_mistakes import SWEEP_CELLS, run_in_process

CID_A, CID_B, CID_C = 4310001, 4310002, 4310003


def result(key, cid, *, passed=True, answers=None, mistakes=()):
    checks = (CheckResult("lr_sweep", "test_final_losses_match_reference", 3.0 if passed else 0.0, 3.0, passed, False),)
    return SubmissionResult(key=key, file=f"{key}.ipynb", name=key, cid=cid, status=Status.GRADED, message="",
                            checks=checks, comparable={"lr_sweep": answers} if answers is not None else {},
                            mistakes=tuple(mistakes))


def sweep(*values):
    return [[r, v] for r, v in zip([0.001, 0.01, 0.1, 0.5, 0.9, 1.5], values)]


# -- engine rules, in memory ------------------------------------------------------------------------

def test_other_cid_names_the_classmate_and_only_failing_parts_are_cross_checked():
    asked = []

    def matches(part, answers, cid):
        asked.append(cid)
        return "same numbers" if (answers[0][1], cid) == (0.5, CID_A) or (answers[0][1], cid) == (0.7, 123446) else None

    results = [result("alice", CID_A, answers=sweep(0.5, 0.4)),                   # honest: never cross-checked
               result("bob", CID_B, passed=False, answers=sweep(0.5, 0.4)),       # alice's numbers
               result("carol", CID_C, passed=False, answers=sweep(0.7, 0.1))]     # the template's
    rows = integrity.other_cid_evidence(results, matches, template_cid=123446)
    assert [(e.student, e.kind, e.other) for e in rows] == [("bob", "other_cid", "alice"),
                                                            ("carol", "template_cid", "template CID 123446")]
    assert sorted(asked) == sorted([CID_A, CID_C, 123446, CID_A, CID_B, 123446])   # bob's and carol's only


def test_identical_wrong_answers_are_reported_unless_a_shared_mistake_explains_them():
    same = sweep(0.31, 0.22, 0.13, math.nan, math.nan, math.nan)
    results = [result("bob", CID_B, passed=False, answers=same),
               result("dave", 4310004, passed=False, answers=[list(p) for p in same]),
               result("erin", 4310005, passed=False, answers=sweep(0.31, 0.22, 0.13000000000000003, 1, 1, 1))]
    rows = integrity.identical_answers(results)
    assert {(e.student, e.other) for e in rows} == {("bob", "dave"), ("dave", "bob")}
    assert all(e.kind == "identical_answers" for e in rows)
    # the same CID-independent mistake (seed_102) gives everybody who makes it the same numbers
    seed = Mistake("lr_sweep", "seed_102", "...")
    explained = [result("bob", CID_B, passed=False, answers=same, mistakes=[seed]),
                 result("dave", 4310004, passed=False, answers=same, mistakes=[seed])]
    assert integrity.identical_answers(explained) == []
    # right answers (passing) and answers with fewer than two finite numbers are never compared
    assert integrity.identical_answers([result("a", 1, answers=same), result("b", 2, answers=same)]) == []
    one = sweep(0.3, math.nan)
    assert integrity.identical_answers([result("a", 1, passed=False, answers=one),
                                        result("b", 2, passed=False, answers=one)]) == []


REWRITE = '''# my own sweep
lr_results = dict()
for lr in learning_rates:
    torch.manual_seed(CID)
    net = PixelPredictionModel()
    opt = optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    for ep in range(num_epochs):
        running = 0.0
        for x, y in zip(images_with_missing_pixels, ground_truth_images):
            opt.zero_grad()
            l = loss_fn(net(x), y)
            l.backward()
            opt.step()
            running += l.item()
    lr_results[lr] = running / len(images_with_missing_pixels)
'''


def test_identical_code_ignores_comments_whitespace_release_and_solution(tiny_cfg, make_student):
    from gradekit import fabricate

    baselines = integrity.baselines_of(tiny_cfg.release, tiny_cfg.source)
    honest = {k: make_student(cid=c, name=k, full=True) for k, c in (("alice", CID_A), ("carol", CID_C))}
    assert integrity.identical_code(honest, baselines) == []
    respaced = REWRITE.replace("# my own sweep", "# sweep, copied").replace(" = ", "=").replace("\n    lr_results",
                                                                                                "\n\n    lr_results")
    notebooks = dict(honest,
                     bob=fabricate.set_source(make_student(cid=CID_B, full=True), "lr_sweep", REWRITE),
                     dave=fabricate.set_source(make_student(cid=4310004, full=True), "lr_sweep", respaced))
    rows = integrity.identical_code(notebooks, baselines)
    assert {(e.student, e.kind, e.other) for e in rows} == {("bob", "identical_code", "dave"),
                                                            ("dave", "identical_code", "bob")}
    assert "lr_sweep" in rows[0].evidence
    # a small shared edit of the solution is no evidence
    small = {k: fabricate.replace_in_cell(make_student(cid=c, full=True), "lr_sweep", "lr=rate", "lr = rate")
             for k, c in (("x", 1), ("y", 2))}
    assert integrity.identical_code(small, baselines) == []


def test_integrity_csv_is_escaped_and_has_its_columns(tmp_path):
    rows = [integrity.Evidence("=cmd|x", "identical_code", "bob", "answer cell lr_sweep: ...")]
    integrity.write_integrity_csv(rows, tmp_path)
    df = pd.read_csv(tmp_path / integrity.INTEGRITY_CSV)
    assert list(df.columns) == list(integrity.COLUMNS) and df.loc[0, "student"] == "'=cmd|x"
    integrity.write_integrity_csv([], tmp_path)
    assert list(pd.read_csv(tmp_path / integrity.INTEGRITY_CSV).columns) == list(integrity.COLUMNS)


# -- the course hook on real sweeps ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sweeps(course, variants, make_student):
    """Answers of three sweeps run in this process: alice's and carol's honest ones, and bob's,
    computed with alice's CID."""
    spec = [s for s in course.module.make_probes(course.profile, __import__("numpy").random.default_rng(0))
            if s.name == "sweep"]
    out = {}
    for key, cid, seed in (("alice", CID_A, None), ("bob", CID_B, CID_A), ("carol", CID_C, None)):
        nb = make_student(cid=cid, name=key, solved=("lr_sweep", "best_lr"))
        if seed is not None:
            nb = variants.sweep_seeded_with(nb, seed)
        out[key] = course.comparable_answers(run_in_process(nb, SWEEP_CELLS, spec))["lr_sweep"]
    return out


def test_matches_cid_finds_the_classmate_and_nobody_else(course, sweeps):
    assert "CID 4310001" in course.matches_cid("lr_sweep", sweeps["bob"], CID_A)
    assert course.matches_cid("lr_sweep", sweeps["bob"], CID_C) is None
    assert course.matches_cid("lr_sweep", sweeps["bob"], 123446) is None
    assert course.matches_cid("lr_sweep", sweeps["alice"], CID_C) is None
    assert course.matches_cid("lr_sweep", sweeps["carol"], CID_A) is None


# -- end to end: one batch (the shared cohort) -------------------------------------------------------

@wants
def notebooks(kit):
    """alice and carol honest and right; bob (sweep only) computed his sweep with alice's CID; dave's
    sweep is not re-initialised.  carol and dave are the shared cohort's own full notebook and its
    no_reinit variant (other modules read them too); the cohort holds other students, so each test
    reads the rows about these four."""
    make = kit.make_student
    return {"alice": make(cid=CID_A, name="alice", full=True),
            "carol": kit.full,
            "bob": kit.variants.sweep_seeded_with(make(cid=CID_B, name="bob", solved=("lr_sweep", "best_lr")), CID_A),
            "dave": kit.variant(kit.variants.sweep_without_reinit)}


@pytest.fixture(scope="module")
def batch(shared_cohort):
    """(the cohort's out folder, its summary, its submissions folder, name -> key)."""
    keys = {name: shared_cohort.key(notebooks, name) for name in ("alice", "bob", "carol", "dave")}
    return shared_cohort.out, shared_cohort.summary, shared_cohort.subs, keys


def _involving(rows: pd.DataFrame, keys) -> pd.DataFrame:
    """The CSV rows whose student, or whose named classmate, is one of `keys`."""
    names = set(keys)
    return rows[rows["student"].isin(names) | rows["other"].fillna("").map(lambda o: bool(names & set(o.split(";"))))]


@pytest.mark.slow
def test_batch_reports_the_copied_sweep_with_the_classmate(batch):
    out, summary, _, k = batch
    rows = pd.read_csv(out / "integrity.csv", dtype=str)
    mine = _involving(rows, k.values())
    assert [tuple(r) for r in mine[["student", "kind", "other"]].itertuples(index=False)] == [(k["bob"], "other_cid", k["alice"])]
    assert f"integrity evidence (staff only): {len(rows)} row(s)" in summary
    report = (out / "report.html").read_text()
    assert "Integrity evidence (staff only)" in report and "other_cid" in report
    for key in k.values():        # staff only: nothing on a feedback page
        page = (out / "feedback" / f"{key}.html").read_text()
        assert "ntegrity" not in page and "other_cid" not in page
    bob = (out / "feedback" / f"{k['bob']}.html").read_text()
    assert "alice" not in bob and k["alice"] not in bob


@pytest.mark.slow
def test_batch_names_the_mistake_and_keeps_marks(batch):
    from gradekit.gradebook import read_gradebook

    out, _, _, k = batch
    mistakes = pd.read_csv(out / "mistakes.csv", dtype=str)
    mistakes = mistakes[mistakes["student"].isin(k.values())]
    sweep = mistakes[mistakes["part"] == "lr_sweep"]
    assert [tuple(r) for r in sweep.itertuples(index=False)] == [(k["dave"], "lr_sweep", "no_reinit")]
    assert set(mistakes["student"]) == {k["bob"], k["dave"]}       # + bob's unfixed seeded bugs; alice and carol none
    gb = read_gradebook(out / "gradebook.csv").set_index("student")
    assert "lr_sweep:no_reinit" in gb.loc[k["dave"], "mistakes"] and gb.loc[k["alice"], "mistakes"] == ""
    assert gb.loc[k["alice"], "lr_sweep"] == gb.loc[k["carol"], "lr_sweep"] == 4.0
    assert gb.loc[k["bob"], "lr_sweep"] == gb.loc[k["dave"], "lr_sweep"] == 0.0    # wrong values: the hidden checks score nothing
    assert "one model across all the rates" in (out / "feedback" / f"{k['dave']}.html").read_text()
    report = (out / "report.html").read_text()
    assert "Typical mistakes" in report and "no_reinit" in report


@pytest.mark.slow
def test_honest_cohort_has_no_integrity_rows(batch, course):
    from gradekit.store import ResultStore

    out, _, folder, k = batch
    with ResultStore(out / "results.sqlite", readonly=True) as store:
        honest = [r for r in store.all() if r.key in (k["alice"], k["carol"])]
    assert sorted(r.key for r in honest) == sorted([k["alice"], k["carol"]])
    assert all(not r.mistakes for r in honest)
    notebooks = {r.key: (folder / f"{r.key}.ipynb").read_text() for r in honest}
    assert integrity.course_evidence(honest, notebooks, course) == []


def test_class_report_counts_mistakes_and_shows_evidence_only_there(tmp_path):
    from gradekit.gradebook import to_dataframe
    from gradekit.report import class_report_html, feedback_html

    m = Mistake("lr_sweep", "adam", "Your sweep trains with Adam <b>.")
    results = [result("bob", CID_B, passed=False, mistakes=[m]), result("dave", 4310004, passed=False, mistakes=[m]),
               result("erin", 4310005, passed=False)]
    results[2] = SubmissionResult(**{**results[2].__dict__, "extras": {"diagnosis_error": "RuntimeError: x"}})
    rows = [integrity.Evidence("bob", "other_cid", "<script>alice</script>", "lr_sweep: ...")]
    page = class_report_html(results, to_dataframe(results), assignment="ANN", integrity=rows)
    assert "<td>lr_sweep</td><td>adam</td><td>2</td>" in page.replace("\n", "")
    assert "RuntimeError: x" in page and "&lt;script&gt;alice" in page and "<script>" not in page
    bob = feedback_html(results[0], assignment="ANN")
    assert "Your sweep trains with Adam &lt;b&gt;." in bob and "other_cid" not in bob
