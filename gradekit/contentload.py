"""Load course content (``autograder/<assignment>/*.py``) by path, once per process.

The engine never imports a course module by name: a course is a folder, not a package on sys.path,
so two courses (or a course and the engine's own tests) can hold files of the same name.  Each module
is registered in ``sys.modules`` under a name derived from its folder, so that pickling by reference
(process pools, Dask) and a course's own ``sibling()`` imports find the same module object.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .errors import SetupError


def module_name(folder: Path, name: str) -> str:
    """A stable, importable-looking name for ``folder/name.py``: unique per folder."""
    folder = Path(folder).resolve()
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    safe = "".join(ch if ch.isalnum() else "_" for ch in folder.name)
    return f"gradekit_course_{safe}_{tag}_{name}"


def load(folder: Path, name: str) -> ModuleType:
    """``folder/name.py`` as a module, loaded once per process (SetupError when it is missing)."""
    path = Path(folder).resolve() / f"{name}.py"
    if not path.is_file():
        raise SetupError(f"{path} is missing: the course's checks folder needs a {name}.py")
    mod_name = module_name(path.parent, name)
    if mod_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(mod_name, None)
            raise
    return sys.modules[mod_name]
