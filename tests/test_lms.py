"""LMS bulk downloads, folders and untrusted zip archives -> Intake."""
from __future__ import annotations

import functools
import io
import os
import stat
import struct
import time
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from gradekit.intake import (FLAG_TEXT, Intake, IntakeItem, LmsName, Skipped, ZipLimits, expand_inputs,
                             parse_lms_name, parse_receipt, read_item)
from gradekit.intake.lms import CapExceeded, copy_capped

ASSIGNMENT = "Coursework_1_ANN"


@functools.cache
def nb_text(cid: int = 1234567) -> str:
    return nbformat.writes(new_notebook(cells=[new_code_cell(f"Name = 'S'\nCID = {cid}")]))


def lms(user: str, ts: str, original: str | None = "ann.ipynb", assignment: str = ASSIGNMENT) -> str:
    base = f"{assignment}_{user}_attempt_{ts}"
    return f"{base}.txt" if original is None else f"{base}_{original}"


def receipt(user: str, ts: str, original: str = "ann.ipynb", stored: str | None = None) -> str:
    return (f"Name: Student {user} ({user})\nAssignment: Coursework 1\n"
            f"Date Submitted: Monday, 14 October 2024 13:05:22 o'clock BST\nCurrent Mark: Needs Marking\n\n"
            f"Submission Field:\nThere is no student submission text data for this assignment.\n\n"
            f"Comments:\nThere are no student comments for this assignment.\n\n"
            f"Files:\n\tOriginal filename: {original}\n\tFilename: {stored or lms(user, ts, original)}\n")


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, str | bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return path


def files_outside(root: Path, workdir: Path) -> set[Path]:
    return {p for p in root.rglob("*") if workdir not in p.parents and p != workdir}


# ----------------------------------------------------------------------------- names and receipts

def test_parse_lms_name_anchors_on_attempt():
    n = parse_lms_name("Coursework_1_ANN_ab123_attempt_2024-10-14-13-05-22_my_attempt_2_final.ipynb")
    assert n == LmsName("Coursework_1_ANN", "ab123", datetime(2024, 10, 14, 13, 5, 22), "my_attempt_2_final.ipynb")
    n = parse_lms_name("CW 1_ab123_attempt_2024-10-14-13-05-22_x_ab9_attempt_2025-01-01-00-00-00_y.ipynb")
    assert (n.assignment, n.username, n.time.year) == ("CW 1", "ab123", 2024)
    r = parse_lms_name(lms("ab123", "2024-10-14-13-05-22", None))
    assert r == LmsName(ASSIGNMENT, "ab123", datetime(2024, 10, 14, 13, 5, 22), None)


@pytest.mark.parametrize("name", ["ann.ipynb", "CW_ab123_attempt_2024-13-14-13-05-22_ann.ipynb",
                                  "CW_ab.12_attempt_2024-10-14-13-05-22_ann.ipynb", "CW_ab123_attempt_2024_a.ipynb",
                                  "_ab123_attempt_2024-10-14-13-05-22_ann.ipynb"])
def test_names_that_do_not_follow_the_pattern(name):
    assert parse_lms_name(name) is None


def test_parse_receipt():
    r = parse_receipt(receipt("ab123", "2024-10-14-13-05-22", "My Notebook.ipynb", stored="X_ab123.ipynb"))
    assert r.student_name == "Student ab123"
    assert r.originals == {"X_ab123.ipynb": "My Notebook.ipynb"}


# ----------------------------------------------------------------------------- a Blackboard download

