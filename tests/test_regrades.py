"""Regrades without re-running (issue 15), end to end on the session's shared cohort (tests/shared_cohort.py:
tiny profile, graded once; these tests are about the store, re-judging, overrides and history).

This module's students are alice, bob, carol and dave.  What is only read (answers, provenance,
executed notebooks) is read from the shared cohort itself, every student of it.  The tests that change
something start from a copy of the cohort narrowed to the four (`ours`), and each works on its own
copy of that output folder and of the checks the cohort was graded with (a private copy of the
repository's checks, identical in content: the same checks hash), so a test can change a check or
write overrides.csv without affecting the others or the cohort."""
import csv
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from shared_cohort import CELL_TIMEOUT_S, wants

pytestmark = pytest.mark.slow

PAYLOAD_HTML = '<script>document.title="PWNED-script"</script><img src=x onerror="document.title=\'PWNED-img\'">'
FORGIVING_CHECK = '''
@pytest.mark.hidden
@pytest.mark.points(1)
def test_vectorised_and_extreme_inputs(probes):
    """Fixed after release (for the test): single numbers right is enough."""
    answer(probes, "sigmoid", "your `sigmoid` function")
'''


def with_payload_cells(nb):
    """The full notebook plus a markdown cell and a code cell whose output carry script payloads."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Payload {PAYLOAD_HTML}"))
    nb.cells.append(nbformat.v4.new_code_cell(
        "from IPython.display import HTML, Javascript, display\n"
        f"display(HTML({PAYLOAD_HTML!r}))\n"
        "display(Javascript('document.title=\"PWNED-js\"'))\n"
        f"print({PAYLOAD_HTML!r})\n"
        "1/0"))
    return nb


@wants
def notebooks(kit):
    """Each with a CID of their own (uploadable); bob's and carol's notebooks are test_grading's
    loop_sigmoid and wrong_cnn, graded once."""
    v = kit.variants
    return {
        "alice": with_payload_cells(kit.make_student(full=True, cid=1200001)),
        "bob": kit.variant(v.sigmoid_not_vectorised),
        "carol": kit.variant(v.cnn_wrong_sizes),
        "dave": kit.untouched,       # the untouched release: zero on most parts
    }


@pytest.fixture(scope="module")
def graded(shared_cohort):
    """The shared cohort, read only: (cfg, submissions folder, out folder); its roster is subs/../roster.csv."""
    assert shared_cohort.roster == shared_cohort.subs.parent / "roster.csv"
    return shared_cohort.cfg, shared_cohort.subs, shared_cohort.out


@pytest.fixture(scope="module")
def k(shared_cohort):
    """This module's student -> the key the cohort graded it under."""
    return {name: shared_cohort.key(notebooks, name) for name in ("alice", "bob", "carol", "dave")}


