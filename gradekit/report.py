"""HTML reports: one feedback page per student and the class report for TAs.

Every page is a single self-contained file that works offline: inline CSS, figures rendered by
matplotlib's Agg renderer to PNG and inlined as ``data:`` URIs, no JavaScript, no CDN.  Everything
that comes from a submission (names, file names, keys, messages, flags) is HTML-escaped.

What a student sees (:func:`write_feedback`): per-part points, and per check whether it passed, its
points and its student-facing message -- for hidden checks too (messages are written to be
student-safe); never a check's code, never reference values beyond what its message says, never
flags, timings or the grader's internal error text.  Plots use only the student's own data from
``result.extras``: ``"reconstruction"`` (input / their output / ground truth, grey 0..255) and
``"sweep"`` (their loss per learning rate, marking which rates matched; expected values are not in
the extras and are not plotted).  Missing or malformed plot data means no plot, never an error.

Figures are drawn on ``matplotlib.figure.Figure`` objects directly (no pyplot, no global state), so
pages can be rendered from several threads or processes; :func:`write_all_feedback` uses a
process pool.
"""
from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import __version__
from .gradebook import UNGRADED_STATUSES, UPLOAD_STATUSES, is_graded, part_columns, part_order
from .atomic import atomic_write_text
from .figures import figure_png as _png
from .intake.flags import flag_sentences
from .model import Status, SubmissionResult

FEEDBACK_DIR = "feedback"
CLASS_REPORT = "report.html"

#: What each status means, in words for the student.
STUDENT_STATUS_TEXT = {
    Status.GRADED: "Your notebook ran and was graded.",
    Status.NO_CID: "Your notebook was graded, but your CID is missing or still the placeholder, so the "
                   "parts that depend on your CID score 0.",
    Status.TIMEOUT: "Your notebook did not finish within the time limit; everything that could be checked "
                    "was graded.",
    Status.KERNEL_DIED: "Your notebook's Python process crashed (often: it ran out of memory); everything "
                        "that could be checked was graded.",
    Status.INVALID_NOTEBOOK: "Your file could not be read as a Jupyter notebook, so it was not graded.",
    Status.NO_SUBMISSION: "No submission was found for you.",
    Status.ERROR: "The autograder failed on your submission. This is not your fault: the teaching team has "
                  "been told and will look at it.",
}

#: What each status means, for TAs (class report).
TA_STATUS_TEXT = {
    Status.GRADED: "ran and judged",
    Status.NO_CID: "judged; CID missing or placeholder, CID-dependent parts score 0",
    Status.TIMEOUT: "hit the wall-clock limit; what could be probed was judged -- check machine load, re-run",
    Status.KERNEL_DIED: "kernel died (memory limit?); what could be probed was judged",
    Status.INVALID_NOTEBOOK: "not a readable notebook; not judged (NaN parts)",
    Status.NO_SUBMISSION: "on the roster, nothing submitted; not judged (NaN parts)",
    Status.ERROR: "the grader failed (a bug: see the traceback below); not judged",
}


# -- small HTML helpers ---------------------------------------------------------------------------

class _Raw(str):
    """HTML that is already safe (built here from escaped parts)."""


