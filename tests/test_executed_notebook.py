"""The sandbox hands back the notebook as it ran: outputs as capped, cells marked by the trusted
side, probe cells left out, the whole bounded (EXECUTED_NOTEBOOK_BYTES)."""
import json

import nbformat
import pytest

from gradekit import sandbox
from gradekit.budgets import Budget
from gradekit.model import Status
from tests.test_sandbox import LIMITS, expr_probe, needs_bwrap, notebook, run

pytestmark = [pytest.mark.sandbox]

CELLS = ("print('hello from the student')",
         "1/0",
         "while True:\n    pass",                                         # interrupted at its limit (HANG)
         "print('x' * 1_000_000)",                                        # beyond output_kb_per_cell
         "y = 41 + 1")
# The loop (cell 3: the notebook starts with a markdown cell) gets a 1-s limit, the others LIMITS'
HANG = Budget(cell_timeouts={3: 1.0}, notebook_timeout_s=LIMITS.notebook_timeout_s, honest_s={})


def check_executed(report):
    assert report.status is Status.GRADED, report.message
    nb = nbformat.reads(report.notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == list(CELLS)                       # no probe cells
    assert [c.metadata["gradekit"]["status"] for c in code] == ["ok", "error", "timeout", "ok", "ok"]
    assert code[0].outputs[0].text == "hello from the student\n"
    assert any(o.output_type == "error" and o.ename == "ZeroDivisionError" for o in code[1].outputs)
    assert "timed out after 1 s" in code[2].metadata["gradekit"]["error"]
    assert len(json.dumps(code[3].outputs)) <= LIMITS.output_kb_per_cell * 1024 + 1024   # capped as run
    assert report.probes["y"].value == 42


@needs_bwrap
def test_sandboxed_run_hands_back_the_executed_notebook():
    check_executed(run(notebook(*CELLS), [expr_probe("y", "y")], budget=HANG))


def test_unsandboxed_run_hands_back_the_same(tmp_path):
    check_executed(run(notebook(*CELLS), [expr_probe("y", "y")], sandboxed=False, workdir=tmp_path, budget=HANG))


def test_oversized_notebook_drops_the_largest_outputs_first(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "EXECUTED_NOTEBOOK_BYTES", 40_000)
    r = run(notebook("print('a' * 30_000)", "print('b' * 30_000)", "print('small')"), sandboxed=False,
            workdir=tmp_path)
    nb = nbformat.reads(r.notebook, as_version=4)
    texts = [c.outputs[0].text for c in nb.cells if c.cell_type == "code"]
    assert len(r.notebook) <= 40_000
    assert sum("outputs were dropped" in t for t in texts) == 1 and texts[2] == "small\n"
