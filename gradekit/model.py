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
    limit_s: float = 0.0          # the cell's time limit in this run (its budget; 0: not reported)


@dataclass(frozen=True)
class ExecutionReport:
    """The trusted process's account of one sandboxed run."""

    status: Status                # GRADED, TIMEOUT or KERNEL_DIED (or ERROR when the sandbox failed)
    message: str
    cells: tuple[CellRun, ...] = ()
    probes: Mapping[str, ProbeResult] = field(default_factory=dict)
    seconds: float = 0.0
    log_tail: str = ""            # last lines of the runner's stderr, for TAs
    notebook: str | None = None   # the notebook as it ran (nbformat JSON, outputs capped; untrusted data)
    supervisor_cpu_s: float = 0.0  # CPU the trusted process spent watching the run (bounded: see sandbox.supervise)


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
class Override:
    """A TA's decision on one part of one student's marks: it replaces the judged points."""

    part: str
    points: float
    reason: str
    by: str = ""


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
    answers: Mapping[str, ProbeResult] = field(default_factory=dict)  # the probes' answers, kept to re-judge
    provenance: Mapping[str, Any] = field(default_factory=dict)  # versions, hashes, seeds, profile, limits
    overrides: tuple[Override, ...] = ()  # applied on top of the judged checks (gradekit.overrides)
    executed_notebook: str | None = None  # the notebook as it ran; the store keeps it apart, not in to_json
    mistakes: tuple[Mistake, ...] = ()   # typical mistakes recognised in failing parts (course's diagnose hook)
    comparable: Mapping[str, Any] = field(default_factory=dict)  # part -> [[label, number], ...] comparable
    #                                between students (course's comparable_answers hook; integrity pass)

    @property
    def total(self) -> float:
        return sum(self.part_points().values())

    @property
    def max_total(self) -> float:
        return sum(c.max_points for c in self.checks)

    def judged_part_points(self) -> dict[str, float]:
        """Points per part as the checks awarded them, before any override."""
        out: dict[str, float] = {}
        for c in self.checks:
            out[c.part] = out.get(c.part, 0.0) + c.points
        return out

    def part_max_points(self) -> dict[str, float]:
        """part -> the most points its checks award."""
        out: dict[str, float] = {}
        for c in self.checks:
            out[c.part] = out.get(c.part, 0.0) + c.max_points
        return out

    def part_points(self) -> dict[str, float]:
        """Points per part that count: the judged points, with each overridden part replaced."""
        out = self.judged_part_points()
        for o in self.overrides:
            out[o.part] = o.points
        return out

    def override_of(self, part: str) -> Override | None:
        return next((o for o in self.overrides if o.part == part), None)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d.pop("executed_notebook")
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "SubmissionResult":
        d = dict(d)
        d["status"] = Status(d["status"])
        d["checks"] = tuple(CheckResult(**c) for c in d.get("checks", ()))
        d["flags"] = tuple(d.get("flags", ()))
        d["answers"] = {k: ProbeResult(**v) for k, v in (d.get("answers") or {}).items()}
        d["overrides"] = tuple(Override(**o) for o in d.get("overrides", ()))
        d.pop("executed_notebook", None)
        d["mistakes"] = tuple(Mistake(**m) for m in d.get("mistakes", ()))   # absent in older stores
        return cls(**d)
