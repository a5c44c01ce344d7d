"""Intake of one notebook (read_submission), the static Name/CID reading, and the roster."""
from __future__ import annotations

import hashlib
import json
import time
import tracemalloc
from pathlib import Path

import nbformat
import pytest
from nbformat import v3
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from gradekit.errors import SetupError
from gradekit.intake import (FLAG_TEXT, Roster, RosterEntry, match_roster, parse_roster, read_identity,
                             read_roster, read_submission)
from gradekit.model import Identity, Submission

PLACEHOLDER = 123446
MB = 1024 * 1024

DETAILS = '''import numpy as np
# Insert your values
Name = "Your name"
CID = 123446 # Replace with your College ID (as a numeric value with no leading 0s)
CID = int(CID)
np.random.seed(CID)
print("This is the work of " + Name + " [CID: 0" + str(CID) + "]")
'''


def details(name: str = "Ada Lovelace", cid: str = "1234567") -> str:
    return DETAILS.replace('"Your name"', repr(name)).replace("123446 #", f"{cid} #")


def notebook(*sources: str, **metadata) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# Coursework")] + [new_code_cell(s) for s in sources]
    return new_notebook(cells=cells, metadata=metadata)


def write(tmp_path: Path, content: str | bytes, name: str = "sub.ipynb") -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


def read(path: Path, max_bytes: int = 20 * MB) -> Submission:
    return read_submission(path, key="ab123", source_name=path.name, cid_placeholder=PLACEHOLDER,
                           max_bytes=max_bytes)


def read_nb(tmp_path: Path, nb) -> Submission:
    return read(write(tmp_path, json.dumps(nb) if isinstance(nb, dict) and not hasattr(nb, "cells")
                      else nbformat.writes(nb)))


def as_dict(nb) -> dict:
    return json.loads(nbformat.writes(nb))


def assert_flags_known(sub: Submission) -> None:
    assert set(sub.flags) <= set(FLAG_TEXT), sub.flags


# ----------------------------------------------------------------------------- read_submission: good files

def test_valid_notebook_is_normalised_hashed_and_identified(tmp_path):
    p = write(tmp_path, nbformat.writes(notebook(details(), "x = 1")))
    sub = read(p)
    assert sub.problem is None and sub.flags == ()
    assert sub.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert sub.key == "ab123" and sub.source_name == "sub.ipynb"
    assert sub.identity == Identity("Ada Lovelace", 1234567, None)
    nb = nbformat.reads(sub.notebook_json, as_version=nbformat.NO_CONVERT)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.cells[2].source == "x = 1"
    assert nb.metadata.kernelspec.name == "python3"


def test_normalisation_is_deterministic(tmp_path):
    d = as_dict(notebook(details()))
    for c in d["cells"]:
        del c["id"]
    p = write(tmp_path, json.dumps(d))
    assert read(p).notebook_json == read(p).notebook_json


def test_no_nbgrader_metadata_is_fine_and_nbgrader_metadata_is_kept(tmp_path):
    nb = notebook(details())
    nb.cells[1].metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "details",
                                        "locked": False, "schema_version": 3}
    sub = read_nb(tmp_path, nb)
    assert sub.problem is None and sub.flags == ()
    assert json.loads(sub.notebook_json)["cells"][1]["metadata"]["nbgrader"]["grade_id"] == "details"


def test_utf8_bom_is_accepted_and_flagged(tmp_path):
    sub = read(write(tmp_path, b"\xef\xbb\xbf" + nbformat.writes(notebook(details())).encode()))
    assert sub.problem is None and sub.flags == ("utf8_bom",)


def test_nbformat3_is_upgraded(tmp_path):
    nb3 = v3.new_notebook()
    nb3.worksheets.append(v3.new_worksheet(cells=[v3.new_code_cell(input=details()),
                                                  v3.new_text_cell("markdown", source="hello")]))
    sub = read(write(tmp_path, nbformat.writes(nb3)))
    assert sub.problem is None
    assert "upgraded_from_v3" in sub.flags
    nb = json.loads(sub.notebook_json)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert [c["cell_type"] for c in nb["cells"]] == ["code", "markdown"]
    assert len({c["id"] for c in nb["cells"]}) == 2
    assert sub.identity.cid == 1234567


def test_missing_minor_version_and_metadata(tmp_path):
    d = as_dict(notebook(details()))
    del d["nbformat_minor"], d["metadata"]
    sub = read(write(tmp_path, json.dumps(d)))
    assert sub.problem is None and sub.flags == ("cell_ids_added",) and sub.identity.cid == 1234567


