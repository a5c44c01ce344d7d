"""`gradekit validate` on the real assignment (tiny profile): source full marks, release zero,
every seeded bug caught by the checks of exactly its part."""
import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_assignment_validates(tiny_cfg):
    from gradekit.validate import validate_assignment

    report = validate_assignment(tiny_cfg, workers=2)
    assert report.ok, report.text
    text = report.text
    for case in ("source", "release", "release + fix perceptron", "release + fix sigmoid",
                 "release + fix simple_cnn", "release + solve lr_sweep"):
        assert f"ok    {case}: graded" in text
    assert text.count("FAIL") == 0
