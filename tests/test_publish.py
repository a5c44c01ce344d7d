"""Publishing grades: the late policy (pure), the Blackboard upload / review / feedback files, the
one escaping helper, and a bulk download built from the release taken through intake and every writer.

The bulk download is real (notebooks from the release, Blackboard file names, a roster with an
extension); the results are made in memory from what intake read (grading itself is covered by
test_batch), so these tests run in seconds.
"""
from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import nbformat
import pandas as pd
import pytest
from test_gradebook import PARTS, _checks, make_result

from gradekit.config import parse_lms, parse_policy
from gradekit.errors import SetupError
from gradekit.escape import formula_safe, sheet_cell
from gradekit.gradebook import read_gradebook, to_dataframe, write_gradebook
from gradekit.lms_upload import (LMS_FEEDBACK, LMS_REVIEW, LMS_UPLOAD, column_header, feedback_text,
                                 hold_back_reason, write_lms_upload)
from gradekit.model import Status
from gradekit.policy import LatePolicy, hidden_feedback_released, lateness, started_days_late

UTC = timezone.utc
DEADLINE = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
POLICY = LatePolicy(DEADLINE, per_day=0.10, max_fraction=1.0)
COLUMN = "Exercise 6 [Total Pts: 9 Score] |123456"


# -- the policy (pure) ----------------------------------------------------------------------------

def test_the_issues_case_25_hours_late_is_two_started_days():
    submitted = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)          # 18:00 the next day
    late = lateness(POLICY, submitted)
    assert late.late_by_h == 25.0 and started_days_late(submitted, DEADLINE) == 2
    assert late.fraction == pytest.approx(0.2)
    assert late.penalty(2.0) == pytest.approx(0.4) and 2.0 - late.penalty(2.0) == pytest.approx(1.6)
    extended = lateness(POLICY, submitted, extension=DEADLINE + timedelta(days=2))
    assert extended.penalty(2.0) == 0.0 and extended.late_by_h == 0.0
    assert extended.deadline == DEADLINE + timedelta(days=2)


@pytest.mark.parametrize("after, fraction", [(timedelta(0), 0.0), (timedelta(seconds=1), 0.1),
                                             (timedelta(hours=24), 0.1), (timedelta(hours=24, seconds=1), 0.2),
                                             (timedelta(days=30), 0.5), (-timedelta(hours=3), 0.0)])
def test_started_days_and_the_cap(after, fraction):
    late = lateness(replace(POLICY, max_fraction=0.5), DEADLINE + after)
    assert late.fraction == pytest.approx(fraction)


def test_no_deadline_or_unknown_time_is_never_late():
    assert lateness(LatePolicy(), datetime(2030, 1, 1, tzinfo=UTC)).penalty(5.0) == 0.0
    assert lateness(POLICY, None).penalty(5.0) == 0.0
    assert math.isnan(lateness(POLICY, DEADLINE + timedelta(days=3)).penalty(math.nan))   # ungraded stays blank


def test_hidden_feedback_waits_for_the_last_deadline_anyone_has():
    ext = [None, DEADLINE + timedelta(days=2)]
    assert not hidden_feedback_released(POLICY, ext, DEADLINE + timedelta(days=1))
    assert hidden_feedback_released(POLICY, ext, DEADLINE + timedelta(days=2))
    assert hidden_feedback_released(POLICY, ext, DEADLINE, force=True)
    assert hidden_feedback_released(LatePolicy(), [], DEADLINE)


def test_policy_and_lms_settings():
    p = parse_policy({"deadline": "2026-12-04T17:00:00+00:00", "late_penalty_per_day": 0.1,
                      "late_penalty_max": 0.5, "attempt": "best"}, "t.toml")
    assert (p.deadline, p.per_day, p.max_fraction, p.attempt) == (DEADLINE, 0.1, 0.5, "best")
    assert parse_policy({}, "t.toml") == LatePolicy()
    for bad in ({"deadline": "2026-12-04T17:00:00"}, {"deadline": "Friday"}, {"late_penalty_per_day": 2},
                {"attempt": "first"}, {"dead_line": "x"}):
        with pytest.raises(SetupError):
            parse_policy(bad, "t.toml")
    assert parse_lms({"column": COLUMN, "timezone": "Europe/London"}, "t").column == COLUMN
    with pytest.raises(SetupError, match="time zone"):
        parse_lms({"timezone": "Mars/Olympus"}, "t")


