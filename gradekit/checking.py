"""Small helpers for writing checks: turn an absent or broken probe answer into one clear sentence."""
from __future__ import annotations

from typing import Any, Mapping

import pytest

from .model import ProbeResult
from .probes import as_array, as_float, describe  # re-exported for checks

__all__ = ["answer", "expect", "as_array", "as_float", "describe"]

_WHY = {
    "timeout": "it took too long and was stopped",
    "not_run": "it was not run",
}


def answer(probes: Mapping[str, ProbeResult], name: str, what: str) -> Any:
    """The value a probe got from the student's kernel, or fail the check saying why not.

    `what` names it for the student: "your perceptron function".
    """
    p = probes.get(name)
    if p is None:
        pytest.fail(f"{what} could not be checked: the grader did not ask for it")
    if p.status == "ok":
        return p.value
    if p.status == "error":
        pytest.fail(f"{what} could not be used: {p.error}")
    reason = _WHY.get(p.status, p.status)
    detail = f" ({p.error})" if p.error else ""
    pytest.fail(f"{what} could not be checked: {reason}{detail}")


def expect(condition: bool, message: str) -> None:
    """assert without pytest's introspection: the student sees exactly `message`."""
    if not condition:
        pytest.fail(message)
