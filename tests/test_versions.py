"""Another version of the notebook (gradekit.intake.versions) and cells that need the internet
(gradekit.sandbox.offline), on a notebook like the course's real 2025 Colab downloads, built from
the release by code."""
from __future__ import annotations

import copy

import nbformat
import pytest

from gradekit import fabricate
from gradekit.intake.versions import compare, explain_signature
from gradekit.model import Status
from gradekit.sandbox.offline import needs_network
from shared_cohort import wants

TASK_CELLS = ("learning_rates", "lr_sweep", "test_lr_sweep", "best_lr", "test_best_lr")
IMAGE_URL = "https://raw.githubusercontent.com/example/course/main/micrograph.png"


def colab_2025(student):
    """What facts.md describes: no nbgrader metadata, no cell ids, a `!pip install` cell, an image
    loaded from a URL, a four-argument perceptron, no learning-rate tasks."""
    nb = copy.deepcopy(student)
    for gid in TASK_CELLS:
        nb = fabricate.delete_cell(nb, gid)
    i = fabricate.find_cell(nb, "perceptron")
    nb.cells[i].source = ("def perceptron(x1, x2, w1, w2):\n    weighted_sum = x1 * w1 + x2 * w2\n"
                          "    return 1 if weighted_sum >= 0 else 0\n\nprint(perceptron(1, 1, 1, 1))\n")
    nb.cells.insert(1, nbformat.v4.new_code_cell("!pip install torch torchvision scikit-image"))
    nb.cells.insert(i + 2, nbformat.v4.new_code_cell(
        f"import urllib.request\nimage_bytes = urllib.request.urlopen({IMAGE_URL!r}, timeout=10).read()"))
    nb = fabricate.strip_nbgrader_metadata(nb)
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4
    nb.metadata["colab"] = {"provenance": []}
    return nb


def test_this_release_compares_clean(course, make_student, release_nb):
    contract = course.release_contract
    assert compare(contract, course.profiled(release_nb)) == []          # seeded bugs are not "another version"
    assert compare(contract, make_student(full=True)) == []
    stripped = fabricate.strip_nbgrader_metadata(make_student(full=True))  # a Colab round trip of this release
    assert compare(contract, stripped) == []


def test_another_version_says_what_differs(course, make_student):
    diffs = compare(course.release_contract, colab_2025(make_student(full=True)))
    text = "; ".join(diffs)
    assert "perceptron(x1, x2, w1, w2) where this exercise has perceptron(x1, x2, w1, w2, bias)" in text
    assert "`learning_rates`" in text
    assert "# Task 1: learning-rate sweep" in text and "missing" in text


def test_a_call_that_fails_on_its_arguments_names_the_expected_signature(course):
    msg = "perceptron(1, 2, 3, 4, 5) raised TypeError: perceptron() takes 4 positional arguments but 5 were given"
    assert explain_signature(msg, course.release_contract).endswith(
        "The exercise's function is perceptron(x1, x2, w1, w2, bias)")
    assert explain_signature("sigmoid(1) returned 3; expected 0.73", course.release_contract).endswith("0.73")


@pytest.mark.parametrize("error, offline", [
    ("URLError: <urlopen error [Errno -3] Temporary failure in name resolution>", True),
    ("gaierror: [Errno -2] Name or service not known", True),
    ("OSError: [Errno 101] Network is unreachable", True),
    ("ConnectionError: HTTPSConnectionPool(host='x.org', port=443): Max retries exceeded with url: /a", True),
    ("NameError: name 'perceptron' is not defined", False),
    ("ConnectionRefusedError: [Errno 111] Connection refused", False),      # the sandbox's own loopback
])
def test_offline_errors_are_told_apart(error, offline):
    assert needs_network(error) is offline


@wants
def notebooks(kit):
    """Graded in the session's shared cohort (tests/shared_cohort.py: one sandboxed batch)."""
    return {"colab2025": colab_2025(kit.full)}


@pytest.mark.sandbox
def test_a_2025_colab_notebook_is_flagged_and_its_offline_cell_not_blamed(shared_cohort):
    r = shared_cohort.results(notebooks)["colab2025"]
    assert r.status is Status.GRADED, r.message
    assert {"release_mismatch", "needs_network", "colab"} <= set(r.flags), r.flags
    assert "another version of the exercise" in r.message and "perceptron(x1, x2, w1, w2, bias)" in r.message
    assert "needs the internet, and grading runs offline: not counted as your error" in r.message
    assert "“import urllib.request”" in r.message
    assert "raised errors (first: code cell 4 (“import urllib" not in r.message   # not blamed on the student
    failed = [c.message for c in r.checks if c.part == "perceptron" and not c.passed]
    assert failed and all("The exercise's function is perceptron(x1, x2, w1, w2, bias)" in m for m in failed)
