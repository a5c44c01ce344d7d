"""The messages every user reads: the class report's counts and flags, the feedback page's note on
hidden checks, cells named as students find them, `gradekit check`'s header and order."""
from __future__ import annotations

import nbformat

from gradekit.gradebook import to_dataframe
from gradekit.model import CellRun, CheckResult, Identity, Status, Submission, SubmissionResult
from gradekit.report import class_report_html, common_failures, feedback_html
from gradekit.sandbox.events import _cell_story, cell_labels
from gradekit.config import Limits


def _result(key, status=Status.GRADED, flags=()):
    checks = (CheckResult("perceptron", "test_chapter_examples", 0, 1, False, True, "perceptron(1) raised X"),
              CheckResult("perceptron", "test_random_inputs_and_boundary", 0, 1, False, False, "perceptron(1) raised X"),
              CheckResult("sigmoid", "test_chapter_values", 1, 1, True, True, ""))
    return SubmissionResult(key=key, file=f"{key}.ipynb", name=key, cid=1234567, status=status, message="",
                            checks=checks, flags=flags)


def test_common_failures_count_students_not_checks():
    results = [_result("a"), _result("b"), _result("c")]
    (row,) = common_failures(results)
    assert row[0] == "perceptron" and row[3] == 3          # 3 students, though 6 checks failed


def test_the_headline_agrees_with_the_status_table_and_flags_read_as_sentences():
    results = [_result("a"), _result("b", Status.NO_CID), _result("c", Status.NO_CID, flags=("colab",))]
    page = class_report_html(results, to_dataframe(results), assignment="ANN")
    assert "3 judged (1 graded, 2 no_cid)" in page and "0 not judged" in page
    assert "the notebook was saved by Google Colab" in page and ">colab<" not in page


def test_the_feedback_page_does_not_promise_to_hide_inputs_it_shows():
    page = feedback_html(_result("a"), assignment="ANN")
    assert "not the inputs" not in page and "names an input where your code went wrong" in page


def test_cells_are_named_by_their_number_among_code_cells_and_first_line():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# intro"),
                                         nbformat.v4.new_code_cell("\n# Sigmoid activation function\ndef sigmoid():"),
                                         nbformat.v4.new_markdown_cell("text"),
                                         nbformat.v4.new_code_cell("img = urlopen(url)")])
    labels = cell_labels(nbformat.writes(nb))
    assert labels == {1: "code cell 1 (“# Sigmoid activation function”)", 3: "code cell 2 (“img = urlopen(url)”)"}
    cells = (CellRun(1, "error", "TypeError: sigmoid() takes 0 positional arguments"),
             CellRun(3, "error", "URLError: <urlopen error [Errno -3] Temporary failure in name resolution>"))
    story = "; ".join(_cell_story(cells, 0, [], None, Limits(), labels))
    assert "code cell 2 (“img = urlopen(url)”) needs the internet, and grading runs offline" in story
    assert "1 cell raised errors (first: code cell 1 (“# Sigmoid activation function”)" in story


def test_check_header_says_what_is_missing_and_lists_parts_in_notebook_order():
    from gradekit.selfcheck import format_table

    r = SubmissionResult(key="k", file="mine.ipynb", name=None, cid=None, status=Status.NO_CID, message="",
                         checks=(CheckResult("sigmoid", "t", 1, 1, True, True),
                                 CheckResult("best_lr", "t", 1, 1, True, True),
                                 CheckResult("perceptron", "t", 1, 1, True, True)), flags=("colab",))
    sub = Submission("k", "mine.ipynb", "0", "{}", Identity(None, None, "CID is still the placeholder 123446."))
    text = format_table(r, visible_only=True, parts=["perceptron", "sigmoid", "best_lr"], sub=sub)
    assert "?" not in text.splitlines()[0] and "CID is still the placeholder 123446" in text.splitlines()[0]
    assert [ln.split()[1].split(".")[0] for ln in text.splitlines() if "PASS" in ln] == ["perceptron", "sigmoid",
                                                                                         "best_lr"]
    assert "note: the notebook was saved by Google Colab" in text
