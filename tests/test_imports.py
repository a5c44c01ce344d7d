"""Every engine module imports, and the engine imports no course module by name (the course contract)."""
import importlib
import pkgutil
import re
from pathlib import Path

import gradekit

ENGINE = Path(gradekit.__file__).resolve().parent
COURSE_WORDS = re.compile(r"lr_results|learning_rates|FashionMNIST|fashion|SimpleCNN|PixelPrediction|"
                          r"reference\.(basics|fashion|microscopy|datasets|filters)|import torch|[\"']lr_sweep[\"']")


def test_every_engine_module_imports():
    names = [m.name for m in pkgutil.walk_packages([str(ENGINE)], prefix="gradekit.")
             if m.name not in ("gradekit.kernel_runner", "gradekit.__main__")]   # scripts
    assert len(names) > 30
    for name in names:
        importlib.import_module(name)


def test_the_engine_knows_no_chapter():
    hits = [f"{p.relative_to(ENGINE)}:{i}: {line.strip()}"
            for p in sorted(ENGINE.rglob("*.py")) for i, line in enumerate(p.read_text().splitlines(), 1)
            if COURSE_WORDS.search(line)]
    assert hits == [], "course knowledge in the engine:\n" + "\n".join(hits)
