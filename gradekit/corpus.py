"""The hostile corpus: graded in one batch, judged against the guarantees the sandbox and the engine make.

``python -m gradekit.corpus`` (the CI test is ``tests/test_corpus.py``) builds every case of
:mod:`gradekit.hostile` and of the course's ``hostile_cells`` hook from the course's notebooks, plants
canaries, grades the whole corpus with :func:`gradekit.batch.grade_batch` in ONE batch together with
the two honest students it is built from (A: full marks, B: partial), and prints one line::

    corpus: N cases, 0 escapes, 0 marks gained, 0 rows lost

* **escapes** -- nothing outside the sandbox was read or changed.  Canary files holding a random secret
  sit in a temporary copy of the confidential folders (checks, reference, source, cache), in the output
  folder and in the honest students' submissions; the secret is also in the grader's environment.  A
  hostile cell turns whatever it finds into the grade (``LEAKED ...``), so the gradebook rows are
  searched for the secret and that mark.  Writes are looked for on the host: canaries and submissions
  unchanged, no ``PWNED-*`` file, no zip entry extracted outside the intake folder, nobody connected to
  the TCP port and the abstract socket the grader listens on, no process of the corpus left behind.
* **marks gained** -- per check, no case scores more than the same notebook without its hostile cell
  (its honest baseline: A or B, each graded alone before the batch).
* **rows lost** -- every submission has exactly one row (store and gradebook.csv), with the status, flags
  and a message a TA understands as its case expects; the batch does not abort; A's and B's rows in the
  batch equal their solo grading (nothing in the batch changed their scores).
* **time** -- each sandboxed run stays within its wall-clock bound, so the batch's total is bounded by
  the configured limits (small ones, :data:`CORPUS_LIMITS`, at the tiny profile); a case may also bound
  the judge's time on its answers and the trusted CPU spent watching its run.

Cases marked ``ordered`` (a store run, then a take run) are graded just before the batch by one worker,
one after the other, so in the same sandbox slot and uid: what the first leaves for its uid (keyrings,
IPC, files, sockets) would be there for the second.  Their rows are judged with the batch's.

Two controls (``hostile.CONTROLS``) ride along: a notebook that leaks a secret planted in itself and a
notebook with honest work its baseline lacks.  They must be detected as an escape and as marks gained;
they are reported apart and do not count in the line above.  Without them "0 escapes" could also mean
"the detector is blind".
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from .config import Config
from .hostile import CID_A, CID_B, CONTROLS, LEAK_MARK, PWNED, Case, Ctx, Sparse, ZipCase, cases_for
from .model import Status, SubmissionResult

#: The corpus's limits (the tiny profile grades an honest notebook in 10-20 s on a loaded 2-core machine).
CORPUS_LIMITS = dict(cell_timeout_s=15, notebook_timeout_s=75, probe_timeout_s=10, max_processes=64)
CORPUS_PROFILE = "tiny"
SECRET_PREFIX = "gk-canary-"
CANARY_ENV = "GRADEKIT_CORPUS_CANARY"
CANARY_NAME = "gradekit-canary.txt"
HONEST = ("honest_a", "honest_b")
MARKER_FILE = ".gradekit-corpus"
JOB_OVERHEAD_S = 20.0        # per submission beyond the sandbox's wall bound: job files, judge
FIXED_OVERHEAD_S = 120.0     # once per batch: intake, starting workers, gradebook, feedback, class report


# ==================================================================================================
# Building the corpus on disk

@dataclass
class _Built:
    inputs: list[Path]
    forbidden: list[Path]                # must not exist after the batch
    watched: dict[Path, tuple]           # canaries and honest submissions: must be unchanged
    solo: dict[str, Any]                 # honest key -> Submission (graded alone for the baselines)
    ordered: list                        # Submissions of the ordered cases, in the order they must run
    cases: list[Case]                    # the corpus's cases, then the controls
    sandboxed_runs: int


def _fingerprint(path: Path) -> tuple:
    st = os.lstat(path)
    return (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime_ns)


def _nb_bytes(nb) -> bytes:
    import nbformat

    return nbformat.writes(nb).encode()


def _host_ips() -> list[str]:
    ips: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ips.add(info[4][0])
    except OSError:
        pass
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))            # no packet is sent: this only picks the outgoing address
        ips.add(s.getsockname()[0])
        s.close()
    except OSError:
        pass
    return sorted(ip for ip in ips if not ip.startswith(("127.", "::1")))


def _repo_targets(cfg: Config) -> tuple[list[str], list[str]]:
    """The course's confidential files in the real repository (hostile cells only ever try to READ these)."""
    files = sorted(cfg.checks.glob("*.py"))[:3] + [cfg.checks / "profiles.toml", cfg.source,
                                                   cfg.root / "gradekit.toml"]
    ref = cfg.root / "reference"
    files += sorted(ref.glob("*.py"))[:3] if ref.is_dir() else []
    if cfg.cache.is_dir():
        files += sorted(p for p in cfg.cache.rglob("*") if p.is_file())[:3]
    files = [p for p in files if p.is_file()]
    rel = [str(p.relative_to(cfg.root)) for p in files if p.is_relative_to(cfg.root)]
    return [str(p) for p in files], rel