def test_cells_without_metadata_are_repaired(tmp_path):
    """nbformat's own reader raised AttributeError on a cell without "metadata" (found by the corpus)."""
    d = as_dict(notebook(details(), "y = 2"))
    del d["metadata"]
    for c in d["cells"]:
        del c["metadata"]
    sub = read(write(tmp_path, json.dumps(d)))
    assert sub.problem is None and sub.flags == ("cells_repaired",) and sub.identity.cid == 1234567
    assert all(c["metadata"] == {} for c in json.loads(sub.notebook_json)["cells"])


def test_nbformat_4_4_gets_cell_ids(tmp_path):
    d = as_dict(notebook(details(), "y = 2"))
    d["nbformat_minor"] = 4
    for c in d["cells"]:
        del c["id"]
    sub = read(write(tmp_path, json.dumps(d)))
    assert sub.problem is None and sub.flags == ("cell_ids_added",)
    nb = json.loads(sub.notebook_json)
    assert nb["nbformat_minor"] == 5 and len({c["id"] for c in nb["cells"]}) == 3


def test_missing_and_duplicated_cell_ids_get_fresh_unique_ids(tmp_path):
    d = as_dict(notebook(details(), "a = 1", "b = 2", "c = 3"))
    d["cells"][1]["id"] = d["cells"][2]["id"] = "same"
    del d["cells"][3]["id"]
    d["cells"][4]["id"] = "not a valid id!"
    sub = read(write(tmp_path, json.dumps(d)))
    assert sub.problem is None
    assert set(sub.flags) == {"cell_ids_duplicated", "cell_ids_missing"}
    ids = [c["id"] for c in json.loads(sub.notebook_json)["cells"]]
    assert len(set(ids)) == len(ids) and ids[1] == "same" and ids[0] == d["cells"][0]["id"]


def test_non_python_kernel_is_flagged_and_graded_as_python(tmp_path):
    nb = notebook(details(), kernelspec={"name": "ir", "display_name": "R", "language": "R"},
                  language_info={"name": "R"})
    sub = read_nb(tmp_path, nb)
    assert sub.problem is None and sub.flags == ("kernel_not_python",)
    meta = json.loads(sub.notebook_json)["metadata"]
    assert meta["kernelspec"]["name"] == "python3" and "language_info" not in meta


def test_custom_python_kernel_is_silently_normalised(tmp_path):
    nb = notebook(details(), kernelspec={"name": "myvenv", "display_name": "Python (venv)", "language": "python"})
    sub = read_nb(tmp_path, nb)
    assert sub.flags == () and json.loads(sub.notebook_json)["metadata"]["kernelspec"]["name"] == "python3"


def test_colab_notebook(tmp_path):
    d = as_dict(notebook(details(), "print(1)"))
    d["nbformat_minor"] = 0
    d["metadata"] = {"colab": {"provenance": [], "gpuType": "T4"}, "accelerator": "GPU",
                     "kernelspec": {"name": "python3", "display_name": "Python 3"},
                     "language_info": {"name": "python"}}
    for i, c in enumerate(d["cells"]):
        del c["id"]
        c["metadata"] = {"id": f"colabCell{i}"}
    d["cells"][2]["metadata"].update({"colab": {"base_uri": "https://localhost:8080/"}, "outputId": "abc"})
    d["cells"][2]["outputs"] = [as_dict_output(new_output("stream", name="stdout", text="1\n"))]
    sub = read(write(tmp_path, json.dumps(d)))
    assert sub.problem is None
    assert set(sub.flags) == {"colab", "cell_ids_added"}
    assert sub.identity.cid == 1234567


def as_dict_output(out) -> dict:
    return json.loads(json.dumps(out))


def test_invalid_outputs_are_cleared_and_missing_fields_repaired(tmp_path):
    d = as_dict(notebook(details(), "1 + 1"))
    d["cells"][2]["outputs"] = [{"output_type": "execute_result", "data": {}}]   # no metadata/execution_count
    del d["cells"][1]["execution_count"]
    sub = read(write(tmp_path, json.dumps(d)))
    assert sub.problem is None
    assert set(sub.flags) == {"cells_repaired", "outputs_cleared"}
    nb = json.loads(sub.notebook_json)
    assert nb["cells"][2]["outputs"] == [] and "".join(nb["cells"][2]["source"]) == "1 + 1"


# ----------------------------------------------------------------------------- read_submission: bad files

def problem_of(tmp_path: Path, content: str | bytes, **kw) -> str:
    sub = read(write(tmp_path, content), **kw)
    assert sub.notebook_json is None and sub.problem
    assert sub.identity.cid is None
    return sub.problem


