"""The resumable result store: one SQLite file in the output folder, one row per student.

A batch writes each :class:`~gradekit.model.SubmissionResult` in its own transaction the moment it
finishes, so a batch killed at any point (SIGKILL, power cut, Ctrl-C) loses at most the results that
were still being computed.  Re-running the batch asks what to do for every
submission (:meth:`ResultStore.need`): those whose bytes (``sha256``), probes and run settings
(``run_key``) and checks (``checks_hash``: checks, reference code, profile) have not changed are
skipped; when only ``checks_hash`` changed, the stored answers are judged again without running the
notebook (see gradekit.provenance).  Each result keeps its probe answers and provenance; the
executed notebook (``notebooks``) and every change of marks (``history``) have tables of their own.

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
from .history import GRADED, MarkChange, mark_change
from .model import Status, SubmissionResult

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 2   # 2: run_key, executed notebooks, the history of marks

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
CREATE TABLE IF NOT EXISTS notebooks (
    key           TEXT PRIMARY KEY,
    notebook_json TEXT NOT NULL,   -- the notebook as it ran (untrusted data: never executed)
    updated_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT NOT NULL,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    change_json TEXT NOT NULL      -- gradekit.history.MarkChange
);
CREATE INDEX IF NOT EXISTS history_key ON history(key, id);
"""

#: Columns added after schema version 1 (an older store is upgraded in place when opened for writing).
_ADDED_COLUMNS = (("results", "run_key", "TEXT NOT NULL DEFAULT ''"),)

#: What a re-run must do for a submission (see :meth:`ResultStore.need`).
CURRENT, REJUDGE, RUN = "current", "rejudge", "run"


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
            self._upgrade()
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

    def _upgrade(self) -> None:
        """Bring a store written by an older gradekit to this schema (its rows keep no answers, so
        they are run again when next graded)."""
        db = self._conn
        for table, column, decl in _ADDED_COLUMNS:
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION),))

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

    def put(self, result: SubmissionResult, *, event: str = GRADED, reason: str = "") -> MarkChange | None:
        """Store ``result`` in its own transaction, replacing any earlier row of the same key.

        In the same transaction: the executed notebook (when the result carries one; a result
        without one keeps the stored notebook, e.g. after a re-judge), and an entry in the history
        of marks when they changed (``event``: ``graded`` -- the notebook ran -- or ``rejudged``;
        ``reason`` overrides the entry's summary).  Returns that entry, or None."""
        if not result.key:
            raise ValueError("a result needs a non-empty key")
        text = dumps_result(result)
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        run_key = str((result.provenance or {}).get("run_key", ""))
        with self._lock:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT result_json FROM results WHERE key = ?", (result.key,)).fetchone()
                old = self._load(result.key, row[0]) if row else None
                change = mark_change(old, result, event, now, reason)
                db.execute(
                    "INSERT INTO results(key, sha256, checks_hash, run_key, status, result_json, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET sha256=excluded.sha256, checks_hash=excluded.checks_hash, "
                    "run_key=excluded.run_key, status=excluded.status, result_json=excluded.result_json, "
                    "updated_at=excluded.updated_at",
                    (result.key, result.sha256, result.checks_hash, run_key, result.status.value, text, now))
                if result.executed_notebook is not None:
                    db.execute("INSERT INTO notebooks(key, notebook_json, updated_at) VALUES (?, ?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET notebook_json=excluded.notebook_json, "
                               "updated_at=excluded.updated_at", (result.key, result.executed_notebook, now))
                elif old is not None and old.sha256 != result.sha256:
                    db.execute("DELETE FROM notebooks WHERE key = ?", (result.key,))  # not this file's run
                if change is not None:
                    db.execute("INSERT INTO history(key, at, event, change_json) VALUES (?, ?, ?, ?)",
                               (result.key, change.at, change.event,
                                json.dumps(change.to_json(), default=_jsonable, ensure_ascii=False)))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return change

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
                db.executemany("DELETE FROM notebooks WHERE key = ?", [(k,) for k in gone])
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

    def need(self, key: str, sha256: str, run_key: str, checks_hash: str) -> str:
        """What a re-run must do for this submission: :data:`CURRENT` (nothing), :data:`REJUDGE` (the
        same bytes ran with the same probes and settings -- ``run_key``, see gradekit.provenance --
        so judge the stored answers again: the checks changed) or :data:`RUN` (new bytes, changed
        probes or settings, a retry status, or nothing stored)."""
        with self._lock:
            row = self._db().execute("SELECT sha256, run_key, checks_hash, status FROM results WHERE key = ?",
                                     (key,)).fetchone()
        if row is None:
            return RUN
        stored_sha, stored_run, stored_checks, status = row
        if status in {s.value for s in RETRY_STATUSES} or stored_sha != sha256 or stored_run != run_key:
            return RUN
        return CURRENT if stored_checks == checks_hash else REJUDGE

    def notebook(self, key: str) -> str | None:
        """The executed notebook kept for ``key`` (nbformat JSON; untrusted data), or None."""
        with self._lock:
            try:
                row = self._db().execute("SELECT notebook_json FROM notebooks WHERE key = ?", (key,)).fetchone()
            except sqlite3.OperationalError:    # a read-only store from before notebooks were kept
                return None
        return None if row is None else row[0]

    def history(self, key: str) -> list[MarkChange]:
        """The recorded changes of ``key``'s marks, oldest first."""
        with self._lock:
            try:
                rows = self._db().execute("SELECT change_json FROM history WHERE key = ? ORDER BY id",
                                          (key,)).fetchall()
            except sqlite3.OperationalError:
                return []
        return [MarkChange.from_json(json.loads(text)) for (text,) in rows]

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
