"""After grading: the late-work policy applied, the best attempt chosen, and every output written --
gradebook, Grade Centre upload (+ feedback upload, review file), feedback pages, class report -- with
a summary that lists each file and the status counts.

Each output is written on its own: a failure writing one never stops the others (it is reported in
the summary), so one odd row can never cost every student their feedback.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from .atomic import atomic_write_text
from .config import Config
from .intake.flags import add_flags
from .intake.roster import Roster
from .model import Status, SubmissionResult
from .policy import ON_TIME, Lateness, LatePolicy, best_attempt, hidden_feedback_released, last_deadline, lateness


@dataclass(frozen=True)
class Timing:
    """When one submission (or attempt) arrived, as intake saw it."""

    submitted_at: datetime | None          # aware
    source: str = ""                       # "lms" | "mtime" | ""


@dataclass(frozen=True)
class PublishInputs:
    results: list[SubmissionResult]        # from the store: students and (attempt = "best") earlier attempts
    timings: Mapping[str, Timing]          # by result key
    attempts: Mapping[str, str] = field(default_factory=dict)   # earlier attempt's key -> student key
    roster: Roster | None = None


@dataclass(frozen=True)
class PublishMeta:
    """What publishing needs from intake besides the results, kept in ``DIR/intake.json`` so that
    `gradekit rejudge` publishes with the same submission times, attempts and roster."""

    timings: Mapping[str, Timing] = field(default_factory=dict)
    attempts: Mapping[str, str] = field(default_factory=dict)
    roster: Path | None = None

    FILE = "intake.json"

    def save(self, out_dir: Path) -> None:
        data = {"timings": {k: [t.submitted_at.isoformat() if t.submitted_at else None, t.source]
                            for k, t in self.timings.items()},
                "attempts": dict(self.attempts),
                "roster": None if self.roster is None else str(Path(self.roster).resolve())}
        atomic_write_text(Path(out_dir) / self.FILE, json.dumps(data, indent=1))

    @classmethod
    def load(cls, out_dir: Path) -> "PublishMeta":
        """The saved meta ({} everywhere when there is none, e.g. a store graded by an older version)."""
        try:
            data = json.loads((Path(out_dir) / cls.FILE).read_text())
            timings = {str(k): Timing(datetime.fromisoformat(v[0]) if v[0] else None, str(v[1]))
                       for k, v in data.get("timings", {}).items()}
            return cls(timings, {str(k): str(v) for k, v in data.get("attempts", {}).items()},
                       Path(data["roster"]) if data.get("roster") else None)
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            return cls()


def with_roster_names(results: Sequence[SubmissionResult], roster: Roster | None) -> list[SubmissionResult]:
    """A result whose notebook gave no name takes the roster's."""
    if roster is None:
        return list(results)
    out = []
    for r in results:
        entry = roster.get(r.key) if not r.name else None
        out.append(replace(r, name=entry.name) if entry is not None and entry.name else r)
    return out


def lateness_of(policy: LatePolicy, key: str, timing: Timing | None, roster: Roster | None) -> Lateness:
    entry = roster.get(key) if roster is not None else None
    t = timing or Timing(None)
    return lateness(policy, t.submitted_at, entry.deadline if entry else None, t.source)


def _after_penalty(r: SubmissionResult, late: Lateness) -> float:
    if r.status not in (Status.GRADED, Status.NO_CID, Status.TIMEOUT, Status.KERNEL_DIED):
        return math.nan
    return r.total - late.penalty(r.total)


def choose_attempts(inputs: PublishInputs, policy: LatePolicy
                    ) -> tuple[list[SubmissionResult], dict[str, Lateness]]:
    """One result per student: the latest attempt, or (``attempt = "best"``) the attempt with the
    highest total after its own penalty -- renamed to the student's key, its flags joined with the
    latest's (roster flags live there) plus ``best_attempt_counted``.  Returns the results and their
    lateness by student key."""
    by_key = {r.key: r for r in inputs.results}
    students = [r for r in inputs.results if r.key not in inputs.attempts]
    chosen: list[SubmissionResult] = []
    late: dict[str, Lateness] = {}
    for r in students:
        own = lateness_of(policy, r.key, inputs.timings.get(r.key), inputs.roster)
        candidates = {r.key: (r, own)}
        for akey, student in inputs.attempts.items():
            if student == r.key and akey in by_key:
                candidates[akey] = (by_key[akey], lateness_of(policy, r.key, inputs.timings.get(akey), inputs.roster))
        win = r.key
        if policy.attempt == "best" and len(candidates) > 1:
            win = best_attempt({k: _after_penalty(res, lt) for k, (res, lt) in candidates.items()}) or r.key
        res, lt = candidates[win]
        if win != r.key:
            stamp = win[len(r.key) + 1:]
            res = replace(res, key=r.key, flags=add_flags(r.flags, *res.flags, "best_attempt_counted"),
                          message=f"the attempt of {stamp} counts (highest total after its late penalty). "
                                  f"{res.message}".strip())
        chosen.append(res)
        late[r.key] = lt
    return chosen, late


