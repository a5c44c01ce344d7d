"""Source -> release: the seeded-bug markup, our nbgrader preprocessors and their place in
nbgrader_config.py, the release itself (deterministic, same as nbgrader's CLI, fresh, nothing leaked).
The notebooks run end to end in tests/test_validate.py: `gradekit validate` runs the source, the release
and the release with everything fixed, and reads the notebook's own tests from their runs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gradekit import fabricate
from gradekit.nbgrader_ext.markup import (SeededBugSyntaxError, fixed_source, has_marker, parse_regions,
                                          release_source)
from gradekit.release import (NBGRADER_CONFIG, ReleaseError, compare_trees, generate_release, release_is_fresh,
                              verify_release)

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "source" / "ann"
RELEASE_DIR = ROOT / "release" / "ann"
BIN = Path(sys.executable).parent


def read(path: Path):
    return nbformat.read(path, as_version=4)


# ---- the markup --------------------------------------------------------------------------------

CELL = """def perceptron(x1, x2, w1, w2, bias):
    ### BEGIN SEEDED BUG
    ### RELEASE: weighted_sum + x1 * w1 + x2 * w2 + bias
    weighted_sum = x1 * w1 + x2 * w2 + bias
    ### END SEEDED BUG
    return 1 if weighted_sum >= 0 else 0"""


def test_release_swaps_region_for_release_lines_keeping_the_markers_indentation():
    assert release_source(CELL) == ("def perceptron(x1, x2, w1, w2, bias):\n"
                                    "    weighted_sum + x1 * w1 + x2 * w2 + bias\n"
                                    "    return 1 if weighted_sum >= 0 else 0")
    assert fixed_source(CELL) == ("def perceptron(x1, x2, w1, w2, bias):\n"
                                  "    weighted_sum = x1 * w1 + x2 * w2 + bias\n"
                                  "    return 1 if weighted_sum >= 0 else 0")
    [region] = parse_regions(CELL)
    assert (region.begin, region.end) == (1, 4)
    assert region.buggy_text == "    weighted_sum + x1 * w1 + x2 * w2 + bias"
    assert region.fixed_text == "    weighted_sum = x1 * w1 + x2 * w2 + bias"


def test_several_release_lines_regions_and_blank_or_missing_lines():
    source = "\n".join([
        "# BEGIN SEEDED BUG",          # any number of '#'
        "# RELEASE: def f():",
        "# RELEASE:     return y",     # spaces after the separator are kept
        "#RELEASE:",                   # a blank released line
        "def f(x):",
        "    return x",
        "# END SEEDED BUG",
        "a = 1",
        "    ### BEGIN SEEDED BUG",     # no RELEASE line: the bug is a missing line
        "    b = 2",
        "    ### END SEEDED BUG",
    ])
    assert release_source(source) == "def f():\n    return y\n\na = 1"
    assert fixed_source(source) == "def f(x):\n    return x\na = 1\n    b = 2"
    assert [r.buggy_text for r in parse_regions(source)] == ["def f():\n    return y\n", ""]
    assert release_source("x = 1\n# a comment") == "x = 1\n# a comment"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SEEDED BUG\n### RELEASE: x\ny = 1", r"line 1 .*without a matching END"),
    ("y = 1\n### END SEEDED BUG", r"line 2 .*END SEEDED BUG without a BEGIN"),
    ("### BEGIN SEEDED BUG\n### BEGIN SEEDED BUG\n### END SEEDED BUG", r"line 2 .*do not nest"),
    ("### RELEASE: x = 0\nx = 1", r"line 1 .*RELEASE line outside"),
    ("### BEGIN SEEDED BUG\nx = 1\n### RELEASE: x = 0\n### END SEEDED BUG", r"line 3 .*right after BEGIN"),
    ("### BEGIN SEEDED BUG\n### END SEEDED BUG", r"line 2 .*is empty"),
    ("### BEGIN SEEDED BUGS\n### RELEASE: x\nx = 1\n### END SEEDED BUG", r"line 1 .*not a valid seeded-bug marker"),
    ("### begin seeded bug\nx = 1", r"not a valid seeded-bug marker"),
])
def test_malformed_regions_are_refused_with_the_line_and_the_reason(source, message):
    assert has_marker(source)
    with pytest.raises(SeededBugSyntaxError, match=message):
        parse_regions(source)


# ---- the preprocessors -------------------------------------------------------------------------

def nbgrader_meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def cell(source, cell_type="code", tags=None, **nbgrader):
    c = new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)
    if nbgrader:
        c.metadata.update(nbgrader_meta(**nbgrader))
    if tags:
        c.metadata["tags"] = tags
    return c


def run_preprocessors(nb, *classes):
    resources = {}
    for cls in classes:
        nb, resources = cls().preprocess(nb, resources)
    return nb, resources


def test_clear_solutions_keep_given_then_release_seeded_bugs():
    from nbgrader.preprocessors import ClearSolutions

    from gradekit.nbgrader_ext import ClearSolutionsKeepGiven, ReleaseSeededBugs

    nb = new_notebook(cells=[
        cell(CELL, grade_id="bug", solution=True),
        cell('Name = "Your name"\nCID = 123446', tags=["keep-in-release", "other"], grade_id="details", solution=True),
        cell("answer = 42", grade_id="whole", solution=True),
        cell("# given\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", grade_id="region", solution=True),
        cell(CELL.replace("def perceptron", "def p2") + "\n### BEGIN SOLUTION\nz = 3\n### END SOLUTION",
             grade_id="both", solution=True),
        cell("plain = 1"),
    ])
    out, resources = run_preprocessors(nb, ClearSolutionsKeepGiven, ReleaseSeededBugs)
    sources = [c.source for c in out.cells]
    assert sources[0] == release_source(CELL)
    assert sources[1] == 'Name = "Your name"\nCID = 123446' and out.cells[1].metadata["tags"] == ["other"]
    assert sources[2] == fabricate.CODE_STUB                      # stock behaviour for a whole-cell answer
    assert sources[3] == "# given\n" + fabricate.CODE_STUB
    assert "weighted_sum + x1" in sources[4] and sources[4].endswith(fabricate.CODE_STUB) and "z = 3" not in sources[4]
    assert sources[5] == "plain = 1"
    assert resources["gradekit"]["seeded_bugs"] == ["bug", "both"]
    # stock ClearSolutions would have wiped the given code: that is why nbgrader_config.py replaces it
    wiped, _ = run_preprocessors(nb, ClearSolutions, ReleaseSeededBugs)
    assert wiped.cells[0].source == wiped.cells[1].source == fabricate.CODE_STUB


@pytest.mark.parametrize("bad_cell, message", [
    (cell("### BEGIN SEEDED BUG\nx = 1", grade_id="a", solution=True), r"cell 0 \(grade_id 'a'\): line 1"),
    (cell(CELL, grade_id="t", grade=True, locked=True, points=1), r"students can edit"),
    (cell(CELL, grade_id="l", locked=True), r"students can edit"),
    (cell(CELL, cell_type="markdown"), r"only allowed in code cells"),
])
def test_release_seeded_bugs_refuses_malformed_or_misplaced_regions(bad_cell, message):
    from gradekit.nbgrader_ext import ReleaseSeededBugs

    with pytest.raises(SeededBugSyntaxError, match=message):
        run_preprocessors(new_notebook(cells=[bad_cell]), ReleaseSeededBugs)


# ---- nbgrader_config.py ------------------------------------------------------------------------

def configured_preprocessors(root: Path = ROOT) -> list[type]:
    from traitlets.config.loader import PyFileConfigLoader

    return list(PyFileConfigLoader(NBGRADER_CONFIG, path=str(root)).load_config().GenerateAssignment.preprocessors)


def test_config_runs_release_seeded_bugs_after_clear_solutions_and_before_checksums_and_savecells():
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions, ComputeChecksums, SaveCells

    from gradekit.nbgrader_ext import ClearSolutionsKeepGiven, ReleaseSeededBugs

    chain = configured_preprocessors()
    at = chain.index(ReleaseSeededBugs)
    assert chain.count(ReleaseSeededBugs) == 1
    assert chain.index(ClearSolutionsKeepGiven) == at - 1, "ReleaseSeededBugs must come right after ClearSolutions"
    assert at < chain.index(ComputeChecksums), "ReleaseSeededBugs must run before ComputeChecksums"
    assert at < chain.index(SaveCells), "ReleaseSeededBugs must run before SaveCells"
    assert ClearSolutions not in chain, "stock ClearSolutions wipes the answer cells whose code is given"
    # otherwise nbgrader's own list, in nbgrader's order
    default = list(GenerateAssignment.class_traits()["preprocessors"].default())
    expected = [ClearSolutionsKeepGiven if p is ClearSolutions else p for p in default]
    expected.insert(expected.index(ClearSolutionsKeepGiven) + 1, ReleaseSeededBugs)
    assert chain == expected


# ---- the release -------------------------------------------------------------------------------

def make_course(dest: Path) -> Path:
    """A throw-away copy of the course (configs, source, checks)."""
    dest.mkdir(parents=True)
    for name in ("gradekit.toml", NBGRADER_CONFIG):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(SOURCE_DIR, dest / "source" / "ann")
    shutil.copytree(ROOT / "autograder" / "ann", dest / "autograder" / "ann",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("course") / "c")


@pytest.fixture(scope="module")
def generated(course_copy) -> dict[str, bytes]:
    return snapshot(generate_release(course_copy))


def test_release_is_deterministic_and_the_committed_one_is_fresh(course_copy, generated):
    assert set(generated) == {"ann.ipynb", "micrograph.png", "data/FashionMNIST/raw/train-images-idx3-ubyte",
                              "data/FashionMNIST/raw/train-labels-idx1-ubyte",
                              "data/FashionMNIST/raw/t10k-images-idx3-ubyte",
                              "data/FashionMNIST/raw/t10k-labels-idx1-ubyte"}
    data = course_copy / "source" / "ann" / "micrograph.png"
    mtime = data.stat().st_mtime_ns
    assert snapshot(generate_release(course_copy)) == generated
    assert data.stat().st_mtime_ns == mtime, "unchanged bundled data must not be rewritten"
    stale = compare_trees(course_copy / "release" / "ann", RELEASE_DIR)
    assert stale == [], "release/ann is stale: run `gradekit release`"
    fresh_data = snapshot(course_copy / "source" / "ann" / "data")
    assert snapshot(SOURCE_DIR / "data") == fresh_data, "source/ann/data is stale"


def test_nbgrader_cli_writes_the_same_release(course_copy, generated):
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    done = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "ann", "--force"], cwd=course_copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert snapshot(course_copy / "release" / "ann") == generated
    assert verify_release(course_copy, "ann") == []


@pytest.mark.parametrize("move_after", ["the last ComputeChecksums", "the first ComputeChecksums", "SaveCells"])
def test_release_seeded_bugs_moved_after_computechecksums_gives_an_inconsistent_release(tmp_path, move_after):
    """Why the order matters: run late, the checksums and the gradebook describe the *fixed* code."""
    variant = make_course(tmp_path / "c")
    names = [p.__name__ for p in configured_preprocessors()]
    names.remove("ReleaseSeededBugs")
    at = {"the last ComputeChecksums": len(names) - 2, "the first ComputeChecksums": names.index("ComputeChecksums"),
          "SaveCells": names.index("SaveCells")}[move_after]
    names.insert(at + 1, "ReleaseSeededBugs")
    with open(variant / NBGRADER_CONFIG, "a") as f:          # the course overrides the chain after configure()
        f.write("\nfrom nbgrader.preprocessors import *  # noqa\n"
                "from gradekit.nbgrader_ext import ClearSolutionsKeepGiven, ReleaseSeededBugs\n"
                f"c.GenerateAssignment.preprocessors = [{', '.join(names)}]\n")
    with pytest.raises(ReleaseError, match="preprocessor order"):
        generate_release(variant)
    problems = verify_release(variant, "ann")
    assert problems and all(any(b in p for b in ("perceptron", "sigmoid", "simple_cnn")) for p in problems), problems


def test_a_malformed_seeded_bug_fails_the_release_with_nbgraders_log(tmp_path):
    variant = make_course(tmp_path / "c")
    nb = read(variant / "source" / "ann" / "ann.ipynb")
    index = fabricate.find_cell(nb, "sigmoid")
    nb.cells[index].source = nb.cells[index].source.replace("### END SEEDED BUG\n", "")
    nbformat.write(nb, variant / "source" / "ann" / "ann.ipynb")
    with pytest.raises(ReleaseError, match=r"grade_id 'sigmoid'\): line 2 .*without a matching END"):
        generate_release(variant)


def test_release_is_fresh_reports_a_stale_release(tmp_path):
    variant = make_course(tmp_path / "c")
    shutil.copytree(RELEASE_DIR, variant / "release" / "ann")
    (variant / "release" / "ann" / "ann.ipynb").write_text("{}")
    (variant / "release" / "ann" / "stray.txt").write_text("x")
    fresh, message = release_is_fresh(variant)
    assert not fresh and "ann.ipynb: differs" in message and "stray.txt: not expected" in message


# ---- what the committed release contains ------------------------------------------------------

@pytest.fixture(scope="module")
def source_notebook():
    return read(SOURCE_DIR / "ann.ipynb")


@pytest.fixture(scope="module")
def release_notebook():
    return read(RELEASE_DIR / "ann.ipynb")


def split_regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(stripped non-empty lines outside begin/end regions, those inside)."""
    outside, inside, within = [], [], False
    for line in source.split("\n"):
        if begin in line:
            within = True
        elif end in line:
            within = False
        elif line.strip():
            (inside if within else outside).append(line.strip())
    return outside, inside


