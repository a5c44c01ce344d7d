"""The resumable result store: one SQLite file in the output folder, one row per student.

A batch writes each :class:`~gradekit.model.SubmissionResult` in its own transaction the moment it
finishes, so a batch killed at any point (SIGKILL, power cut, Ctrl-C) loses at most the results that
were still being computed.  Re-running the batch asks :meth:`ResultStore.is_current` for every
submission and skips those whose bytes (``sha256``) and grading inputs (``checks_hash``: checks,
reference code and configuration, computed by the caller) have not changed.

Guarantees
----------
* Exactly one row per student key: the key is the primary key and :meth:`ResultStore.put` is an
  upsert (the newer result replaces the older).  SQLite's journal makes each put atomic, so a kill
  mid-write leaves either the old row or the new one, never half a row and never two rows.
* WAL mode with ``synchronous=FULL``: once ``put`` returns, the result survives a crash of the
  process or of the machine.  (Cost: one fsync per result; grading one notebook takes seconds.)
* One writer: opening a store for writing takes an exclusive lock on ``<store>.lock`` (a POSIX
  record lock: the kernel drops it when the process dies, however it dies, and forked worker
  processes do not inherit it).  A second ``gradekit`` run writing to the same folder fails at once
  with :class:`StoreLocked` instead of interleaving with the first.  Workers never open the store;
  they send results back to the process that owns it.  ``readonly=True`` opens without the lock
  (e.g. to render a report while a batch is still running) and refuses to write.

The store keeps whole results as JSON (``SubmissionResult.to_json()``), so the gradebook and the
reports can be rebuilt from it alone.  Only the standard library is imported here: the store is
opened before anything heavy is loaded.
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import GradekitError
from .model import Status, SubmissionResult

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 1

#: A stored result with one of these statuses is never "current": re-running grades it again.
#: ERROR means the grader itself failed (a bug, perhaps fixed since), which says nothing about the
#: submission.
RETRY_STATUSES: frozenset[Status] = frozenset({Status.ERROR})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    key         TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    checks_hash TEXT NOT NULL,
    status      TEXT NOT NULL,
    result_json TEXT NOT NULL,
    updated_at  TEXT NOT NULL      -- ISO 8601, UTC
);
"""


class StoreError(GradekitError):
    """The result store cannot be used (corrupt, from a newer gradekit, opened read-only, ...)."""


class StoreLocked(StoreError):
    """Another process already writes to this result store."""


