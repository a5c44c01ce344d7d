"""gradekit's command line: parses arguments and calls the engine.  Nothing else lives here."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import GradekitError, SandboxUnavailable

UNSAFE_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
WARNING: --unsafe-no-sandbox: student code runs with YOUR permissions, can read the checks, the
reference, other submissions and the gradebook, and can use the network. Use it only for your own
notebooks, never for submissions.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


def _config(args, need_sandbox: bool = True):
    from .config import load_config

    cfg = load_config(args.config)
    changes = {}
    if getattr(args, "profile", None):
        changes["profile"] = args.profile
    if getattr(args, "unsafe_no_sandbox", False):
        print(UNSAFE_WARNING, file=sys.stderr)
        changes["sandbox"] = False
    for name in ("cell_timeout", "notebook_timeout"):
        value = getattr(args, name, None)
        if value:
            from dataclasses import replace
            changes["limits"] = replace(changes.get("limits", cfg.limits), **{f"{name}_s": value})
    cfg = cfg.with_(**changes)
    if cfg.sandbox and need_sandbox:
        from .sandbox import sandbox_self_test

        problem = sandbox_self_test()
        if problem:
            raise SandboxUnavailable(
                f"the sandbox does not work here: {problem}\n"
                "Install bubblewrap (`apt-get install bubblewrap`, as root) — or, for your OWN notebooks only, "
                "pass --unsafe-no-sandbox.")
    return cfg


def _add_grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="exercise/data profile from the checks folder's profiles.toml")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run student code WITHOUT the sandbox (loud warning; your own notebooks only)")
    p.add_argument("--cell-timeout", type=float, help="seconds per cell (default from gradekit.toml)")
    p.add_argument("--notebook-timeout", type=float, help="seconds per notebook (default from gradekit.toml)")


def cmd_release(args) -> int:
    from .config import load_config
    from .release import generate_release

    cfg = load_config(args.config)
    out = generate_release(cfg.root)
    print(f"release written to {out}")
    return 0


def cmd_validate(args) -> int:
    from .validate import validate_assignment

    cfg = _config(args)
    report = validate_assignment(cfg, workers=args.workers)
    print(report.text)
    return 0 if report.ok else 1


def cmd_check(args) -> int:
    from .grading import Course
    from .selfcheck import self_check, to_stderr

    cfg = _config(args)
    text, ok = self_check(Path(args.notebook), Course(cfg), progress=to_stderr)
    print(text)
    return 0 if ok else 1


def cmd_grade_one(args) -> int:
    from .grading import Course
    from .selfcheck import grade_one_table, to_stderr

    cfg = _config(args)
    text, result = grade_one_table(Path(args.notebook), Course(cfg), key=args.key, progress=to_stderr)
    print(text)
    return 0


def cmd_grade(args) -> int:
    from .batch import grade_batch

    cfg = _config(args)
    summary = grade_batch(cfg, [Path(p) for p in args.submissions], Path(args.out),
                          roster=Path(args.roster) if args.roster else None,
                          workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                          lms_column=args.lms_column, release_feedback=args.release_feedback)
    print(summary)
    return 0


def cmd_rejudge(args) -> int:
    from .rejudge import rejudge_batch

    cfg = _config(args, need_sandbox=False)
    print(rejudge_batch(cfg, Path(args.out), dry_run=args.dry_run, workers=args.workers))
    return 0


def cmd_history(args) -> int:
    from .history import show_history

    print(show_history(Path(args.out), args.student))
    return 0

def cmd_precompute(args) -> int:
    from .config import load_config
    from .precompute import precompute_roster

    cfg = load_config(args.config)          # no sandbox: only the trusted reference runs here
    if args.profile:
        cfg = cfg.with_(profile=args.profile)
    summary = precompute_roster(cfg, Path(args.roster), workers=args.workers, progress=not args.quiet)
    print(summary.text())
    return 0 if summary.ok else 1


def cmd_demo(args) -> int:
    from .demo import run_demo

    cfg = _config(args)
    return run_demo(cfg, Path(args.out), n_students=args.students, workers=args.workers)


def cmd_corpus(args) -> int:
    from .corpus import main as corpus_main

    argv = ["--out", args.out, "--workers", str(args.workers)]
    if args.config:
        argv += ["--config", str(args.config)]
    return corpus_main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradekit", description=__doc__)
    parser.add_argument("--config", type=Path, help="gradekit.toml (default: found from the current folder up)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="generate the student release from the source notebook (nbgrader)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("validate", help="prove the assignment: source full marks, release zero, every seeded bug caught")
    _add_grading_options(p)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("check", help="student self-check: run the visible checks on your notebook")
    p.add_argument("notebook")
    _add_grading_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade-one", help="grade one submission with every check and print the table")
    p.add_argument("notebook")
    p.add_argument("--key", help="student key for the result (default: file name)")
    _add_grading_options(p)
    p.set_defaults(func=cmd_grade_one)

    p = sub.add_parser("grade", help="batch-grade folders, notebooks or LMS zips into a gradebook")
    p.add_argument("submissions", nargs="+", help="folders, .ipynb files or bulk-download .zip files")
    p.add_argument("--out", required=True, help="output folder (store, gradebook, feedback, report)")
    p.add_argument("--roster", help="roster CSV (student id, name, CID)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786); default: local pool")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--lms-column", help="the Grade Centre column header, ID included, e.g. "
                                        "'Exercise 6 [Total Pts: 12 Score] |123456' (default: [lms] column)")
    p.add_argument("--release-feedback", action="store_true",
                   help="show hidden checks' messages in the feedback now, before the last deadline has passed")
    _add_grading_options(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("rejudge", help="judge every stored answer again with the current checks (runs no notebook)")
    p.add_argument("--out", required=True, help="the output folder of an earlier `gradekit grade`")
    p.add_argument("--dry-run", action="store_true",
                   help="only write DIR/changes.csv and print the summary; store and outputs unchanged")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the feedback pages")
    p.add_argument("--profile", help="exercise/data profile (must be the one the cohort was graded with)")
    p.set_defaults(func=cmd_rejudge)

    p = sub.add_parser("history", help="one student's marks over time, the provenance, the executed notebook")
    p.add_argument("student", help="the student key (the gradebook's `student` column)")
    p.add_argument("--out", required=True, help="the output folder of `gradekit grade`")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("precompute", help="before the deadline: every roster CID's reference values into the "
                                          "cache, so grading only reads them (parallel, resumable)")
    p.add_argument("--roster", required=True, help="roster CSV (student id, name, CID), as for `grade`")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="single-threaded worker processes")
    p.add_argument("--profile", help="exercise/data profile: the one you will grade with")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_precompute)

    p = sub.add_parser("corpus", help="grade the hostile-submission corpus; prints escapes, marks gained, rows lost")
    p.add_argument("--out", default="corpus-out")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("demo", help="release -> demo cohort -> gradebook, on the bundled example")
    p.add_argument("--out", default="demo-out")
    p.add_argument("--students", type=int, default=6)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    _add_grading_options(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GradekitError as e:
        print(f"gradekit: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradekit: interrupted; finished results are kept in the store", file=sys.stderr)
        return 130
