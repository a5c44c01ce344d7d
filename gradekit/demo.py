"""`gradekit demo`: the whole job on the bundled example — release -> demo cohort -> gradebook.

The cohort is fabricated from the release by code (see autograder/<assignment>/variants.py) and
packed the way a learning platform's bulk download arrives: one zip with
`<Assignment>_<username>_attempt_<timestamp>_<file>` entries, plus a roster.
"""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import nbformat

from .config import Config

ASSIGNMENT_LMS_NAME = "Exercise 6 ANN"
#: The demo's deadline when gradekit.toml sets none: flovelace's second attempt (17:48 London time on
#: the 21st) is then 5.8 h late and loses 10 % of its points.
DEMO_DEADLINE = "2026-11-21T12:00:00+00:00"


def demo_cohort(cfg: Config, course) -> list[dict]:
    """[{username, name, cid, attempts: [(timestamp, filename, bytes)]}] — a few correct and flawed students."""
    v = course.content_module("variants")
    release = nbformat.read(cfg.release, as_version=4)
    source = nbformat.read(cfg.source, as_version=4)
    profile = course.profile

    def nb_bytes(nb) -> bytes:
        return nbformat.writes(nb).encode()

    def student(**kw):
        return v.student(release, source, profile=profile, **kw)

    everything = dict(fixed=v.BUG_PARTS, solved=v.TASK_PARTS)
    t1, t2 = "2026-11-20-09-15-02", "2026-11-21-17-48-30"
    return [
        {"username": "aturing", "name": "Alan Turing", "cid": 1000001,
         "attempts": [(t1, "ann.ipynb", nb_bytes(student(name="Alan Turing", cid=1000001, **everything)))]},
        {"username": "bclark", "name": "Barbara Clark", "cid": 1000002,
         "attempts": [(t1, "exercise6.ipynb", nb_bytes(v.sweep_without_reinit(
             student(name="Barbara Clark", cid=1000002, **everything))))]},
        {"username": "cdarwin", "name": "Charles Darwin", "cid": 1000003,
         "attempts": [(t1, "ann (1).ipynb", nb_bytes(student(name="Charles Darwin", cid=1000003,
                                                              fixed=["perceptron"])))]},
        {"username": "dfranklin", "name": "Dora Franklin", "cid": 1000004,   # forgot to enter her CID
         "attempts": [(t1, "ann.ipynb", nb_bytes(v.full_marks(release, source, name="Dora Franklin", cid=None,
                                                               profile=profile)))]},
        {"username": "ehopper", "name": "Edith Hopper", "cid": 1000005,      # upload cut short
         "attempts": [(t1, "ann.ipynb", nb_bytes(student(name="Edith Hopper", cid=1000005, **everything))[:5000])]},
        {"username": "flovelace", "name": "Fay Lovelace", "cid": 1000006,    # two attempts: the later counts
         "attempts": [(t1, "ann.ipynb", nb_bytes(student(name="Fay Lovelace", cid=1000006))),
                      (t2, "ann_final.ipynb", nb_bytes(v.sigmoid_not_vectorised(
                          student(name="Fay Lovelace", cid=1000006, **everything))))]},
    ]


def write_cohort(cohort: list[dict], folder: Path, *, extra_roster: list[dict] = ()) -> tuple[Path, Path]:
    """The cohort as an LMS bulk-download zip, and a roster CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    zpath, rpath = folder / "gradebook_download.zip", folder / "roster.csv"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for s in cohort:
            for stamp, fname, data in s["attempts"]:
                stem = f"{ASSIGNMENT_LMS_NAME}_{s['username']}_attempt_{stamp}"
                z.writestr(f"{stem}_{fname}", data)
                z.writestr(f"{stem}.txt", f"Name: {s['name']} ({s['username']})\nAssignment: {ASSIGNMENT_LMS_NAME}\n"
                                          f"Date Submitted: {stamp}\nFiles:\n\tOriginal filename: {fname}\n"
                                          f"\tFilename: {stem}_{fname}\n")
    with open(rpath, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Username", "Name", "CID"])
        for s in list(cohort) + list(extra_roster):
            w.writerow([s["username"], s["name"], s["cid"]])
    return zpath, rpath


def run_demo(cfg: Config, out: Path, *, n_students: int = 6, workers: int = 2) -> int:
    import pandas as pd

    from .batch import grade_batch
    from .grading import Course
    from .release import generate_release

    if cfg.policy.deadline is None:
        from datetime import datetime

        from .policy import LatePolicy
        cfg = cfg.with_(policy=LatePolicy(datetime.fromisoformat(DEMO_DEADLINE), per_day=0.10, max_fraction=1.0))
        print(f"demo deadline {DEMO_DEADLINE}, 10 % off per started day late ([policy] in gradekit.toml sets yours)")
    print(f"1/3 release: {generate_release(cfg.root)}")
    course = Course(cfg)
    cohort = demo_cohort(cfg, course)[:max(1, n_students)]
    zpath, rpath = write_cohort(cohort, out / "submissions",
                                extra_roster=[{"username": "gnoether", "name": "Gita Noether", "cid": 1000007}])
    print(f"2/3 demo cohort: {len(cohort)} students in {zpath} (+ roster {rpath} with one student who did not submit)")
    print("3/3 grading (each notebook runs in the sandbox; reference results are cached per CID)")
    print(grade_batch(cfg, [zpath], out, roster=rpath, workers=workers))
    from .gradebook import read_gradebook

    df = read_gradebook(out / "gradebook.csv")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(df.drop(columns=["message"]).to_string(index=False))
        print()
        print(df[["student", "status", "message"]].to_string(index=False))
    return 0
