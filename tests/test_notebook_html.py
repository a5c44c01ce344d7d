"""The notebook as it ran: put together from the runner's pieces, marked by the trusted side, and
rendered so that nothing a student put in it runs in a staff browser."""
from html.parser import HTMLParser

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from gradekit.model import CellRun
from gradekit.notebook_html import CSP, mark_cells, render_notebook_html

PAYLOADS = ['<script>document.title="PWNED"</script>', '<img src=x onerror="document.title=1">',
            '<svg onload="alert(1)"></svg>', '<iframe src="https://example.org"></iframe>',
            '<a href="javascript:alert(1)">click</a>', '<div style="background:url(https://example.org/x)">s</div>',
            '<base href="https://example.org/">', '<meta http-equiv="refresh" content="0;url=https://example.org">']


def hostile_notebook():
    html = "".join(PAYLOADS)
    return new_notebook(cells=[
        new_markdown_cell("# Report\n\n" + html + "\n\n[link](javascript:alert(2)) ![i](https://example.org/p.png)"),
        new_code_cell("show()", outputs=[
            new_output("display_data", data={"text/html": html, "text/plain": "<HTML object>"}),
            new_output("display_data", data={"application/javascript": "alert(3)", "image/svg+xml": PAYLOADS[2]}),
            new_output("display_data", data={"image/png": "not base64 <script>"}),
            new_output("execute_result", data={"text/markdown": html}, execution_count=1),
            new_output("stream", name="stdout", text=html),
            new_output("error", ename="E", evalue=html, traceback=[html]),
        ]),
        new_raw_cell(html, metadata={"format": "text/html"}),
        new_code_cell("while True: pass", metadata={"gradekit": {"status": "ok"}}),   # a forged mark
    ])


class Audit(HTMLParser):
    DANGEROUS = {"script", "iframe", "object", "embed", "svg", "base", "form", "link", "frame"}

    def __init__(self):
        super().__init__()
        self.tags, self.bad = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in self.DANGEROUS or (tag in ("meta", "style") and "body" in self.tags):   # none from the notebook
            self.bad.append(tag)
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name.startswith("on") or name == "style" or v.startswith(("javascript:", "https:", "http:")) and name == "src":
                self.bad.append(f"{tag} {name}={value}")
            if name == "href" and v.startswith("javascript:"):
                self.bad.append(f"{tag} href={value}")


def test_hostile_notebook_renders_inert():
    marked = mark_cells(nbformat.writes(hostile_notebook()), [CellRun(1, "error", "E: boom"), CellRun(3, "timeout", "timed out after 30 s")])
    page = render_notebook_html(marked, title="<script>t</script>")
    audit = Audit()
    audit.feed(page)
    assert audit.bad == [], audit.bad
    assert audit.tags[:3] == ["html", "head", "meta"] and "http-equiv=\"Content-Security-Policy\"" in page
    assert "script-src &#x27;none&#x27;" in page and "default-src &#x27;none&#x27;" in CSP.replace("'", "&#x27;")
    assert "&lt;script&gt;document.title" in page                 # printed text stays readable, as text
    assert "this cell raised an error: E: boom" in page
    assert "this cell timed out and was interrupted" in page      # the trusted mark, not the forged "ok"
    assert "image/svg+xml" in page and "not shown" in page


def test_mark_cells_rejects_what_is_not_a_notebook():
    assert mark_cells("{not json", []) is None
    assert mark_cells('{"cells": 3}', []) is None
    nb = hostile_notebook()
    nb.metadata["gradekit"] = {"forged": True}
    out = nbformat.reads(mark_cells(nbformat.writes(nb), []), as_version=4)
    assert "gradekit" not in out.metadata and all("gradekit" not in c.metadata for c in out.cells)


def test_executed_notebook_pieces_checked():
    from gradekit.sandbox.events import EXECUTED_NOTEBOOK_BYTES, _executed_notebook

    text = nbformat.writes(new_notebook(cells=[new_code_cell("1")]))
    half = len(text) // 2
    ok = [{"event": "notebook", "part": 1, "parts": 2, "data": text[half:]},
          {"event": "notebook", "part": 0, "parts": 2, "data": text[:half]}]
    assert nbformat.reads(_executed_notebook(ok, (CellRun(0, "ok"),)), as_version=4).cells[0].metadata["gradekit"]["status"] == "ok"
    assert _executed_notebook(ok[:1], ()) is None                                   # a piece missing
    assert _executed_notebook(ok + ok[:1], ()) is None                              # a piece twice
    assert _executed_notebook([{"part": 0, "parts": 1, "data": 5}], ()) is None       # not text
    assert _executed_notebook([{"part": 0, "parts": 1, "data": " " * (EXECUTED_NOTEBOOK_BYTES + 1)}], ()) is None
    assert _executed_notebook([], ()) is None
