"""`gradekit grade`: a folder/zip of submissions -> store -> gradebook, feedback and class report.

Resumable: each result is committed to the SQLite store as it arrives; a re-run grades only the
submissions whose bytes or checks changed.  Only this process writes the store.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field, replace
from datetime import timezone
from pathlib import Path

from .config import Config
from .integrity import INTEGRITY_CSV
from .model import Status, Submission, SubmissionResult
from .policy import aware
from .publish import PublishInputs, PublishMeta, Timing

MISTAKES_CSV = "mistakes.csv"


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="nb", desc="grading", disable=not enabled, dynamic_ncols=True)


@dataclass
class Collected:
    """What intake hands to grading: one Submission per student (plus, for attempt = "best", one per
    earlier attempt), what was skipped, the roster's students without a submission, and when each
    submission arrived."""

    subs: list[Submission]
    skipped: list = field(default_factory=list)                 # [(name, reason)]
    missing: list[SubmissionResult] = field(default_factory=list)
    roster: object = None                                       # intake.Roster | None
    timings: dict[str, Timing] = field(default_factory=dict)   # by submission key
    attempts: dict[str, str] = field(default_factory=dict)     # earlier attempt's key -> student key


def item_timing(item, zone: str) -> Timing:
    """The LMS attempt stamp (read in the platform's zone), else the file's modification time."""
    if item.attempt_time is not None:
        return Timing(aware(item.attempt_time, zone).astimezone(timezone.utc), "lms")
    if item.file_time is not None:
        return Timing(aware(item.file_time, zone).astimezone(timezone.utc), "mtime")
    return Timing(None)


def collect_submissions(cfg: Config, inputs: list[Path], workdir: Path, roster: Path | None) -> Collected:
    """Intake: expand folders/zips, read each notebook, join the roster, note submission times."""
    from .intake import expand_inputs, match_roster, read_item, read_roster, refused_submission
    from .intake.flags import add_flags

    intake = expand_inputs(inputs, workdir, all_attempts=cfg.policy.attempt == "best")
    max_bytes = int(cfg.limits.max_notebook_mb * 1024 * 1024)
    primary = [i for i in intake.items if i.attempt_of is None]
    earlier = [i for i in intake.items if i.attempt_of is not None]
    subs: list[Submission] = [read_item(item, cid_placeholder=cfg.cid_placeholder, max_bytes=max_bytes)
                              for item in primary]
    subs += [refused_submission(r) for r in intake.refused]   # one row each, saying why
    timings = [item_timing(i, cfg.lms.timezone) for i in primary] + [Timing(None)] * len(intake.refused)
    out = Collected(subs, list(intake.skipped))
    if roster is not None:
        out.roster = read_roster(roster)
        subs, missing = match_roster(subs, out.roster)
        for entry in missing:
            out.missing.append(SubmissionResult(
                key=entry.key, file="", name=entry.name, cid=entry.cid, status=Status.NO_SUBMISSION,
                message="on the roster, but no submission was found"))
    if cfg.policy.deadline is not None:       # a file time decides lateness: say so
        subs = [replace(s, flags=add_flags(s.flags, "submitted_at_from_mtime")) if t.source == "mtime" else s
                for s, t in zip(subs, timings)]
    out.subs = subs
    out.timings = {s.key: t for s, t in zip(subs, timings)}
    renamed = {item.key: sub.key for item, sub in zip(primary, subs)}   # roster matching may rename
    for item in earlier:
        student = renamed.get(item.attempt_of, item.attempt_of)
        key = student + item.key[len(item.attempt_of):]
        sub = read_item(replace(item, key=key), cid_placeholder=cfg.cid_placeholder, max_bytes=max_bytes)
        out.subs.append(sub)
        out.timings[key] = item_timing(item, cfg.lms.timezone)
        out.attempts[key] = student
    return out


def _integrity_pass(results, notebooks: dict[str, str | None], course, out_dir: Path):
    """integrity.csv from the stored results and the submitted notebooks.  Advice for staff: a failure
    leaves (None, reason) and every mark and other output as they are."""
    from .integrity import course_evidence, write_integrity_csv

    try:
        rows = course_evidence(results, notebooks, course)
        write_integrity_csv(rows, out_dir)
        return rows, None
    except Exception as e:  # noqa: BLE001 - see the docstring
        return None, f"{type(e).__name__}: {e}"


def grade_batch(cfg: Config, inputs: list[Path], out_dir: Path, *, roster: Path | None = None,
                workers: int = 1, scheduler: str | None = None, progress: bool = True,
                lms_column: str | None = None, release_feedback: bool = False) -> str:
    """Grade everything in ``inputs`` into ``out_dir``; returns the run's summary (files written,
    status counts, what a TA must know before uploading).  ``lms_column`` overrides ``[lms] column``;
    ``release_feedback`` shows hidden checks' messages before the last deadline."""
    from .grading import Course
    from .ordering import longest_first
    from .overrides import apply_overrides
    from .store import CURRENT, REJUDGE, ResultStore

    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    course = Course(cfg)
    collected = collect_submissions(cfg, inputs, out_dir / "intake", roster)
    subs, skipped, missing = collected.subs, collected.skipped, collected.missing
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
        meta = PublishMeta(collected.timings, collected.attempts, roster)
        meta.save(out_dir)                       # `gradekit rejudge` publishes with the same times and roster
        timings = {"intake": t_intake, "grading (all workers, wall)": t_grading}
        pub = write_outputs(cfg, course, results, out_dir, store=store, meta=meta, roster=collected.roster,
                            workers=workers, lms_column=lms_column, release_feedback=release_feedback,
                            timings=timings, notebooks={s.key: s.notebook_json for s in subs})

    unchanged = len(subs) - len(todo) - rejudged
    lines = [f"graded {len(todo)} new or changed submission(s), {unchanged} unchanged (skipped), "
             f"{rejudged} re-judged from their stored answers (only the checks changed), "
             f"{len(missing)} on the roster without a submission; {len(skipped)} input file(s) skipped"]
    for name, reason in skipped:
        lines.append(f"  skipped {name}: {reason}")
    if collected.roster is not None:
        lines += [f"  roster: {p}" for p in collected.roster.problems]
    lines += pub.lines
    lines.append(f"wall time {time.perf_counter() - t_start:.1f} s")
    return "\n".join(lines)