def secret_and_given_lines(source_nb) -> tuple[list[str], set[str]]:
    """Lines of solution and hidden-test regions; lines students see anyway (outside every region)."""
    secrets, given = [], set()
    for c in source_nb.cells:
        text = release_source(c.source) if c.cell_type == "code" else c.source
        outside, solution = split_regions(text, "BEGIN SOLUTION", "END SOLUTION")
        outside, hidden = split_regions("\n".join(outside), "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        secrets += solution + hidden
        given |= set(outside)
    return secrets, given


def test_release_leaks_no_fix_no_solution_no_hidden_test(source_notebook, release_notebook):
    released = "\n".join(c.source for c in release_notebook.cells)
    released_lines = {line.strip() for line in released.split("\n")}
    bugs = fabricate.seeded_bugs(source_notebook)
    assert {b.grade_id for b in bugs} == {"perceptron", "sigmoid", "simple_cnn"}
    for bug in bugs:
        assert bug.buggy_text in released
        for line in bug.fixed_text.split("\n"):
            assert line.strip() not in released_lines, f"the fix {line!r} of {bug.grade_id} is in the release"
    secrets, given = secret_and_given_lines(source_notebook)
    assert len(secrets) > 60
    leaked = [line for line in secrets if line in released_lines and line not in given]
    assert leaked == []
    for marker in ("SEEDED BUG", "RELEASE:", "SOLUTION", "HIDDEN TESTS", "_reference", "keep-in-release"):
        assert marker not in released and marker not in nbformat.writes(release_notebook)


def test_release_cells_and_metadata(release_notebook):
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in release_notebook.cells
            if "nbgrader" in c.metadata}
    for gid in ("perceptron", "sigmoid", "simple_cnn", "details", "lr_sweep", "best_lr"):
        assert (meta[gid]["solution"], meta[gid]["grade"], meta[gid]["locked"]) == (True, False, False), gid
    points = {gid: m["points"] for gid, m in meta.items() if m["grade"]}
    assert points == {"test_perceptron": 2, "test_sigmoid": 2, "test_simple_cnn": 2, "test_lr_sweep": 4,
                      "test_best_lr": 2}
    assert all(meta[gid]["locked"] for gid in points)
    assert all(meta[gid]["locked"] for gid in ("problem", "learning_rates", "fashion-data", "synthetic-data"))
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in release_notebook.cells)
    by_id = {fabricate.grade_id(c) or c.id: c.source for c in release_notebook.cells}
    assert by_id["details"].split("\n")[3:5] == [
        'Name = "Your name"', "CID = 123446 # Replace with your College ID (as a numeric value with no leading 0s)"]
    assert "CID = int(CID)\nnp.random.seed(CID)" in by_id["details"]
    assert by_id["lr_sweep"].endswith(fabricate.CODE_STUB) and by_id["best_lr"].endswith(fabricate.CODE_STUB)
    assert "learning_rates = [0.001, 0.01, 0.1, 0.5, 0.9, 1.5]" in by_id["learning_rates"].split("\n")
    problem = by_id["problem"].split("\n")
    assert {"num_images = 500", "num_epochs = 5", "torch.manual_seed(102)", "np.random.seed(102)"} <= set(problem)
    assert not any("!pip" in c.source for c in fabricate.code_cells(release_notebook))
    for gid in ("classical-filters", "custom-filters"):
        lines = by_id[gid].split("\n")
        assert 'image = io.imread("micrograph.png")' in lines
        assert all(line.startswith("#") for line in lines if "wikimedia" in line)
