"""`gradekit demo`: the whole job on the bundled example — release -> demo cohort -> gradebook.

The cohort comes from the course (its ``demo_cohort`` hook, built from the release by code) and is
packed the way a learning platform's bulk download arrives: one zip with
`<Assignment>_<username>_attempt_<timestamp>_<file>` entries, plus a roster.
"""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import nbformat

from .config import Config
from .errors import SetupError

def demo_cohort(cfg: Config, course) -> list:
    """The course's demo students (its ``demo_cohort`` hook: gradekit.api.DemoStudent)."""
    hook = course.hook("demo_cohort")
    if hook is None:
        raise SetupError(f"{cfg.checks / 'course.py'} has no demo_cohort hook: `gradekit demo` needs one "
                         "(see docs/COURSE.md)")
    release = nbformat.read(cfg.release, as_version=4)
    source = nbformat.read(cfg.source, as_version=4)
    return list(hook(release, source, course.profile))


def write_cohort(students: list, folder: Path, *, lms_assignment: str) -> tuple[Path, Path]:
    """The cohort as an LMS bulk-download zip (``<Assignment>_<username>_attempt_<timestamp>_<file>`` plus
    a receipt per attempt), and a roster CSV of every student (those without attempts too)."""
    folder.mkdir(parents=True, exist_ok=True)
    zpath, rpath = folder / "gradebook_download.zip", folder / "roster.csv"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for s in students:
            for stamp, fname, data in s.attempts:
                stem = f"{lms_assignment}_{s.username}_attempt_{stamp}"
                z.writestr(f"{stem}_{fname}", data)
                z.writestr(f"{stem}.txt", f"Name: {s.name} ({s.username})\nAssignment: {lms_assignment}\n"
                                          f"Date Submitted: {stamp}\nFiles:\n\tOriginal filename: {fname}\n"
                                          f"\tFilename: {stem}_{fname}\n")
    with open(rpath, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Username", "Name", "CID"])
        for s in students:
            w.writerow([s.username, s.name, "" if s.cid is None else s.cid])
    return zpath, rpath


def run_demo(cfg: Config, out: Path, *, n_students: int = 6, workers: int = 2) -> int:
    import pandas as pd

    from .batch import grade_batch
    from .grading import Course
    from .release import generate_release

    course = Course(cfg)
    demo_deadline = getattr(course.module, "DEMO_DEADLINE", None)
    if cfg.policy.deadline is None and demo_deadline:
        from datetime import datetime

        from .policy import LatePolicy
        cfg = cfg.with_(policy=LatePolicy(datetime.fromisoformat(demo_deadline), per_day=0.10, max_fraction=1.0))
        print(f"demo deadline {demo_deadline}, 10 % off per started day late ([policy] in gradekit.toml sets yours)")
    print(f"1/3 release: {generate_release(cfg.root)}")
    students = demo_cohort(cfg, course)
    submitted = [s for s in students if s.attempts][:max(1, n_students)]
    absent = [s for s in students if not s.attempts]
    zpath, rpath = write_cohort(submitted + absent, out / "submissions",
                                lms_assignment=getattr(course.module, "LMS_ASSIGNMENT", cfg.assignment))
    print(f"2/3 demo cohort: {len(submitted)} students in {zpath} (+ roster {rpath}, "
          f"{len(absent)} on it who did not submit)")
    print("3/3 grading (each notebook runs in the sandbox; reference results are cached per CID)")
    print(grade_batch(cfg, [zpath], out, roster=rpath, workers=workers))
    from .gradebook import read_gradebook

    df = read_gradebook(out / "gradebook.csv")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(df.drop(columns=["message"]).to_string(index=False))
        print()
        print(df[["student", "status", "message"]].to_string(index=False))
    return 0
