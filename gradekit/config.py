"""One typed configuration object, loaded once at the edge (the CLI) from gradekit.toml."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SetupError
from .policy import LatePolicy

CONFIG_NAME = "gradekit.toml"


@dataclass(frozen=True)
class Limits:
    cell_timeout_s: float = 600
    notebook_timeout_s: float = 1500
    probe_timeout_s: float = 60
    memory_mb: int = 6144
    max_processes: int = 256
    output_kb_per_cell: int = 256
    max_notebook_mb: float = 20
    budget_factor: float = 5.0        # a cell's limit: this x the honest notebook's time for it (0: off)
    min_cell_timeout_s: float = 30    # ... but never less than this (see gradekit/budgets.py)


@dataclass(frozen=True)
class Lms:
    """``[lms]``: the learning platform's side of a run."""

    column: str | None = None     # Grade Centre column header, ID included: "Exercise 6 [Total Pts: 12 Score] |123456"
    timezone: str = "UTC"         # the zone of the bulk download's attempt stamps (IANA name)


@dataclass(frozen=True)
class Config:
    root: Path                # the course repository (holds gradekit.toml)
    assignment: str
    source: Path
    release: Path
    checks: Path
    cid_placeholder: int
    profile: str
    cache: Path
    limits: Limits = Limits()
    sandbox: bool = True      # False only with --unsafe-no-sandbox
    policy: LatePolicy = field(default_factory=LatePolicy)   # [policy]: deadline and late penalty
    lms: Lms = field(default_factory=Lms)
    students_see_notebook: bool = False   # [feedback] executed_notebook: link it from feedback pages

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)


def find_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_NAME).is_file():
            return d
    # Fall back to the repository this package lives in (editable install).
    pkg_root = Path(__file__).resolve().parent.parent
    if (pkg_root / CONFIG_NAME).is_file():
        return pkg_root
    raise SetupError(f"no {CONFIG_NAME} found in {here} or its parents; run gradekit inside the course repository "
                     f"or pass --config PATH")


def load_config(path: Path | None = None) -> Config:
    cfg_file = Path(path) if path else find_root() / CONFIG_NAME
    if not cfg_file.is_file():
        raise SetupError(f"configuration file {cfg_file} does not exist")
    try:
        raw = tomllib.loads(cfg_file.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SetupError(f"{cfg_file} is not valid TOML: {e}") from None
    root = cfg_file.resolve().parent
    a = raw.get("assignment", {})
    try:
        limits = Limits(**raw.get("limits", {}))
        return Config(
            root=root,
            assignment=a["name"],
            source=root / a["source"],
            release=root / a["release"],
            checks=root / a["checks"],
            cid_placeholder=int(a["cid_placeholder"]),
            profile=a.get("profile", "grading"),
            cache=root / raw.get("paths", {}).get("cache", ".gradekit-cache"),
            limits=limits,
            policy=parse_policy(raw.get("policy", {}), str(cfg_file)),
            lms=parse_lms(raw.get("lms", {}), str(cfg_file)),
            students_see_notebook=bool(raw.get("feedback", {}).get("executed_notebook", False)),
        )
    except (KeyError, TypeError) as e:
        raise SetupError(f"{cfg_file}: missing or unknown setting {e}") from None


def parse_deadline(text: object, where: str) -> datetime:
    """An ISO 8601 time with an offset ("2026-12-04T17:00:00+00:00"); SetupError otherwise."""
    if isinstance(text, datetime):          # TOML's own offset date-time
        t = text
    else:
        try:
            t = datetime.fromisoformat(str(text).strip())
        except ValueError:
            raise SetupError(f"{where}: {text!r} is not an ISO 8601 time such as 2026-12-04T17:00:00+00:00") from None
    if t.tzinfo is None:
        raise SetupError(f"{where}: {text!r} has no UTC offset; write it as 2026-12-04T17:00:00+00:00 "
                         f"(or +01:00 ...) so that nobody guesses the zone")
    return t


def parse_policy(raw: dict, source: str) -> LatePolicy:
    """``[policy]`` -> LatePolicy (pure; SetupError names the bad setting)."""
    unknown = set(raw) - {"deadline", "late_penalty_per_day", "late_penalty_max", "attempt"}
    if unknown:
        raise SetupError(f"{source}: unknown [policy] setting(s) {sorted(unknown)}")
    deadline = parse_deadline(raw["deadline"], f"{source} [policy] deadline") if "deadline" in raw else None
    try:
        per_day = float(raw.get("late_penalty_per_day", 0.0))
        cap = float(raw.get("late_penalty_max", 1.0))
    except (TypeError, ValueError):
        raise SetupError(f"{source}: [policy] late_penalty_per_day and late_penalty_max are fractions such as 0.1") from None
    if not (0.0 <= per_day <= 1.0 and 0.0 <= cap <= 1.0):
        raise SetupError(f"{source}: [policy] late_penalty_per_day ({per_day}) and late_penalty_max ({cap}) "
                         f"must be fractions between 0 and 1")
    attempt = raw.get("attempt", "latest")
    if attempt not in ("latest", "best"):
        raise SetupError(f"{source}: [policy] attempt must be \"latest\" or \"best\", not {attempt!r}")
    return LatePolicy(deadline, per_day, cap, attempt)


def parse_lms(raw: dict, source: str) -> Lms:
    """``[lms]`` -> Lms (pure)."""
    unknown = set(raw) - {"column", "timezone"}
    if unknown:
        raise SetupError(f"{source}: unknown [lms] setting(s) {sorted(unknown)}")
    zone = str(raw.get("timezone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupError(f"{source}: [lms] timezone {zone!r} is not a time zone name such as Europe/London") from None
    column = raw.get("column")
    return Lms(column=str(column).strip() or None if column is not None else None, timezone=zone)
