"""Write a file so that a reader, another process writing the same file, or a killed run never sees
half of it: write a temporary file in the same folder, then rename it over the target."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: Path, write: Callable[[str], object]) -> Path:
    """``write(tmp_path)`` writes the content; then it replaces ``path`` in one rename.  Two processes
    may write the same file at once: each has its own temporary name, the last rename wins."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding=encoding))
