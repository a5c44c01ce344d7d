"""gradekit's nbgrader preprocessors (imported by the repository's ``nbgrader_config.py``).

- :class:`ClearSolutionsKeepGiven` -- nbgrader's ClearSolutions, keeping answer cells whose code is given
- :class:`ReleaseSeededBugs` -- swap each SEEDED BUG region for the buggy lines students get

The seeded-bug markup itself is parsed by :mod:`gradekit.nbgrader_ext.markup`, which does not import
nbgrader; the two classes are imported lazily so that ``gradekit.fabricate`` stays light.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "ClearSolutionsKeepGiven": ".clear_solutions_keep_given",
    "ReleaseSeededBugs": ".release_seeded_bugs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
