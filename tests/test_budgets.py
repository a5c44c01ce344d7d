"""Time budgets from the honest notebook (gradekit.budgets): a hung cell costs max(floor, 5 x its
honest time), not the 600-s ceiling, and honest students are never cut off, even next to a CPU hog."""
from __future__ import annotations

import time
from dataclasses import replace

import nbformat
import pytest

from gradekit import fabricate, hostile
from gradekit.budgets import HonestCell, HonestTimes, budget_for, cell_keys
from gradekit.config import Limits
from gradekit.model import Status

from conftest import submission_of

LIMITS = Limits(cell_timeout_s=600, notebook_timeout_s=1500, budget_factor=5, min_cell_timeout_s=30)
# The batch below: an 8-s floor (gradekit.toml's is 30) proves the same at the tiny profile, where the
# longest honest cell takes ~3 s (5 x 3 s = 15 s: that cell's budget is the factor's, not the floor's).
# Each hang spins for the floor.  The corpus's CPU hog spins for 20 s, and the cells of the hog's own
# notebook, starved meanwhile (its sandbox has one CPU), would outlast an 8-s floor; here it spins for
# 4 s, under the floor as 20 s is under gradekit.toml's 30.
FLOOR_S = 8
HOG_S = 4


def short_cpu_hog() -> str:
    hog = hostile._CPU_HOG.replace("time.monotonic() + 20", f"time.monotonic() + {HOG_S}")
    assert hog != hostile._CPU_HOG, "the corpus's CPU hog no longer spins for 20 s: update this test"
    return hog


def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def _code(source, gid=None, cid=None):
    cell = nbformat.v4.new_code_cell(source)
    if gid:
        cell.metadata["nbgrader"] = {"grade_id": gid}
    if cid:
        cell.id = cid
    return cell


def test_a_cells_budget_is_the_factor_times_its_matched_honest_time_within_floor_and_ceiling():
    honest_nb = _nb(nbformat.v4.new_markdown_cell("# x"), _code("import torch", cid="imports"),
                    _code("train()", gid="train", cid="train"), _code("x = 1", cid="small"),
                    _code("forever()", gid="huge"))
    times = {1: 4.0, 2: 40.0, 3: 0.01, 4: 500.0}
    honest = HonestTimes(tuple(HonestCell(cell_keys(c), times[i]) for i, c in enumerate(honest_nb.cells)
                               if c.cell_type == "code"), total_s=100.0)
    sub = _nb(_code("import torch"),                         # matched by its text (no id, no metadata)
              _code("train(lr=0.1)  # mine", gid="train"),   # matched by grade_id, whatever its text
              _code("x = 1", cid="small"),                   # matched by id: 5 x 0.01 s -> the floor
              _code("forever()", gid="huge"),                # 5 x 500 s -> the ceiling
              _code("my_own_helper()"))                      # unmatched -> the largest budget
    b = budget_for(sub, honest, LIMITS)
    assert b.cell_timeouts == {0: 30, 1: 200, 2: 30, 3: 600, 4: 600}
    assert b.notebook_timeout_s == 5 * 100 + 30
    assert budget_for(sub, honest, replace(LIMITS, budget_factor=0)) is None
    assert budget_for(sub, None, LIMITS) is None
    assert budget_for(sub, honest, replace(LIMITS, notebook_timeout_s=300)).notebook_timeout_s == 300


@pytest.mark.sandbox
@pytest.mark.slow
def test_two_hangs_in_a_batch_cost_seconds_and_honest_students_next_to_a_cpu_hog_are_not_cut_off(
        tiny_cfg, course, make_student, variants, tmp_path):
    """The issue's done-when, at the tiny profile: the 600-s ceiling of gradekit.toml, budgets on.  The
    honest full notebook itself is the budgets' measurement (`honest_times`, timed alone, as the first
    batch would); in the batch: two honest students (one next to a CPU hog) and two hangs."""
    from gradekit.executors import run_local
    from gradekit.grading import Course

    cfg = tiny_cfg.with_(cache=tmp_path / "cache", limits=replace(tiny_cfg.limits, cell_timeout_s=600,
                                                                    notebook_timeout_s=1500, budget_factor=5,
                                                                    min_cell_timeout_s=FLOOR_S))
    full = make_student(full=True)
    students = {
        "honest-flawed": variants.sweep_without_reinit(full),
        "honest-next-to-hog": fabricate.insert_cell(full, short_cpu_hog(), after="imports"),
        "loop": variants.infinite_loop_early(full),
        "sigint-proof": fabricate.replace_in_cell(full, "sigmoid", "# Sigmoid activation function\n",
                                                  "# Sigmoid activation function\n" + hostile._SIGINT_IGNORED),
    }
    subs = [submission_of(k, nb) for k, nb in students.items()]
    honest = Course(cfg).honest_times(slot=151)     # measured once per machine (as the first batch would)
    assert honest is not None and honest.total_s > 0
    results = {}
    t0 = time.monotonic()
    run_local(subs, cfg, workers=2, on_result=lambda r: results.__setitem__(r.key, r))
    wall = time.monotonic() - t0
    print(f"batch of 4 (2 hangs) on 2 workers: {wall:.0f} s")
    for key in ("honest-flawed", "honest-next-to-hog"):
        r = results[key]
        assert r.status is Status.GRADED and "timed out" not in r.message and "time limit" not in r.message, r.message
    assert results["honest-next-to-hog"].total == results["honest-next-to-hog"].max_total   # the full notebook's
    for key in ("loop", "sigint-proof"):
        assert f"timed out after {FLOOR_S} s" in results[key].message, results[key].message
    assert "kernel restarted" in results["sigint-proof"].message
    assert wall < 300       # each hang costs ~8 s (+ a restart), not 600 s
