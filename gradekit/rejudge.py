"""`gradekit rejudge`: judge every stored answer again with the current checks; run no notebook.

For a check fixed after release.  Each graded submission's probe answers are kept in the store
with its result; here they go through the same judging as at grading time (the current checks and
reference, the run's own probe parameters), and the current ``overrides.csv`` is applied on top.
A submission whose probes changed since it ran (``probes_hash``), or that keeps no answers, is
named and left alone: it needs ``gradekit grade`` again.  ``DIR/changes.csv`` lists every part
whose points moved; the gradebook, upload, feedback and report are rebuilt (not with ``--dry-run``,
which changes nothing but ``changes.csv``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import Config
from .model import Status, SubmissionResult

CHANGES_CSV = "changes.csv"
CHANGES_COLUMNS = ("student", "part", "old", "new")
#: Never judged: nothing was run, so there is nothing to judge again.
NOTHING_TO_JUDGE = frozenset({Status.NO_SUBMISSION})


@dataclass
class RejudgeSummary:
    rejudged: list[str] = field(default_factory=list)
    changes: list[tuple[str, str, float | None, float | None]] = field(default_factory=list)
    need_grade: list[tuple[str, str]] = field(default_factory=list)   # (student, why)
    failed: list[tuple[str, str]] = field(default_factory=list)       # (student, grader error)
    seconds: float = 0.0

    def deltas(self) -> dict[str, float]:
        """Total change per student whose marks moved."""
        out: dict[str, float] = {}
        for student, _, old, new in self.changes:
            out[student] = out.get(student, 0.0) + (new or 0.0) - (old or 0.0)
        return out


def part_changes(old: SubmissionResult, new: SubmissionResult) -> list[tuple[str, str, float | None, float | None]]:
    """(student, part, old, new) for every part whose points differ (pure)."""
    before, after = old.part_points(), new.part_points()
    return [(new.key, p, before.get(p), after.get(p)) for p in dict.fromkeys([*before, *after])
            if before.get(p) != after.get(p)]


def why_not_rejudged(result: SubmissionResult, probes_hash: str) -> str | None:
    """Why a stored result cannot be judged again from its answers (None: it can)."""
    if not result.answers or not isinstance((result.provenance or {}).get("run"), dict):
        return "no stored answers (graded before answers were kept, or the grader failed)"
    if result.provenance.get("probes_hash") != probes_hash:
        return "the probes changed since it ran"
    return None


def write_changes(changes, out_dir: Path) -> Path:
    """DIR/changes.csv; student keys are untrusted text, escaped by the gradebook's one helper."""
    from .escape import write_csv

    return write_csv(Path(out_dir) / CHANGES_CSV, pd.DataFrame(changes, columns=list(CHANGES_COLUMNS)),
                     ("student", "part"))


def rejudge_store(store, course, overrides, *, dry_run: bool) -> RejudgeSummary:
    """Judge every stored result's answers again (store it unless ``dry_run``)."""
    from .grading import rejudge_result
    from .history import REJUDGED
    from .overrides import apply_overrides

    from .executors import single_thread

    single_thread()   # a reference value recomputed here must match the grading workers' (one thread)
    summary = RejudgeSummary()
    t0 = time.perf_counter()
    for old in store.all():
        if old.status in NOTHING_TO_JUDGE:
            continue
        why = why_not_rejudged(old, course.probes_hash)
        if why is not None:
            summary.need_grade.append((old.key, why))
            new = apply_overrides(old, overrides)        # left alone, but overrides.csv still applies
            summary.changes += part_changes(old, new)
            if new is not old and not dry_run:
                store.put(new, event="override")
            continue
        new = rejudge_result(old, course)
        if new is None or new.status == Status.ERROR:
            summary.failed.append((old.key, new.message if new is not None else "no answers"))
            continue
        new = apply_overrides(new, overrides)
        summary.rejudged.append(old.key)
        summary.changes += part_changes(old, new)
        if not dry_run:
            store.put(new, event=REJUDGED)
    summary.seconds = time.perf_counter() - t0
    return summary


def summary_text(s: RejudgeSummary, out_dir: Path, dry_run: bool) -> str:
    deltas = s.deltas()
    moved = {k: d for k, d in deltas.items()}
    lines = [f"re-judged {len(s.rejudged)} submission(s) from their stored answers in {s.seconds:.1f} s "
             f"(no notebook was run){'; DRY RUN: nothing stored, no output rebuilt' if dry_run else ''}",
             f"{len(moved)} student(s) changed: "
             f"{sum(1 for d in moved.values() if d > 0)} up, {sum(1 for d in moved.values() if d < 0)} down, "
             f"total points {sum(moved.values()):+g}"]
    for k in sorted(moved, key=lambda k: (-abs(moved[k]), k))[:20]:
        parts = ", ".join(f"{p} {o if o is not None else '-'}->{n if n is not None else '-'}"
                          for st, p, o, n in s.changes if st == k)
        lines.append(f"  {k}: {moved[k]:+g} ({parts})")
    if len(moved) > 20:
        lines.append(f"  ... and {len(moved) - 20} more: see {out_dir / CHANGES_CSV}")
    if s.need_grade:
        lines.append(f"{len(s.need_grade)} submission(s) left alone, they need `gradekit grade` again:")
        lines += [f"  {k}: {why}" for k, why in s.need_grade]
    if s.failed:
        lines.append(f"{len(s.failed)} submission(s) could not be re-judged (kept as they were):")
        lines += [f"  {k}: {msg}" for k, msg in s.failed]
    lines.append(f"changes: {out_dir / CHANGES_CSV}")
    return "\n".join(lines)


def rejudge_batch(cfg: Config, out_dir: Path, *, dry_run: bool = False, workers: int = 1) -> str:
    """The command: see the module docstring."""
    from .batch import load_overrides, write_outputs
    from .gradebook import is_graded
    from .grading import Course
    from .store import ResultStore

    course = Course(cfg)
    with ResultStore(out_dir, readonly=dry_run) as store:
        stored = store.all()
        if not stored:
            return f"nothing to re-judge: no graded submissions in {store.path}"
        overrides = load_overrides(out_dir, {r.key: is_graded(r) for r in stored}, course)
        summary = rejudge_store(store, course, overrides, dry_run=dry_run)
        write_changes(summary.changes, out_dir)
        if not dry_run:
            from .publish import PublishMeta

            write_outputs(cfg, course, sorted(store.all(), key=lambda r: r.key), out_dir, store=store,
                          meta=PublishMeta.load(out_dir), workers=workers, timings={"re-judge": summary.seconds})
    return summary_text(summary, out_dir, dry_run)