def test_empty_file(tmp_path):
    assert problem_of(tmp_path, b"") == "The file is empty."
    assert problem_of(tmp_path, b" \n\t") == "The file is empty."


def test_too_large_file(tmp_path):
    problem = problem_of(tmp_path, nbformat.writes(notebook(details())), max_bytes=100)
    assert "larger than the limit" in problem


def test_200mb_sparse_file_is_refused_without_reading(tmp_path):
    p = tmp_path / "huge.ipynb"
    with open(p, "wb") as f:
        f.truncate(200 * MB)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        sub = read(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 5 * MB                      # 200 MB were never loaded
    assert sub.notebook_json is None and sub.sha256 == ""
    assert sub.problem.startswith("The file is 200.0 MB, larger than the limit of 20.0 MB")


def test_not_utf8(tmp_path):
    problem = problem_of(tmp_path, '{"cells": "caf\u00e9"}'.encode("latin-1"))
    assert "not UTF-8" in problem and "0xe9" in problem
    assert "UTF-16" in problem_of(tmp_path, nbformat.writes(notebook(details())).encode("utf-16"))
    assert "zip archive" in problem_of(tmp_path, b"PK\x03\x04rest of a zip")


def test_invalid_json_says_line_and_column(tmp_path):
    problem = problem_of(tmp_path, '{\n "cells": [],\n "nbformat": 4,\n "metadata": {,\n}')
    assert problem.startswith("The file is not valid JSON: Expecting property name enclosed in double quotes "
                              "at line 4, column 15")
    truncated = nbformat.writes(notebook(details()))[:200]
    assert "not valid JSON" in problem_of(tmp_path, truncated)
    cut_in_string = problem_of(tmp_path, '{"cells": ["abc')
    assert cut_in_string.startswith("The file is not valid JSON: Unterminated string starting at line 1, column 12")
    assert "nested too deeply" in problem_of(tmp_path, "[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("data, expected", [
    ([1, 2], "it is a JSON list"),
    ("notebook", "it is a JSON str"),
    ({"cells": []}, 'no "nbformat" field'),
    ({"nbformat": "4", "cells": []}, "not a number"),
    ({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}, 'no list of "cells"'),
    ({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [1]}, "not cell objects"),
    ({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
      "cells": [{"cell_type": "python", "id": "a", "metadata": {}, "source": ""}]}, "notebook format"),
])
def test_json_that_is_not_a_notebook(tmp_path, data, expected):
    problem = problem_of(tmp_path, json.dumps(data))
    assert expected in problem


def test_unsupported_major_version(tmp_path):
    assert "version 5 is not supported" in problem_of(tmp_path, json.dumps({"nbformat": 5, "cells": []}))
    assert "version 2 is not supported" in problem_of(tmp_path, json.dumps({"nbformat": 2, "worksheets": []}))


def test_missing_file_and_folder(tmp_path):
    assert "could not be read" in read(tmp_path / "nope.ipynb").problem
    assert read(tmp_path).problem == "This is not a regular file."


# ----------------------------------------------------------------------------- read_identity

def ident(*sources: str, cells=None) -> Identity:
    return read_identity(new_notebook(cells=cells or [new_code_cell(s) for s in sources]), PLACEHOLDER)


def test_identity_of_the_untouched_template():
    i = ident(DETAILS)
    assert i == Identity(None, None, "CID is still the template's placeholder 123446: replace it with "
                                     "your College ID.")
    assert not i.cid_ok


@pytest.mark.parametrize("line, cid", [
    ("CID = 1234567", 1234567),
    ("CID = '01234567'", 1234567),
    ('CID = int("01234567")', 1234567),
    ('CID = int("123")', 123),
    ("CID = 1_234_567", 1234567),
    ("CID: int = 1234567", 1234567),
    ('Name, CID = "Ada", 1234567', 1234567),
    ("CID = 1234567.0", 1234567),
])
def test_literal_cids(line, cid):
    i = ident(f"import numpy as np\n{line}\nCID = int(CID)\nnp.random.seed(CID)")
    assert i.cid == cid and i.cid_problem is None and i.cid_ok


