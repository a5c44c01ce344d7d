"""The notebook as it ran, kept for staff: marked (pure) and rendered to HTML that runs nothing.

Everything in an executed notebook is the student's: cell sources, markdown, and every output their
code produced.  Opened by a TA, none of it may run.  Three layers, each enough on its own for the
common cases, together for the rest:

1. Outputs keep only inert types: text, PNG/JPEG images, streams and errors.  ``text/html``,
   JavaScript, SVG, widgets and anything else are dropped (their ``text/plain`` form, if any, stays)
   and the cell says so.
2. nbconvert renders the cells (its ``basic`` template: no scripts of its own), then bleach cleans
   the whole body against an allowlist of tags and attributes: no ``<script>``, ``<iframe>``,
   ``<svg>``, ``<style>``, no ``on*=`` handlers, no ``style=``, links only to http(s)/mailto/anchors,
   images only from ``data:image/png|jpeg``.
3. The page carries a Content-Security-Policy (``script-src 'none'``, nothing loaded from anywhere)
   as the first element of its head, so a script that slipped past 1 and 2 still would not run.

Each code cell is marked with what the trusted side saw (``metadata.gradekit``: ok, error,
timeout, dead, skipped) by :func:`mark_cells` when the sandbox hands the notebook back; the page
shows a banner on every cell that did not end ``ok``.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .model import CellRun, SubmissionResult

SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
CSP = ("default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; img-src data:; "
       "style-src 'unsafe-inline'; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_SAFE_IMG = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]*")
_SAFE_HREF = re.compile(r"(https?://|mailto:|#)", re.IGNORECASE)
STATUS_TEXT = {
    "error": "this cell raised an error",
    "timeout": "this cell timed out and was interrupted",
    "dead": "this cell killed the kernel (the kernel was restarted and the earlier cells replayed)",
    "skipped": "this cell was not run",
}


# -- marking (the sandbox's trusted side) -------------------------------------------------------

def mark_cells(notebook_json: str, cells: Sequence[CellRun]) -> str | None:
    """The runner's notebook, validated and with each code cell marked by the trusted side's
    account of it (any ``gradekit`` metadata the notebook brought is removed first); None when the
    text is not a valid nbformat-4 notebook."""
    import nbformat

    try:
        nb = nbformat.reads(notebook_json, as_version=4)
        nbformat.validate(nb)
    except Exception:  # noqa: BLE001 - untrusted text: anything wrong with it means "none kept"
        return None
    runs = {c.index: c for c in cells}
    nb.metadata.pop("gradekit", None)
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("gradekit", None)
        run = runs.get(i)
        if cell.cell_type == "code" and run is not None:
            cell.metadata["gradekit"] = {"status": run.status, "error": run.error, "seconds": run.seconds}
    return nbformat.writes(nb)


# -- rendering ----------------------------------------------------------------------------------

def _inert_outputs(outputs: Iterable[Any]) -> list[Any]:
    """Outputs of the types that cannot run anything; dropped ones are named in a text note."""
    import nbformat

    out = []
    for o in outputs:
        kind = o.get("output_type")
        if kind in ("stream", "error"):
            out.append(o)
            continue
        if kind not in ("display_data", "execute_result"):
            continue
        data = dict(o.get("data") or {})
        kept = {k: v for k, v in data.items() if k in SAFE_MIME and isinstance(v, str)
                and (k == "text/plain" or _BASE64.fullmatch(v))}
        dropped = sorted(k for k in data if k not in kept)
        if dropped:
            note = f"[gradekit: output of type {', '.join(dropped)} not shown: student outputs never run here]"
            kept["text/plain"] = (kept.get("text/plain", "") + "\n" + note).strip()
        if kept:
            out.append(nbformat.v4.new_output("display_data", data=kept))
    return out


def _banner(mark: Any) -> Any | None:
    import nbformat

    if not isinstance(mark, dict) or mark.get("status") in (None, "ok"):
        return None
    status = str(mark.get("status"))
    text = f"[gradekit: {STATUS_TEXT.get(status, status)}" + (f": {mark['error']}" if mark.get("error") else "") + "]"
    return nbformat.v4.new_output("stream", name="stderr", text=text + "\n")


def _inert_notebook(notebook_json: str):
    import nbformat

    nb = nbformat.reads(notebook_json, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "raw":      # raw cells pass through a template untouched: show as code
            cell = nbformat.v4.new_code_cell(cell.source)
        elif cell.cell_type == "code":
            banner = _banner(cell.metadata.get("gradekit"))
            cell.outputs = ([banner] if banner else []) + _inert_outputs(cell.get("outputs", []))
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    return nb


def _attribute_ok(tag: str, name: str, value: str) -> bool:
    if name in ("class", "id", "title", "alt"):
        return True
    if tag == "a" and name == "href":
        return bool(_SAFE_HREF.match(value))
    if tag == "img" and name == "src":
        return bool(_SAFE_IMG.fullmatch(value))
    return False


def sanitize_body(body: str) -> str:
    """bleach over rendered HTML: only ALLOWED_TAGS and the attributes `_attribute_ok` accepts."""
    import bleach

    return bleach.clean(body, tags=ALLOWED_TAGS, attributes=_attribute_ok,
                        protocols={"http", "https", "mailto", "data"}, strip=True, strip_comments=True)


PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#222}
.gk-head{padding:.6em 1em;background:#f4f7fb;border-left:.4em solid #1f5fa8;margin-bottom:1em}
.cell{margin:.8em 0}.input_area{background:#f7f7f7;border:1px solid #ddd;padding:.2em .5em}
.prompt{display:none}pre{white-space:pre-wrap;word-break:break-word;margin:.3em 0;font-size:.88em}
.output_area{border-left:3px solid #ddd;padding-left:.6em}.output_stderr pre{background:#fdeeee}
.output_error pre{background:#fdeeee}img{max-width:100%}
.ansi-red-fg{color:#b3261e}.ansi-green-fg{color:#2a7d2e}.ansi-cyan-fg{color:#0a7d8c}
.ansi-blue-fg{color:#1f5fa8}.ansi-yellow-fg{color:#8a6d00}.ansi-bold{font-weight:bold}
"""


