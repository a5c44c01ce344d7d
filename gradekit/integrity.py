"""Integrity evidence for staff, from a graded cohort: never changes marks, never on a feedback page.

Because each student's answers depend on their own CID, answers that are right for *another* CID are
strong evidence of copied work.  This pass runs once after grading, in the trusted process, from the
stored results (their comparable answers) and the submitted notebooks:

* ``other_cid`` / ``template_cid``: a part that failed against the student's own CID matches the
  reference of a classmate's CID (the row names that classmate) or of the template's CID.  Which
  reference values to compare is the course's `matches_cid` hook; only failing parts are
  cross-checked, so an honest cohort costs nothing here.
* ``identical_answers``: the numeric answers of a failing part are identical to the last bit between
  two students, neither of them right for their own CID, and not explained by a typical mistake both
  made (a mistake that ignores the CID gives everyone who makes it the same numbers).
* ``identical_code``: an answer cell (nbgrader ``solution`` cell) is token-for-token identical between
  two students once comments and whitespace are removed, and it is neither the release's code nor the
  solution's, and differs from both by at least ``MIN_CHANGED_TOKENS`` tokens (two students making
  the same one-line fix is no evidence).
"""
from __future__ import annotations

import difflib
import io
import math
import re
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from .model import Status, SubmissionResult

INTEGRITY_CSV = "integrity.csv"
COLUMNS = ("student", "kind", "other", "evidence")
MIN_CHANGED_TOKENS = 20
MIN_FINITE_ANSWERS = 2
MAX_DIFF_TOKENS = 20_000
MAX_CELL_CHARS = 200_000

#: (part, answers, cid) -> evidence text when the answers are the reference's for that CID, else None.
CidMatcher = Callable[[str, object, int], "str | None"]


@dataclass(frozen=True)
class Evidence:
    student: str
    kind: str          # other_cid | template_cid | identical_answers | identical_code
    other: str         # the classmate's key(s), or "template CID n"
    evidence: str


def failing_parts(result: SubmissionResult) -> set[str]:
    return {c.part for c in result.checks if not c.passed}


def _judged(results: Iterable[SubmissionResult]) -> list[SubmissionResult]:
    return [r for r in results if r.checks and Status(r.status) in (Status.GRADED, Status.NO_CID)]


# -- answers that are right for another CID --------------------------------------------------------

def other_cid_evidence(results: Sequence[SubmissionResult], matches: CidMatcher,
                       template_cid: int | None) -> list[Evidence]:
    """Each failing part with comparable answers, against every other CID of the cohort and the
    template's CID.  A matcher that raises for one pair loses that pair only."""
    by_cid: dict[int, list[str]] = defaultdict(list)
    for r in results:
        if r.cid is not None:
            by_cid[int(r.cid)].append(r.key)
    rows = []
    for r in _judged(results):
        for part in sorted(failing_parts(r) & set(r.comparable or {})):
            candidates = [c for c in sorted(by_cid) if c != r.cid]
            if template_cid is not None and template_cid not in by_cid and template_cid != r.cid:
                candidates.append(template_cid)
            for cid in candidates:
                try:
                    found = matches(part, r.comparable[part], cid)
                except Exception:  # noqa: BLE001 - evidence is advice; one bad pair must not stop the pass
                    found = None
                if found:
                    template = cid == template_cid and cid not in by_cid
                    rows.append(Evidence(r.key, "template_cid" if template else "other_cid",
                                         f"template CID {cid}" if template else ";".join(sorted(by_cid[cid])),
                                         f"{part}: {found}"))
    return rows


# -- identical numeric answers ---------------------------------------------------------------------

def _bits(value: object) -> str:
    """A number to the last bit (every nan alike); anything else by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        return "nan" if math.isnan(v) else v.hex()
    return repr(value)


def _pairs(answers: object) -> list[tuple[object, object]]:
    """Comparable answers are [[label, number], ...] (the courses's comparable_answers hook)."""
    if not isinstance(answers, (list, tuple)):
        return []
    return [(p[0], p[1]) for p in answers if isinstance(p, (list, tuple)) and len(p) == 2]


def _finite_values(answers: object) -> int:
    return sum(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for _, v in _pairs(answers))


def identical_answers(results: Sequence[SubmissionResult]) -> list[Evidence]:
    groups: dict[tuple[str, tuple], list[SubmissionResult]] = defaultdict(list)
    for r in _judged(results):
        for part in failing_parts(r) & set(r.comparable or {}):
            if _finite_values(r.comparable[part]) >= MIN_FINITE_ANSWERS:
                bits = tuple((_bits(label), _bits(v)) for label, v in _pairs(r.comparable[part]))
                groups[(part, bits)].append(r)
    rows = []
    for (part, bits), members in sorted(groups.items(), key=lambda kv: kv[0][0]):
        n = _finite_values(members[0].comparable[part])
        for a in members:
            mine = {m.id for m in a.mistakes if m.part == part}
            for b in members:
                if b is a or mine & {m.id for m in b.mistakes if m.part == part}:
                    continue
                rows.append(Evidence(a.key, "identical_answers", b.key,
                                     f"{part}: {n} finite answers identical to the last bit; neither student's "
                                     f"answers are right for their own CID"))
    return rows


# -- identical code ----------------------------------------------------------------------------------

_SKIP_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                tokenize.ENCODING, tokenize.ENDMARKER}