def _plant(folder: Path, secret: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CANARY_NAME
    path.write_text(f"{secret}\nA canary of the gradekit corpus: a sandboxed notebook must never read or change "
                    f"this file.\n")
    os.chmod(path, 0o644)
    return path


def honest_b_bugs(bug_parts: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fixed, left in) seeded bugs of honest B: the last one fixed when there are several, and always at
    least one left in -- B must miss marks, or "no marks gained over B" would hold for any liar."""
    fixed = tuple(bug_parts[-1:]) if len(bug_parts) > 1 else ()
    return fixed, tuple(p for p in bug_parts if p not in fixed)


def _build(cfg: Config, course, work: Path, gradebook_dir: Path, secret: str, listeners: "_Listeners",
           cases: Sequence[Case]) -> _Built:
    import nbformat
    import numpy as np

    from . import fabricate
    from .intake import read_submission

    hooks = course.module              # the course contract (gradekit.api.CourseHooks)
    release = nbformat.read(cfg.release, as_version=4)
    source = nbformat.read(cfg.source, as_version=4)
    profile = course.profile
    a = hooks.student(release, source, name="Honest A", cid=CID_A, fixed=hooks.BUG_PARTS,
                      solved=hooks.TASK_PARTS, profile=profile)
    b_fixed, b_left = honest_b_bugs(hooks.BUG_PARTS)
    b = hooks.student(release, source, name="Honest B", cid=CID_B, fixed=b_fixed,
                      solved=hooks.TASK_PARTS[:1], profile=profile)

    folder = work / "inputs" / "notebooks"
    folder.mkdir(parents=True)
    checks_rel = cfg.checks.relative_to(cfg.root) if cfg.checks.is_relative_to(cfg.root) else Path("autograder")
    canaries = [_plant(work / "confidential" / sub, secret)
                for sub in (checks_rel, Path("reference"), Path("source"), Path(".gradekit-cache") / "reference")]
    canaries.append(_plant(gradebook_dir, secret))

    # The honest students carry the secret in a markdown cell: reading their files would leak it.
    honest_paths = {}
    for key, nb in zip(HONEST, (a, b)):
        marked = fabricate.insert_cell(nb, f"<!-- {secret} -->", cell_type="markdown", cell_id="canary")
        honest_paths[key] = folder / f"{key}.ipynb"
        honest_paths[key].write_bytes(_nb_bytes(marked))

    repo_files, repo_rel = _repo_targets(cfg)
    dirs = sorted({str(c.parent) for c in canaries}) + [str(folder), str(gradebook_dir), str(gradebook_dir / "intake")]
    targets = {
        "files": [str(p) for p in canaries] + [str(p) for p in honest_paths.values()]
                 + [str(gradebook_dir / "results.sqlite")],
        "repo_files": repo_files, "repo_rel": repo_rel, "repo_root": str(cfg.root),
        "dirs": dirs,              # writes are aimed only at these temporary folders, never at the repository
        "read_dirs": dirs + [str(cfg.checks), str(cfg.root / "reference"), str(cfg.source.parent), str(cfg.cache)],
        "names": sorted({CANARY_NAME, "gradekit.toml", "results.sqlite", "gradebook.csv", "autograder",
                         "profiles.toml", *(f"{k}.ipynb" for k in HONEST),
                         *(Path(p).name for p in repo_files if Path(p).name.startswith("test_"))}),
        "port": listeners.port, "abstract": listeners.abstract, "host_ips": _host_ips(),
        "env_var": CANARY_ENV, "daemon_tag": listeners.daemon_tag,
        # the engine's judging side, the course folder and every module of the repository's reference package
        "modules": ["gradekit.grading", "gradekit.judge", "gradekit.refcache", cfg.checks.parent.name,
                    *sorted(f"reference.{m.stem}" for m in (cfg.root / "reference").glob("[a-z]*.py"))],
        "probe_names": [p.name for p in course.module.make_probes(profile, np.random.default_rng(0))],
    }
    ctx = Ctx(a=a, b=b, targets=targets, work=work, source=source, bug_parts=b_left)

    zip_entries: list = []
    forbidden: list[Path] = []
    ordered_paths: list[tuple[int, int, str, Path]] = []
    ordered_folder = work / "inputs" / "ordered"      # not in the batch's inputs
    runs = len(HONEST)
    for index, case in enumerate(cases):
        ctx.case = case.name
        made = case.make(ctx)
        runs += case.base is not None
        if isinstance(made, ZipCase):
            zip_entries += made.entries
            forbidden += list(made.forbidden)
            continue
        path = (ordered_folder if case.ordered else folder) / (case.file or f"{case.name}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        if case.ordered:
            ordered_paths.append((case.ordered, index, case.name, path))
        if isinstance(made, Sparse):
            with open(path, "wb") as f:
                f.truncate(made.size)
        else:
            path.write_bytes(made if isinstance(made, bytes) else _nb_bytes(made))
    inputs = [folder]
    if zip_entries:
        zpath = work / "inputs" / "lms_download.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in zip_entries:
                z.writestr(name, data)
        inputs.append(zpath)

    max_bytes = int(cfg.limits.max_notebook_mb * 1024 * 1024)
    solo = {k: read_submission(p, key=k, source_name=p.name, cid_placeholder=cfg.cid_placeholder, max_bytes=max_bytes)
            for k, p in honest_paths.items()}
    ordered = [read_submission(p, key=k, source_name=p.name, cid_placeholder=cfg.cid_placeholder,
                               max_bytes=max_bytes) for _, _, k, p in sorted(ordered_paths)]
    watched = {p: _fingerprint(p) for p in [*canaries, *honest_paths.values()]}
    return _Built(inputs, forbidden, watched, solo, ordered, list(cases), runs)


# ==================================================================================================
# What the grader listens to while the corpus runs

class _Listeners:
    """A TCP port (all interfaces) and an abstract unix socket on the host: a sandboxed notebook must
    reach neither.  Connections are counted, then closed."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self.daemon_tag = f"86399.{secrets.randbelow(10 ** 6):06d}"
        self.abstract = f"gradekit-corpus-{secrets.token_hex(6)}"
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("0.0.0.0", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen(8)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, args=(s, what), daemon=True)
                         for s, what in ((self.tcp, f"tcp port {self.port}"), (self.unix, "abstract socket"))]
        for t in self._threads:
            t.start()

    def _accept(self, sock: socket.socket, what: str) -> None:
        sock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                conn, addr = sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections.append(f"someone connected to the grader's {what} from {addr!r}")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.tcp.close()
        self.unix.close()