def render_notebook_html(notebook_json: str, *, title: str, heading: str = "") -> str:
    """A self-contained HTML page of the executed notebook in which nothing from it can run."""
    from nbconvert import HTMLExporter
    from pygments.formatters import HtmlFormatter

    body, _ = HTMLExporter(template_name="basic").from_notebook_node(_inert_notebook(notebook_json))
    css = PAGE_CSS + HtmlFormatter().get_style_defs(".highlight")
    head = f'<div class="gk-head">{heading}</div>' if heading else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head>'
            f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">'
            f'<meta charset="utf-8"><title>{html.escape(title)}</title><style>{css}</style></head>'
            f"<body>{head}\n{sanitize_body(body)}\n</body></html>\n")


def staff_heading(result: SubmissionResult) -> str:
    """The banner of the staff page: who, which file, when it ran; escaped here."""
    prov = result.provenance or {}
    bits = [f"<b>{html.escape(result.key)}</b>", html.escape(result.file or ""),
            f"status {html.escape(result.status.value)}", f"ran {html.escape(str(prov.get('ran_at', '?')))}"]
    return (" · ".join(b for b in bits if b) + "<br>The notebook as it ran in the grader (outputs capped as the "
            "sandbox kept them; probe cells not shown). Nothing in this page runs.")


def notebook_filename(key: str) -> str:
    from .report import feedback_filename

    return feedback_filename(key).removesuffix(".html") + ".notebook.html"


def write_notebook_page(result: SubmissionResult, notebook_json: str, folder: Path) -> Path:
    from .atomic import atomic_write_text

    path = Path(folder) / notebook_filename(result.key)
    page = render_notebook_html(notebook_json, title=f"{result.key}: the notebook as it ran",
                                heading=staff_heading(result))
    atomic_write_text(path, page)
    return path


def write_student_notebooks(results: Sequence[SubmissionResult], notebook_of: Callable[[str], str | None],
                            out_dir: Path) -> dict[str, str]:
    """With ``[feedback] executed_notebook = true``: each student's executed notebook next to their
    feedback page.  Returns key -> file name (relative to the feedback folder) for the links."""
    from .report import FEEDBACK_DIR

    links: dict[str, str] = {}
    for r in results:
        text = notebook_of(r.key)
        if text is None:
            continue
        try:
            links[r.key] = write_notebook_page(r, text, Path(out_dir) / FEEDBACK_DIR).name
        except Exception:  # noqa: BLE001 - a notebook that cannot be rendered gets no link, not a dead batch
            continue
    return links
