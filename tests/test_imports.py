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
             if m.name not in ("gradekit.kernel_runner", "gradekit.__main__",     # scripts
                               "gradekit.worker_env")]   # sets the importing process's environment: below
    assert len(names) > 30
    for name in names:
        importlib.import_module(name)


def test_the_worker_servers_first_import_sets_one_thread_before_numpy():
    """gradekit.worker_env is the worker server's first preload (executors.ENGINE_WORKER_IMPORTS): it
    must import (the forkserver skips a preload that fails) and set one thread before numpy loads."""
    import subprocess
    import sys

    from gradekit.executors import ENGINE_WORKER_IMPORTS, SINGLE_THREAD_ENV

    assert ENGINE_WORKER_IMPORTS[0] == "gradekit.worker_env"
    code = ("import sys, os; import gradekit.worker_env; assert 'numpy' not in sys.modules, 'numpy loaded first'; "
            "print(sorted((k, os.environ[k]) for k in %r))" % sorted(SINGLE_THREAD_ENV))
    env = {k: v for k, v in __import__("os").environ.items() if k not in SINGLE_THREAD_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str(sorted(SINGLE_THREAD_ENV.items()))


def test_the_engine_knows_no_chapter():
    hits = [f"{p.relative_to(ENGINE)}:{i}: {line.strip()}"
            for p in sorted(ENGINE.rglob("*.py")) for i, line in enumerate(p.read_text().splitlines(), 1)
            if COURSE_WORDS.search(line)]
    assert hits == [], "course knowledge in the engine:\n" + "\n".join(hits)