@pytest.mark.parametrize("line, cid, words", [
    ("CID = 1000000 + 234567", None, "computed (`CID = 1000000 + 234567`)"),
    ("CID += 1", None, "computed (`CID += 1`)"),
    ("CID = input('cid?')", None, "computed"),
    ("CID = 'abc'", None, "not a number"),
    ("CID = -1234567", None, "positive"),
    ("CID = 0", None, "positive"),
    ("CID = 123456789012345", None, "too many"),
    ("CID = '1234567890123456789012'", None, "far too many"),
    ("CID = 12345.5", None, "whole number"),
    ("CID = 123446", None, "placeholder"),
    ("CID = 01234567", 1234567, "not valid Python"),
    ("x = 1", None, "No `CID = ...` line"),
])
def test_unusable_cids(line, cid, words):
    i = ident(f"import numpy as np\n{line}\nCID = int(CID)")
    assert i.cid == cid and words in i.cid_problem and not i.cid_ok


def test_cid_assigned_several_times_uses_the_last_and_says_so():
    i = ident(details(cid="1234567"), "CID = 7654321\nprint(CID)")
    assert i.cid == 7654321
    assert "several times" in i.cid_problem and "1234567, 7654321" in i.cid_problem


def test_placeholder_then_real_value_is_not_several_values():
    i = ident(DETAILS, "CID = 7654321")
    assert i == Identity(None, 7654321, None)


def test_cid_not_at_top_level_is_not_seen():
    i = ident("if True:\n    CID = 1234567\n", "def f():\n    CID = 7\n")
    assert i.cid is None and "No `CID" in i.cid_problem


def test_cells_reordered_and_with_syntax_errors_elsewhere():
    i = ident("def broken(:\n    pass", "x = [1, 2", details(cid="1234567"))
    assert i == Identity("Ada Lovelace", 1234567, None)


def test_syntax_error_in_the_details_cell_falls_back_to_a_regex():
    i = ident(details(cid="1234567") + "\nprint('unterminated\n")
    assert i.cid == 1234567 and i.name == "Ada Lovelace"
    assert "syntax error" in i.cid_problem


def test_ipython_magics_do_not_hide_the_cid():
    assert ident("%matplotlib inline\n!pip list\n" + details(cid="1234567")).cid_ok


def test_cid_in_a_retyped_cell():
    i = ident(cells=[new_markdown_cell(details(cid="1234567")), new_code_cell("x = 1")])
    assert i.cid == 1234567 and "markdown cell" in i.cid_problem
    i = ident(cells=[new_raw_cell("CID = 1"), new_code_cell("CID = 1234567")])
    assert i.cid_ok and i.cid == 1234567           # a code cell wins over a raw one


@pytest.mark.parametrize("line, name", [
    ('Name = "Grace Hopper"', "Grace Hopper"),
    ('Name = "  Grace  "', "Grace"),
    ('Name = "Your name"', None),
    ('Name = f"{first} {last}"', None),
    ("Name = 42", None),
    ("", None),
])
def test_names(line, name):
    assert ident(f"{line}\nCID = 1234567").name == name


def test_identity_from_a_plain_dict_with_list_sources():
    nb = {"cells": [{"cell_type": "code", "source": ["Name = 'Ada'\n", "CID = 1234567\n"]}]}
    assert read_identity(nb, PLACEHOLDER) == Identity("Ada", 1234567, None)


def test_identity_flags_reach_the_submission(tmp_path):
    sub = read_nb(tmp_path, notebook(details(cid="'01234567'")))
    assert sub.identity == Identity("Ada Lovelace", 1234567, None)
    assert sub.flags == ("cid_leading_zero",)
    sub = read_nb(tmp_path, notebook(details(cid="1234567"), "CID = 7654321"))
    assert sub.flags == ("cid_several_values",)
    assert_flags_known(sub)


# ----------------------------------------------------------------------------- roster

def test_read_roster_header_spellings_and_leading_zeros(tmp_path):
    p = tmp_path / "roster.csv"
    p.write_text('"Last Name","First Name","USER_NAME","College ID","Email"\n'
                 '"Lovelace","Ada","al123","01234567","a@x"\n'
                 '"Hopper","Grace","gh7","7654321.0",""\n'
                 '"","","","",""\n'
                 '"Nobody","","","1",""\n'
                 '"Twice","","AL123","2",""\n'
                 '"Turing","Alan","at1","n/a",""\n', encoding="utf-8-sig")
    r = read_roster(p)
    assert r.entries == (RosterEntry("al123", "Ada Lovelace", 1234567), RosterEntry("gh7", "Grace Hopper", 7654321),
                         RosterEntry("at1", "Alan Turing", None))
    assert len(r.problems) == 3
    assert r.get("AL123") == r.entries[0]


def test_read_roster_utf16_tab_separated(tmp_path):
    p = tmp_path / "gc.xls"
    p.write_bytes("Username\tName\tCID\nal123\tAda Lovelace\t1234567\n".encode("utf-16"))
    assert read_roster(p).entries == (RosterEntry("al123", "Ada Lovelace", 1234567),)