# -- escaping and encodings -----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=HYPERLINK(\"https://evil.example/?q=1\",\"Open your feedback\")", "=1+2",
                                  "+1", "-2+3", "@SUM(A1)", "\t=1", "'quoted"])
def test_formula_like_text_is_escaped(text):
    assert sheet_cell(text).startswith("'") and formula_safe(text) == "'" + text
    assert sheet_cell(3.5) == 3.5 and sheet_cell(None) == "" and sheet_cell("Zoë Ñúñez") == "Zoë Ñúñez"
    assert "\n" not in sheet_cell("a\nb\tc") and sheet_cell("a\nb", one_line=False) == "a\nb"


HOSTILE_NAME = "=HYPERLINK(\"https://evil.example/?q=1\",\"Open your feedback\")"


def _hostile_frame():
    """Rows whose names and files a notebook or a file name controls."""
    return to_dataframe([
        make_result("correct", key="zoe", name="Zoë Ñúñez"),
        make_result("correct", key="mallory", name=HOSTILE_NAME, file="=1+2.ipynb"),
        make_result("correct", key="=1+2", name="formula file", file="=1+2.ipynb", flags=("key_from_file_name",)),
        make_result("correct", key="name ", file="name .ipynb", flags=("key_from_file_name",)),
        make_result("correct", key="\tname", file="\tname.ipynb", flags=("key_from_file_name",)),
        make_result("partial", key="new\nline", file="new\nline.ipynb", flags=("key_from_file_name",)),
        make_result("invalid", key="broken", name=HOSTILE_NAME, file="=1+2.ipynb"),
    ], parts=PARTS)


def _cells(path, encoding):
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


def test_every_file_escapes_formulas_and_keeps_accents_and_odd_file_names_never_raise(tmp_path):
    df = _hostile_frame()
    write_gradebook(df, tmp_path)
    out = write_lms_upload(df, tmp_path, header=COLUMN, feedback={k: f"<p>{k}</p>" for k in df["student"]})
    raw_csv = (tmp_path / "gradebook.csv").read_bytes()
    assert raw_csv.startswith(b"\xef\xbb\xbf") and "Zoë Ñúñez".encode() in raw_csv          # UTF-8 + BOM
    for path in (out.upload, out.feedback):
        assert path.read_bytes().startswith(b"\xff\xfe")                                    # UTF-16 + BOM
    assert out.review.read_bytes().startswith(b"\xef\xbb\xbf")
    sheets = {"gradebook.csv": list(csv.reader(io.StringIO((tmp_path / "gradebook.csv").read_text("utf-8-sig")))),
              LMS_UPLOAD: _cells(out.upload, "utf-16"), LMS_FEEDBACK: _cells(out.feedback, "utf-16"),
              LMS_REVIEW: _cells(out.review, "utf-8-sig")}
    for name, rows in sheets.items():
        width = len(rows[0])
        assert all(len(r) == width for r in rows), name                    # no cell split a row
        for r in rows:
            for cell in r:
                assert not cell.startswith(("=", "+", "-", "@", "\t")), (name, cell)
    review = {r[0]: r for r in sheets[LMS_REVIEW][1:]}
    assert review["broken"][1] == "'" + HOSTILE_NAME and review["broken"][2] == "'=1+2.ipynb"
    assert "not a platform username" in review["'=1+2"][7] and set(review) == {"broken", "'=1+2", "name ", " name", "new line"}
    uploaded = {r[0] for r in sheets[LMS_UPLOAD][1:]}
    assert uploaded == {"zoe", "mallory"}                                   # the odd keys are held back
    assert (out.uploaded, out.held_back) == (2, 5)
    back = read_gradebook(tmp_path / "gradebook.csv")
    assert list(back["name"].fillna("")) == list(df["name"].fillna(""))    # the escape is undone on reading
    assert "Zoë Ñúñez" in set(back["name"].dropna())


def test_upload_header_from_the_configured_column_or_a_plain_warning():
    assert column_header(COLUMN, "ann") == (COLUMN, None)
    header, warning = column_header(None, "ann")
    assert header == "ann" and "NEW text column" in warning
    header, warning = column_header("Exercise 6", "ann")
    assert header == "Exercise 6" and "no column ID" in warning