def _leftover_processes(tag: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmd:
            shown = cmd.replace(b"\0", b" ").decode(errors="replace").strip()
            out.append(f"process {pid} ({shown}) outlived its run")
    return out


def host_escapes(watched: Mapping[Path, tuple], forbidden: Sequence[Path], scan: Sequence[Path]) -> list[str]:
    """What changed on the host: watched files (fingerprints taken before), paths that must not exist,
    ``PWNED*`` files anywhere under ``scan``."""
    out = []
    for path, before in watched.items():
        if not path.exists():
            out.append(f"{path} was deleted")
        elif _fingerprint(path) != before:
            out.append(f"{path} was changed")
    out += [f"{p} was written by the zip intake" for p in forbidden if os.path.lexists(p)]
    for top in scan:
        for dirpath, dirnames, filenames in os.walk(top):
            out += [f"{os.path.join(dirpath, n)} was written from inside the sandbox"
                    for n in dirnames + filenames if n.startswith(PWNED)]
    return out


# ==================================================================================================
# Judging the batch

@dataclass(frozen=True)
class CaseOutcome:
    case: str
    group: str
    status: str                          # the row's status ("missing" when there is none)
    points: float
    baseline: float | None               # the honest baseline's total (None: no code to run)
    gained: float                        # sum over checks of max(0, points - baseline's points)
    seconds: float                       # of its sandboxed run
    message: str
    problems: tuple[str, ...]            # expectations not met


@dataclass
class CorpusSummary:
    cases: int
    escapes: list[str]
    marks_gained: float
    rows_lost: int
    problems: list[str]                  # expectations not met, honest rows changed, time bound exceeded
    controls: list[str]                  # what the controls showed (each must be detected)
    outcomes: list[CaseOutcome]
    seconds: float                       # the batch's wall time
    time_bound_s: float                  # what the configured limits allow for the batch
    run_bound_s: float                   # what they allow for one sandboxed run
    out_dir: Path
    confinement: str = ""                # whether runs had their own control groups (gradekit.cgroups)

    @property
    def ok(self) -> bool:
        return not self.escapes and self.marks_gained == 0 and self.rows_lost == 0 and not self.problems

    def line(self) -> str:
        return (f"corpus: {self.cases} cases, {len(self.escapes)} escapes, {self.marks_gained:g} marks gained, "
                f"{self.rows_lost} rows lost" + (f", {len(self.problems)} problems" if self.problems else ""))

    def table(self) -> str:
        rows = [f"{'case':24} {'group':9} {'status':17} {'points':>6} {'honest':>6} {'secs':>5}  message"]
        for o in self.outcomes:
            base = "-" if o.baseline is None else f"{o.baseline:g}"
            rows.append(f"{o.case:24} {o.group:9} {o.status:17} {o.points:6g} {base:>6} {o.seconds:5.1f}  "
                        f"{' '.join(o.message.split())[:100]}")
        return "\n".join(rows)

    def report(self) -> str:
        parts = [self.table(), ""]
        parts += [f"control: {c}" for c in self.controls]
        parts += [f"ESCAPE: {e}" for e in self.escapes]
        parts += [f"PROBLEM: {p}" for p in self.problems]
        parts.append(f"batch: {self.seconds:.0f} s (its limits allow {self.time_bound_s:.0f} s; one sandboxed run "
                     f"{self.run_bound_s:.0f} s); {self.confinement}; outputs in {self.out_dir}")
        parts.append(self.line())
        return "\n".join(parts)


def _norm(message: str) -> str:
    """A message without its numbers (timings; the random inputs a hidden check names)."""
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", message)


def _check_points(r: SubmissionResult) -> dict[tuple[str, str], float]:
    return {(c.part, c.name): c.points for c in r.checks}


def _row_leaks(key: str, r: SubmissionResult, secret: str) -> list[str]:
    text = json.dumps(r.to_json(), default=str)
    out = []
    if secret in text:
        out.append(f"{key}: the canary secret appears in its gradebook row")
    if LEAK_MARK in text:
        at = text.index(LEAK_MARK)
        out.append(f"{key}: a hostile cell reported {text[at:at + 160]!r}")
    return out


def _expectations(case: Case, r: SubmissionResult, base: SubmissionResult | None) -> list[str]:
    e, why = case.expect, []
    if r.status not in e.status:
        why.append(f"status {r.status}, expected {'/'.join(str(s) for s in e.status)}")
    if r.status is Status.ERROR or "internal grader error" in r.message:
        why.append("the grader itself failed on it")
    if not r.message.strip():
        why.append("no message for the TA")
    if e.message and not re.search(e.message, r.message, re.I):
        why.append(f"its message does not say /{e.message}/")
    missing_flags = [f for f in e.flags if f not in r.flags]
    if missing_flags:
        why.append(f"flags {missing_flags} missing (it has {list(r.flags)})")
    judge_s, cpu_s = r.timings.get("judge"), r.timings.get("supervisor (CPU)")
    if e.judge_s is not None and (judge_s is None or judge_s > e.judge_s):
        why.append(f"judging its answers took {judge_s} s, above its bound of {e.judge_s:g} s")
    if e.supervisor_cpu_s is not None and (cpu_s is None or cpu_s > e.supervisor_cpu_s):
        why.append(f"the trusted side spent {cpu_s} s of CPU watching its run, above {e.supervisor_cpu_s:g} s")
    if e.points == "zero" and r.total != 0:
        why.append(f"{r.total:g} points, expected none")
    if e.points == "same" and base is not None:
        mine, theirs = _check_points(r), _check_points(base)
        lost = [f"{part}.{name}" for (part, name), p in theirs.items() if mine.get((part, name), 0.0) < p]
        if lost or set(mine) != set(theirs):
            why.append(f"lost points its honest code earns: {', '.join(lost) or 'the checks differ'}")
    return why


def judge_corpus(cases: Sequence[Case], results: Mapping[str, Sequence[SubmissionResult]],
                 solo: Mapping[str, SubmissionResult], secret: str, run_bound_s: float):
    """(outcomes, escapes, problems, marks gained, rows lost, controls) of one graded corpus.

    ``results``: every row of the batch by key; ``solo``: the honest students graded alone.
    Findings about control cases (group "control") are returned in ``controls``, not counted."""
    escapes: list[str] = []
    problems: list[str] = []
    controls: list[str] = []
    outcomes: list[CaseOutcome] = []
    gained_total, rows_lost = 0.0, 0
    control_names = {c.name for c in cases if c.group == "control"}

    for key, rows in sorted(results.items()):
        for r in rows:
            leaks = _row_leaks(key, r, secret)
            (controls if key in control_names else escapes).extend(leaks)
            sandbox_s = float(r.timings.get("sandbox", 0.0))
            if sandbox_s > run_bound_s:
                problems.append(f"{key}: its sandboxed run took {sandbox_s:.0f} s, above its bound of "
                                f"{run_bound_s:.0f} s")
    expected = {c.name for c in cases} | set(HONEST)
    problems += [f"{key}: a gradebook row nobody submitted" for key in sorted(set(results) - expected)]

    for key in HONEST:
        rows = results.get(key, [])
        if len(rows) != 1:
            rows_lost += 1
            continue
        got, want = rows[0], solo[key]
        if (got.status, _check_points(got), [_norm(c.message) for c in got.checks], _norm(got.message)) != \
                (want.status, _check_points(want), [_norm(c.message) for c in want.checks], _norm(want.message)):
            problems.append(f"{key}: its row in the batch ({got.status}, {got.total:g} points: {got.message[:100]}) "
                            f"differs from its solo grading ({want.status}, {want.total:g} points: "
                            f"{want.message[:100]})")

    for case in cases:
        rows = results.get(case.name, [])
        if len(rows) != 1:
            rows_lost += case.group != "control"
            outcomes.append(CaseOutcome(case.name, case.group, "missing" if not rows else f"{len(rows)} rows",
                                        0.0, None, 0.0, 0.0, "", (f"{len(rows)} gradebook rows",)))
            problems.append(f"{case.name}: {len(rows)} gradebook rows")
            continue
        r = rows[0]
        base = solo[HONEST[0] if case.base == "a" else HONEST[1]] if case.base else None
        theirs = _check_points(base) if base else {}
        gained = sum(max(0.0, p - theirs.get(k, 0.0)) for k, p in _check_points(r).items())
        why = _expectations(case, r, base)
        if case.group == "control":
            if gained:
                controls.append(f"{case.name}: {gained:g} marks above its baseline")
        else:
            gained_total += gained
            if gained:
                why.append(f"{gained:g} marks above its honest baseline")
            problems += [f"{case.name}: {w}" for w in why]
        outcomes.append(CaseOutcome(case.name, case.group, str(r.status), r.total,
                                    None if base is None else base.total, gained,
                                    float(r.timings.get("sandbox", 0.0)), r.message, tuple(why)))
    for name in sorted(control_names):
        if not any(c.startswith(f"{name}:") for c in controls):
            problems.append(f"{name}: the planted {'leak' if 'leak' in name else 'gain'} was NOT detected "
                            f"(the corpus's detector is blind)")
    return outcomes, escapes, problems, gained_total, rows_lost, controls


def _results_by_key(store_path: Path) -> dict[str, list[SubmissionResult]]:
    from .store import ResultStore

    with ResultStore(store_path, readonly=True) as store:
        out: dict[str, list[SubmissionResult]] = {}
        for r in store.all():
            out.setdefault(r.key, []).append(r)
    return out


#: Every file a TA opens or uploads, with its encoding and delimiter (gradekit.escape, gradekit.lms_upload).
SHEETS = {"gradebook.csv": ("utf-8-sig", ","), "mistakes.csv": ("utf-8-sig", ","),
          "integrity.csv": ("utf-8-sig", ","), "blackboard_upload.xls": ("utf-16", "\t"),
          "blackboard_feedback.xls": ("utf-16", "\t"), "blackboard_review.tsv": ("utf-8-sig", "\t")}
REQUIRED_OUTPUTS = ("gradebook.csv", "gradebook.parquet", "blackboard_upload.xls", "blackboard_review.tsv",
                    "mistakes.csv", "integrity.csv", "report.html")


def _formula(cell: str) -> bool:
    """A cell a spreadsheet would run as a formula: text starting (after blanks) with = + - @."""
    text = cell.lstrip(" \t\r\n\xa0")
    if not text or text[0] not in "=+-@":
        return False
    try:
        float(text)                      # -2.5 is a number, not a formula
        return False
    except ValueError:
        return True


def output_problems(out_dir: Path, keys: Sequence[str]) -> list[str]:
    """What is wrong with the batch's outputs as their readers get them: a file missing (one odd row must
    never cost every student their outputs), a row split by a tab or a line break, a cell that would run
    as a formula, a student without a feedback page."""
    from .report import FEEDBACK_DIR, feedback_filename

    out_dir = Path(out_dir)
    problems = [f"{name} was not written" for name in REQUIRED_OUTPUTS if not (out_dir / name).is_file()]
    for name, (encoding, delimiter) in SHEETS.items():
        path = out_dir / name
        if not path.is_file():
            continue
        with open(path, newline="", encoding=encoding) as f:
            rows = list(csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if delimiter == "," else
                                   csv.QUOTE_NONE))
        width = len(rows[0]) if rows else 0
        for i, row in enumerate(rows[1:], 2):
            if len(row) != width:
                problems.append(f"{name} line {i}: {len(row)} cells, the header has {width} (a row split by "
                                f"a tab or a line break?)")
            problems += [f"{name} line {i}: a formula cell {cell[:40]!r}" for cell in row if _formula(cell)]
    problems += [f"no feedback page for {key!r}" for key in keys
                 if not (out_dir / FEEDBACK_DIR / feedback_filename(key)).is_file()]
    return problems


