"""The class list (a CSV/TSV file: username, name, CID) and matching submissions against it."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ..errors import SetupError
from ..model import Submission
from .flags import add_flags

# Header spellings, compared after lower-casing and turning any run of non-alphanumerics into one
# space ("User_Name" -> "user name").  Earlier spellings win when a file has several.
ID_HEADERS = ("username", "user name", "user", "user id", "userid", "login", "login id",
              "student username", "student", "student id", "studentid", "id", "key")
NAME_HEADERS = ("name", "full name", "student name", "display name")
FIRST_HEADERS = ("first name", "given name", "forename", "first")
LAST_HEADERS = ("last name", "surname", "family name", "last")
CID_HEADERS = ("cid", "college id", "collegeid", "college id number", "college number", "cid number")
DEADLINE_HEADERS = ("deadline", "extension", "extended deadline", "due", "due date")


@dataclass(frozen=True)
class RosterEntry:
    key: str
    name: str | None
    cid: int | None
    deadline: datetime | None = None   # this student's own deadline (an extension), timezone-aware


@dataclass(frozen=True)
class Roster:
    entries: tuple[RosterEntry, ...]
    problems: tuple[str, ...] = ()     # rows that were skipped or partly unreadable, for the TA

    def get(self, key: str) -> RosterEntry | None:
        folded = key.casefold()
        return next((e for e in self.entries if e.key.casefold() == folded), None)


def _norm_header(h: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", h.replace("\ufeff", "").lower()).strip()


def _find(headers: list[str], wanted: tuple[str, ...]) -> int | None:
    for w in wanted:
        if w in headers:
            return headers.index(w)
    return None


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")            # Blackboard's "Excel" download is UTF-16 TSV
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")   # saved by Excel on Windows


def parse_cid(text: str) -> int | None:
    """A roster CID cell -> int ("01234567" -> 1234567, "1234567.0" from Excel -> 1234567)."""
    s = text.strip()
    if re.fullmatch(r"[0-9]{1,15}(\.0+)?", s):
        return int(s.split(".")[0])
    return None


def parse_extension(text: str) -> tuple[datetime | None, str | None]:
    """A roster ``deadline`` cell -> (aware datetime or None, problem or None).  Blank: no extension.
    The time needs a UTC offset ("2026-12-06T17:00:00+00:00"): a zone-less time is refused rather
    than guessed."""
    s = text.strip()
    if not s:
        return None, None
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None, f"{s!r} is not an ISO 8601 time such as 2026-12-06T17:00:00+00:00"
    if t.tzinfo is None:
        return None, f"{s!r} has no UTC offset (write e.g. 2026-12-06T17:00:00+00:00)"
    return t, None


def parse_roster(text: str, source: str = "roster") -> Roster:
    """Pure: roster text (comma, tab or semicolon separated, one header row) -> Roster."""
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise SetupError(f"{source}: the roster is empty; it needs a header row with a Username column")
    headers = [_norm_header(h) for h in rows[0]]
    i_id = _find(headers, ID_HEADERS)
    if i_id is None:
        raise SetupError(f"{source}: no student id column; the header is {rows[0]!r}, expected one of "
                         f"Username, User, Login, Student ID (any case)")
    i_name, i_first, i_last = _find(headers, NAME_HEADERS), _find(headers, FIRST_HEADERS), _find(headers, LAST_HEADERS)
    i_cid = _find(headers, CID_HEADERS)
    i_deadline = _find(headers, DEADLINE_HEADERS)

    def cell(row: list[str], i: int | None) -> str:
        return row[i].strip() if i is not None and i < len(row) else ""

    entries: dict[str, RosterEntry] = {}
    problems: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        key = cell(row, i_id)
        if not key:
            problems.append(f"row {line}: no student id; row skipped")
            continue
        if key.casefold() in entries:
            problems.append(f"row {line}: {key} appears again; the first row is kept")
            continue
        name = cell(row, i_name) or " ".join(p for p in (cell(row, i_first), cell(row, i_last)) if p)
        cid_text = cell(row, i_cid)
        cid = parse_cid(cid_text) if cid_text else None
        if cid_text and cid is None:
            problems.append(f"row {line}: CID {cid_text!r} of {key} is not a number")
        deadline, problem = parse_extension(cell(row, i_deadline))
        if problem:
            problems.append(f"row {line}: deadline of {key}: {problem}; the course deadline applies")
        entries[key.casefold()] = RosterEntry(key, name or None, cid, deadline)
    return Roster(tuple(entries.values()), tuple(problems))


def read_roster(csv_path: Path) -> Roster:
    """Read the roster file; SetupError when it cannot be read or has no id column."""
    try:
        raw = Path(csv_path).read_bytes()
    except OSError as e:
        raise SetupError(f"cannot read the roster {csv_path}: {e.strerror}") from None
    return parse_roster(_decode(raw), str(csv_path))


def match_roster(submissions: Iterable[Submission], roster: Roster
                 ) -> tuple[list[Submission], list[RosterEntry]]:
    """Flag submissions against the roster; return them (same order) and the roster entries that
    have no submission.

    A submission is matched by key (case-insensitively; the roster's spelling of the key is then
    used).  One whose key is not on the roster but whose CID belongs to exactly one roster entry
    without a submission is matched to it (key replaced, flag ``matched_by_cid``: inputs that are
    not LMS downloads are keyed by file name).  Flags: ``not_on_roster``, ``cid_mismatch_roster``
    (notebook CID != roster CID), ``duplicate_cid`` (two keys' notebooks carry the same CID)."""
    subs = list(submissions)
    by_key = {e.key.casefold(): e for e in roster.entries}
    matched: dict[int, RosterEntry] = {}
    for i, s in enumerate(subs):
        if (e := by_key.get(s.key.casefold())) is not None:
            matched[i] = e
    claimed = {e.key for e in matched.values()}

    by_cid: dict[int, list[RosterEntry]] = {}
    for e in roster.entries:
        if e.cid is not None:
            by_cid.setdefault(e.cid, []).append(e)
    wanted: dict[str, list[int]] = {}
    for i, s in enumerate(subs):
        cands = by_cid.get(s.identity.cid, []) if i not in matched and s.identity.cid is not None else []
        if len(cands) == 1 and cands[0].key not in claimed:
            wanted.setdefault(cands[0].key, []).append(i)
    by_cid_match = {idxs[0]: roster.get(k) for k, idxs in wanted.items() if len(idxs) == 1}

    out: list[Submission] = []
    for i, s in enumerate(subs):
        flags = s.flags
        entry = matched.get(i) or by_cid_match.get(i)
        if entry is None:
            flags = add_flags(flags, "not_on_roster")
        else:
            if i in by_cid_match:
                flags = add_flags(flags, "matched_by_cid")
            elif entry.cid is not None and s.identity.cid is not None and entry.cid != s.identity.cid:
                flags = add_flags(flags, "cid_mismatch_roster")
            s = replace(s, key=entry.key)
            flags = tuple(f for f in flags if f != "key_from_file_name")   # the roster's username is used
        out.append(replace(s, flags=flags))

    keys_by_cid: dict[int, set[str]] = {}
    for s in out:
        if s.identity.cid is not None:
            keys_by_cid.setdefault(s.identity.cid, set()).add(s.key.casefold())
    out = [replace(s, flags=add_flags(s.flags, "duplicate_cid"))
           if s.identity.cid is not None and len(keys_by_cid[s.identity.cid]) > 1 else s for s in out]

    have = {s.key.casefold() for s in out}
    missing = [e for e in roster.entries if e.key.casefold() not in have]
    return out, missing