def _jsonable(obj: Any) -> Any:
    """json.dumps fallback: numpy arrays and scalars (``tolist``/``item``), sets; else ``str``."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    return str(obj)


def dumps_result(result: SubmissionResult) -> str:
    """The JSON text stored for ``result`` (NaN/inf allowed: Python's json reads them back)."""
    return json.dumps(result.to_json(), default=_jsonable, ensure_ascii=False, allow_nan=True,
                      separators=(",", ":"))


def loads_result(text: str) -> SubmissionResult:
    return SubmissionResult.from_json(json.loads(text))


#: Stores this process has open for writing.  POSIX record locks are per process (a second open in
#: the same process would "succeed" and closing it would drop the first one's lock), so the
#: same-process case is checked here.
_OPEN_FOR_WRITING: set[Path] = set()
_OPEN_LOCK = threading.Lock()


class ResultStore:
    """SQLite-backed, resumable store of grading results; use as a context manager.

    ``path`` is the SQLite file; pass a folder to use ``<folder>/results.sqlite``.  The folder is
    created when missing (not in read-only mode).  All methods are safe to call from several
    threads of the owning process (a lock serialises them), e.g. from executor callbacks.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        p = Path(path)
        if p.is_dir():
            p = p / STORE_NAME
        self.path = p
        self.readonly = readonly
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        if readonly:
            if not p.is_file():
                raise StoreError(f"no result store at {p}")
            uri = p.resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                         isolation_level=None, timeout=30)
            try:
                self._check_version()
            except BaseException:
                self.close()
                raise
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        self._take_writer_lock()
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per put.
            self._conn = sqlite3.connect(p, check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
            self._conn.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)",
                               (str(SCHEMA_VERSION),))
            self._check_version()
        except sqlite3.DatabaseError as e:
            self.close()
            raise StoreError(f"{p} is not a usable result store ({e}); move it away to start afresh") from None
        except BaseException:
            self.close()
            raise

    # -- life cycle -------------------------------------------------------------------------------

    def _take_writer_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        busy = StoreLocked(f"another gradekit run is writing results to {self.path}; wait for it to finish "
                           f"(or stop it) before starting another run into the same folder")
        with _OPEN_LOCK:
            real = self.path.resolve()
            if real in _OPEN_FOR_WRITING:
                raise busy
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise busy from None
            _OPEN_FOR_WRITING.add(real)
            self._lock_fd = fd
            self._real = real

    def _check_version(self) -> None:
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path} is not a usable result store ({e})") from None
        if row is None or int(row[0]) > SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise StoreError(f"{self.path} has schema version {found}; this gradekit reads up to "
                             f"{SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                with _OPEN_LOCK:
                    os.close(self._lock_fd)      # releases the lockf lock
                    _OPEN_FOR_WRITING.discard(self._real)
                self._lock_fd = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"result store {self.path} is closed")
        return self._conn

    def _writable(self) -> sqlite3.Connection:
        if self.readonly:
            raise StoreError(f"result store {self.path} was opened read-only")
        return self._db()

    # -- writing ----------------------------------------------------------------------------------

    def put(self, result: SubmissionResult) -> None:
        """Store ``result`` in its own transaction, replacing any earlier row of the same key."""
        if not result.key:
            raise ValueError("a result needs a non-empty key")
        text = dumps_result(result)
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._lock:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO results(key, sha256, checks_hash, status, result_json, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET sha256=excluded.sha256, checks_hash=excluded.checks_hash, "
                    "status=excluded.status, result_json=excluded.result_json, updated_at=excluded.updated_at",
                    (result.key, result.sha256, result.checks_hash, result.status.value, text, now))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def delete_missing(self, keys: Iterable[str]) -> list[str]:
        """Delete the rows whose key is not in ``keys`` (students no longer in the batch).

        Returns the deleted keys, sorted.  One transaction: all or nothing.
        """
        keep = set(keys)
        with self._lock:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                stored = [k for (k,) in db.execute("SELECT key FROM results")]
                gone = sorted(k for k in stored if k not in keep)
                db.executemany("DELETE FROM results WHERE key = ?", [(k,) for k in gone])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return gone

    # -- reading ----------------------------------------------------------------------------------

    def get(self, key: str) -> SubmissionResult | None:
        with self._lock:
            row = self._db().execute("SELECT result_json FROM results WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._load(key, row[0])

    def is_current(self, key: str, sha256: str, checks_hash: str) -> bool:
        """True when a stored result for ``key`` was graded from these very bytes with these very
        checks, so re-grading would give the same result.  Results in :data:`RETRY_STATUSES` are
        never current."""
        with self._lock:
            row = self._db().execute("SELECT sha256, checks_hash, status FROM results WHERE key = ?",
                                     (key,)).fetchone()
        if row is None:
            return False
        stored_sha, stored_checks, status = row
        if status in {s.value for s in RETRY_STATUSES}:
            return False
        return stored_sha == sha256 and stored_checks == checks_hash

    def keys(self) -> list[str]:
        with self._lock:
            return [k for (k,) in self._db().execute("SELECT key FROM results ORDER BY key")]

    def __len__(self) -> int:
        with self._lock:
            return self._db().execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return self._db().execute("SELECT 1 FROM results WHERE key = ?", (key,)).fetchone() is not None

    def all(self) -> list[SubmissionResult]:
        """Every stored result, sorted by key."""
        with self._lock:
            rows = self._db().execute("SELECT key, result_json FROM results ORDER BY key").fetchall()
        return [self._load(k, text) for k, text in rows]

    def _load(self, key: str, text: str) -> SubmissionResult:
        try:
            return loads_result(text)
        except (ValueError, TypeError, KeyError) as e:
            raise StoreError(f"{self.path}: the stored result of {key!r} cannot be read ({e}); "
                             f"delete the store to re-grade everything") from None
