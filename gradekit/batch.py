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


def grade_batch(cfg: Config, inputs: list[Path], out_dir: Path, *, roster: Path | None = None,
                workers: int = 1, scheduler: str | None = None, progress: bool = True) -> str:
    from .grading import Course
    from .ordering import longest_first
    from .overrides import apply_overrides
    from .store import CURRENT, REJUDGE, ResultStore

    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    course = Course(cfg)
    subs, skipped, missing = collect_submissions(cfg, inputs, out_dir / "intake", roster)
    # Refused before the store is opened: a bad overrides.csv changes nothing.
    overrides = load_overrides(out_dir, {**{s.key: s.notebook_json is not None for s in subs},
                                         **{r.key: False for r in missing}}, course)
    t_intake = time.perf_counter() - t_start

    with ResultStore(out_dir / "results.sqlite") as store:
        need = {s.key: store.need(s.key, s.sha256, course.run_key, course.checks_hash) for s in subs}
        # Only the checks changed: judge the stored answers again, here, without running anything.
        rejudged, todo = 0, []
        if REJUDGE in need.values():
            from .executors import single_thread

            single_thread()   # reference values computed here must match the workers' (one thread)
        for s in subs:
            if need[s.key] == REJUDGE:
                new = rejudge_stored(store, s.key, course, overrides)
                if new is not None:
                    rejudged += 1
                    continue
            if need[s.key] != CURRENT:
                todo.append(s)
        todo = longest_first(todo, cfg.release)
        for r in missing:
            store.put(apply_overrides(r, overrides))
        bar = _progress(len(todo), progress)
        t_grading = time.perf_counter()

        def on_result(result: SubmissionResult) -> None:
            store.put(apply_overrides(result, overrides))  # committed first: a kill loses nothing finished
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
        reapply_overrides(store, overrides)        # unchanged results whose overrides changed
        results = sorted(store.all(), key=lambda r: r.key)
        timings = {"intake": t_intake, "grading (all workers, wall)": t_grading}
        write_outputs(cfg, course, results, out_dir, store=store, workers=workers, timings=timings)

    unchanged = len(subs) - len(todo) - rejudged
    lines = [f"graded {len(todo)} new or changed submission(s), {unchanged} unchanged (skipped), "
             f"{rejudged} re-judged from their stored answers (only the checks changed), "
             f"{len(missing)} on the roster without a submission; {len(skipped)} input file(s) skipped"]
    for name, reason in skipped:
        lines.append(f"  skipped {name}: {reason}")
    lines.append(f"gradebook: {out_dir / 'gradebook.csv'}  report: {out_dir / 'report.html'}  "
                 f"feedback: {out_dir / 'feedback'}/")
    lines.append(f"wall time {time.perf_counter() - t_start:.1f} s")
    return "\n".join(lines)


def load_overrides(out_dir: Path, students: dict[str, bool], course):
    """``out_dir/overrides.csv`` validated against these students and the course's parts ({} when
    there is no file); raises OverrideError (nothing written) on any bad line."""
    from .overrides import OVERRIDES_CSV, read_overrides_file

    if not (out_dir / OVERRIDES_CSV).is_file():
        return {}
    from .judge import max_points_by_part

    return read_overrides_file(out_dir, students, max_points_by_part(course.cfg.checks))


def rejudge_stored(store, key: str, course, overrides) -> SubmissionResult | None:
    """Judge ``key``'s stored answers again and store the result with the current overrides; None
    (nothing stored) when there are no answers to judge or the grader failed on them."""
    from .grading import rejudge_result
    from .history import REJUDGED
    from .overrides import apply_overrides

    old = store.get(key)
    new = None if old is None else rejudge_result(old, course)
    if new is None or new.status == Status.ERROR:
        return None
    new = apply_overrides(new, overrides)
    store.put(new, event=REJUDGED)
    return new


def reapply_overrides(store, overrides) -> None:
    """Store every result whose overrides differ from the file's (the history records it)."""
    from .overrides import apply_overrides

    for r in store.all():
        new = apply_overrides(r, overrides)
        if new is not r:
            store.put(new, event="override")


def write_outputs(cfg: Config, course, results: list[SubmissionResult], out_dir: Path, *, store,
                  workers: int = 1, timings: dict[str, float] | None = None) -> None:
    """Gradebook (csv, parquet), LMS upload, feedback pages and the class report, from ``results``;
    with ``students_see_notebook`` in gradekit.toml, each student's executed notebook next to their
    feedback page."""
    from .gradebook import to_dataframe, write_gradebook, write_lms_upload
    from .report import write_all_feedback, write_class_report

    t_report = time.perf_counter()
    df = to_dataframe(results, parts=course.parts)
    write_gradebook(df, out_dir)
    max_total = max((r.max_total for r in results), default=0.0)
    write_lms_upload(df, out_dir, assignment=cfg.assignment, points_possible=max_total, column_id=None)
    notebooks = None
    if cfg.students_see_notebook:
        from .notebook_html import write_student_notebooks

        notebooks = write_student_notebooks(results, store.notebook, out_dir)
    write_all_feedback(results, out_dir, assignment=cfg.assignment, workers=workers, notebooks=notebooks)
    timings = {**(timings or {}), "gradebook + feedback (wall)": time.perf_counter() - t_report}
    write_class_report(results, df, out_dir, assignment=cfg.assignment, timings=timings)
