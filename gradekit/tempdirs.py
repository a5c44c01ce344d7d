"""Temporary folders that name their owner, so whatever a killed process left behind is removed later.

A grading worker can be killed at any moment (the pool, Dask, the OOM killer, a TA's Ctrl-C): its
``finally`` blocks and ``atexit`` handlers never run, and its job folder (a student's notebook, the
grading data) stays in the temp folder.  Each folder here is named ``<prefix><pid>-<random>``; the
next process that makes one of the same kind removes those whose owner is no longer alive.
``tempfile.mkdtemp`` does the creating; only the naming and the sweep are ours.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

_SWEPT: set[tuple[str, str]] = set()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner(path: Path, prefix: str) -> int | None:
    """The pid in ``<prefix><pid>-...``, or None when the name is not one of ours."""
    head = path.name[len(prefix):].split("-", 1)[0] if path.name.startswith(prefix) else ""
    return int(head) if head.isdigit() else None


def sweep_dead(prefix: str, base: Path | None = None) -> list[Path]:
    """Remove the ``<prefix><pid>-*`` folders in ``base`` (the temp folder) whose pid is not alive;
    returns what was removed.  A folder whose removal fails is left for the next sweep."""
    from .sandbox import remove_tree

    base = Path(base or tempfile.gettempdir())
    removed = []
    for old in base.glob(f"{prefix}*-*"):
        pid = owner(old, prefix)
        if pid is not None and pid != os.getpid() and not alive(pid):
            try:
                remove_tree(old)
                removed.append(old)
            except (OSError, RuntimeError):
                pass
    return removed


def owned_tempdir(prefix: str, base: Path | None = None) -> Path:
    """A new ``<prefix><pid>-<random>`` folder; the first call per prefix and folder in a process also
    sweeps what dead processes left there."""
    key = (prefix, str(base or tempfile.gettempdir()))
    if key not in _SWEPT:
        _SWEPT.add(key)
        sweep_dead(prefix, base)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
