"""`gradekit grade`: a folder/zip of submissions -> store -> gradebook, feedback and class report.

Resumable: each result is committed to the SQLite store as it arrives; a re-run grades only the
submissions whose bytes or checks changed.  Only this process writes the store.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path

from .config import Config
from .model import Status, Submission, SubmissionResult

MISTAKES_CSV = "mistakes.csv"


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="nb", desc="grading", disable=not enabled, dynamic_ncols=True)


def collect_submissions(cfg: Config, inputs: list[Path], workdir: Path, roster: Path | None):
    """Intake: expand folders/zips, read each notebook, join the roster.
    Returns (submissions, skipped [(name, reason)], missing roster entries as results)."""
    from .intake import expand_inputs, match_roster, read_item, read_roster, refused_submission

    intake = expand_inputs(inputs, workdir)
    max_bytes = int(cfg.limits.max_notebook_mb * 1024 * 1024)
    subs: list[Submission] = [read_item(item, cid_placeholder=cfg.cid_placeholder, max_bytes=max_bytes)
                              for item in intake.items]
    subs += [refused_submission(r) for r in intake.refused]   # one row each, saying why
    missing_results: list[SubmissionResult] = []
    if roster is not None:
        subs, missing = match_roster(subs, read_roster(roster))
        for entry in missing:
            missing_results.append(SubmissionResult(
                key=entry.key, file="", name=entry.name, cid=entry.cid, status=Status.NO_SUBMISSION,
                message="on the roster, but no submission was found"))
    return subs, list(intake.skipped), missing_results


def _integrity_pass(results, subs, course, out_dir: Path):
    """integrity.csv from the stored results and the submitted notebooks.  Advice for staff: a failure
    leaves (None, reason) and every mark and other output as they are."""
    from .integrity import course_evidence, write_integrity_csv

    try:
        rows = course_evidence(results, {s.key: s.notebook_json for s in subs}, course)
        write_integrity_csv(rows, out_dir)
        return rows, None
    except Exception as e:  # noqa: BLE001 - see the docstring
        return None, f"{type(e).__name__}: {e}"


def grade_batch(cfg: Config, inputs: list[Path], out_dir: Path, *, roster: Path | None = None,
                workers: int = 1, scheduler: str | None = None, progress: bool = True) -> str:
    from .gradebook import mistakes_frame, to_dataframe, write_csv, write_gradebook, write_lms_upload
    from .integrity import INTEGRITY_CSV
    from .grading import Course
    from .ordering import longest_first
    from .report import write_all_feedback, write_class_report
    from .store import ResultStore

    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    course = Course(cfg)
    subs, skipped, missing = collect_submissions(cfg, inputs, out_dir / "intake", roster)
    t_intake = time.perf_counter() - t_start

    with ResultStore(out_dir / "results.sqlite") as store:
        todo = [s for s in subs if not store.is_current(s.key, s.sha256, course.checks_hash)]
        todo = longest_first(todo, cfg.release)
        for r in missing:
            store.put(r)
        bar = _progress(len(todo), progress)
        t_grading = time.perf_counter()

        def on_result(result: SubmissionResult) -> None:
            store.put(result)           # committed before anything else: a kill loses nothing finished
            bar.update(1)
            bar.set_postfix_str(f"{result.key}: {result.status}")

        # Ctrl-C: the executor stops, finished results are already in the store; a re-run resumes.
        previous = signal.getsignal(signal.SIGINT)
        try:
            if scheduler:
                from .distributed import run_dask
                run_dask(todo, cfg, scheduler=scheduler, on_result=on_result)
            else:
                from .executors import run_local
                run_local(todo, cfg, workers=workers, on_result=on_result)
        finally:
            signal.signal(signal.SIGINT, previous)
            bar.close()
        t_grading = time.perf_counter() - t_grading
        keep = {s.key for s in subs} | {r.key for r in missing}
        store.delete_missing(keep)
        results = sorted(store.all(), key=lambda r: r.key)

    t_report = time.perf_counter()
    df = to_dataframe(results, parts=course.parts)
    write_gradebook(df, out_dir)
    write_csv(mistakes_frame(results), out_dir / MISTAKES_CSV)
    integrity, integrity_problem = _integrity_pass(results, subs, course, out_dir)
    max_total = max((r.max_total for r in results), default=0.0)
    write_lms_upload(df, out_dir, assignment=cfg.assignment, points_possible=max_total, column_id=None)
    write_all_feedback(results, out_dir, assignment=cfg.assignment, workers=workers)
    timings = {"intake": t_intake, "grading (all workers, wall)": t_grading,
               "gradebook + feedback (wall)": time.perf_counter() - t_report}
    write_class_report(results, df, out_dir, assignment=cfg.assignment, timings=timings, integrity=integrity)

    lines = [f"graded {len(todo)} new or changed submission(s), {len(subs) - len(todo)} unchanged (skipped), "
             f"{len(missing)} on the roster without a submission; {len(skipped)} input file(s) skipped"]
    for name, reason in skipped:
        lines.append(f"  skipped {name}: {reason}")
    lines.append(f"gradebook: {out_dir / 'gradebook.csv'}  report: {out_dir / 'report.html'}  "
                 f"feedback: {out_dir / 'feedback'}/")
    if integrity_problem:
        lines.append(f"  integrity pass failed (marks and other outputs are complete): {integrity_problem}")
    lines.append(f"mistakes: {out_dir / MISTAKES_CSV}  integrity evidence (staff only): {len(integrity or ())} row(s) "
                 f"in {out_dir / INTEGRITY_CSV}")
    lines.append(f"wall time {time.perf_counter() - t_start:.1f} s")
    return "\n".join(lines)
