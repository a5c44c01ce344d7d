"""Where a mark came from: the hashes, seeds and settings kept with every result (pure functions).

Two fingerprints decide what a later run must redo for a stored result:

* ``probes_hash`` -- what the kernel was asked: the probes' code *as sent to the kernel* (the
  engine's wrapper included), their parameters for a fixed seed, and the profile.  When it
  changes, the stored answers are stale: the notebook must run again (``rejudge`` leaves it alone).
  ``run_key`` adds the run's settings (limits, sandbox on/off): ``gradekit grade`` runs a notebook
  again when that changes too, as it always did; ``rejudge`` does not care how long cells could take.
* ``checks_hash`` -- how answers are judged: the checks folder, the reference code and the profile
  (:attr:`gradekit.grading.Course.checks_hash`).  When only this changes, the stored answers are
  judged again (``gradekit rejudge``, or ``gradekit grade``'s fast path) and no notebook runs.

The probes are fingerprinted from what they *are* (``make_probes`` called with a fixed seed), not
from the course file they live in, so an edit to a check or to the course's judging helpers does
not force a re-run, while any change in what the kernel would run does.
"""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from . import __version__
from .model import ExecutionReport, Identity

#: Provenance entries that describe the run (kept when stored answers are judged again).
RUN_PROVENANCE_KEYS = ("probes_hash", "run_key", "probe_seed", "sandboxed", "limits", "ran_at", "python", "run")

FINGERPRINT_SEED = 0


def _stable(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=repr, separators=(",", ":"))


def probes_fingerprint(make_probes: Callable[..., Any], profile: Mapping[str, Any]) -> str:
    """A short hash of what the kernel is asked: see the module docstring."""
    import numpy as np

    from .probes import wrap_probe

    specs = make_probes(profile, np.random.default_rng(FINGERPRINT_SEED))
    h = hashlib.sha256()
    for spec in specs:
        h.update(_stable([spec.name, wrap_probe(spec), float(spec.timeout_s)]).encode())
    h.update(_stable(dict(profile)).encode())
    return h.hexdigest()[:16]


def run_key(probes_hash: str, limits: Any, sandboxed: bool) -> str:
    """``probes_hash`` and the run's settings: what `gradekit grade` compares to decide to run again."""
    h = hashlib.sha256(_stable([probes_hash, asdict(limits), bool(sandboxed)]).encode())
    return f"{probes_hash}-{h.hexdigest()[:8]}"


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_provenance(course: Any, seed: int) -> dict[str, Any]:
    """What a sandboxed run depended on: kept with its answers."""
    return {
        "probes_hash": course.probes_hash,
        "run_key": course.run_key,
        "probe_seed": int(seed),
        "sandboxed": bool(course.cfg.sandbox),
        "limits": asdict(course.cfg.limits),
        "ran_at": now_utc(),
        "python": platform.python_version(),
    }


def judge_provenance(course: Any, run: Mapping[str, Any], report: ExecutionReport,
                     identity: Identity) -> dict[str, Any]:
    """The whole provenance of a judged result: the run's, plus what judging depended on."""
    return {
        **run,
        "gradekit_version": __version__,
        "checks_hash": course.checks_hash,
        "reference_hash": course.reference_code_hash,
        "profile_name": course.cfg.profile,
        "profile": dict(course.profile),
        "judged_at": now_utc(),
        "cid_problem": identity.cid_problem,
        # The run's own status and message (before the judge adds the CID's), to judge again later.
        "run": run.get("run") or {"status": report.status.value, "message": report.message,
                                  "seconds": report.seconds},
    }