def test_hold_back_reasons():
    assert hold_back_reason("ab123", "graded", 5.0, "") is None
    assert hold_back_reason("ab123", "graded", 5.0, "several_attempts") is None
    assert "CID" in hold_back_reason("ab123", "no_cid", 5.0, "")
    assert "not graded" in hold_back_reason("ab123", "invalid_notebook", math.nan, "")
    assert "roster" in hold_back_reason("ab123", "graded", 5.0, "not_on_roster")
    assert "same CID" in hold_back_reason("ab123", "graded", 5.0, "duplicate_cid")
    assert "file name" in hold_back_reason("course_L6", "graded", 5.0, "key_from_file_name")
    assert "username" in hold_back_reason("name ", "graded", 5.0, "")


def test_feedback_text_hides_hidden_checks_until_released():
    r = make_result("partial")
    late = lateness(POLICY, DEADLINE + timedelta(hours=25))
    before = feedback_text(r, late, assignment="ANN", hidden_released=False, release_at=DEADLINE)
    after = feedback_text(r, late, assignment="ANN", hidden_released=True)
    assert "(hidden)" not in before and "(hidden)" in after and "random cases" in after
    assert "chapter cases" in before and "shown after the last deadline" in before
    assert "4.8 / 9 points (6 earned, 1.2 deducted" in before and "\n" not in before
    evil = make_result("zero", message="x", checks=_checks(all_fail=True, message="<script>alert(1)</script>"))
    assert "<script>" not in feedback_text(evil, late, assignment="ANN", hidden_released=True)


# -- a bulk download built from the release, through intake and every writer ---------------------

LMS_NAME = "Exercise 6 ANN"


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d-%H-%M-%S")


@pytest.fixture
def bulk_download(tmp_path, make_student):
    """On time (ontime), 25 h late (late), 25 h late with a 2-day extension (extended), no CID (nocid)
    and a roster student who sent nothing (missing).  Stamps are London time (GMT in December)."""
    students = {
        "ontime": ("Zoë Ñúñez", 2000001, DEADLINE - timedelta(hours=2)),
        "late": ("Lee Late", 2000002, DEADLINE + timedelta(hours=25)),
        "extended": ("Eve Extended", 2000003, DEADLINE + timedelta(hours=25)),
        "nocid": ("Nora NoCid", None, DEADLINE - timedelta(hours=1)),
    }
    zpath = tmp_path / "download.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for user, (name, cid, when) in students.items():
            nb = make_student(name="" if user == "extended" else name, cid=cid, full=True)
            z.writestr(f"{LMS_NAME}_{user}_attempt_{_stamp(when)}_ann.ipynb", nbformat.writes(nb))
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Username", "Name", "CID", "Deadline"])
        for user, (name, cid, _) in students.items():
            w.writerow([user, name, cid or 2000004,
                        (DEADLINE + timedelta(days=2)).isoformat() if user == "extended" else ""])
        w.writerow(["missing", "Mia Missing", 2000005, ""])
    return zpath, roster


def _results_as_graded(subs, missing):
    """What grading would return for these submissions: full marks for the CID parts when the
    notebook has a CID (no_cid otherwise) -- made in memory, keyed and named as intake read them."""
    out = []
    for s in subs:
        status = Status.GRADED if s.identity.cid_ok else Status.NO_CID
        out.append(make_result("correct", key=s.key, name=s.identity.name, cid=s.identity.cid, file=s.source_name,
                               status=status, flags=s.flags))
    return out + list(missing)


