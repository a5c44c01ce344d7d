"""The shared cohort is graded once per run, also across pytest-xdist processes (graded_once_per_run)."""
import pytest

from shared_cohort import graded_once_per_run


def test_the_first_caller_grades_the_others_read_and_a_failure_is_named(tmp_path):
    calls = []

    def grade(base):
        calls.append(base)
        (base / "out").mkdir()
        return {"graded in": str(base)}

    first = graded_once_per_run(tmp_path, grade)
    assert graded_once_per_run(tmp_path, grade) == first and len(calls) == 1

    def broken(base):
        raise OSError("the batch died")

    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(OSError, match="the batch died"):
        graded_once_per_run(other, broken)
    with pytest.raises(RuntimeError, match="failed in another pytest-xdist process"):
        graded_once_per_run(other, grade)