def test_roster_without_id_column_is_a_setup_error(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("Name,CID\nAda,1234567\n")
    with pytest.raises(SetupError, match="no student id column"):
        read_roster(p)
    with pytest.raises(SetupError, match="cannot read"):
        read_roster(tmp_path / "missing.csv")
    with pytest.raises(SetupError, match="empty"):
        parse_roster("\n\n")


def sub(key: str, cid: int | None, flags=()) -> Submission:
    return Submission(key, f"{key}.ipynb", "0" * 64, "{}", Identity("x", cid, None), flags=flags)


def test_match_roster():
    roster = Roster((RosterEntry("al123", "Ada", 1234567), RosterEntry("gh7", "Grace", 7654321),
                     RosterEntry("at1", "Alan", 1111111), RosterEntry("ml9", "Mary", 2222222),
                     RosterEntry("nc0", "No Cid", None)))
    subs = [sub("AL123", 1234567, ("colab",)),      # matched, key spelled as on the roster
            sub("gh7", 9999999),                    # CID differs from the roster's
            sub("zz1", 9999999),                    # not on the roster, same CID as gh7's notebook
            sub("mary_cw1", 2222222),               # file-stem key: matched by CID
            sub("nc0", 5555555)]                    # roster has no CID: no mismatch
    out, missing = match_roster(subs, roster)
    assert [s.key for s in out] == ["al123", "gh7", "zz1", "ml9", "nc0"]
    assert [s.flags for s in out] == [("colab",), ("cid_mismatch_roster", "duplicate_cid"),
                                      ("not_on_roster", "duplicate_cid"), ("matched_by_cid",), ()]
    assert missing == [RosterEntry("at1", "Alan", 1111111)]
    again, _ = match_roster(out, roster)                 # idempotent: no doubled flags
    assert [s.flags for s in again] == [s.flags for s in out]


def test_match_roster_ambiguous_cid_is_not_matched():
    roster = Roster((RosterEntry("at1", "Alan", 1111111),))
    out, missing = match_roster([sub("a", 1111111), sub("b", 1111111), sub("c", None)], roster)
    assert [s.flags for s in out] == [("not_on_roster", "duplicate_cid")] * 2 + [("not_on_roster",)]
    assert missing == list(roster.entries)


# -- one file never aborts the batch; a huge one costs little (issue 12, item 4) ---------------------

_DEEP = "_deep = " + "-" * 20000 + "1"        # CPython's parser raises MemoryError on it, not SyntaxError


def test_an_expression_too_deep_to_parse_next_to_the_cid(tmp_path):
    sub = read_nb(tmp_path, notebook(details() + _DEEP))
    assert sub.notebook_json is not None
    assert sub.identity.cid == 1234567 and sub.identity.name == "Ada Lovelace"
    assert "cid_cell_syntax_error" in sub.flags
    assert "too deeply nested" in sub.identity.cid_problem and "line None" not in sub.identity.cid_problem


def test_a_cid_too_deep_to_parse_is_no_cid():
    ident = read_identity(notebook("CID = " + "-" * 20000 + "1"), PLACEHOLDER)
    assert ident.cid is None and "computed" in ident.cid_problem


@pytest.mark.parametrize("exc", [MemoryError(), RecursionError("maximum recursion depth exceeded"), KeyError("x")])
def test_any_failure_while_reading_one_file_is_that_files_row(tmp_path, monkeypatch, exc):
    import gradekit.intake.notebook as nbmod

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(nbmod, "scan_identity", boom)
    sub = read_nb(tmp_path, notebook(details()))
    assert sub.notebook_json is None
    assert type(exc).__name__ in sub.problem and "ask a TA" in sub.problem


def test_a_notebook_of_too_many_cells_is_refused_before_any_per_cell_work(tmp_path):
    from gradekit.intake.notebook import MAX_CELLS

    cells = [{"cell_type": "markdown", "metadata": {}, "source": "t"}] * 290_000
    path = write(tmp_path, json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    t0 = time.process_time()
    sub = read(path)
    cpu = time.process_time() - t0
    assert sub.notebook_json is None
    assert "290,000 cells" in sub.problem and f"{MAX_CELLS:,}" in sub.problem
    assert cpu < 6.0, cpu                     # the JSON parse only (was 17.6 s through nbformat)
    cells = [new_markdown_cell("t") for _ in range(MAX_CELLS - 1)] + [new_code_cell(details())]
    ok = read_nb(tmp_path, new_notebook(cells=cells))
    assert ok.notebook_json is not None and ok.identity.cid == 1234567
