"""tests/courses/mini, released into a temporary folder: the second course of the engine's tests."""
from __future__ import annotations

import shutil
from pathlib import Path

MINI = Path(__file__).resolve().parent / "courses" / "mini"


def released_mini(folder: Path):
    """A copy of the mini course in ``folder`` with its release generated; returns its Config."""
    from gradekit.config import load_config
    from gradekit.release import generate_release

    root = folder / "course"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns("__pycache__", "release", ".gradekit-cache"))
    generate_release(root)
    return load_config(root / "gradekit.toml")