def test_bulk_download_latest_attempt_counts(tmp_path):
    t1, t2 = "2024-10-14-13-05-22", "2024-10-15-09-00-00"
    z = make_zip(tmp_path / "gradebook_Coursework_1.zip", [
        (lms("ab123", t1), nb_text(1)),
        (lms("ab123", t1, None), receipt("ab123", t1)),
        (lms("ab123", t2, "ann (1).ipynb"), nb_text(2)),
        (lms("ab123", t2, None), receipt("ab123", t2, "ann (1).ipynb")),
        (lms("cd456", t1, "cw.ipynb"), nb_text(3)),
        (lms("cd456", t1, "report.pdf"), b"%PDF-1.4"),
        (lms("cd456", t1, None), receipt("cd456", t1, "cw.ipynb")),
        ("notes.txt", "not a receipt"),
        ("loose_file.ipynb", nb_text(4)),
    ])
    work = tmp_path / "work"
    intake = expand_inputs([z], work)
    assert [i.key for i in intake.items] == ["ab123", "cd456", "loose_file"]
    ab, cd, loose = intake.items
    assert ab.source_name == "ann (1).ipynb" and ab.attempt_time == datetime(2024, 10, 15, 9, 0, 0)
    assert ab.other_attempts == (lms("ab123", t1),) and ab.flags == ("several_attempts",)
    assert ab.path.read_text() == nb_text(2) and work in ab.path.parents
    assert (cd.source_name, cd.other_attempts, cd.flags) == ("cw.ipynb", (), ())
    assert (loose.source_name, loose.attempt_time) == ("loose_file.ipynb", None)
    assert {s.name.split(":", 1)[1]: s.reason for s in intake.skipped} == {
        lms("cd456", t1, "report.pdf"): "not a notebook (.pdf file)",
        "notes.txt": "not a notebook (.txt file)"}


def test_read_item_carries_attempts_and_flags(tmp_path):
    p = tmp_path / "nb.ipynb"
    p.write_text(nb_text(7654321))
    item = IntakeItem("ab123", p, "ann.ipynb", datetime(2024, 1, 1), ("older.ipynb",), ("several_attempts",))
    sub = read_item(item, cid_placeholder=123446, max_bytes=1_000_000)
    assert (sub.key, sub.source_name, sub.identity.cid) == ("ab123", "ann.ipynb", 7654321)
    assert sub.other_attempts == ("older.ipynb",) and sub.flags == ("several_attempts",)


def test_latest_attempt_without_notebook_and_receipt_only_students(tmp_path):
    t1, t2 = "2024-10-14-13-05-22", "2024-10-15-09-00-00"
    d = tmp_path / "download"
    d.mkdir()
    (d / lms("ab123", t1)).write_text(nb_text())
    (d / lms("ab123", t2, None)).write_text(receipt("ab123", t2, "ann.py"))
    (d / lms("ab123", t2, "ann.py")).write_text("print(1)")
    (d / lms("ef789", t1, None)).write_text("Name: Eve (ef789)\n")
    intake = expand_inputs([d], tmp_path / "work")
    assert [(i.key, i.flags) for i in intake.items] == [("ab123", ("latest_attempt_without_notebook",))]
    reasons = {Path(s.name).name: s.reason for s in intake.skipped}
    assert reasons[lms("ab123", t2, "ann.py")] == "not a notebook (.py file)"
    assert reasons[lms("ef789", t1, None)].startswith("receipt of ef789's attempt 2024-10-14 13:05:22")


def test_two_notebooks_in_one_attempt(tmp_path):
    t = "2024-10-14-13-05-22"
    z = make_zip(tmp_path / "d.zip", [(lms("ab123", t, "a.ipynb"), nb_text()), (lms("ab123", t, "b.ipynb"), nb_text())])
    [item] = expand_inputs([z], tmp_path / "w").items
    assert item.source_name == "b.ipynb" and item.other_attempts == (lms("ab123", t, "a.ipynb"),)
    assert item.flags == ("several_notebooks_in_attempt",)


# ----------------------------------------------------------------------------- folders and single files

