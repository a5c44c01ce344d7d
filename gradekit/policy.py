"""Deadlines, extensions and late penalties: pure functions, no I/O.

The rule (``[policy]`` in gradekit.toml): a submission ``late_by`` hours after the deadline that
applies to its student (the roster's ``deadline`` for that student, an extension, else the course's)
loses ``late_penalty_per_day`` of its earned points per *started* 24 hours, at most
``late_penalty_max`` of them.  Example: deadline 17:00, submitted 18:00 the next day = 25 h late = 2
started days; at 10 %/day on 2 points earned the penalty is 0.4 points and the total 1.6.
Without a deadline nothing is late.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime | None = None       # the course deadline, timezone-aware; None: nothing is late
    per_day: float = 0.0                   # fraction of the earned points deducted per started 24 h
    max_fraction: float = 1.0              # cap on the deducted fraction
    attempt: str = "latest"                # which attempt counts: "latest" or "best"


@dataclass(frozen=True)
class Lateness:
    """When one submission arrived and what that costs (a fraction of its earned points)."""

    submitted_at: datetime | None          # UTC; None when unknown
    deadline: datetime | None              # the deadline that applied (UTC); None: no deadline
    late_by_h: float                       # hours after the deadline (0.0 when on time or unknown)
    fraction: float                        # of the earned points deducted (0.0 .. max_fraction)
    time_source: str = ""                  # "lms" (the attempt stamp), "mtime" (file time), "" unknown

    def penalty(self, earned: float) -> float:
        """Points deducted from ``earned`` (NaN when nothing was earned or graded)."""
        if earned is None or (isinstance(earned, float) and math.isnan(earned)):
            return math.nan
        return round(max(earned, 0.0) * self.fraction, 10)


ON_TIME = Lateness(None, None, 0.0, 0.0)


def aware(t: datetime, zone: str | None) -> datetime:
    """``t`` as an aware datetime: a naive ``t`` is read in ``zone`` (IANA name; UTC when None)."""
    if t.tzinfo is not None:
        return t
    return t.replace(tzinfo=ZoneInfo(zone) if zone else timezone.utc)


def to_utc(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(timezone.utc)


def started_days_late(submitted_at: datetime, deadline: datetime) -> int:
    """Started 24-hour periods after ``deadline`` (0 when on time, 1 for one second late)."""
    late = submitted_at - deadline
    if late <= timedelta(0):
        return 0
    return math.ceil(late / DAY)


def late_fraction(days: int, per_day: float, max_fraction: float) -> float:
    """The fraction of the earned points lost after ``days`` started days late."""
    return min(max(days, 0) * per_day, max_fraction, 1.0) if days > 0 else 0.0


def applicable_deadline(policy: LatePolicy, extension: datetime | None) -> datetime | None:
    """A student's own deadline (an extension) wins over the course's."""
    return extension if extension is not None else policy.deadline


def lateness(policy: LatePolicy, submitted_at: datetime | None, extension: datetime | None = None,
             time_source: str = "") -> Lateness:
    """How late one submission is under ``policy``; unknown times and no deadline are on time."""
    deadline = applicable_deadline(policy, extension)
    if deadline is None or submitted_at is None:
        return Lateness(to_utc(submitted_at), to_utc(deadline), 0.0, 0.0, time_source)
    late_h = max((submitted_at - deadline) / timedelta(hours=1), 0.0)
    days = started_days_late(submitted_at, deadline)
    return Lateness(to_utc(submitted_at), to_utc(deadline), round(late_h, 4),
                    late_fraction(days, policy.per_day, policy.max_fraction), time_source)


def last_deadline(policy: LatePolicy, extensions: Iterable[datetime | None]) -> datetime | None:
    """The last deadline that applies to anyone: the course's or the latest extension."""
    times = [t for t in (policy.deadline, *extensions) if t is not None]
    return max(times) if times else None


def hidden_feedback_released(policy: LatePolicy, extensions: Iterable[datetime | None], now: datetime,
                             *, force: bool = False) -> bool:
    """Whether hidden checks' messages may be shown: after the last deadline that applies to anyone
    (so nobody still working can learn them), always without a deadline, or when forced."""
    last = last_deadline(policy, extensions)
    return force or last is None or now >= last


def best_attempt(totals_after_penalty: dict[str, float]) -> str | None:
    """The attempt with the highest total after its penalty (ties: the later attempt, i.e. the
    larger key, as keys sort by time); NaN totals never win over a number."""
    if not totals_after_penalty:
        return None
    def rank(item: tuple[str, float]) -> tuple[bool, float, str]:
        key, total = item
        ok = total is not None and not math.isnan(total)
        return ok, total if ok else -math.inf, key
    return max(totals_after_penalty.items(), key=rank)[0]
