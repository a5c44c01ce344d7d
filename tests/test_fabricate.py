"""gradekit.fabricate: student notebooks built from the release, on the real source/release and on
small hand-made notebooks.  Every function must return a copy and leave its inputs alone."""
from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gradekit import fabricate
from gradekit.nbgrader_ext.markup import fixed_source

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def source():
    return nbformat.read(ROOT / "source" / "ann" / "ann.ipynb", as_version=4)


@pytest.fixture(scope="module")
def release():
    return nbformat.read(ROOT / "release" / "ann" / "ann.ipynb", as_version=4)


def cell_source(nb, gid: str) -> str:
    return nb.cells[fabricate.find_cell(nb, gid)].source


def strip_regions(source: str) -> str:
    """The source cell as a perfect student has it: correct code, no markers, no hidden tests."""
    out, hidden = [], False
    for line in fixed_source(source).split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden and "BEGIN SOLUTION" not in line and "END SOLUTION" not in line:
            out.append(line)
    return "\n".join(out)


def test_seeded_bugs_are_read_from_the_markup(source, release):
    bugs = fabricate.seeded_bugs(source)
    assert [(b.grade_id, b.buggy_text, b.fixed_text) for b in bugs] == [
        ("perceptron", "    weighted_sum + x1 * w1 + x2 * w2 + bias", "    weighted_sum = x1 * w1 + x2 * w2 + bias"),
        ("sigmoid", "def sigmoid():", "def sigmoid(x):"),
        ("simple_cnn", "clas SimpleCNN(nn.Module):", "class SimpleCNN(nn.Module):"),
    ]
    for bug in bugs:
        assert bug.buggy_text in cell_source(release, bug.grade_id)


def test_fix_bug_fixes_one_cell_and_nothing_else(source, release):
    before = copy.deepcopy(release)
    fixed = fabricate.fix_bug(release, source, "sigmoid")
    assert release == before, "fix_bug must not modify its input"
    changed = [i for i, (a, b) in enumerate(zip(release.cells, fixed.cells)) if a != b]
    assert changed == [fabricate.find_cell(release, "sigmoid")]
    assert cell_source(fixed, "sigmoid").startswith("# Sigmoid activation function\ndef sigmoid(x):\n    return")
    with pytest.raises(KeyError, match="no seeded bug in a cell with grade_id 'lr_sweep'"):
        fabricate.fix_bug(release, source, "lr_sweep")


def test_fix_bug_without_metadata_finds_the_cell_by_its_buggy_lines(source, release):
    bare = fabricate.shuffle_ids(fabricate.strip_nbgrader_metadata(release), seed=3)
    fixed = fabricate.fix_bug(bare, source, "perceptron")
    assert "    weighted_sum = x1 * w1 + x2 * w2 + bias" in "\n".join(c.source for c in fixed.cells)
    with pytest.raises(KeyError, match="0 cells"):  # the student already changed the buggy line
        fabricate.fix_bug(fixed, source, "perceptron")
    edited = fabricate.replace_in_cell(release, "perceptron", "weighted_sum + x1", "weighted_sum - x1")
    with pytest.raises(ValueError, match="no longer holds the buggy lines"):  # metadata there, bug gone
        fabricate.fix_bug(edited, source, "perceptron")


def test_solve_copies_the_solution_region_into_the_stub(source, release):
    solved = fabricate.solve(release, source, "lr_sweep")
    text = cell_source(solved, "lr_sweep")
    assert "YOUR CODE HERE" not in text and "NotImplementedError" not in text
    assert text == strip_regions(cell_source(source, "lr_sweep"))
    assert cell_source(solved, "best_lr") == cell_source(release, "best_lr")
    with pytest.raises(ValueError, match="no '### BEGIN SOLUTION' region"):
        fabricate.solve(release, source, "details")


def test_solve_without_metadata_needs_a_single_stub(source, release):
    bare = fabricate.strip_nbgrader_metadata(release)
    with pytest.raises(KeyError, match="2 cells"):
        fabricate.solve(bare, source, "lr_sweep")
    once = fabricate.strip_nbgrader_metadata(fabricate.solve(release, source, "lr_sweep"))
    both = fabricate.solve(once, source, "best_lr")
    assert not any("YOUR CODE HERE" in c.source for c in both.cells)


def test_solve_fills_several_stubs_in_order_keeping_indentation():
    src = new_notebook(cells=[new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
                                            "x = f()\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION")])
    src.cells[0].metadata["nbgrader"] = {"grade_id": "two", "solution": True}
    rel = copy.deepcopy(src)
    rel.cells[0].source = ("def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
                           "x = f()\n# YOUR CODE HERE\nraise NotImplementedError()")
    assert cell_source(fabricate.solve(rel, src, "two"), "two") == "def f():\n    return 1\nx = f()\ny = 2"
    rel.cells[0].source = "x = 1"
    with pytest.raises(ValueError, match="0 code stub"):
        fabricate.solve(rel, src, "two")


def test_perfect_student_has_exactly_the_source_code(source, release):
    perfect = fabricate.perfect(release, source, "Ada Lovelace", 1234567)
    assert len(perfect.cells) == len(source.cells)
    for mine, theirs in zip(perfect.cells, source.cells):
        if theirs.cell_type != "code" or fabricate.grade_id(theirs) == "details":
            continue
        assert mine.source == strip_regions(theirs.source), fabricate.grade_id(theirs) or theirs.id
        ast.parse(mine.source)
    assert 'Name = "Ada Lovelace"\nCID = 1234567 # Replace' in cell_source(perfect, "details")


