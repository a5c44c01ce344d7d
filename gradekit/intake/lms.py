"""Inputs a TA hands over -> one notebook per student: folders, .ipynb files, LMS bulk-download zips.

Blackboard's "Assignment File Download" names every submitted file
``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original file name>`` and adds a receipt
``<Assignment>_<username>_attempt_<timestamp>.txt`` per attempt.  The assignment name may contain
underscores, usernames are alphanumeric: names are parsed from the first ``_<user>_attempt_<ts>``
anchor.  The latest attempt holding a notebook counts; the others are listed.

Zip archives are untrusted.  Nothing is extracted with ``extractall``: every entry is checked
(no absolute paths, no ``..``, no symlinks or other special files, no encryption, no nested
archives, only notebooks and receipts), its declared size is checked against per-file and total
caps, and its stream is copied with a counter that stops at the cap, into a fresh folder under
``workdir`` created with O_EXCL|O_NOFOLLOW.  Everything refused is reported as ``Skipped``.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

from ..model import Submission
from .flags import add_flags
from .notebook import read_submission

NOTEBOOK_SUFFIX = ".ipynb"
_IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_IGNORED_DIRS = frozenset({"__MACOSX"})
_CHECKPOINTS = ".ipynb_checkpoints"
_CHUNK = 1 << 16
_MAX_RECEIPT_BYTES = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 10_000                # entries in one archive (directories included)
    max_file_bytes: int = 64 * 1024 * 1024   # uncompressed, one entry (above max_notebook_mb, so
                                             # read_submission can say "too large" to the student)
    max_total_bytes: int = 2 * 1024 ** 3     # uncompressed, everything extracted from one archive


@dataclass(frozen=True)
class IntakeItem:
    key: str                       # LMS username, else the file stem (made unique)
    path: Path                     # the notebook on disk (extracted under workdir for zips)
    source_name: str               # the file name the student uploaded
    attempt_time: datetime | None = None   # the LMS attempt stamp (naive: the platform's local time)
    other_attempts: tuple[str, ...] = ()   # file names of the attempts not graded
    flags: tuple[str, ...] = ()
    file_time: datetime | None = None      # the file's modification time (aware for files on disk; naive
                                           # for zip entries, whose stamps carry no zone)
    attempt_of: str | None = None          # set on an earlier attempt graded too (attempt = "best"):
                                           # the key of the student's latest attempt


class Skipped(NamedTuple):
    name: str                      # "input.zip:inner/path" or a path
    reason: str


class Refused(NamedTuple):
    """A student whose LMS-named upload(s) were all refused (zip-slip, link, bomb, nested archive,
    not a notebook): without this they would vanish from the gradebook instead of getting a row
    that says why nothing was graded."""
    key: str                       # LMS username
    source_name: str               # the uploaded file's name (the latest refused attempt)
    reason: str                    # why it was refused (the Skipped reason)


@dataclass(frozen=True)
class Intake:
    items: list[IntakeItem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)   # students with no item, see Refused


# ----------------------------------------------------------------------------- LMS names

_LMS_NAME = re.compile(
    r"(?P<assignment>.+?)_(?P<user>[A-Za-z0-9]+)_attempt_"
    r"(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|(?P<receipt>\.txt))", re.S)


@dataclass(frozen=True)
class LmsName:
    assignment: str
    username: str
    time: datetime
    original: str | None           # the uploaded file's name; None for the receipt


def parse_lms_name(name: str) -> LmsName | None:
    """Blackboard's bulk-download file name, or None when `name` does not follow it."""
    m = _LMS_NAME.fullmatch(name)
    if not m:
        return None
    try:
        t = datetime.strptime(m["ts"], "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return None
    return LmsName(m["assignment"], m["user"], t, None if m["receipt"] else m["file"])


@dataclass(frozen=True)
class Receipt:
    student_name: str | None
    originals: dict[str, str]      # LMS file name -> original file name


def parse_receipt(text: str) -> Receipt:
    """The parts of a Blackboard receipt we use: ``Name: ... (user)`` and the
    ``Original filename:`` / ``Filename:`` pairs."""
    name = None
    originals: dict[str, str] = {}
    pending: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if m := re.match(r"Name:\s*(.*?)\s*(?:\([^()]*\))?\s*$", line):
            name = name or (m.group(1) or None)
        elif m := re.match(r"Original filename:\s*(.+)$", line, re.I):
            pending = m.group(1).strip()
        elif (m := re.match(r"Filename:\s*(.+)$", line, re.I)) and pending is not None:
            originals[m.group(1).strip()] = pending
            pending = None
    return Receipt(name, originals)


# ----------------------------------------------------------------------------- zip safety

class CapExceeded(Exception):
    pass


def copy_capped(src: BinaryIO, dst: BinaryIO, cap: int) -> int:
    """Copy `src` to `dst`; raise CapExceeded as soon as more than `cap` bytes arrive (the
    declared size of a zip entry is not trusted)."""
    n = 0
    while chunk := src.read(_CHUNK):
        n += len(chunk)
        if n > cap:
            raise CapExceeded(f"more than {cap} bytes")
        dst.write(chunk)
    return n


def entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry must not be extracted (path escape, link, special file, encryption)."""
    name = info.filename.replace("\\", "/")
    if "\x00" in name or not name.strip("/"):
        return "invalid entry name"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path in the archive: not extracted"
    if ".." in name.split("/"):
        return "path leaves the archive ('..'): not extracted"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link in the archive: not extracted"
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "special file in the archive: not extracted"
    if info.flag_bits & 0x1:
        return "encrypted entry: not extracted"
    return None


def _safe_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "archive"


# ----------------------------------------------------------------------------- collecting files

@dataclass(frozen=True)
class _Found:
    shown: str        # how the file is named in reports ("x.zip:a/b.ipynb" or a path)
    path: Path
    name: str         # base name
    time: datetime | None = None   # modification time (see IntakeItem.file_time)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except (OSError, OverflowError, ValueError):
        return None


def _zip_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except (TypeError, ValueError):
        return None


@dataclass
class _Collector:
    workdir: Path
    limits: ZipLimits
    notebooks: list[_Found] = field(default_factory=list)
    receipts: list[_Found] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append(Skipped(name, reason))

    def file(self, shown: str, path: Path, name: str) -> None:
        """A plain file (not from inside a zip)."""
        kind = _kind(name)
        if kind == "ignored":
            return
        if kind == "zip":
            self.zip(shown, path)
        elif kind == "notebook":
            self.notebooks.append(_Found(shown, path, name, _mtime(path)))
        elif kind == "receipt":
            self.receipts.append(_Found(shown, path, name))
        else:
            self.skip(shown, f"not a notebook ({_kind_text(name)})")

    def folder(self, root: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            for d in sorted(dirnames):
                if d == _CHECKPOINTS:
                    self.skip(str(here / d), "Jupyter checkpoint folder: not graded")
                elif (here / d).is_symlink():
                    self.skip(str(here / d), "symbolic link: not followed")
            dirnames[:] = sorted(d for d in dirnames if d != _CHECKPOINTS and d not in _IGNORED_DIRS
                                 and not d.startswith(".") and not (here / d).is_symlink()
                                 and (here / d).resolve() != self.workdir.resolve())  # our own output
            for f in sorted(filenames):
                p = here / f
                if p.is_symlink():
                    self.skip(str(p), "symbolic link: not followed")
                elif p.is_file():
                    self.file(str(p), p, f)
                elif _kind(f) != "ignored":
                    self.skip(str(p), "not a regular file")

    def zip(self, shown: str, path: Path) -> None:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
            self.skip(shown, f"not a readable zip archive ({e})")
            return
        with zf:
            infos = zf.infolist()
            if len(infos) > self.limits.max_entries:
                self.skip(shown, f"archive has {len(infos)} entries, more than the limit of "
                                 f"{self.limits.max_entries}: not opened")
                return
            dest = Path(tempfile.mkdtemp(prefix=_safe_stem(Path(path).stem) + "-", dir=self.workdir))
            total = 0
            for info in infos:
                total += self._entry(zf, info, f"{shown}:{info.filename}", dest, total)

    def _entry(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, dest: Path, total: int) -> int:
        """Extract one entry if it is wanted and safe; returns the bytes written."""
        if (problem := entry_problem(info)) is not None:
            self.skip(shown, problem)
            return 0
        if info.is_dir():
            return 0
        parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
        name = parts[-1]
        if _IGNORED_DIRS.intersection(parts[:-1]) or _kind(name) == "ignored":
            return 0
        if _CHECKPOINTS in parts[:-1]:
            self.skip(shown, "Jupyter checkpoint copy: not graded")
            return 0
        kind = _kind(name)
        if kind == "zip":
            self.skip(shown, "archive inside the archive: not opened")
            return 0
        if kind == "other":
            self.skip(shown, f"not a notebook ({_kind_text(name)})")
            return 0
        cap = min(self.limits.max_file_bytes, self.limits.max_total_bytes - total)
        if info.file_size > self.limits.max_file_bytes:
            self.skip(shown, f"uncompressed size {info.file_size} bytes exceeds the per-file limit of "
                             f"{self.limits.max_file_bytes} (zip bomb?): not extracted")
            return 0
        if info.file_size > cap:
            self.skip(shown, f"the archive's uncompressed total exceeds the limit of "
                             f"{self.limits.max_total_bytes} bytes: not extracted")
            return 0
        target = dest.joinpath(*parts)
        if not target.resolve().is_relative_to(dest.resolve()):   # belt and braces after entry_problem
            self.skip(shown, "path leaves the extraction folder: not extracted")
            return 0
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            self.skip(shown, "the archive holds this name twice (or as a folder and a file): "
                             "later copy not extracted")
            return 0
        except OSError as e:
            self.skip(shown, f"could not be extracted ({e.strerror})")
            return 0
        try:
            with open(fd, "wb") as out, zf.open(info) as src:
                n = copy_capped(src, out, cap)
        except CapExceeded:
            target.unlink()
            self.skip(shown, f"expands beyond its declared size and the limit of {cap} bytes "
                             f"(zip bomb?): extraction stopped")
            return 0
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
                ValueError) as e:
            target.unlink()
            self.skip(shown, f"corrupt or unsupported entry ({e})")
            return 0
        (self.receipts if kind == "receipt" else self.notebooks).append(_Found(shown, target, name, _zip_time(info)))
        return n


def _kind(name: str) -> str:
    low = name.lower()
    if name in _IGNORED_NAMES or name.startswith("._"):
        return "ignored"                     # macOS / Windows litter
    if low.endswith(NOTEBOOK_SUFFIX):
        return "notebook"
    if low.endswith(".zip"):
        return "zip"
    if low.endswith(".txt") and (lms := parse_lms_name(name)) and lms.original is None:
        return "receipt"
    return "other"


def _kind_text(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    return f"{suffix} file" if suffix else "no file extension"


# ----------------------------------------------------------------------------- assembling items

@dataclass(frozen=True)
class _Candidate:
    key: str
    found: _Found
    source_name: str
    time: datetime | None


def _read_receipts(receipts: list[_Found]) -> dict[str, str]:
    originals: dict[str, str] = {}
    for r in receipts:
        try:
            with open(r.path, "rb") as f:
                text = f.read(_MAX_RECEIPT_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        originals.update(parse_receipt(text).originals)
    return originals


def _attempt_key(key: str, t: datetime) -> str:
    return f"{key}@{t:%Y-%m-%d-%H-%M-%S}"


def _assemble(c: _Collector, all_attempts: bool = False) -> Intake:
    originals = _read_receipts(c.receipts)
    candidates: list[_Candidate] = []
    for f in c.notebooks:
        lms = parse_lms_name(f.name)
        if lms is not None:
            candidates.append(_Candidate(lms.username, f, originals.get(f.name, lms.original or f.name), lms.time))
        else:
            candidates.append(_Candidate(PurePosixPath(f.name).stem, f, f.name, None))

    # Every attempt seen per user (receipts and non-notebook files included).
    attempts: dict[str, set[datetime]] = {}
    for name in [r.name for r in c.receipts] + [PurePosixPath(s.name).name for s in c.skipped]:
        if (lms := parse_lms_name(name)) is not None:
            attempts.setdefault(lms.username, set()).add(lms.time)

    by_key: dict[str, list[_Candidate]] = {}
    for cand in candidates:
        if cand.time is not None:
            by_key.setdefault(cand.key, []).append(cand)
    plain = sorted((cand for cand in candidates if cand.time is None), key=lambda x: x.found.shown)

    items: list[IntakeItem] = []
    for key, group in by_key.items():
        group.sort(key=lambda x: (x.time, x.found.shown))
        chosen, others = group[-1], group[:-1]
        flags: tuple[str, ...] = ()
        if any(o.time != chosen.time for o in others):
            flags = add_flags(flags, "several_attempts")
        if any(o.time == chosen.time for o in others):
            flags = add_flags(flags, "several_notebooks_in_attempt")
        if max(attempts.get(key, set()) | {chosen.time}) > chosen.time:
            flags = add_flags(flags, "latest_attempt_without_notebook")
        items.append(IntakeItem(key, chosen.found.path, chosen.source_name, chosen.time,
                                tuple(o.found.name for o in others), flags, chosen.found.time))
        if all_attempts:      # attempt = "best": every earlier attempt is graded too (one notebook each)
            latest_per_time = {o.time: o for o in others if o.time != chosen.time}
            for t, o in sorted(latest_per_time.items()):
                items.append(IntakeItem(_attempt_key(key, t), o.found.path, o.source_name, t, (), (),
                                        o.found.time, attempt_of=key))

    # Receipts of students who sent no notebook at all are worth a line.
    for r in c.receipts:
        lms = parse_lms_name(r.name)
        if lms is not None and lms.username not in by_key:
            c.skip(r.shown, f"receipt of {lms.username}'s attempt {lms.time:%Y-%m-%d %H:%M:%S}; "
                            f"no notebook was submitted with it")

    # Students none of whose uploads could be used still get a row (status invalid_notebook).
    latest: dict[str, tuple[datetime, Refused]] = {}
    for s in c.skipped:
        lms = parse_lms_name(PurePosixPath(s.name).name)
        if lms is None or lms.original is None or lms.username in by_key:
            continue
        if lms.username not in latest or lms.time > latest[lms.username][0]:
            latest[lms.username] = (lms.time, Refused(lms.username, originals.get(PurePosixPath(s.name).name,
                                                                                   lms.original), s.reason))
    refused = [r for _, r in sorted(latest.values(), key=lambda tr: tr[1].key)]

    taken = {i.key for i in items} | {r.key for r in refused}
    for cand in plain:
        key, n = cand.key, 1
        while key in taken:
            n += 1
            key = f"{cand.key}-{n}"
        taken.add(key)
        items.append(IntakeItem(key, cand.found.path, cand.source_name, None, (),
                                ("key_from_file_name",) + (("duplicate_key",) if n > 1 else ()),
                                cand.found.time))
    items.sort(key=lambda i: i.key)
    return Intake(items, c.skipped, refused)


def expand_inputs(paths: list[Path], workdir: Path, *, limits: ZipLimits = ZipLimits(),
                  all_attempts: bool = False) -> Intake:
    """Folders (walked; links not followed), single notebooks and zip archives -> one IntakeItem per
    student plus what was skipped and why.  Zip entries are extracted (safely) under `workdir`;
    nothing is ever written elsewhere.  Never raises for bad inputs.

    ``all_attempts``: also one item per earlier LMS attempt (its ``attempt_of`` names the student's
    key, its key is ``<key>@<stamp>``), for the "best attempt counts" policy."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    c = _Collector(workdir, limits)
    for p in map(Path, paths):
        if p.is_dir():
            c.folder(p)
        elif p.is_file():
            c.file(str(p), p, p.name)
        elif p.exists() or p.is_symlink():
            c.skip(str(p), "not a regular file or folder")
        else:
            c.skip(str(p), "does not exist")
    return _assemble(c, all_attempts)


def refused_submission(r: Refused) -> Submission:
    """The Submission (not gradable, so graded as invalid_notebook) of a student whose upload was refused."""
    problem = f"The submitted file {r.source_name} could not be graded: {r.reason}."
    return Submission(key=r.key, source_name=r.source_name,
                      sha256=hashlib.sha256(f"refused\0{r.source_name}\0{r.reason}".encode()).hexdigest(),
                      notebook_json=None, problem=problem)


def read_item(item: IntakeItem, *, cid_placeholder: int, max_bytes: int) -> Submission:
    """read_submission for one IntakeItem, carrying its other attempts and flags over."""
    sub = read_submission(item.path, key=item.key, source_name=item.source_name,
                          cid_placeholder=cid_placeholder, max_bytes=max_bytes)
    return replace(sub, flags=add_flags(sub.flags, *item.flags),
                   other_attempts=sub.other_attempts + item.other_attempts)
