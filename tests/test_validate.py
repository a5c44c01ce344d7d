"""`gradekit validate` on the real assignment (tiny profile): source full marks, release zero,
every seeded bug caught by the checks of exactly its part; the notebook's own tests pass in the source
and in the release with everything fixed, offline (the sandbox), and fail in the untouched release."""
import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_assignment_validates(tiny_cfg):
    from gradekit.validate import validate_assignment

    report = validate_assignment(tiny_cfg, workers=2)
    assert report.ok, report.text
    text = report.text
    for case in ("source", "release", "release + fix perceptron", "release + fix sigmoid",
                 "release + fix simple_cnn", "release + solve lr_sweep", "release + every fix and solve"):
        assert f"ok    {case}: graded" in text
    assert text.count("FAIL") == 0
    # the notebook's own tests: hidden ones included in the source; every visible one fails on the release
    for case in ("source", "release + every fix and solve"):
        assert f"ok    {case}: every cell runs without an error" in text
        assert report.cell_errors[case] == {}
    errors = report.cell_errors["release"]
    for gid in ("test_perceptron", "test_sigmoid", "test_simple_cnn", "test_lr_sweep", "test_best_lr"):
        assert gid in errors, f"{gid} passes on the unfixed release"
    assert errors["simple_cnn"] == "SyntaxError" and errors["lr_sweep"] == "NotImplementedError"
    assert "cells that raise in the release (what students see first): " in text and "simple_cnn (SyntaxError)" in text


def test_cell_errors_reads_error_outputs_by_grade_id_and_refuses_an_unreadable_copy():
    import nbformat

    from gradekit.validate import cell_errors

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1/0", metadata={"nbgrader": {"grade_id": "test_a"}}),
                                         nbformat.v4.new_code_cell("x = 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    assert cell_errors(nbformat.writes(nb)) == {"test_a": "ZeroDivisionError"}
    nb.cells[0].outputs = []
    assert cell_errors(nbformat.writes(nb)) == {}
    assert cell_errors(None) is None and cell_errors("{not json") is None and cell_errors('{"cells": 3}') is None


def test_describe_errors_names_each_cell_and_says_when_nothing_is_known():
    from gradekit.validate import describe_errors

    assert describe_errors({"test_a": "ZeroDivisionError", "b": "NameError"}) == "test_a (ZeroDivisionError), b (NameError)"
    assert describe_errors({}) == "none" and describe_errors(None) == "unknown (no executed notebook)"