def esc(value: Any) -> str:
    if isinstance(value, _Raw):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> _Raw:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return _Raw(f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def _badge(text: str, kind: str) -> _Raw:
    return _Raw(f'<span class="badge {esc(kind)}">{esc(text)}</span>')


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _img(png: bytes, alt: str) -> _Raw:
    data = base64.b64encode(png).decode("ascii")
    return _Raw(f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">')


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:60em;
 padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num,th.num{text-align:right}
.badge{display:inline-block;padding:0 .5em;border-radius:.8em;font-size:.85em;color:#fff}
.pass{background:#2a7d2e}.fail{background:#b3261e}.hidden{background:#666}.visible{background:#1f5fa8}
.warn{background:#b26a00}
.status{padding:.6em 1em;border-left:.4em solid #1f5fa8;background:#f4f7fb;margin:1em 0}
.status.bad{border-color:#b3261e;background:#fbf4f4}
.meta{color:#555}.score{font-size:1.3em;font-weight:bold}
img{max-width:100%;height:auto}.panels{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0}figcaption{font-size:.85em;color:#555;text-align:center}pre{white-space:pre-wrap;font-size:.85em;background:#f6f6f6;padding:.5em}
footer{margin-top:3em;color:#888;font-size:.8em}
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
            f"<footer>Generated by gradekit {esc(__version__)} on "
            f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</footer></body></html>\n")


def _write(path: Path, text: str) -> Path:
    return atomic_write_text(path, text)


def _section_html(section: Any) -> _Raw | None:
    """One FeedbackSection of the course as HTML (everything escaped; None when it is malformed)."""
    title, images, text = (getattr(section, k, None) for k in ("title", "images", "text"))
    if not isinstance(title, str) or not isinstance(images, (list, tuple)) or not isinstance(text, (str, type(None))):
        return None
    if not all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], str) and isinstance(i[1], bytes)
               for i in images):
        return None
    if len(images) == 1:
        figures = _img(images[0][1], images[0][0])
    else:
        figures = '<div class="panels">' + "".join(
            f"<figure>{_img(png, caption)}<figcaption>{esc(caption)}</figcaption></figure>"
            for caption, png in images) + "</div>"
    return _Raw(f"<h3>{esc(title)}</h3>{figures}" + (f"<p>{esc(text)}</p>" if text else ""))


def course_sections(sections_of: Callable[[Mapping[str, Any]], Sequence[Any]] | None,
                    extras: Any) -> list[_Raw]:
    """The course's feedback sections for ``extras`` as HTML.  ``extras`` came from an untrusted
    notebook's answers: a section that fails to draw is left out, never an error."""
    if sections_of is None or not isinstance(extras, Mapping):
        return []
    try:
        sections = list(sections_of(extras) or ())
    except Exception:       # noqa: BLE001 -- untrusted plot data must never break a feedback page
        return []
    return [h for h in (_section_html(s) for s in sections[:20]) if h is not None]


# -- feedback pages -------------------------------------------------------------------------------

def feedback_filename(key: str) -> str:
    """A safe file name for a student key: ``[A-Za-z0-9._-]`` only; if anything had to change, a
    short hash of the original key is appended so that different keys never share a page."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", key).lstrip(".")[:80] or "_"
    if safe != key:
        safe += "-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return safe + ".html"


def _humanize(check_name: str) -> str:
    name = check_name.removeprefix("test_")
    return name.replace("_", " ")


SectionsOf = Callable[[Mapping[str, Any]], Sequence[Any]]   # the course's feedback_sections hook


def feedback_html(result: SubmissionResult, *, assignment: str, plots: Mapping[str, Any] | None = None,
                  sections_of: SectionsOf | None = None, hidden_released: bool = True, penalty: float = 0.0,
                  notes: Sequence[str] = (), notebook_href: str | None = None,
                  course_parts: Sequence[str] = ()) -> str:
    """The feedback page of one student, as HTML text (pure).

    ``sections_of``: the course's ``feedback_sections`` hook (draws figures from the extras).
    ``hidden_released=False`` (before the last deadline that applies to anyone): the page shows the
    totals and the visible checks only, no hidden check at all.  ``penalty``: late-penalty points
    taken off the score; ``notes``: sentences shown under the status (lateness, release date);
    ``notebook_href``: the student's executed notebook next to the page, to link (a setting);
    ``course_parts``: the course's parts in notebook order (the page's order)."""
    status = Status(result.status)
    who = result.name or result.key
    parts: list[str] = [f"<h1>{esc(assignment)}: feedback</h1>"]
    meta = [f"<b>{esc(who)}</b>", f"username/key {esc(result.key)}"]
    if result.cid is not None:
        meta.append(f"CID {esc(result.cid)}")
    if result.file:
        meta.append(f"file {esc(result.file)}")
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>')

    bad = status not in (Status.GRADED,)
    detail = "" if status is Status.ERROR else result.message   # internal errors stay with the TAs
    parts.append(f'<div class="status{" bad" if bad else ""}"><p>{esc(STUDENT_STATUS_TEXT[status])}</p>'
                 + (f"<p>{esc(detail)}</p>" if detail else "") + "</div>")
    parts.extend(f'<p class="meta">{esc(n)}</p>' for n in notes)

    if is_graded(result) and result.checks:
        late = (f" ({_num(result.total)} earned, {_num(penalty)} late penalty)"
                if penalty and penalty == penalty else "")
        parts.append(f'<p class="score">Score: {_num(result.total - (penalty if late else 0.0))} / '
                     f'{_num(result.max_total)}{late}</p>')
        order = part_order([result], course_parts)
        per_part: dict[str, list] = defaultdict(list)
        for c in result.checks:
            per_part[c.part].append(c)
        rows = []
        points = result.part_points()
        for p in order:
            cs = per_part[p]
            rows.append((p, _num(points.get(p, 0.0)) + (" *" if result.override_of(p) else ""),
                         _num(sum(c.max_points for c in cs)), f"{sum(c.passed for c in cs)} of {len(cs)}"))
        parts.append("<h2>Parts</h2>" + _table(("Part", "Points", "Out of", "Checks passed"), rows))
        if result.overrides:
            judged = result.judged_part_points()
            parts.append("<h2>Changed by the teaching team</h2><p>* The points of these parts were set by hand "
                         "and replace what the checks below gave.</p>" + _table(
                             ("Part", "Checks gave", "Points now", "Reason"),
                             [(o.part, _num(judged.get(o.part, 0.0)), _num(o.points), o.reason)
                              for o in result.overrides], "overrides"))
        if result.mistakes:
            parts.append(_mistakes_html(result))
        rows = []
        for p in order:
            for c in per_part[p]:
                if not c.visible and not hidden_released:
                    continue
                rows.append((p, _humanize(c.name),
                             _badge("visible", "visible") if c.visible else _badge("hidden", "hidden"),
                             _badge("passed", "pass") if c.passed else _badge("failed", "fail"),
                             f"{_num(c.points)} / {_num(c.max_points)}", c.message))
        parts.append("<h2>Checks</h2><p>Hidden checks test your code on inputs that are not in the notebook, "
                     "chosen afresh for each grading; a failed one names an input where your code went "
                     "wrong, so that you can try it yourself.</p>"
                     + _table(("Part", "Check", "Kind", "Result", "Points", "Message"), rows, "checks"))
    elif is_graded(result):
        parts.append("<p>No checks were run.</p>")
    else:
        parts.append("<p class=\"score\">Not graded.</p>")

    figures = course_sections(sections_of, result.extras if plots is None else plots)
    if figures:
        parts.append("<h2>Your results</h2>" + "".join(figures))
    if notebook_href:
        parts.append(f'<p><a href="{esc(notebook_href)}">Your notebook as it ran in the grader</a></p>')
    return _page(f"{assignment}: feedback for {who}", "\n".join(parts))


def _mistakes_html(result: SubmissionResult) -> _Raw:
    """One sentence per recognised mistake (the course's diagnosis), naming it and its fix."""
    items = "".join(f'<li class="mistake"><b>{esc(m.part)}</b>: {esc(m.sentence)}</li>' for m in result.mistakes)
    return _Raw("<h2>What went wrong</h2><p>Your answers match a typical mistake:</p>"
                f"<ul>{items}</ul>")


def write_feedback(result: SubmissionResult, out_dir: str | os.PathLike[str], *, assignment: str,
                   plots: Mapping[str, Any] | None = None, **page: Any) -> Path:
    """Write ``out_dir/feedback/<key>.html`` (key sanitised by :func:`feedback_filename`).

    ``plots``: plot data to use instead of ``result.extras`` (same keys and format); ``{}`` for no
    plots.  ``page``: :func:`feedback_html`'s options (``sections_of``, the deadline options).
    Returns the page's path.
    """
    path = Path(out_dir) / FEEDBACK_DIR / feedback_filename(result.key)
    return _write(path, feedback_html(result, assignment=assignment, plots=plots, **page))


def _course_sections_of(course_dir: str | None) -> SectionsOf | None:
    """The course's feedback_sections hook, loaded by path (in a pool worker too)."""
    if course_dir is None:
        return None
    from .contentload import load

    return getattr(load(Path(course_dir), "course"), "feedback_sections", None)


def _feedback_job(args: tuple[SubmissionResult, str, str, str | None, Mapping[str, Any]]) -> str:
    result, out_dir, assignment, course_dir, page = args
    return str(write_feedback(result, out_dir, assignment=assignment, sections_of=_course_sections_of(course_dir),
                              **page))


def write_all_feedback(results: Sequence[SubmissionResult], out_dir: str | os.PathLike[str], *,
                       assignment: str, workers: int | None = None, course_dir: Path | None = None,
                       pages: Mapping[str, Mapping[str, Any]] | None = None) -> list[Path]:
    """:func:`write_feedback` for every result, on ``workers`` processes (default: all cores);
    ``course_dir``: the course folder whose ``feedback_sections`` hook draws the figures; ``pages``: per
    student key, :func:`feedback_html`'s deadline options."""
    workers = workers or os.cpu_count() or 1
    jobs = [(r, str(out_dir), assignment, None if course_dir is None else str(course_dir),
             dict((pages or {}).get(r.key, {}))) for r in results]
    if workers <= 1 or len(jobs) < 8:
        return [Path(_feedback_job(j)) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [Path(p) for p in pool.map(_feedback_job, jobs, chunksize=max(1, len(jobs) // (4 * workers)))]


# -- the class report -----------------------------------------------------------------------------

def _histogram_png(totals: Sequence[float], max_total: float) -> bytes:
    fig = Figure(figsize=(6.0, 2.8), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    top = max_total if max_total and math.isfinite(max_total) else max(totals, default=1.0) or 1.0
    if top <= 40 and float(top).is_integer():
        bins = np.arange(-0.5, top + 1.0, 1.0)
    else:
        bins = np.linspace(0, top, 21)
    ax.hist(totals, bins=bins, color="#1f5fa8", edgecolor="white")
    ax.set_xlabel(f"total points (out of {_num(top)})")
    ax.set_ylabel("students")
    ax.set_title("Scores of graded submissions", fontsize=10)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _pass_rate_png(labels: Sequence[str], rates: Sequence[float]) -> bytes:
    fig = Figure(figsize=(6.4, 0.9 + 0.28 * len(labels)), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(labels))
    ax.barh(y, [100 * r for r in rates], color="#2a7d2e")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded submissions passing")
    ax.set_title("Pass rate per check", fontsize=10)
    return _png(fig)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b")


def normalise_message(message: str) -> str:
    """Numbers become ``#`` so that failures that differ only in the random inputs group together."""
    return _NUMBER.sub("#", message.strip()) or "(no message)"


def common_failures(results: Sequence[SubmissionResult], per_part: int = 5,
                    parts: Sequence[str] = ()) -> list[tuple[str, str, str, int]]:
    """``(part, checks, message pattern, students)``, the ``per_part`` most common per part, judged
    submissions only.  A student whose several checks fail with the same message counts once."""
    counts: dict[str, Counter] = defaultdict(Counter)
    names: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in results:
        if not is_graded(r):
            continue
        mine = set()
        for c in r.checks:
            if not c.passed:
                msg = normalise_message(c.message)
                mine.add((c.part, msg))
                names[(c.part, msg)].add(_humanize(c.name))
        for part, msg in mine:
            counts[part][msg] += 1
    out = []
    for part in part_order([r for r in results if is_graded(r)], parts):
        counter = counts.get(part, Counter())
        for msg, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:per_part]:
            out.append((part, ", ".join(sorted(names[(part, msg)])), msg, n))
    return out


def _stats(values: Sequence[float]) -> tuple[str, str, str]:
    return _num(statistics.median(values)), _num(max(values)), _num(sum(values))


def _mistake_counts_html(results: Sequence[SubmissionResult]) -> list[str]:
    """Students per diagnosed mistake, most common first."""
    counts = Counter(key for r in results if is_graded(r) for key in {(m.part, m.id) for m in r.mistakes})
    failed = [(r.key, r.extras["diagnosis_error"]) for r in sorted(results, key=lambda r: r.key)
              if isinstance(r.extras, Mapping) and r.extras.get("diagnosis_error")]
    if not counts and not failed:
        return []
    rows = [(p, mid, n) for (p, mid), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    out = ["<h2>Typical mistakes</h2><p>Failing parts whose answers match a catalogued mistake of the course "
           "(never changes marks; students see the mistake's sentence on their feedback page).</p>"
           + _table(("Part", "Mistake", "Students"), rows)]
    if failed:
        out.append("<p>The course's diagnosis failed for these students (their marks stand):</p>"
                   + _table(("Student", "Error"), failed))
    return out


def _integrity_html(integrity: Sequence[Any] | None) -> list[str]:
    """The integrity evidence (staff only; integrity.csv), or a line saying there is none."""
    if integrity is None:
        return []
    if not integrity:
        return ["<h2>Integrity evidence (staff only)</h2><p>None found.</p>"]
    return ["<h2>Integrity evidence (staff only)</h2><p>Evidence to look into, not a verdict; it never "
            "changes marks and is not shown to students. Also in integrity.csv.</p>"
            + _table(("Student", "Kind", "Other", "Evidence"),
                     [(e.student, e.kind, e.other, e.evidence) for e in integrity])]


def class_report_html(results: Sequence[SubmissionResult], df: pd.DataFrame, *, assignment: str,
                      timings: Mapping[str, float] | None = None, integrity: Sequence[Any] | None = None,
                      parts: Sequence[str] = ()) -> str:
    """The class report as HTML text (pure).  ``df`` is the gradebook of ``results``
    (:func:`gradekit.gradebook.to_dataframe`); ``parts``: the course's parts in notebook order."""
    graded = [r for r in results if is_graded(r)]
    statuses = df["status"].astype(str) if len(df) else pd.Series([], dtype=str)
    judged_rows = df[~statuses.isin([s.value for s in UNGRADED_STATUSES])] if len(df) else df
    # The headline counts by status, as the status table below does (one source for both).
    counts = Counter(statuses)
    judged = ", ".join(f"{counts[s.value]} {s.value}" for s in Status
                       if counts.get(s.value) and s not in UNGRADED_STATUSES)
    body: list[str] = [f"<h1>{esc(assignment)}: class report</h1>",
                       f'<p class="meta">{len(df)} students · {len(judged_rows)} judged'
                       + (f" ({esc(judged)})" if judged else "")
                       + f" · {len(df) - len(judged_rows)} not judged</p>"]

    # status counts
    body.append("<h2>Status</h2>" + _table(
        ("Status", "Students", "Uploaded to the LMS", "Meaning"),
        [(s.value, counts.get(s.value, 0), "yes" if s in UPLOAD_STATUSES else "no (review)",
          TA_STATUS_TEXT[s]) for s in Status if counts.get(s.value, 0)]))

    # scores
    body.append("<h2>Scores</h2>")
    totals = [float(t) for t in judged_rows["total"]] if len(judged_rows) else []
    if totals:
        max_total = float(np.nanmax(df["max_total"])) if df["max_total"].notna().any() else math.nan
        body.append(_img(_histogram_png(totals, max_total), "Histogram of total scores"))
        body.append(f"<p>Mean {_num(float(np.mean(totals)))}, median {_num(float(np.median(totals)))} "
                    f"(graded submissions only; {len(df) - len(judged_rows)} not graded are not included).</p>")
        pcols = part_columns(df)
        rows = []
        for p in pcols:
            vals = judged_rows[p].dropna()
            mx = max((r.part_max_points().get(p, 0.0) for r in graded), default=math.nan)
            full = float((vals >= mx).mean() * 100) if len(vals) and mx == mx else math.nan
            rows.append((p, _num(mx), _num(float(vals.mean())) if len(vals) else "–",
                         _num(float(vals.median())) if len(vals) else "–", "–" if math.isnan(full) else f"{full:.0f} %"))
        body.append(_table(("Part", "Out of", "Mean", "Median", "Full marks"), rows))
    else:
        body.append("<p>No graded submissions.</p>")

    # pass rate per check
    tally: dict[tuple[str, str], list[int]] = {}
    for r in graded:
        for c in r.checks:
            t = tally.setdefault((c.part, c.name), [0, 0])
            t[0] += c.passed
            t[1] += 1
    if tally:
        order = {p: i for i, p in enumerate(part_order(graded, parts))}
        first = {k: i for i, k in enumerate(tally)}
        keys = sorted(tally, key=lambda k: (order[k[0]], first[k]))
        labels = [f"{p}: {_humanize(n)}" for p, n in keys]
        rates = [tally[k][0] / tally[k][1] for k in keys]
        body.append("<h2>Checks</h2>" + _img(_pass_rate_png(labels, rates), "Pass rate per check"))
        body.append(_table(("Part", "Check", "Passed", "Graded", "Pass rate"),
                           [(p, n, tally[(p, n)][0], tally[(p, n)][1], f"{100 * rate:.0f} %")
                            for (p, n), rate in zip(keys, rates)]))

    # common failures
    fails = common_failures(results, parts=parts)
    if fails:
        body.append("<h2>Most common failure messages</h2><p>Per part, numbers replaced by #.</p>"
                    + _table(("Part", "Check(s)", "Message", "Students"), fails))

    body += _mistake_counts_html(results)
    body += _integrity_html(integrity)

    # flagged and ungraded
    flagged = [r for r in sorted(results, key=lambda r: r.key) if r.flags]
    if flagged:
        body.append("<h2>Flagged submissions</h2>" + _table(
            ("Student", "Name", "Status", "Flags", "Message"),
            [(r.key, r.name, Status(r.status).value, flag_sentences(r.flags), r.message) for r in flagged]))
    review = [r for r in sorted(results, key=lambda r: r.key) if Status(r.status) not in UPLOAD_STATUSES]
    if review:
        rows = []
        for r in review:
            tb = r.extras.get("traceback") if isinstance(r.extras, Mapping) else None
            msg = _Raw(esc(r.message) + (f"<details><summary>traceback</summary><pre>{esc(tb)}</pre></details>"
                                         if isinstance(tb, str) and tb else ""))
            rows.append((r.key, r.name, r.file, Status(r.status).value, msg))
        body.append("<h2>Needs a TA (not uploaded)</h2>"
                    + _table(("Student", "Name", "File", "Status", "Message"), rows))

    # timings
    per_stage: dict[str, list[float]] = defaultdict(list)
    for r in results:
        for stage, secs in (r.timings or {}).items():
            if isinstance(secs, (int, float)) and math.isfinite(secs):
                per_stage[stage].append(float(secs))
    if per_stage or timings:
        body.append("<h2>Timing</h2>")
    if per_stage:
        body.append("<p>Per submission, seconds.</p>" + _table(
            ("Stage", "Submissions", "Median", "Max", "Total"),
            [(stage, len(v), *_stats(v)) for stage, v in per_stage.items()]))
    if timings:
        body.append("<p>Whole run, seconds.</p>" + _table(
            ("Stage", "Seconds"), [(k, _num(float(v)) if isinstance(v, (int, float)) else v)
                                   for k, v in timings.items()]))
    return _page(f"{assignment}: class report", "\n".join(body))


def write_class_report(results: Sequence[SubmissionResult], df: pd.DataFrame, out_dir: str | os.PathLike[str], *,
                       assignment: str, timings: Mapping[str, float] | None = None,
                       integrity: Sequence[Any] | None = None, parts: Sequence[str] = ()) -> Path:
    """Write ``out_dir/report.html``: status counts, score histogram, per-part summary, pass rate per
    check, most common failure messages per part, students per typical mistake, the integrity
    evidence (``integrity``: gradekit.integrity.Evidence rows; staff only), flagged submissions,
    submissions a TA must look at (with the grader's traceback for errors), and timing per stage (median/max/total over
    ``result.timings``; ``timings`` are whole-run stage seconds).  Returns its path."""
    return _write(Path(out_dir) / CLASS_REPORT, class_report_html(results, df, assignment=assignment,
                                                                  timings=timings, integrity=integrity, parts=parts))