def test_folders_single_files_and_duplicate_stems(tmp_path):
    src = tmp_path / "in"
    (src / "alice" / ".ipynb_checkpoints").mkdir(parents=True)
    (src / "bob").mkdir()
    (src / ".git").mkdir()
    (src / "alice" / "ann.ipynb").write_text(nb_text())
    (src / "alice" / ".ipynb_checkpoints" / "ann-checkpoint.ipynb").write_text(nb_text())
    (src / "bob" / "ann.ipynb").write_text(nb_text())
    (src / "bob" / ".DS_Store").write_bytes(b"\0")
    (src / ".git" / "x.ipynb").write_text(nb_text())
    (src / "link.ipynb").symlink_to(src / "bob" / "ann.ipynb")
    (src / "linkdir").symlink_to(src / "bob")
    single = tmp_path / "carol.IPYNB"
    single.write_text(nb_text())
    intake = expand_inputs([src, single, tmp_path / "missing.zip"], tmp_path / "work")
    fn = "key_from_file_name"
    assert [(i.key, i.flags) for i in intake.items] == [("ann", (fn,)), ("ann-2", (fn, "duplicate_key")),
                                                        ("carol", (fn,))]
    assert intake.items[0].path == src / "alice" / "ann.ipynb"
    reasons = sorted((Path(s.name).name, s.reason) for s in intake.skipped)
    assert reasons == [(".ipynb_checkpoints", "Jupyter checkpoint folder: not graded"),
                       ("link.ipynb", "symbolic link: not followed"),
                       ("linkdir", "symbolic link: not followed"),
                       ("missing.zip", "does not exist")]
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def test_a_workdir_inside_a_folder_input_is_not_read_back(tmp_path):
    z = make_zip(tmp_path / "d.zip", [("a.ipynb", nb_text())])
    first = expand_inputs([tmp_path], tmp_path / "work")
    again = expand_inputs([tmp_path], tmp_path / "work")
    assert [i.key for i in first.items] == [i.key for i in again.items] == ["a"]
    assert first.skipped == again.skipped == [] and z.exists()


# ----------------------------------------------------------------------------- hostile archives