def _gradebook_rows(path: Path) -> dict[str, int]:
    from .escape import unescape

    counts: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:     # gradebook.csv carries a BOM (for Excel)
        for row in csv.DictReader(f):
            key = unescape(row["student"])                      # formula-safe cells carry a leading '
            counts[key] = counts.get(key, 0) + 1
    return counts


def _grade_in_order(subs: Sequence[Any], cfg: Config) -> dict[str, list[SubmissionResult]]:
    """Grade the ordered cases with ONE worker, so in ONE sandbox slot (one uid), one run after the other:
    what a run leaves behind for its uid is there when the next one starts.  run_local with one worker
    starts each run only after the one before it has finished (judging waits or fills the gaps)."""
    from .executors import run_local

    out: dict[str, list[SubmissionResult]] = {}
    if subs:
        run_local(list(subs), cfg, workers=1, on_result=lambda r: out.setdefault(r.key, []).append(r))
    return out


def run_bound(cfg: Config, course) -> float:
    """The longest one sandboxed run may take under cfg.limits: sandbox.run_notebook's wall clock, plus
    the margin for killing and cleaning up."""
    import numpy as np

    from .sandbox import OUTSIDE_MARGIN_S

    probes = course.module.make_probes(course.profile, np.random.default_rng(0))
    return (float(cfg.limits.notebook_timeout_s) + sum(min(p.timeout_s, cfg.limits.probe_timeout_s) for p in probes)
            + OUTSIDE_MARGIN_S + 10.0)


