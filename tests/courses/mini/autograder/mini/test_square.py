import pytest

from gradekit.api import answer, expect


@pytest.mark.points(1)
def test_square_of_small_numbers(probes):
    got = answer(probes, "square", "your square function")
    xs = probes["square"].params["xs"]
    expect(got[:5] == [x * x for x in xs[:5]], "square(x) should be x * x")


@pytest.mark.points(1)
@pytest.mark.hidden
def test_square_everywhere(probes):
    got = answer(probes, "square", "your square function")
    xs = probes["square"].params["xs"]
    expect(got == [x * x for x in xs], "square(x) is wrong for some x")
