"""Disk cache of reference results, so that a CID's reference work is done once per cohort.

Key = the function's qualified name + its keyword arguments + a hash of the reference code, so a
change to `reference/` invalidates every entry.  Values are JSON (plain data only: the cache is
read back by the trusted process, so it must never hold pickles).  Concurrent workers computing the
same key serialise on a per-key file lock: the second one reads what the first wrote.  `prime` stores
a value computed elsewhere (the Dask engine computes each CID's reference once, on some worker, and
hands it to the workers that grade that CID's submissions: they share no disk).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable

from .atomic import atomic_write_text


def tree_hash(*folders: Path, suffixes: tuple[str, ...] = (".py", ".toml")) -> str:
    """A hash of the source files below the folders (names and bytes), in a stable order."""
    h = hashlib.sha256()
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(folder)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _encode(value: Any) -> Any:
    """JSON has no nan/inf and no float keys: encode them reversibly."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__float__" in value:
        return float(value["__float__"])
    if isinstance(value, dict) and "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class ReferenceCache:
    def __init__(self, folder: Path, code_hash: str):
        self.folder = Path(folder)
        self.code_hash = code_hash
        self.hits = 0
        self.misses = 0
        self.seconds_computing = 0.0

    def key(self, fn: Callable, kwargs: dict) -> str:
        blob = json.dumps([fn.__module__, fn.__qualname__, _encode(kwargs), self.code_hash], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def __call__(self, fn: Callable, **kwargs) -> Any:
        """fn(**kwargs), computed once per key across processes sharing the folder."""
        import time

        self.folder.mkdir(parents=True, exist_ok=True)
        key = self.key(fn, kwargs)
        path = self.folder / f"{key}.json"
        if path.exists():
            self.hits += 1
            return _decode(json.loads(path.read_text())["value"])
        with open(self.folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.exists():  # another worker computed it while we waited
                self.hits += 1
                return _decode(json.loads(path.read_text())["value"])
            t0 = time.perf_counter()
            value = fn(**kwargs)
            self.seconds_computing += time.perf_counter() - t0
            self.misses += 1
            self._write(path, fn, kwargs, value)
            return value

    def prime(self, fn: Callable, kwargs: dict, value: Any) -> bool:
        """Record `value` as the result of fn(**kwargs) without computing it: a later call returns it.

        For results computed by another process that shares no disk with this one (a Dask worker on
        another machine computed the CID's reference once for the cohort).  The caller vouches that
        `value` is what fn(**kwargs) returns under this cache's reference code; it must be plain data.
        An entry that already exists is kept.  Returns True when the value was written.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.key(fn, kwargs)}.json"
        if path.exists():
            return False
        self._write(path, fn, kwargs, value)
        return True

    def recording(self) -> "RecordingReference":
        return RecordingReference(self)

    def _write(self, path: Path, fn: Callable, kwargs: dict, value: Any) -> None:
        atomic_write_text(path, json.dumps({"fn": f"{fn.__module__}.{fn.__qualname__}", "kwargs": _encode(kwargs),
                                            "value": _encode(value)}))


class RecordingReference:
    """A ReferenceCache that also remembers every (fn, kwargs, value) asked of it, so that what one
    process computed can be primed into another's cache (the Dask engine ships these triples)."""

    def __init__(self, cache: ReferenceCache):
        self.cache = cache
        self.calls: list[tuple[Callable, dict, Any]] = []

    def __call__(self, fn: Callable, **kwargs) -> Any:
        value = self.cache(fn, **kwargs)
        self.calls.append((fn, kwargs, value))
        return value