@pytest.fixture(scope="module")
def ours(shared_cohort, k, tmp_path_factory):
    """This module's copy of the shared cohort, narrowed to its four students the way a TA drops
    students: graded again from a folder and a roster holding only them (nothing runs, they are
    unchanged; the others leave the store and the outputs): (cfg, submissions folder, out folder).
    Re-judging and publishing cost per student: the whole cohort would make each test here several
    times slower.  Each test copies this again (`cohort`)."""
    from gradekit.batch import grade_batch

    base = tmp_path_factory.mktemp("regrades")
    subs, roster, out = base / "subs", base / "roster.csv", base / "out"
    subs.mkdir()
    for key in k.values():
        shutil.copy(shared_cohort.subs / f"{key}.ipynb", subs)
    rows = list(csv.reader(shared_cohort.roster.read_text(encoding="utf-8").splitlines()))
    with open(roster, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([rows[0]] + [r for r in rows[1:] if r[0] in k.values()])
    shutil.copytree(shared_cohort.out, out)
    text = grade_batch(shared_cohort.cfg, [subs], out, roster=roster, workers=1, progress=False)
    assert text.startswith("graded 0 new or changed submission(s), 4 unchanged (skipped)"), text
    with store_of(out) as store:
        assert sorted(store.keys()) == sorted(k.values())
    return shared_cohort.cfg, subs, out


@pytest.fixture
def cohort(ours, tmp_path):
    """A private copy of this module's cohort: (cfg, submissions folder, out folder, checks folder)."""
    cfg, subs, out = ours
    checks, my_out = tmp_path / "checks", tmp_path / "out"
    shutil.copytree(cfg.checks, checks, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(out, my_out)
    return cfg.with_(checks=checks), subs, my_out, checks


@pytest.fixture
def no_kernel(monkeypatch):
    """Any attempt to run a notebook fails the test: the sandbox runner and both pools raise."""
    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was run")

    monkeypatch.setattr("gradekit.sandbox.run_notebook", refuse)
    monkeypatch.setattr("gradekit.sandbox._supervise", refuse)
    monkeypatch.setattr("gradekit.executors.run_local",
                        lambda subs, *a, **k: refuse() if list(subs) else None)


def fix_sigmoid_check(checks: Path) -> None:
    path = checks / "test_sigmoid.py"
    text = path.read_text()
    head = text[:text.index("@pytest.mark.hidden")]
    path.write_text(head + FORGIVING_CHECK)


def store_of(out, readonly=True):
    from gradekit.store import ResultStore

    return ResultStore(out, readonly=readonly)


def gradebook(out) -> pd.DataFrame:
    from gradekit.gradebook import read_gradebook

    return read_gradebook(out / "gradebook.csv").set_index("student")


# -- 1. answers and provenance --------------------------------------------------------------------

def test_results_keep_answers_provenance_and_first_history(graded, k):
    cfg, subs, out = graded
    from gradekit.grading import Course

    course = Course(cfg)
    with store_of(out) as store:
        results = {r.key: r for r in store.all()}
        assert sorted(results) == sorted(p.stem for p in subs.glob("*.ipynb")) and set(k.values()) <= set(results)
        for r in results.values():
            assert set(r.answers) == {"perceptron", "sigmoid", "simple_cnn", "sweep", "reconstruction"}
            p = r.provenance
            assert p["probes_hash"] == course.probes_hash and p["checks_hash"] == course.checks_hash
            assert p["reference_hash"] == course.reference_code_hash and p["gradekit_version"]
            assert p["profile_name"] == "tiny" and p["limits"]["cell_timeout_s"] == CELL_TIMEOUT_S
            assert isinstance(p["probe_seed"], int) and r.timings["sandbox"] > 0
            # the stored seed draws the very inputs the answers were given
            specs = course.module.make_probes(course.profile, __import__("numpy").random.default_rng(p["probe_seed"]))
            assert {s.name: s.params for s in specs} == {k: dict(a.params) for k, a in r.answers.items()}
            [first] = store.history(r.key)
            assert first.event == "graded" and first.old_total is None and first.new_total == r.total


def test_executed_notebook_kept_with_outputs_and_marks(graded, k):
    _, _, out = graded
    with store_of(out) as store:
        nb = nbformat.reads(store.notebook(k["alice"]), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.metadata["gradekit"]["status"] in ("ok", "error") for c in code if c.source.strip())
    last = code[-1]
    assert last.metadata["gradekit"]["status"] == "error" and "ZeroDivisionError" in last.metadata["gradekit"]["error"]
    kinds = {o.output_type for o in last.outputs}
    assert {"display_data", "stream", "error"} <= kinds          # as it ran, the payloads included
    assert not any("gradekit-probe" in str(o) for c in code for o in c.outputs)   # no probe cells


# -- 2. rejudge --------------------------------------------------------------------------------------

def test_rejudge_with_unchanged_checks_changes_nothing(cohort, no_kernel):
    from gradekit.rejudge import rejudge_batch

    cfg, _, out, _ = cohort
    before = gradebook(out)
    text = rejudge_batch(cfg, out)
    assert "0 student(s) changed" in text, text
    assert pd.read_csv(out / "changes.csv").empty
    pd.testing.assert_frame_equal(gradebook(out), before)


def test_rejudge_after_a_check_fix_moves_exactly_those_students(cohort, no_kernel, k):
    import time

    from gradekit.rejudge import rejudge_batch

    cfg, _, out, checks = cohort
    before = gradebook(out)
    bob = k["bob"]
    assert before.loc[bob, "sigmoid"] == 1
    fix_sigmoid_check(checks)
    t0 = time.perf_counter()
    text = rejudge_batch(cfg, out)
    seconds = time.perf_counter() - t0
    changes = pd.read_csv(out / "changes.csv")
    moved = set(changes["student"])
    after = gradebook(out)
    expected = {k for k in before.index if before.loc[k, "sigmoid"] != after.loc[k, "sigmoid"]}
    assert moved == expected and bob in moved, (text, changes)
    row = changes[changes.student == bob].iloc[0]
    assert (row.part, row.old, row.new) == ("sigmoid", 1.0, 2.0)
    assert after.loc[bob, "total"] == before.loc[bob, "total"] + 1
    assert f"{len(moved)} student(s) changed" in text
    assert seconds < 30, seconds      # a cohort in seconds (most of it: loading the course once)
    with store_of(out) as store:
        assert [h.event for h in store.history(bob)] == ["graded", "rejudged"]
        assert store.history(bob)[-1].parts[0].why.startswith("the stored answers were judged again")
        assert store.notebook(bob) is not None          # the executed notebook survives a re-judge
    assert "2 / 2" in (out / "feedback" / f"{bob}.html").read_text() or after.loc[bob, "sigmoid"] == 2


def test_rejudge_dry_run_writes_only_changes(cohort, no_kernel, k):
    from gradekit.rejudge import rejudge_batch

    cfg, _, out, checks = cohort
    fix_sigmoid_check(checks)
    stamp = (out / "gradebook.csv").read_bytes(), (out / "results.sqlite").stat().st_mtime_ns
    text = rejudge_batch(cfg, out, dry_run=True)
    assert "DRY RUN" in text
    assert k["bob"] in set(pd.read_csv(out / "changes.csv")["student"])
    assert ((out / "gradebook.csv").read_bytes(), (out / "results.sqlite").stat().st_mtime_ns) == stamp


def test_rejudge_names_submissions_whose_probes_changed(cohort, no_kernel, monkeypatch, k):
    from gradekit.grading import Course
    from gradekit.rejudge import rejudge_batch

    cfg, _, out, checks = cohort
    fix_sigmoid_check(checks)
    monkeypatch.setattr(Course, "probes_hash", property(lambda self: "probes-edited"))
    before = gradebook(out)
    text = rejudge_batch(cfg, out)
    assert "4 submission(s) left alone, they need `gradekit grade` again" in text
    assert all(f"  {key}: the probes changed since it ran" in text for key in k.values())
    assert pd.read_csv(out / "changes.csv").empty
    pd.testing.assert_frame_equal(gradebook(out), before)


def test_grade_takes_the_fast_path_when_only_checks_changed(cohort, no_kernel, k):
    from gradekit.batch import grade_batch

    cfg, subs, out, checks = cohort
    fix_sigmoid_check(checks)
    text = grade_batch(cfg, [subs], out, roster=subs.parent / "roster.csv", workers=2, progress=False)
    assert text.startswith("graded 0 new or changed submission(s), 0 unchanged (skipped), 4 re-judged from their "
                           "stored answers"), text
    assert gradebook(out).loc[k["bob"], "sigmoid"] == 2
    text = grade_batch(cfg, [subs], out, roster=subs.parent / "roster.csv", workers=2, progress=False)
    assert "4 unchanged (skipped), 0 re-judged" in text


# -- 3. overrides ------------------------------------------------------------------------------------

def test_override_shows_in_gradebook_feedback_history_and_survives_rejudge(cohort, no_kernel, capsys, k):
    from gradekit.cli import main
    from gradekit.rejudge import rejudge_batch

    cfg, _, out, checks = cohort
    carol = k["carol"]
    before = gradebook(out)
    (out / "overrides.csv").write_text("student,part,points,reason,by\n"
                                       f"{carol},simple_cnn,1.5,\"regrade request #12: layer sizes from the text\",TA Bob\n")
    rejudge_batch(cfg, out)
    after = gradebook(out)
    assert after.loc[carol, "simple_cnn"] == 1.5
    assert after.loc[carol, "total"] == before.loc[carol, "total"] - before.loc[carol, "simple_cnn"] + 1.5
    assert after.loc[carol, "overrides"] == "simple_cnn: regrade request #12: layer sizes from the text"
    assert after.loc[k["alice"], "overrides"] == ""
    changes = pd.read_csv(out / "changes.csv")
    assert changes.to_dict("records") == [{"student": carol, "part": "simple_cnn",
                                           "old": before.loc[carol, "simple_cnn"], "new": 1.5}]
    page = (out / "feedback" / f"{carol}.html").read_text()
    assert "regrade request #12: layer sizes from the text" in page and "Changed by the teaching team" in page
    upload = (out / "blackboard_upload.xls").read_text(encoding="utf-16")
    assert f"{carol}\t{after.loc[carol, 'total']:g}" in upload
    # the override survives a later re-judge after a check fix
    fix_sigmoid_check(checks)
    rejudge_batch(cfg, out)
    assert gradebook(out).loc[carol, "simple_cnn"] == 1.5
    assert main(["history", carol, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "override" in text and "regrade request #12" in text and "by TA Bob" in text
    # deleting the line removes the override, and the history says so
    (out / "overrides.csv").write_text("student,part,points,reason\n")
    rejudge_batch(cfg, out)
    assert gradebook(out).loc[carol, "simple_cnn"] == before.loc[carol, "simple_cnn"]
    with store_of(out) as store:
        assert store.history(carol)[-1].parts[0].why == "override removed"


def test_bad_override_is_refused_and_nothing_is_written(cohort, no_kernel, k):
    from gradekit.batch import grade_batch
    from gradekit.overrides import OverrideError
    from gradekit.rejudge import rejudge_batch

    cfg, subs, out, checks = cohort
    fix_sigmoid_check(checks)       # there would be changes to write
    (out / "overrides.csv").write_text("student,part,points,reason\n"
                                       f"{k['carol']},simple_cnn,1,fine\n"
                                       "mallory,sigmoid,1,unknown student\n"
                                       f"{k['bob']},sigmoid,3,over the maximum\n"
                                       f"{k['bob']},backprop,1,unknown part\n")
    def outputs():
        return {p: p.read_bytes() for p in out.rglob("*")
                if p.is_file() and "intake" not in p.parts and not p.name.startswith("results.sqlite")}

    def stored():
        with store_of(out) as store:
            return [r.to_json() for r in store.all()], {k: store.history(k) for k in store.keys()}

    files, results = outputs(), stored()
    for run in (lambda: rejudge_batch(cfg, out), lambda: grade_batch(cfg, [subs], out, roster=subs.parent / "roster.csv", workers=1, progress=False)):
        with pytest.raises(OverrideError) as e:
            run()
        msg = str(e.value)
        assert "line 3: unknown student 'mallory'" in msg and "line 4: points 3 outside 0..2 for sigmoid" in msg
        assert "line 5: unknown part 'backprop'" in msg and "line 2" not in msg
    assert outputs() == files and stored() == results


# -- 4./5. the notebook as it ran, and history -------------------------------------------------------

def test_history_prints_trail_provenance_and_links_a_safe_notebook(cohort, capsys, k):
    from html.parser import HTMLParser

    from gradekit.cli import main
    from gradekit.notebook_html import CSP

    _, _, out, _ = cohort
    assert main(["history", k["alice"], "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "graded" in text and "first grading" in text and "probe_seed:" in text and "checks_hash:" in text
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("executed notebook: file://"))
    page = Path(link.removeprefix("file://")).read_text()

    class Audit(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.bad = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            for name, value in attrs:
                if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                    self.bad.append((tag, name, value))
            if tag in ("script", "iframe", "object", "embed", "svg", "base", "form"):
                self.bad.append((tag,))

    audit = Audit()
    audit.feed(page)
    assert audit.bad == [] and audit.tags[:3] == ["html", "head", "meta"]
    assert f'content="{CSP.replace(chr(39), "&#x27;")}"' in page
    assert "script-src &#x27;none&#x27;" in page
    assert "&lt;script&gt;document.title" in page         # the printed payload, shown as text
    assert "ZeroDivisionError" in page and "this cell raised an error" in page
    assert "output of type text/html not shown" in page
    assert "output of type application/javascript not shown" in page


def test_history_of_unknown_student(cohort, capsys):
    from gradekit.cli import main

    _, _, out, _ = cohort
    assert main(["history", "nobody", "--out", str(out)]) == 2
    assert "no student 'nobody'" in capsys.readouterr().err


def test_students_get_their_notebook_when_the_setting_says_so(cohort, no_kernel, k):
    from gradekit.rejudge import rejudge_batch

    cfg, _, out, _ = cohort
    alice = k["alice"]
    assert not (out / "feedback" / f"{alice}.notebook.html").exists()     # off by default
    rejudge_batch(cfg.with_(students_see_notebook=True), out)
    page = (out / "feedback" / f"{alice}.html").read_text()
    assert f'href="{alice}.notebook.html"' in page
    assert "Content-Security-Policy" in (out / "feedback" / f"{alice}.notebook.html").read_text()
