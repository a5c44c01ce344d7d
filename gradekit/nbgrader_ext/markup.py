"""The seeded-bug markup of the instructor notebook, parsed without nbgrader (pure functions on text).

A *seeded bug* is a mistake the release shows on purpose and the students fix.  The source notebook
holds the correct code; the lines to release instead stand right after the BEGIN marker::

    def perceptron(x1, x2, w1, w2, bias):
        ### BEGIN SEEDED BUG
        ### RELEASE: weighted_sum + x1 * w1 + x2 * w2 + bias
        weighted_sum = x1 * w1 + x2 * w2 + bias
        ### END SEEDED BUG
        return 1 if weighted_sum >= 0 else 0

In the release the whole region (markers and correct lines) becomes the RELEASE lines, each indented
like its own marker line.  Exactly one space after ``RELEASE:`` is a separator; further spaces are
kept, so ``### RELEASE:     return x`` releases ``return x`` indented four more columns.  A region
may hold several RELEASE lines (a multi-line bug), none (the bug is a missing line) or no correct
line (the bug is an extra line), but not neither.  Any number of ``#`` open a marker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = "BEGIN SEEDED BUG"
END = "END SEEDED BUG"
RELEASE = "RELEASE:"

_BEGIN_RE = re.compile(r"^(?P<indent>\s*)#+\s*BEGIN SEEDED BUG\s*$")
_END_RE = re.compile(r"^\s*#+\s*END SEEDED BUG\s*$")
_RELEASE_RE = re.compile(r"^(?P<indent>\s*)#+\s*RELEASE:(?: (?P<text>.*)|(?P<empty>\s*))$")
# Anything that looks like a marker, to refuse misspelt or misplaced ones instead of releasing them.
_ANY_MARKER_RE = re.compile(r"^\s*#+\s*(BEGIN|END) SEEDED BUG|^\s*#+\s*RELEASE:", re.IGNORECASE)


class SeededBugSyntaxError(ValueError):
    """A SEEDED BUG region is malformed; the message names the line and says what is wrong."""


@dataclass(frozen=True)
class SeededRegion:
    """One region of a cell: line numbers are 0-based indices into ``source.split("\\n")``."""

    begin: int
    end: int
    release_lines: tuple[str, ...]   # as they appear in the release (indentation applied)
    fixed_lines: tuple[str, ...]     # the correct lines, as they appear in the source

    @property
    def buggy_text(self) -> str:
        return "\n".join(self.release_lines)

    @property
    def fixed_text(self) -> str:
        return "\n".join(self.fixed_lines)


def has_marker(source: str) -> bool:
    """True if any line of ``source`` looks like a seeded-bug marker (well-formed or not)."""
    return any(_ANY_MARKER_RE.match(line) for line in source.split("\n"))


def parse_regions(source: str) -> list[SeededRegion]:
    """The seeded-bug regions of one cell's source, in order; SeededBugSyntaxError if malformed."""
    regions: list[SeededRegion] = []
    begin: int | None = None
    release: list[str] = []
    fixed: list[str] = []
    lines = source.split("\n")
    for number, line in enumerate(lines):
        where = f"line {number + 1} ({line.strip()!r})"
        if _BEGIN_RE.match(line):
            if begin is not None:
                raise SeededBugSyntaxError(f"{where}: BEGIN SEEDED BUG inside the region opened at line "
                                           f"{begin + 1}; close it with END SEEDED BUG first (regions do not nest)")
            begin, release, fixed = number, [], []
        elif _END_RE.match(line):
            if begin is None:
                raise SeededBugSyntaxError(f"{where}: END SEEDED BUG without a BEGIN SEEDED BUG before it")
            if not release and not fixed:
                raise SeededBugSyntaxError(f"{where}: the region opened at line {begin + 1} is empty: give it "
                                           f"RELEASE lines (what students see) and/or the correct lines")
            regions.append(SeededRegion(begin, number, tuple(release), tuple(fixed)))
            begin = None
        elif (m := _RELEASE_RE.match(line)) is not None:
            if begin is None:
                raise SeededBugSyntaxError(f"{where}: RELEASE line outside a SEEDED BUG region")
            if fixed:
                raise SeededBugSyntaxError(f"{where}: RELEASE lines must come right after BEGIN SEEDED BUG, "
                                           f"before the correct lines of the region")
            text = m.group("text") if m.group("text") is not None else ""
            release.append((m.group("indent") + text).rstrip())
        elif _ANY_MARKER_RE.match(line):
            raise SeededBugSyntaxError(f"{where}: not a valid seeded-bug marker; write exactly "
                                       f"'### {BEGIN}', '### {RELEASE} <code>' or '### {END}'")
        elif begin is not None:
            fixed.append(line)
    if begin is not None:
        raise SeededBugSyntaxError(f"line {begin + 1} ({lines[begin].strip()!r}): BEGIN SEEDED BUG without "
                                   f"a matching END SEEDED BUG")
    return regions


def _rewrite(source: str, keep_release: bool) -> str:
    regions = parse_regions(source)
    if not regions:
        return source
    lines = source.split("\n")
    out: list[str] = []
    start = 0
    for region in regions:
        out.extend(lines[start:region.begin])
        out.extend(region.release_lines if keep_release else region.fixed_lines)
        start = region.end + 1
    out.extend(lines[start:])
    return "\n".join(out)


def release_source(source: str) -> str:
    """``source`` as students get it: every region replaced by its RELEASE lines."""
    return _rewrite(source, keep_release=True)


def fixed_source(source: str) -> str:
    """``source`` with the markers and RELEASE lines removed: the correct code alone."""
    return _rewrite(source, keep_release=False)