def test_bulk_download_gives_penalties_blank_totals_and_an_upload_holding_back_exactly_the_untrusted(
        tmp_path, tiny_cfg, bulk_download):
    from gradekit.batch import collect_submissions
    from gradekit.publish import PublishInputs, publish

    cfg = tiny_cfg.with_(policy=POLICY, lms=parse_lms({"column": COLUMN, "timezone": "Europe/London"}, "t"))
    zpath, roster = bulk_download
    got = collect_submissions(cfg, [zpath], tmp_path / "intake", roster)
    assert got.timings["late"].submitted_at == DEADLINE + timedelta(hours=25) and got.timings["late"].source == "lms"
    results = _results_as_graded(got.subs, got.missing)
    out = tmp_path / "out"
    pub = publish(cfg, PublishInputs(results, got.timings, got.attempts, got.roster), out, parts=PARTS,
                  now=DEADLINE + timedelta(days=1))
    assert not pub.problems, pub.problems
    df = read_gradebook(out / "gradebook.csv").set_index("student")
    assert df.loc["ontime", "penalty"] == 0 and df.loc["ontime", "total"] == 9
    assert df.loc["late", "late_by_h"] == 25 and df.loc["late", "penalty"] == pytest.approx(1.8)
    assert df.loc["late", "total"] == pytest.approx(7.2)
    assert df.loc["extended", "penalty"] == 0 and df.loc["extended", "total"] == 9
    assert df.loc["extended", "deadline"] == "2026-12-06T17:00:00Z"
    assert df.loc["extended", "name"] == "Eve Extended"                  # from the roster: the notebook had none
    assert df.loc["late", "submitted_at"] == "2026-12-05T18:00:00Z"
    assert math.isnan(df.loc["missing", "total"]) and df.loc["missing", "status"] == "no_submission"
    upload = _cells(out / LMS_UPLOAD, "utf-16")
    assert upload[0] == ["Username", COLUMN]
    assert dict(upload[1:]) == {"ontime": "9", "late": "7.2", "extended": "9"}
    review = {r[0]: r for r in _cells(out / LMS_REVIEW, "utf-8-sig")[1:]}
    assert set(review) == {"nocid", "missing"} and "CID" in review["nocid"][7]
    feedback = {r[0]: r for r in _cells(out / LMS_FEEDBACK, "utf-16")[1:]}
    assert set(feedback) == {"ontime", "late", "extended"} and feedback["late"][3] == "HTML"
    assert "(hidden)" not in feedback["late"][2] and "1.8 deducted" in feedback["late"][2]
    page = (out / "feedback" / "late.html").read_text()
    assert "random cases" not in page and "chapter cases" in page and "7.2 / 9" in page
    assert "Zoë Ñúñez" in (out / "gradebook.csv").read_text(encoding="utf-8-sig")
    summary = "\n".join(pub.lines)
    for f in ("gradebook.csv", "gradebook.parquet", LMS_UPLOAD, LMS_FEEDBACK, LMS_REVIEW, "report.html"):
        assert f in summary, f
    assert "graded 3" in summary and "no_cid 1" in summary and "no_submission 1" in summary

    released = publish(cfg, PublishInputs(results, got.timings, got.attempts, got.roster), out, parts=PARTS,
                       now=DEADLINE + timedelta(days=2, seconds=1))
    assert "random cases" in (out / "feedback" / "late.html").read_text()
    assert "(hidden checks included)" in "\n".join(released.lines)


def test_plain_folder_takes_usernames_from_the_roster_by_cid_and_flags_file_times(tmp_path, tiny_cfg, make_student):
    from gradekit.batch import collect_submissions
    from gradekit.publish import PublishInputs, publish

    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "course_L6.ipynb").write_text(nbformat.writes(make_student(name="A", cid=3000001, full=True)))
    (folder / "real_student_named.ipynb").write_text(nbformat.writes(make_student(name="B", cid=3999999, full=True)))
    roster = tmp_path / "roster.csv"
    roster.write_text("Username,Name,CID\nab3001,Ann Bee,3000001\n", encoding="utf-8")
    cfg = tiny_cfg.with_(policy=POLICY)
    got = collect_submissions(cfg, [folder], tmp_path / "intake", roster)
    keys = {s.key: s.flags for s in got.subs}
    assert "ab3001" in keys and "key_from_file_name" not in keys["ab3001"]
    assert "submitted_at_from_mtime" in keys["ab3001"] and got.timings["ab3001"].source == "mtime"
    assert {"key_from_file_name", "not_on_roster"} <= set(keys["real_student_named"])
    out = tmp_path / "out"
    publish(cfg, PublishInputs(_results_as_graded(got.subs, got.missing), got.timings, {}, got.roster), out,
            parts=PARTS, now=DEADLINE)
    upload = _cells(out / LMS_UPLOAD, "utf-16")
    assert [r[0] for r in upload[1:]] == ["ab3001"] and upload[0][1] == tiny_cfg.assignment
    review = {r[0]: r for r in _cells(out / LMS_REVIEW, "utf-8-sig")[1:]}
    assert "file name" in review["real_student_named"][7]


