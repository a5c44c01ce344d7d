"""Batch order (gradekit/ordering.py): notebooks that answered more tasks start first."""
import nbformat

from conftest import submission_of
from gradekit.model import Submission
from gradekit.ordering import answered, longest_first, solution_cells, task_cells


def test_answered_tasks_start_first_and_ties_keep_their_order(tiny_cfg, make_student, release_nb):
    release = task_cells(nbformat.writes(release_nb))
    assert sorted(release) == ["best_lr", "lr_sweep"]             # not the bug cells, not "Your details"
    subs = [
        submission_of("none", make_student()),
        submission_of("bugs", make_student(fixed=("perceptron", "sigmoid"))),   # bug cells are not solutions
        submission_of("full1", make_student(full=True)),
        submission_of("one", make_student(solved=("lr_sweep",))),
        Submission(key="broken", source_name="b.ipynb", sha256="0", notebook_json=None, problem="not JSON"),
        submission_of("full2", make_student(full=True)),
    ]
    assert [answered(s, release) for s in subs] == [0, 0, 2, 1, -1, 2]
    assert [s.key for s in longest_first(subs, tiny_cfg.release)] == ["full1", "full2", "one", "none", "bugs",
                                                                        "broken"]
    assert len(solution_cells(nbformat.writes(release_nb))) > len(release)


def test_unreadable_notebooks_and_missing_release_change_nothing(tmp_path):
    odd = [Submission(key=k, source_name=f"{k}.ipynb", sha256="0", notebook_json=text)
           for k, text in (("a", "[]"), ("b", '{"cells": 3}'), ("c", '{"cells": [1, {"metadata": []}]}'))]
    assert [s.key for s in longest_first(odd, tmp_path / "no-release.ipynb")] == ["a", "b", "c"]
    assert solution_cells("not json") == {} and solution_cells("[]") == {}
