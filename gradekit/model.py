"""The data that flows through a grading run: frozen dataclasses, no I/O.

intake -> Submission -> sandbox -> ExecutionReport (with ProbeResults) -> judge -> CheckResults
-> SubmissionResult -> gradebook / report.  Every stage after intake can fail for one submission;
a failure is data (a status and a message), never an exception that kills the batch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Mapping


class Status(str, Enum):
    """Why a submission has the points it has.  A failed submission is never a silent 0."""

    GRADED = "graded"                  # ran (perhaps with cell errors) and was judged
    NO_CID = "no_cid"                  # graded, but the CID is missing/placeholder: CID parts score 0
    TIMEOUT = "timeout"                # the notebook hit its wall-clock limit; what could be probed was
    KERNEL_DIED = "kernel_died"        # the kernel died and could not be recovered
    INVALID_NOTEBOOK = "invalid_notebook"  # not JSON, not a notebook, unreadable, too large
    NO_SUBMISSION = "no_submission"    # on the roster, nothing submitted
    ERROR = "error"                    # the grader itself failed on this submission (a bug: report it)

    def __str__(self) -> str:  # so f"{status}" prints "graded"
        return self.value


@dataclass(frozen=True)
class Identity:
    """Who a notebook says it belongs to, read statically from the "Your details" cell."""

    name: str | None
    cid: int | None
    cid_problem: str | None = None  # None when the CID is usable; else a sentence saying why not

    @property
    def cid_ok(self) -> bool:
        return self.cid is not None and self.cid_problem is None


@dataclass(frozen=True)
class Submission:
    """One notebook to grade, after intake (read, validated, normalised)."""

    key: str                 # stable id of the student (LMS username, roster id, or file stem)
    source_name: str         # the file name as submitted (for the gradebook's `file` column)
    sha256: str              # of the submitted bytes: with the checks' hash, the incremental-grading key
    notebook_json: str | None  # normalised nbformat v4 JSON text; None when the file is not a notebook
    identity: Identity = Identity(None, None, "not read")
    problem: str | None = None    # intake's reason when notebook_json is None
    flags: tuple[str, ...] = ()   # e.g. "late_attempt_ignored", "cid_not_on_roster"
    other_attempts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeResult:
    """What one probe got out of the student's kernel: untrusted plain data, validated by checks."""

    name: str
    status: str                   # "ok" | "error" | "timeout" | "not_run"
    params: Mapping[str, Any] = field(default_factory=dict)  # what the grader asked (e.g. random inputs)
    value: Any = None             # plain JSON data the kernel returned (lists, floats, str, dicts)
    error: str | None = None      # e.g. "NameError: name 'sigmoid' is not defined"
    seconds: float = 0.0


@dataclass(frozen=True)
class CellRun:
    index: int
    status: str                   # "ok" | "error" | "timeout" | "dead" | "skipped"
    error: str | None = None      # "ZeroDivisionError: division by zero"
    seconds: float = 0.0


@dataclass(frozen=True)
class ExecutionReport:
    """The trusted process's account of one sandboxed run."""

    status: Status                # GRADED, TIMEOUT or KERNEL_DIED (or ERROR when the sandbox failed)
    message: str
    cells: tuple[CellRun, ...] = ()
    probes: Mapping[str, ProbeResult] = field(default_factory=dict)
    seconds: float = 0.0
    log_tail: str = ""            # last lines of the runner's stderr, for TAs


@dataclass(frozen=True)
class CheckResult:
    """One autograder check (a pytest test function) judged for one submission."""

    part: str                     # gradebook column: perceptron, sigmoid, simple_cnn, lr_sweep, best_lr
    name: str                     # test function name
    points: float
    max_points: float
    passed: bool
    visible: bool
    message: str = ""             # student-facing; never contains reference values of hidden checks


@dataclass(frozen=True)
class Mistake:
    """A typical mistake the course recognised in a failing part (its diagnosis); never changes marks.

    ``id`` is the course's name for it (``no_reinit``); ``sentence`` names it and its fix, for the
    student's feedback page (it must not reveal reference values of hidden checks)."""

    part: str
    id: str
    sentence: str


@dataclass(frozen=True)
class SubmissionResult:
    key: str
    file: str
    name: str | None
    cid: int | None
    status: Status
    message: str
    checks: tuple[CheckResult, ...] = ()
    flags: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)  # stage -> seconds
    sha256: str = ""
    checks_hash: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)  # plot data for feedback (student's own)
    reference_computed: int = 0   # reference calls this grading computed itself (the rest: cached or primed)
    mistakes: tuple[Mistake, ...] = ()   # typical mistakes recognised in failing parts (course's diagnose hook)
    answers: Mapping[str, Any] = field(default_factory=dict)  # part -> [[label, number], ...] comparable
    #                                between students (course's comparable_answers hook; integrity pass)

    @property
    def total(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_total(self) -> float:
        return sum(c.max_points for c in self.checks)

    def part_points(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.checks:
            out[c.part] = out.get(c.part, 0.0) + c.points
        return out

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "SubmissionResult":
        d = dict(d)
        d["status"] = Status(d["status"])
        d["checks"] = tuple(CheckResult(**c) for c in d.get("checks", ()))
        d["flags"] = tuple(d.get("flags", ()))
        d["mistakes"] = tuple(Mistake(**m) for m in d.get("mistakes", ()))   # absent in older stores
        return cls(**d)