def feedback_release(policy: LatePolicy, roster: Roster | None, *, now: datetime | None = None,
                     force: bool = False) -> tuple[bool, datetime | None]:
    """(hidden checks' messages may be shown, the time they may)."""
    extensions = [e.deadline for e in roster.entries] if roster is not None else []
    now = now or datetime.now(timezone.utc)
    return (hidden_feedback_released(policy, extensions, now, force=force),
            last_deadline(policy, extensions))


def _late_note(late: Lateness, penalty: float) -> list[str]:
    if late.deadline is None or late.submitted_at is None or late.late_by_h <= 0:
        return []
    when = late.deadline.strftime("%Y-%m-%d %H:%M UTC")
    return [f"Submitted {late.late_by_h:.1f} h after your deadline ({when}): "
            f"{penalty:g} points deducted for late work." if penalty == penalty else
            f"Submitted {late.late_by_h:.1f} h after your deadline ({when})."]


@dataclass
class Published:
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)    # an output that could not be written, and why
    lines: list[str] = field(default_factory=list)       # for the summary

    def step(self, what: str, fn: Callable[[], object]) -> object:
        """Run one writer; a failure is recorded, never raised (the other outputs still get written)."""
        try:
            return fn()
        except Exception as e:     # noqa: BLE001 -- failures are data: one writer must not stop the rest
            self.problems.append(f"{what} could not be written: {type(e).__name__}: {e}")
            return None


def publish(cfg: Config, inputs: PublishInputs, out_dir: Path, *, parts: Sequence[str], workers: int = 1,
            lms_column: str | None = None, release_feedback: bool = False,
            timings: Mapping[str, float] | None = None, now: datetime | None = None,
            notebooks: Mapping[str, str] | None = None, integrity=None) -> Published:
    """Write every output of a run into ``out_dir``; returns what was written and the summary lines."""
    from .gradebook import to_dataframe, write_gradebook
    from .lms_upload import column_header, feedback_text, write_lms_upload
    from .report import write_all_feedback, write_class_report

    pub = Published()
    results, late = choose_attempts(inputs, cfg.policy)
    results = sorted(with_roster_names(results, inputs.roster), key=lambda r: r.key)
    df = to_dataframe(results, parts=parts, lateness=late)
    released, release_at = feedback_release(cfg.policy, inputs.roster, now=now, force=release_feedback)
    penalty = {r.key: late.get(r.key, ON_TIME).penalty(r.total) for r in results}

    files = pub.step("the gradebook", lambda: write_gradebook(df, out_dir))
    pub.files += list(files or ())

    header, warning = column_header(lms_column or cfg.lms.column, cfg.assignment)
    texts = pub.step("the LMS feedback text", lambda: {
        r.key: feedback_text(r, late.get(r.key, ON_TIME), assignment=cfg.assignment, hidden_released=released,
                             release_at=release_at, parts=parts) for r in results})
    lms = pub.step("the LMS upload", lambda: write_lms_upload(df, out_dir, header=header, warning=warning,
                                                              feedback=texts or {}))
    if lms is not None:
        pub.files += [p for p in (lms.upload, lms.feedback, lms.review) if p is not None]
        pub.lines.append(f"LMS upload: column {header!r}; {lms.uploaded} student(s) uploaded, {lms.held_back} held "
                         f"back (listed with the reason in {lms.review.name})")
    if warning:
        pub.lines.append(f"WARNING: {warning}")

    notes = {}
    for r in results:
        n = _late_note(late.get(r.key, ON_TIME), penalty[r.key])
        if not released and release_at is not None:
            n.append(f"Hidden checks are shown after the last deadline ({release_at:%Y-%m-%d %H:%M %Z}).")
        notes[r.key] = {"hidden_released": released, "penalty": penalty[r.key], "notes": n,
                        "notebook_href": (notebooks or {}).get(r.key), "course_parts": list(parts)}
    pages = pub.step("the feedback pages", lambda: write_all_feedback(results, out_dir, assignment=cfg.assignment,
                                                                      workers=workers, pages=notes,
                                                                      course_dir=cfg.checks))
    if pages:
        pub.files.append(Path(out_dir) / "feedback")
        pub.lines.append(f"feedback pages: {len(pages)} in {Path(out_dir) / 'feedback'}/ "
                         + ("(hidden checks included)" if released else
                            f"(visible checks and totals only until {release_at:%Y-%m-%d %H:%M %Z}; "
                            f"--release-feedback shows hidden checks now)"))
    report = pub.step("the class report", lambda: write_class_report(results, df, out_dir, assignment=cfg.assignment,
                                                                     timings=timings, integrity=integrity,
                                                                     parts=parts))
    if report is not None:
        pub.files.append(report)

    counts = Counter(str(s) for s in df["status"])
    pub.lines.append("status: " + ", ".join(f"{s.value} {counts[s.value]}" for s in Status if counts.get(s.value)))
    if cfg.policy.deadline is not None:
        n_late = int((df["penalty"].fillna(0) > 0).sum())
        pub.lines.append(f"late work: {n_late} student(s) penalised (deadline {cfg.policy.deadline.isoformat()}, "
                         f"{cfg.policy.per_day:g} per started day, at most {cfg.policy.max_fraction:g})")
    pub.lines.append("files written:")
    pub.lines += [f"  {p}" for p in pub.files]
    pub.lines += [f"ERROR: {p}" for p in pub.problems]
    return pub