def load_overrides(out_dir: Path, students: dict[str, bool], course):
    """``out_dir/overrides.csv`` validated against these students and the course's parts ({} when
    there is no file); raises OverrideError (nothing written) on any bad line."""
    from .overrides import OVERRIDES_CSV, read_overrides_file

    if not (out_dir / OVERRIDES_CSV).is_file():
        return {}
    from .judge import course_points

    return read_overrides_file(out_dir, students, course_points(course.cfg.checks))


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
                  meta: "PublishMeta", roster=None, workers: int = 1, lms_column: str | None = None,
                  release_feedback: bool = False, timings: dict[str, float] | None = None,
                  notebooks: dict[str, str | None] | None = None):
    """Every output of a run, from ``results``: mistakes.csv and the integrity evidence (staff only),
    then gradekit.publish (the late-work policy, the LMS upload, feedback pages, the class report);
    with ``students_see_notebook`` in gradekit.toml, each student's executed notebook next to their
    feedback page.  ``notebooks``: key -> the submitted notebook (for identical code); without them
    (a re-judge) the stored executed notebooks stand in.  Returns the Published summary."""
    from .escape import write_csv
    from .gradebook import mistakes_frame
    from .publish import publish

    write_csv(out_dir / MISTAKES_CSV, mistakes_frame(results), ("student", "part", "mistake"))
    code = notebooks if notebooks is not None else {r.key: store.notebook(r.key) for r in results}
    integrity, integrity_problem = _integrity_pass(results, code, course, out_dir)
    pages: dict[str, str] = {}
    if cfg.students_see_notebook:
        from .notebook_html import write_student_notebooks

        pages = write_student_notebooks(results, store.notebook, out_dir)
    if roster is None and meta.roster is not None and Path(meta.roster).is_file():
        from .intake import read_roster

        roster = read_roster(Path(meta.roster))
    inputs = PublishInputs(results, meta.timings, meta.attempts, roster)
    pub = publish(cfg, inputs, out_dir, parts=course.parts, workers=workers, lms_column=lms_column,
                  release_feedback=release_feedback, timings=timings, notebooks=pages, integrity=integrity)
    if integrity_problem:
        pub.lines.append(f"ERROR: the integrity pass failed (marks and other outputs are complete): "
                         f"{integrity_problem}")
    pub.lines.append(f"mistakes: {out_dir / MISTAKES_CSV}; integrity evidence (staff only): "
                     f"{len(integrity or ())} row(s) in {out_dir / INTEGRITY_CSV}")
    return pub
