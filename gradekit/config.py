"""One typed configuration object, loaded once at the edge (the CLI) from gradekit.toml."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import SetupError

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
        )
    except (KeyError, TypeError) as e:
        raise SetupError(f"{cfg_file}: missing or unknown setting {e}") from None
