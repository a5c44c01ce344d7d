"""The flags intake may attach to a Submission / IntakeItem, with a sentence for TAs.

Flags are plain identifiers so code can test ``"several_attempts" in sub.flags``; the details
live elsewhere (other_attempts, identity.cid_problem, the roster)."""
from __future__ import annotations

FLAG_TEXT: dict[str, str] = {
    # reading the file (notebook.py)
    "utf8_bom": "the file starts with a UTF-8 byte-order mark (removed)",
    "upgraded_from_v3": "nbformat 3 notebook, upgraded to nbformat 4",
    "cell_ids_added": "nbformat 4.0-4.4 notebook: cells had no ids, fresh ids were given (now 4.5)",
    "cell_ids_missing": "some cells had no (or an invalid) id: fresh ids were given",
    "cell_ids_duplicated": "several cells shared an id: fresh ids were given",
    "cells_repaired": "cells lacked required fields (metadata, outputs, execution_count): defaults added",
    "outputs_cleared": "stored outputs did not follow the notebook format: all outputs were cleared",
    "metadata_stripped": "metadata that does not follow the notebook format was removed",
    "kernel_not_python": "the notebook names a non-Python kernel; it is graded with Python 3",
    "colab": "the notebook was saved by Google Colab",
    # grading (grading.py)
    "release_mismatch": "this is another version of the exercise's notebook (the message says what differs)",
    "needs_network": "a cell needs the internet (a download, a pip install); grading runs offline, so it failed "
                     "without counting as the student's error",
    # the "Your details" cell (identity.py)
    "cid_several_values": "CID is assigned several different values; the last one is used",
    "cid_leading_zero": "CID was written as a string with a leading 0 (\"0123...\"); read as a number",
    "cid_not_in_code_cell": "the CID assignment is in a markdown/raw cell, which never runs",
    "cid_cell_syntax_error": "the cell that sets CID does not parse as Python",
    # LMS downloads (lms.py)
    "several_attempts": "the student submitted several attempts; the latest counts (see other_attempts)",
    "several_notebooks_in_attempt": "one attempt held several notebooks; one was chosen (see other_attempts)",
    "latest_attempt_without_notebook": "the student's latest attempt holds no notebook; an earlier one is graded",
    "duplicate_key": "another file had the same name (key); a suffix -2, -3 ... was added",
    "key_from_file_name": "not from an LMS download and not matched to the roster: the key is the file name, "
                          "not a platform username",
    "submitted_at_from_mtime": "the submission time is the file's modification time (no LMS attempt stamp)",
    "best_attempt_counted": "an earlier attempt scored more after its late penalty and counts (attempt = \"best\")",
    # roster (roster.py)
    "not_on_roster": "the submission's key is not on the roster",
    "matched_by_cid": "the key was not on the roster; the notebook's CID matched a roster entry, whose key is used",
    "cid_mismatch_roster": "the notebook's CID differs from the roster's CID for this student",
    "duplicate_cid": "another student's notebook carries the same CID",
}


def add_flags(flags: tuple[str, ...], *new: str) -> tuple[str, ...]:
    """`flags` plus those of `new` not yet in it, order kept."""
    out = list(flags)
    for f in new:
        if f not in out:
            out.append(f)
    return tuple(out)


def flag_sentences(flags) -> str:
    """The flags as sentences people read ("; "-separated); an unknown flag shows as itself."""
    return "; ".join(FLAG_TEXT.get(f, f) for f in flags)