def corpus_config(cfg: Config, *, profile: str = CORPUS_PROFILE, limits: Mapping[str, Any] | None = None) -> Config:
    """cfg at the corpus's profile and (small) limits."""
    return cfg.with_(profile=profile, limits=replace(cfg.limits, **(CORPUS_LIMITS if limits is None else limits)))


# ==================================================================================================
# Running it

def run_corpus(cfg: Config, out_dir: Path, workers: int = 2, *, only: Sequence[str] | None = None,
               controls: bool = True, profile: str = CORPUS_PROFILE,
               limits: Mapping[str, Any] | None = None) -> CorpusSummary:
    """Build the corpus from cfg's release, grade it in one batch with the two honest students, judge it.

    ``cfg`` is the course's configuration; the corpus runs at ``profile`` with ``limits`` (default
    :data:`CORPUS_LIMITS`).  ``out_dir`` receives the inputs, the canaries and the batch's outputs (it
    must be empty or hold an earlier corpus, which is removed).  ``only`` restricts the cases (for
    debugging); ``controls`` adds the detector's self-check.  Raises SandboxUnavailable when the sandbox
    does not work: the corpus is about the sandbox, and is never run without it.
    """
    from .batch import grade_batch
    from .cgroups import problem as cgroups_problem
    from .errors import SandboxUnavailable
    from .executors import run_local
    from .grading import Course
    from .sandbox import sandbox_self_test

    cfg = corpus_config(cfg, profile=profile, limits=limits)
    if not cfg.sandbox or (reason := sandbox_self_test()) is not None:
        raise SandboxUnavailable("the hostile corpus needs the sandbox: "
                                 + ("it is switched off" if not cfg.sandbox else reason))
    course = Course(cfg)
    every = cases_for(course)
    unknown = set(only or ()) - {c.name for c in every}
    if unknown:
        raise ValueError(f"unknown corpus case(s) {sorted(unknown)}; known: {[c.name for c in every]}")
    cases = [c for c in every if only is None or c.name in only] + (list(CONTROLS) if controls else [])

    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER_FILE).exists():
            raise ValueError(f"{out_dir} is not empty and holds no earlier corpus: choose an empty folder")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER_FILE).write_text("a gradekit hostile corpus: the next run empties this folder\n")
    gradebook_dir = out_dir / "gradebook"

    secret = SECRET_PREFIX + secrets.token_hex(12)
    listeners = _Listeners()
    old_env = os.environ.get(CANARY_ENV)
    os.environ[CANARY_ENV] = secret           # the grader's environment holds the secret too
    try:
        built = _build(cfg, course, out_dir, gradebook_dir, secret, listeners, cases)
        solo: dict[str, SubmissionResult] = {}
        run_local(list(built.solo.values()), cfg, workers=min(workers, len(built.solo)),
                  on_result=lambda r: solo.__setitem__(r.key, r))
        in_order = _grade_in_order(built.ordered, cfg)
        t0 = time.perf_counter()
        grade_batch(cfg, built.inputs, gradebook_dir, workers=workers, progress=False)
        seconds = time.perf_counter() - t0
    finally:
        listeners.close()
        if old_env is None:
            os.environ.pop(CANARY_ENV, None)
        else:
            os.environ[CANARY_ENV] = old_env

    bound_one = run_bound(cfg, course)
    why_not = cgroups_problem()
    confinement = "each run in its own control group" if why_not is None else f"runs NOT confined: {why_not}"
    results = _results_by_key(gradebook_dir / "results.sqlite")
    batch_keys = sorted(results)                                   # the rows the batch's outputs hold
    for key, rows in in_order.items():
        results.setdefault(key, []).extend(rows)
    outcomes, escapes, problems, gained, rows_lost, seen = judge_corpus(built.cases, results, solo, secret, bound_one)

    counts = _gradebook_rows(gradebook_dir / "gradebook.csv")        # what a TA uploads
    for key in [c.name for c in built.cases if c.group != "control" and not c.ordered] + list(HONEST):
        if counts.get(key, 0) != 1 and len(results.get(key, [])) == 1:
            rows_lost += 1
            problems.append(f"{key}: {counts.get(key, 0)} rows in gradebook.csv")
    problems += output_problems(gradebook_dir, batch_keys)
    escapes += listeners.connections
    escapes += _leftover_processes(listeners.daemon_tag)
    escapes += host_escapes(built.watched, built.forbidden,
                            [out_dir, cfg.checks, cfg.root / "reference", cfg.source.parent])

    batch_bound = math.ceil(built.sandboxed_runs / max(1, workers)) * (bound_one + JOB_OVERHEAD_S) + FIXED_OVERHEAD_S
    if seconds > batch_bound:
        problems.append(f"the batch took {seconds:.0f} s, above the {batch_bound:.0f} s its limits allow")
    return CorpusSummary(cases=sum(c.group != "control" for c in built.cases), escapes=escapes,
                         marks_gained=gained, rows_lost=rows_lost, problems=problems, controls=seen,
                         outcomes=outcomes, seconds=seconds, time_bound_s=batch_bound, run_bound_s=bound_one,
                         out_dir=out_dir, confinement=confinement)


def main(argv: Sequence[str] | None = None) -> int:
    from .config import load_config
    from .errors import GradekitError

    ap = argparse.ArgumentParser(prog="python -m gradekit.corpus",
                                 description="Grade the hostile corpus in one batch and check the sandbox's guarantees.")
    ap.add_argument("--config", help="gradekit.toml (default: found from the current folder)")
    ap.add_argument("--out", default="corpus-out", help="folder for the inputs, canaries and the batch's outputs "
                                                         "(an earlier corpus there is removed)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", nargs="+", metavar="CASE", help="run only these cases (debugging)")
    ap.add_argument("--no-controls", action="store_true", help="skip the detector's self-check (two notebooks)")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        summary = run_corpus(cfg, Path(args.out), workers=args.workers, only=args.only,
                             controls=not args.no_controls)
    except (GradekitError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary.report())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
