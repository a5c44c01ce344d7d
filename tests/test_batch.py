"""`gradekit grade` end to end on a fabricated LMS bulk download (tiny profile): one row per student,
statuses, a roster mismatch, a student without submission, resumability and the outputs.

The cohort is graded once, the way a TA's batch can go: `gradekit grade` is SIGKILLed (its whole
process group) once some results are stored, and run again; the tests read what that left."""
import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from conftest import ROOT

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def cohort_zip(tmp_path_factory, tiny_cfg, course):
    from gradekit.demo import demo_cohort, write_cohort

    cohort = demo_cohort(tiny_cfg, course)
    assert [s.username for s in cohort if not s.attempts] == ["gnoether"]
    folder = tmp_path_factory.mktemp("subs")
    zpath, rpath = write_cohort(cohort, folder, lms_assignment=course.module.LMS_ASSIGNMENT)
    # a roster mismatch: the roster says bclark's CID is something else
    with open(rpath, newline="") as f:
        rows = list(csv.reader(f))
    for row in rows:
        if row[0] == "bclark":
            row[2] = "9999999"
    with open(rpath, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    # a zip-slip entry and a non-notebook file ride along in the same download
    with zipfile.ZipFile(zpath, "a") as z:
        z.writestr("../../evil.ipynb", "{}")
        z.writestr("Exercise 6 ANN_zed_attempt_2026-11-20-10-00-00_notes.pdf", b"%PDF-1.4")
    return zpath, rpath


def private_config(folder: Path, cfg) -> Path:
    """The repository's gradekit.toml in `folder` (the course's folders linked beside it), but for two
    settings, as the session's tiny_cfg has them: the session's cache, not the checkout's .gradekit-cache
    (warm in a developer's checkout, cold in CI's: the run would depend on it), and no time budgets
    (each session would first time the honest notebook; tests/test_budgets.py tests them)."""
    text = (ROOT / "gradekit.toml").read_text(encoding="utf-8")
    for key, value in (("cache", json.dumps(str(cfg.cache))), ("budget_factor", "0")):
        text, n = re.subn(rf"(?m)^{key} = \S+", f"{key} = {value}", text)
        assert n == 1, f"gradekit.toml has no single '{key} = ...' line to replace"
    folder.mkdir(parents=True, exist_ok=True)
    for rel in {cfg.source.relative_to(ROOT).parts[0], cfg.release.relative_to(ROOT).parts[0],
                cfg.checks.relative_to(ROOT).parts[0]}:
        (folder / rel).symlink_to(ROOT / rel)
    (folder / "gradekit.toml").write_text(text, encoding="utf-8")
    return folder / "gradekit.toml"


@pytest.fixture(scope="module")
def killed_then_resumed(cohort_zip, tmp_path_factory, tiny_cfg):
    """`gradekit grade` killed once some results are stored, then run again to the end."""
    zpath, rpath = cohort_zip
    out = tmp_path_factory.mktemp("batch") / "out"
    config = private_config(out.parent / "course", tiny_cfg)
    argv = [sys.executable, "-m", "gradekit", "--config", str(config), "grade", str(zpath), "--roster", str(rpath),
            "--out", str(out), "--profile", "tiny", "--workers", "2", "--quiet", "--cell-timeout", "30",
            "--notebook-timeout", "240"]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    rows, killed = 0, False
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        try:
            with sqlite3.connect(out / "results.sqlite") as db:
                rows = db.execute("select count(*) from results").fetchone()[0]
        except sqlite3.Error:
            continue
        if rows >= 3:      # the roster's no-submission row plus at least two more
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait(timeout=60)
    resumed = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    return SimpleNamespace(argv=argv, out=out, rows=rows, killed=killed, resumed=resumed, killed_pid=proc.pid)


def test_batch_killed_midway_resumes_to_the_same_gradebook(tiny_cfg, killed_then_resumed):
    """SIGKILL the whole `gradekit grade` process group once some results are stored; the re-run
    grades only what is missing and the gradebook has exactly one row per student."""
    from gradekit.judge import course_points

    run = killed_then_resumed
    assert run.killed and run.rows >= 3, "the batch never stored results, or finished before the kill"
    resumed = run.resumed
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "graded" in resumed.stdout and "unchanged (skipped)" in resumed.stdout
    n_new = int(resumed.stdout.split("graded ")[1].split(" new")[0])
    # what the killed process left in the temp folder (its batch root, its worker server's socket
    # folder) was swept by the re-run
    import tempfile

    left = [p.name for p in Path(tempfile.gettempdir()).glob(f"gradekit-*-{run.killed_pid}-*")]
    assert left == [], left
    assert n_new < 7, "the re-run graded everything again: finished results were lost"
    df = pd.read_csv(run.out / "gradebook.csv")
    assert sorted(df["student"]) == ["aturing", "bclark", "cdarwin", "dfranklin", "ehopper", "flovelace", "gnoether", "zed"]
    assert df.set_index("student").loc["aturing", "total"] == sum(course_points(tiny_cfg).values())


def test_batch_gradebook_and_resume(tiny_cfg, killed_then_resumed):
    from gradekit.judge import course_points

    out, summary = killed_then_resumed.out, killed_then_resumed.resumed.stdout
    assert killed_then_resumed.resumed.returncode == 0, killed_then_resumed.resumed.stderr[-3000:]
    df = pd.read_csv(out / "gradebook.csv").set_index("student")
    assert sorted(df.index) == ["aturing", "bclark", "cdarwin", "dfranklin", "ehopper", "flovelace", "gnoether",
                                "zed"]
    # zed uploaded only a PDF: a row saying so (intake's Refused), not a silently missing student
    assert df.loc["zed", "status"] == "invalid_notebook" and "not a notebook (.pdf file)" in df.loc["zed", "message"]
    assert df.loc["aturing", "total"] == df.loc["aturing", "max_total"] == sum(course_points(tiny_cfg).values())
    assert df.loc["aturing", "status"] == "graded"
    assert df.loc["bclark", "lr_sweep"] == 0 and "cid_mismatch_roster" in df.loc["bclark", "flags"]   # a wrong sweep
    assert df.loc["cdarwin", "perceptron"] == 2 and df.loc["cdarwin", "sigmoid"] == 0
    assert df.loc["dfranklin", "status"] == "no_cid"
    assert df.loc["ehopper", "status"] == "invalid_notebook" and pd.isna(df.loc["ehopper", "perceptron"])
    assert pd.isna(df.loc["ehopper", "total"]) and pd.isna(df.loc["gnoether", "total"])     # blank, never 0
    assert df.loc["gnoether", "status"] == "no_submission"
    assert df.loc["flovelace", "file"] == "ann_final.ipynb" and df.loc["flovelace", "sigmoid"] == 1
    assert "evil" in summary and not any((up / "evil.ipynb").exists() for up in (out, out.parent, out.parent.parent))
    assert (out / "report.html").stat().st_size > 10_000 and "data:image/png;base64" in (out / "report.html").read_text()
    feedback = (out / "feedback" / "aturing.html").read_text()
    assert "data:image/png;base64" in feedback
    assert (out / "gradebook.parquet").exists()
    upload = (out / "blackboard_upload.xls").read_text(encoding="utf-16").splitlines()
    assert upload[0] == f"Username\t{tiny_cfg.assignment}" and "NEW text column" in summary
    uploaded = {line.split("\t")[0] for line in upload[1:]}
    assert uploaded == {"aturing", "cdarwin", "flovelace"}      # no_cid, roster mismatch, ungraded: held back
    review = (out / "blackboard_review.tsv").read_text(encoding="utf-8-sig")
    for key in ("bclark", "dfranklin", "ehopper", "gnoether", "zed"):
        assert f"\n{key}\t" in review, key
    for name in ("gradebook.csv", "blackboard_upload.xls", "blackboard_feedback.xls", "blackboard_review.tsv",
                 "report.html"):
        assert name in summary, name

    again = subprocess.run(killed_then_resumed.argv, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.startswith("graded 0 new or changed submission(s), 7 unchanged"), again.stdout[:500]
    pd.testing.assert_frame_equal(pd.read_csv(out / "gradebook.csv").set_index("student"), df)