def test_best_attempt_counts_after_its_penalty(tmp_path, tiny_cfg, make_student):
    from gradekit.batch import collect_submissions
    from gradekit.publish import PublishInputs, publish

    early, late = DEADLINE - timedelta(hours=1), DEADLINE + timedelta(days=3, hours=1)   # 4 days: -40 %
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for when in (early, late):
            nb = make_student(name="Bo", cid=4000001, full=True)
            z.writestr(f"{LMS_NAME}_bo_attempt_{_stamp(when)}_ann.ipynb", nbformat.writes(nb))
    cfg = tiny_cfg.with_(policy=replace(POLICY, attempt="best"), lms=parse_lms({"timezone": "UTC"}, "t"))
    got = collect_submissions(cfg, [zpath], tmp_path / "intake", None)
    assert sorted(s.key for s in got.subs) == ["bo", f"bo@{_stamp(early)}"] and got.attempts == {f"bo@{_stamp(early)}": "bo"}
    # the early attempt earned 6 of 9 (on time: 6); the latest 9 (4 days late: 9 - 3.6 = 5.4)
    results = [make_result("correct", key="bo", file="final.ipynb"),
               make_result("partial", key=f"bo@{_stamp(early)}", file="first.ipynb")]
    out = tmp_path / "out"
    publish(cfg, PublishInputs(results, got.timings, got.attempts, None), out, parts=PARTS, now=DEADLINE)
    df = read_gradebook(out / "gradebook.csv")
    assert list(df["student"]) == ["bo"]
    row = df.iloc[0]
    assert row.total == 6 and row.file == "first.ipynb" and "best_attempt_counted" in row["flags"]
    assert row.submitted_at == "2026-12-04T16:00:00Z"
    results[1] = make_result("zero", key=f"bo@{_stamp(early)}", file="first.ipynb")     # now the latest wins
    publish(cfg, PublishInputs(results, got.timings, got.attempts, None), out, parts=PARTS, now=DEADLINE)
    row = read_gradebook(out / "gradebook.csv").iloc[0]
    assert row.total == pytest.approx(5.4) and row.file == "final.ipynb" and "best_attempt_counted" not in row["flags"]


def test_a_failing_writer_does_not_stop_the_others(tmp_path, tiny_cfg, monkeypatch):
    from gradekit import lms_upload
    from gradekit.publish import PublishInputs, publish

    def boom(*a, **k):
        raise ValueError("student key 'name ' cannot be a Blackboard username")
    monkeypatch.setattr(lms_upload, "write_lms_upload", boom)
    results = [make_result("correct", key="name ", file="name .ipynb")]
    pub = publish(tiny_cfg, PublishInputs(results, {}, {}, None), tmp_path, parts=PARTS, now=DEADLINE)
    assert pub.problems and "LMS upload" in pub.problems[0]
    assert (tmp_path / "gradebook.csv").exists() and (tmp_path / "report.html").exists()
    assert list((tmp_path / "feedback").glob("*.html"))
    assert pd.read_csv(tmp_path / "gradebook.csv", encoding="utf-8-sig")["student"].tolist() == ["name "]


def test_odd_file_names_still_get_every_output(tmp_path, tiny_cfg):
    """Issue 12 item 5: keys from file names with leading/trailing blanks, tabs, line breaks or a
    formula never stop a writer; each student still gets a gradebook row and a feedback page."""
    from gradekit.publish import PublishInputs, publish

    keys = ["name ", " name", "\tname", "new\nline", "=1+2", "ok"]
    results = [make_result("correct", key=k, file=f"{k}.ipynb", flags=("key_from_file_name",)) for k in keys]
    pub = publish(tiny_cfg, PublishInputs(results, {}, {}, None), tmp_path, parts=PARTS, now=DEADLINE)
    assert not pub.problems, pub.problems
    assert sorted(read_gradebook(tmp_path / "gradebook.csv")["student"]) == sorted(keys)
    assert len(list((tmp_path / "feedback").glob("*.html"))) == len(keys)
    assert _cells(tmp_path / LMS_UPLOAD, "utf-16") == [["Username", tiny_cfg.assignment]]   # all held back
    assert len(_cells(tmp_path / LMS_REVIEW, "utf-8-sig")) == len(keys) + 1
    assert (tmp_path / "report.html").exists()
