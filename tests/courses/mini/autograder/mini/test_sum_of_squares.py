import pytest

from gradekit.api import answer, expect


@pytest.mark.points(1)
def test_sum_of_squares_for_your_cid(probes, cid, course, reference):
    got = answer(probes, "task", "sum_of_squares")
    expect(isinstance(got, int) and not isinstance(got, bool), "sum_of_squares should be a whole number")
    expect(got == reference(course.sum_of_squares, cid=cid), "sum_of_squares is not right for your CID")
