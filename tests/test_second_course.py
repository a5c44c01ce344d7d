"""The course contract is complete: a second, minimal course (tests/courses/mini: one seeded bug, one
task, its own source notebook, checks and probes) goes through release -> validate -> grade with no
engine change and no module of the ANN course loaded."""
from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from mini_course import released_mini

pytestmark = [pytest.mark.sandbox]


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    cfg = released_mini(tmp_path_factory.mktemp("mini"))
    assert cfg.release.is_file() and cfg.release.name == "mini.ipynb"
    return cfg


def test_release_keeps_the_seeded_bug_and_hides_solutions_and_hidden_tests(mini):
    text = mini.release.read_text()
    assert "return x + x" in text and "return x * x" not in text
    assert "BEGIN HIDDEN TESTS" not in text and "range(1, CID % 100 + 2))" not in text
    assert "raise NotImplementedError()" in text


def test_validate_the_second_course(mini):
    from gradekit.validate import validate_assignment

    report = validate_assignment(mini, workers=2)
    assert report.ok, report.text
    assert "ok    the source notebook's nbgrader points equal the checks' points per part" in report.text
    assert "ok    release + fix square: graded" in report.text
    assert "ok    release + solve sum_of_squares: graded" in report.text


def test_validate_refuses_points_that_disagree_with_the_source(mini, tmp_path):
    from gradekit.judge import course_points
    from gradekit.validate import points_agree

    source = nbformat.read(mini.source, as_version=4)
    assert points_agree(source, course_points(mini), ["square", "sum_of_squares"]) == []
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
            cell.metadata.nbgrader.points = 5
    problems = points_agree(source, course_points(mini), ["square", "sum_of_squares"])
    assert problems == ["square: the source notebook's test_square cell is worth 5 points, its checks "
                        "(test_square.py) award 2"]


def test_grade_the_second_course(mini, tmp_path):
    from gradekit.batch import grade_batch
    from gradekit.grading import Course

    course = Course(mini)
    release = nbformat.read(mini.release, as_version=4)
    source = nbformat.read(mini.source, as_version=4)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(course.module.student(release, source, name="Ada", cid=1234567, fixed=["square"],
                                         solved=["sum_of_squares"]), subs / "ada.ipynb")
    nbformat.write(course.module.student(release, source, name="Bo", cid=7654321), subs / "bo.ipynb")
    grade_batch(mini, [subs], tmp_path / "out", workers=2, progress=False)
    df = pd.read_csv(tmp_path / "out" / "gradebook.csv").set_index("student")
    assert [c for c in df.columns if c in ("square", "sum_of_squares")] == ["square", "sum_of_squares"]
    assert df.loc["ada", "total"] == df.loc["ada", "max_total"] == 3
    assert df.loc["bo", "square"] == 0 and df.loc["bo", "sum_of_squares"] == 0 and df.loc["bo", "status"] == "graded"
    assert (tmp_path / "out" / "feedback" / "ada.html").is_file()
    assert not {"perceptron", "lr_sweep"} & set(df.columns)