def normalised_tokens(source: str) -> tuple[str, ...]:
    """The code's tokens without comments and whitespace.  Code that does not tokenize (a syntax
    error) falls back to its words after cutting ``#`` comments."""
    try:
        return tuple(t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                     if t.type not in _SKIP_TOKENS)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return tuple(w for line in source.splitlines() for w in re.sub(r"#.*", "", line).split())


def answer_cells(nb) -> dict[str, tuple[str, ...]]:
    """grade_id -> normalised tokens of each nbgrader answer (``solution``) code cell of a notebook
    (an nbformat node or its JSON text); cells over MAX_CELL_CHARS are left out (bounded cost)."""
    if isinstance(nb, str):
        import nbformat

        nb = nbformat.reads(nb, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if (cell.cell_type == "code" and meta.get("solution") and isinstance(meta.get("grade_id"), str)
                and len(cell.source) <= MAX_CELL_CHARS):   # no answer is that long; a hostile cell could be
            out[meta["grade_id"]] = normalised_tokens(cell.source)
    return out


def _changed(base: tuple[str, ...], tokens: tuple[str, ...]) -> int:
    if len(tokens) > MAX_DIFF_TOKENS:   # a notebook controls its cells' size: no quadratic diff of a huge one
        return abs(len(tokens) - len(base))
    matcher = difflib.SequenceMatcher(None, base, tokens, autojunk=False)
    return len(tokens) - sum(block.size for block in matcher.get_matching_blocks())


def identical_code(notebooks: Mapping[str, object], baselines: Sequence[Mapping[str, tuple[str, ...]]]) -> list[Evidence]:
    """`notebooks`: student key -> notebook (or JSON text; None is skipped).  `baselines`: the release's
    and the solution's answer cells (:func:`answer_cells`); code equal or close to them is ignored, and
    so are cells whose grade_id they do not have (a notebook's metadata is untrusted text)."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for key, nb in sorted(notebooks.items()):
        if nb is None:
            continue
        try:
            cells = answer_cells(nb)
        except Exception:  # noqa: BLE001 - an unreadable notebook already has its own row
            continue
        for gid, tokens in cells.items():
            bases = [b[gid] for b in baselines if gid in b]
            if bases and tokens and all(_changed(base, tokens) >= MIN_CHANGED_TOKENS for base in bases):
                groups[(gid, tokens)].append(key)
    rows = []
    for (gid, tokens), keys in sorted(groups.items()):
        for a in keys:
            rows += [Evidence(a, "identical_code", b, f"answer cell {gid}: {len(tokens)} tokens identical "
                                                      f"(comments and whitespace ignored), not the release's or "
                                                      f"the solution's code") for b in keys if b != a]
    return rows


# -- the pass and its output -------------------------------------------------------------------------

def cohort_evidence(results: Sequence[SubmissionResult], notebooks: Mapping[str, object], *,
                    matches: CidMatcher | None, template_cid: int | None,
                    baselines: Sequence[Mapping[str, tuple[str, ...]]]) -> list[Evidence]:
    rows = other_cid_evidence(results, matches, template_cid) if matches is not None else []
    rows += identical_answers(results)
    rows += identical_code(notebooks, baselines)
    return sorted(rows, key=lambda e: (e.student, e.kind, e.other))


def write_integrity_csv(rows: Sequence[Evidence], out_dir: Path) -> Path:
    """``out_dir/integrity.csv`` (student, kind, other, evidence); written even when empty."""
    import pandas as pd

    from .escape import write_csv

    df = pd.DataFrame([astuple(e) for e in rows], columns=list(COLUMNS), dtype="string")
    return write_csv(Path(out_dir) / INTEGRITY_CSV, df, list(df.columns))


def baselines_of(release_path: Path, source_path: Path) -> list[dict[str, tuple[str, ...]]]:
    """The answer cells of the release and of the solution (the release with every seeded bug fixed
    and every task solved from the source), normalised: code a student may hand in unchanged."""
    import nbformat

    from .fabricate import fix_all_bugs, solve_all

    release = nbformat.read(release_path, as_version=4)
    solution = solve_all(fix_all_bugs(release, nbformat.read(source_path, as_version=4)),
                         nbformat.read(source_path, as_version=4))
    return [answer_cells(release), answer_cells(solution)]


def course_evidence(results: Sequence[SubmissionResult], notebooks: Mapping[str, object], course) -> list[Evidence]:
    """The pass for a graded cohort of `course` (gradekit.grading.Course): its matches_cid hook, the
    configured template CID, and the release and solution of its assignment."""
    return cohort_evidence(results, notebooks, matches=course.matches_cid, template_cid=course.cfg.cid_placeholder,
                           baselines=baselines_of(course.cfg.release, course.cfg.source))
