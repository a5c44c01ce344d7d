"""The audit trail of a student's marks: what changed, when and why (pure functions, no I/O).

Every change of a student's marks -- the first grading, a re-grade (the notebook ran again), a
re-judge (stored answers judged by changed checks), an override added, changed or removed -- becomes
one :class:`MarkChange`, written by :meth:`gradekit.store.ResultStore.put` in the same transaction
as the result itself, so the trail and the marks never disagree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from .model import Override, SubmissionResult

#: What the caller of ``put`` did; the entry's own ``event`` also says "graded" for a first grading
#: and "override" when every part that moved moved because of an override.
GRADED, REJUDGED = "graded", "rejudged"
EVENT_WHY = {
    GRADED: "the notebook was run and judged again",
    REJUDGED: "the stored answers were judged again by the current checks",
}


@dataclass(frozen=True)
class PartChange:
    part: str
    old: float | None
    new: float | None
    why: str


@dataclass(frozen=True)
class MarkChange:
    at: str
    event: str                   # graded | regraded | rejudged | override
    old_total: float | None
    new_total: float
    old_status: str | None
    new_status: str
    reason: str
    parts: tuple[PartChange, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "MarkChange":
        d = dict(d)
        d["parts"] = tuple(PartChange(**p) for p in d.get("parts", ()))
        return cls(**d)


def _override_text(o: Override) -> str:
    return f"override: {o.reason}" + (f" (by {o.by})" if o.by else "")


def _why(part: str, old: SubmissionResult, new: SubmissionResult, event: str) -> str:
    before, after = old.override_of(part), new.override_of(part)
    if after is not None and after != before:
        return _override_text(after)
    if before is not None and after is None:
        return "override removed"
    return EVENT_WHY.get(event, event)


def mark_change(old: SubmissionResult | None, new: SubmissionResult, event: str, at: str,
                reason: str = "") -> MarkChange | None:
    """The entry to record when ``new`` replaces ``old`` (None: first grading), or None when the
    marks did not change (same points per part, same total, same status, same overrides)."""
    prov = dict(new.provenance or {})
    prov.pop("profile", None)    # the profile's values are long and in the store's result anyway
    if old is None:
        return MarkChange(at, GRADED, None, new.total, None, new.status.value,
                          reason or "first grading", tuple(
                              PartChange(p, None, v, _override_text(new.override_of(p)) if new.override_of(p)
                                         else "first grading") for p, v in new.part_points().items()),
                          prov)
    before, after = old.part_points(), new.part_points()
    parts = tuple(PartChange(p, before.get(p), after.get(p), _why(p, old, new, event))
                  for p in dict.fromkeys([*before, *after])
                  if before.get(p) != after.get(p) or old.override_of(p) != new.override_of(p))
    if not parts and old.status == new.status and old.total == new.total:
        return None
    kind = "regraded" if event == GRADED else event
    if parts and all(pc.why.startswith("override") for pc in parts):
        kind = "override"
    summary = reason or "; ".join(dict.fromkeys(pc.why for pc in parts)) or EVENT_WHY.get(event, event)
    if old.status != new.status and not reason:
        summary = f"status {old.status.value} -> {new.status.value}" + (f"; {summary}" if parts else "")
    return MarkChange(at, kind, old.total, new.total, old.status.value, new.status.value, summary, parts, prov)


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def history_text(key: str, changes: Sequence[MarkChange], current: SubmissionResult | None,
                 notebook_link: str | None) -> str:
    """What `gradekit history STUDENT` prints: the trail, oldest first, then the provenance."""
    lines = [f"history of {key}"]
    if not changes:
        lines.append("  (no recorded change of marks)")
    for c in changes:
        lines.append(f"  {c.at}  {c.event:<9} total {_pts(c.old_total)} -> {_pts(c.new_total)}"
                     + (f"  status {c.old_status} -> {c.new_status}" if c.old_status not in (None, c.new_status) else "")
                     + f"  ({c.reason})")
        for p in c.parts:
            lines.append(f"      {p.part}: {_pts(p.old)} -> {_pts(p.new)}  {p.why}")
    if current is not None:
        lines.append(f"now: total {current.total:g} / {current.max_total:g}, status {current.status.value}")
        for o in current.overrides:
            lines.append(f"  override {o.part} = {o.points:g}: {o.reason}" + (f" (by {o.by})" if o.by else ""))
        prov = dict(current.provenance or {})
        prov.pop("profile", None)
        if prov:
            lines.append("provenance:")
            for k in sorted(prov):
                lines.append(f"  {k}: {prov[k]}")
        if current.timings:
            lines.append("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in current.timings.items()))
    lines.append(f"executed notebook: {notebook_link}" if notebook_link
                 else "executed notebook: none kept (graded before notebooks were kept, or the run returned none)")
    return "\n".join(lines)


def show_history(out_dir, key: str) -> str:
    """`gradekit history STUDENT --out DIR`: the trail and provenance from DIR's store; the executed
    notebook is rendered (safely, see gradekit.notebook_html) to DIR/history/ and linked."""
    from pathlib import Path

    from .errors import GradekitError
    from .notebook_html import write_notebook_page
    from .store import ResultStore

    with ResultStore(Path(out_dir), readonly=True) as store:
        current, changes, notebook = store.get(key), store.history(key), store.notebook(key)
    if current is None and not changes:
        raise GradekitError(f"no student {key!r} in {Path(out_dir)}; the students are in the gradebook's "
                            f"`student` column")
    link = None
    if notebook is not None and current is not None:
        link = write_notebook_page(current, notebook, Path(out_dir) / "history").resolve().as_uri()
    return history_text(key, changes, current, link)