def test_zip_slip_absolute_symlink_and_nested_entries_are_refused(tmp_path):
    link = zipfile.ZipInfo("evil_link.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    fifo = zipfile.ZipInfo("pipe.ipynb")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as inner_zip:
        inner_zip.writestr("deep.ipynb", nb_text())
    with pytest.warns(UserWarning, match="Duplicate name"):
        z = make_zip(tmp_path / "evil.zip", [
            ("../escaped.ipynb", nb_text()),
            ("sub/../../escaped2.ipynb", nb_text()),
            ("/tmp/absolute_gradekit_test.ipynb", nb_text()),
            ("C:/windows.ipynb", nb_text()),
            ("..\\..\\backslash.ipynb", nb_text()),
            (link, "/etc/passwd"),
            (fifo, ""),
            ("inner.zip", inner.getvalue()),
            ("dir/", ""),
            ("__MACOSX/._ok.ipynb", b"\0\5\x16\7"),
            ("dir/ok.ipynb", nb_text()),
            ("dir/ok.ipynb", nb_text(2)),
        ])
    work = tmp_path / "work"
    before = files_outside(tmp_path, work)
    intake = expand_inputs([z], work)
    assert files_outside(tmp_path, work) == before
    assert not Path("/tmp/absolute_gradekit_test.ipynb").exists()
    assert [(i.key, i.path.read_text()) for i in intake.items] == [("ok", nb_text())]
    reasons = {s.name.split(":", 1)[1]: s.reason for s in intake.skipped}
    assert reasons == {
        "../escaped.ipynb": "path leaves the archive ('..'): not extracted",
        "sub/../../escaped2.ipynb": "path leaves the archive ('..'): not extracted",
        "/tmp/absolute_gradekit_test.ipynb": "absolute path in the archive: not extracted",
        "C:/windows.ipynb": "absolute path in the archive: not extracted",
        "..\\..\\backslash.ipynb": "path leaves the archive ('..'): not extracted",
        "evil_link.ipynb": "symbolic link in the archive: not extracted",
        "pipe.ipynb": "special file in the archive: not extracted",
        "inner.zip": "archive inside the archive: not opened",
        "dir/ok.ipynb": "the archive holds this name twice (or as a folder and a file): later copy not extracted",
    }
    for p in work.rglob("*"):
        assert not p.is_symlink()


def test_zip_bomb_is_stopped_by_the_declared_size(tmp_path):
    z = make_zip(tmp_path / "bomb.zip", [("bomb.ipynb", b"\0" * (5 * 1024 * 1024)), ("ok.ipynb", nb_text())])
    assert z.stat().st_size < 50_000
    t0 = time.perf_counter()
    intake = expand_inputs([z], tmp_path / "work", limits=ZipLimits(max_file_bytes=1024 * 1024))
    assert time.perf_counter() - t0 < 2
    assert [i.key for i in intake.items] == ["ok"]
    [skipped] = intake.skipped
    assert skipped.name.endswith(":bomb.ipynb") and "exceeds the per-file limit" in skipped.reason
    assert sum(p.stat().st_size for p in (tmp_path / "work").rglob("*") if p.is_file()) == len(nb_text())


def test_total_uncompressed_cap_and_entry_count(tmp_path):
    z = make_zip(tmp_path / "many.zip", [(f"s{i}.ipynb", b" " * 400_000) for i in range(3)])
    intake = expand_inputs([z], tmp_path / "w1", limits=ZipLimits(max_file_bytes=500_000, max_total_bytes=1_000_000))
    assert [i.key for i in intake.items] == ["s0", "s1"]
    assert intake.skipped == [Skipped(f"{z}:s2.ipynb", "the archive's uncompressed total exceeds the limit of "
                                                      "1000000 bytes: not extracted")]
    intake = expand_inputs([z], tmp_path / "w2", limits=ZipLimits(max_entries=2))
    assert intake == Intake([], [Skipped(str(z), "archive has 3 entries, more than the limit of 2: not opened")])


def lie_about_size(data: bytes, real: int, claimed: int) -> bytes:
    """Rewrite the uncompressed size of the (single) entry in both headers."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.index(sig)
        assert struct.unpack_from("<I", out, at + offset)[0] == real
        struct.pack_into("<I", out, at + offset, claimed)
    return bytes(out)


def test_entry_expanding_beyond_its_declared_size_is_stopped(tmp_path):
    z = make_zip(tmp_path / "liar.zip", [("liar.ipynb", b"\0" * 3_000_000)])
    z.write_bytes(lie_about_size(z.read_bytes(), 3_000_000, 100))
    intake = expand_inputs([z], tmp_path / "work", limits=ZipLimits(max_file_bytes=1000))
    assert intake.items == []
    [s] = intake.skipped
    assert "liar.ipynb" in s.name and s.reason.startswith("corrupt or unsupported entry")
    assert [p for p in (tmp_path / "work").rglob("*") if p.is_file()] == []


def test_copy_capped_stops_an_endless_stream():
    class Endless(io.RawIOBase):
        reads = 0

        def readable(self):
            return True

        def readinto(self, b):
            self.reads += 1
            b[:] = b"\0" * len(b)
            return len(b)

    src, dst = Endless(), io.BytesIO()
    with pytest.raises(CapExceeded):
        copy_capped(src, dst, 1_000_000)
    assert dst.tell() <= 1_000_000 and src.reads < 100
    assert copy_capped(io.BytesIO(b"abc"), io.BytesIO(), 3) == 3


def test_corrupt_zips(tmp_path):
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(os.urandom(1000))
    good = make_zip(tmp_path / "good.zip", [("a.ipynb", nb_text() * 50)])
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:-30])
    flipped = tmp_path / "flipped.zip"
    data = bytearray(good.read_bytes())
    data[60:80] = bytes(20)                       # damage the deflate stream, headers intact
    flipped.write_bytes(bytes(data))
    intake = expand_inputs([garbage, truncated, flipped], tmp_path / "work")
    assert intake.items == []
    reasons = [s.reason for s in intake.skipped]
    assert reasons[0].startswith("not a readable zip archive") and reasons[1].startswith("not a readable zip archive")
    assert reasons[2].startswith("corrupt or unsupported entry")
    assert [p for p in (tmp_path / "work").rglob("*") if p.is_file()] == []


def test_every_flag_is_documented(tmp_path):
    t1, t2 = "2024-10-14-13-05-22", "2024-10-15-09-00-00"
    z = make_zip(tmp_path / "d.zip", [(lms("ab123", t1), nb_text()), (lms("ab123", t2), nb_text())])
    for item in expand_inputs([z], tmp_path / "w").items:
        assert set(item.flags) <= set(FLAG_TEXT)


def test_students_whose_uploads_were_all_refused_still_get_a_row(tmp_path):
    """Without Intake.refused a student whose only upload was a zip-slip entry, a link, a bomb, a nested
    archive or a PDF vanished from the gradebook (no roster) or read "no submission was found"."""
    from gradekit.intake import Refused, refused_submission

    t1, t2 = "2024-10-14-13-05-22", "2024-10-15-09-00-00"
    link = zipfile.ZipInfo(lms("li", t1))
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as inner_zip:
        inner_zip.writestr(lms("ne", t1), nb_text())
    z = make_zip(tmp_path / "download.zip", [
        ("../../" + lms("sl", t1), nb_text()),
        (link, "/etc/passwd"),
        (lms("ne", t1, "ann.zip"), inner.getvalue()),
        (lms("pd", t1, "notes.pdf"), b"%PDF-1.4"),
        (lms("pd", t2, "notes2.pdf"), b"%PDF-1.4"),          # the latest refused attempt is named
        (lms("ok", t1, "late.pdf"), b"%PDF-1.4"),            # has a notebook too: no refused row
        (lms("ok", t2), nb_text()),
        ("notes.txt", b"not LMS-named: only skipped"),
    ])
    intake = expand_inputs([z], tmp_path / "work")
    assert [i.key for i in intake.items] == ["ok"]
    assert intake.refused == [
        Refused("li", "ann.ipynb", "symbolic link in the archive: not extracted"),
        Refused("ne", "ann.zip", "archive inside the archive: not opened"),
        Refused("pd", "notes2.pdf", "not a notebook (.pdf file)"),
        Refused("sl", "ann.ipynb", "path leaves the archive ('..'): not extracted"),
    ]
    sub = refused_submission(intake.refused[0])
    assert sub.key == "li" and sub.notebook_json is None and len(sub.sha256) == 64
    assert sub.problem == "The submitted file ann.ipynb could not be graded: symbolic link in the archive: not extracted."


# ----------------------------------------------------------------------------- times, attempts, roster deadlines

def test_items_carry_their_times_and_every_attempt_on_request(tmp_path):
    t1, t2 = "2024-10-14-13-05-22", "2024-10-15-09-00-00"
    z = make_zip(tmp_path / "d.zip", [(lms("ab123", t1), nb_text(1)), (lms("ab123", t2), nb_text(2)),
                                      ("loose.ipynb", nb_text(3))])
    latest = expand_inputs([z], tmp_path / "w1")
    assert [i.key for i in latest.items] == ["ab123", "loose"]
    assert latest.items[1].flags == ("key_from_file_name",) and latest.items[1].file_time is not None
    every = expand_inputs([z], tmp_path / "w2", all_attempts=True)
    by_key = {i.key: i for i in every.items}
    assert set(by_key) == {"ab123", f"ab123@{t1}", "loose"}
    assert by_key[f"ab123@{t1}"].attempt_of == "ab123" and by_key["ab123"].attempt_of is None
    assert by_key[f"ab123@{t1}"].path.read_text() == nb_text(1)
    plain = tmp_path / "plain.ipynb"
    plain.write_text(nb_text(4))
    os.utime(plain, (1_700_000_000, 1_700_000_000))
    (item,) = expand_inputs([plain], tmp_path / "w3").items
    assert item.file_time.timestamp() == 1_700_000_000 and item.file_time.tzinfo is not None


def test_roster_deadline_column_is_an_extension():
    from gradekit.intake import parse_roster

    r = parse_roster("Username,Name,CID,Deadline\nab1,A,1,2026-12-06T17:00:00+00:00\nab2,B,2,\n"
                     "ab3,C,3,2026-12-06 17:00\nab4,D,4,next week\n")
    assert r.get("ab1").deadline.isoformat() == "2026-12-06T17:00:00+00:00"
    assert r.get("ab2").deadline is None and r.get("ab3").deadline is None and r.get("ab4").deadline is None
    assert len(r.problems) == 2 and "no UTC offset" in r.problems[0] and "ISO 8601" in r.problems[1]


def test_roster_match_replaces_a_file_name_key_and_drops_its_flag(tmp_path):
    from gradekit.intake import match_roster, parse_roster

    p = tmp_path / "course_L6.ipynb"
    p.write_text(nb_text(7654321))
    (item,) = expand_inputs([p], tmp_path / "w").items
    sub = read_item(item, cid_placeholder=123446, max_bytes=1_000_000)
    assert sub.flags == ("key_from_file_name",)
    (matched,), missing = match_roster([sub], parse_roster("Username,CID\nab9,7654321\n"))
    assert matched.key == "ab9" and matched.flags == ("matched_by_cid",) and missing == []