def test_set_details_rewrites_only_the_first_name_and_cid_lines(release):
    nb = fabricate.set_details(release, 'Zoë "Zed" O\'Neil', 1234567)
    text = cell_source(nb, "details")
    lines = text.split("\n")
    name_line = next(line for line in lines if line.startswith("Name ="))
    assert ast.literal_eval(name_line.split("=", 1)[1].strip()) == 'Zoë "Zed" O\'Neil'
    assert "CID = 1234567 # Replace with your College ID" in text and "CID = int(CID)" in text
    assert cell_source(release, "details").count("123446") == 1
    verbatim = cell_source(fabricate.set_details(release, None, '"01234567"'), "details")
    assert 'CID = "01234567" # Replace' in verbatim and 'Name = "Your name"' in verbatim
    with pytest.raises(KeyError, match="Name ="):
        fabricate.set_details(new_notebook(cells=[new_code_cell("x = 1")]), "A", 1)


def test_set_assignment_rewrites_standalone_lines_only():
    nb = new_notebook(cells=[
        new_code_cell("num_epochs = 5  # five\nfor i in range(2):\n    num_epochs = 9\n"
                      "num_epochs == 5\nnum_epochsx = 5"),
        new_code_cell("num_epochs = 1"),
        new_markdown_cell("num_epochs = 5"),
    ])
    nb.cells[1].metadata["nbgrader"] = {"grade_id": "cnn"}
    everywhere = fabricate.set_assignment(nb, "num_epochs", "2")
    assert everywhere.cells[0].source.split("\n")[0] == "num_epochs = 2  # five"
    assert everywhere.cells[0].source.split("\n")[2:] == ["    num_epochs = 9", "num_epochs == 5", "num_epochsx = 5"]
    assert everywhere.cells[1].source == "num_epochs = 2" and everywhere.cells[2].source == "num_epochs = 5"
    only_old = fabricate.set_assignment(nb, "num_epochs", "2", old="5")
    assert only_old.cells[1].source == "num_epochs = 1" and only_old.cells[0].source.startswith("num_epochs = 2")
    in_cell = fabricate.set_assignment(nb, "num_epochs", "3", gid="cnn")
    assert in_cell.cells[1].source == "num_epochs = 3" and in_cell.cells[0] == nb.cells[0]
    with pytest.raises(ValueError, match="no standalone line 'num_images = ...'"):
        fabricate.set_assignment(nb, "num_images", "50")
    with pytest.raises(ValueError, match="num_epochs = 7"):
        fabricate.set_assignment(nb, "num_epochs", "2", old="7")


def test_set_assignment_on_the_release_problem_cell(release):
    small = fabricate.set_assignment(release, "num_images", "50", gid="problem")
    small = fabricate.set_assignment(small, "num_epochs", "2", gid="problem")
    lines = cell_source(small, "problem").split("\n")
    assert "num_images = 50" in lines and "num_epochs = 2" in lines
    assert "num_epochs = 1" in cell_source(small, "fashion-train").split("\n"), "the CNN's epochs stay as they are"


def test_metadata_and_id_helpers_are_pure_and_valid(release):
    before = copy.deepcopy(release)
    bare = fabricate.strip_nbgrader_metadata(release)
    assert not any("nbgrader" in c.metadata for c in bare.cells)
    a, b = fabricate.shuffle_ids(release, seed=1), fabricate.shuffle_ids(release, seed=1)
    ids = [c.id for c in a.cells]
    assert ids == [c.id for c in b.cells] and len(set(ids)) == len(ids)
    assert ids != [c.id for c in release.cells] and ids != [c.id for c in fabricate.shuffle_ids(release, seed=2).cells]
    nbformat.validate(a)
    assert release == before


def test_cell_editing_helpers(release):
    n = len(release.cells)
    added = fabricate.insert_cell(release, "print('hi')", after="details")
    at = fabricate.find_cell(release, "details") + 1
    assert len(added.cells) == n + 1 and added.cells[at].source == "print('hi')"
    nbformat.validate(added)
    assert fabricate.insert_cell(release, "# end", cell_type="markdown").cells[-1].cell_type == "markdown"
    assert fabricate.insert_cell(release, "x = 0", index=0).cells[0].source == "x = 0"
    removed = fabricate.delete_cell(release, "test_best_lr")
    assert len(removed.cells) == n - 1
    with pytest.raises(KeyError):
        fabricate.find_cell(removed, "test_best_lr")
    assert cell_source(fabricate.set_source(release, "best_lr", "best_lr = 0.1"), "best_lr") == "best_lr = 0.1"
    with pytest.raises(ValueError, match="does not contain"):
        fabricate.replace_in_cell(release, "best_lr", "nothing like this", "x")
    ran = copy.deepcopy(release)
    ran.cells[at - 1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    ran.cells[at - 1].execution_count = 3
    cleared = fabricate.clear_outputs(ran)
    assert cleared.cells[at - 1].outputs == [] and cleared.cells[at - 1].execution_count is None
