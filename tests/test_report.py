"""Feedback pages and the class report: content, escaping, plots, no leaks, robustness, speed."""
from __future__ import annotations

import base64
import re
import time

import numpy as np
import pytest
from test_gradebook import HIDDEN_SECRET, PARTS, RECON, SWEEP, cohort, make_result

from functools import partial
from pathlib import Path

from gradekit import contentload, report
from gradekit.figures import grey_png
from gradekit.gradebook import to_dataframe
from gradekit.model import CheckResult
from gradekit.report import CLASS_REPORT, FEEDBACK_DIR, common_failures, feedback_filename, normalise_message, write_class_report

# The ANN course draws the figures (its feedback_sections hook); the engine escapes and inlines them.
COURSE_DIR = Path(__file__).resolve().parent.parent / "autograder" / "ann"
PLOTS = contentload.load(COURSE_DIR, "plots")
reconstruction_pngs, sweep_png = PLOTS.reconstruction_pngs, PLOTS.sweep_png
feedback_html = partial(report.feedback_html, sections_of=PLOTS.feedback_sections)
write_feedback = partial(report.write_feedback, sections_of=PLOTS.feedback_sections)
write_all_feedback = partial(report.write_all_feedback, course_dir=COURSE_DIR)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script>'


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_feedback_page_contents(tmp_path):
    r = make_result("partial")
    path = write_feedback(r, tmp_path, assignment="ANN")
    assert path == tmp_path / FEEDBACK_DIR / "partial.html"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Student partial" in page
    assert "Score: 6 / 9" in page
    for part in PARTS:
        assert f"<td>{part}</td>" in page
    assert "random cases is wrong" in page                        # a hidden check's student message
    assert page.count('class="badge hidden"') == 3 and page.count('class="badge fail"') == 3
    assert "<script" not in page and "http://" not in page and "https://" not in page   # offline, no JS
    assert len(images(page)) == 1 and images(page)[0].startswith(PNG_MAGIC)           # sweep only
    assert "sandbox" not in page                                 # timings are for TAs


def test_feedback_plots_from_extras(tmp_path):
    page = write_feedback(make_result("correct"), tmp_path, assignment="ANN").read_text()
    pngs = images(page)
    assert len(pngs) == 4 and all(p.startswith(PNG_MAGIC) for p in pngs)      # 3 panels + the sweep
    assert "Your reconstruction compared with the ground truth" in page
    # `plots` replaces the extras: {} means none
    assert images(feedback_html(make_result("correct"), assignment="A", plots={})) == []
    assert len(images(feedback_html(make_result("zero"), assignment="A", plots={"sweep": SWEEP}))) == 1


def test_feedback_escapes_student_strings(tmp_path):
    r = make_result("partial", key="../../etc/x<y>", name=HOSTILE, file=f"{HOSTILE}.ipynb",
                    message=f"cell 2 printed {HOSTILE}",
                    checks=(CheckResult("sigmoid", "test_x", 0.0, 1.0, False, True, f"you returned {HOSTILE}"),
                            CheckResult("sigmoid", "test_<u>", 0.0, 1.0, False, False, "<img src=x onerror=alert(1)>")))
    path = write_feedback(r, tmp_path, assignment=f"ANN {HOSTILE}")
    assert path.parent == tmp_path / FEEDBACK_DIR and re.fullmatch(r"[A-Za-z0-9._-]+\.html", path.name)
    page = path.read_text()
    assert "<script" not in page and "<img src=x" not in page and "<u>" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 7  # title (x2), h1, name, file, 2 messages
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_feedback_never_shows_hidden_expected_values_or_internals(tmp_path):
    leaky_extras = {"sweep": {**SWEEP, "expected": [float(HIDDEN_SECRET)] * 6},   # extra keys: ignored
                    "expected_values": [HIDDEN_SECRET], "traceback": f"secret {HIDDEN_SECRET}",
                    "reference": {"sigmoid": HIDDEN_SECRET}}
    r = make_result("partial", extras=leaky_extras, flags=("suspected_copy",))
    page = write_feedback(r, tmp_path, assignment="ANN").read_text()
    assert HIDDEN_SECRET not in page and "traceback" not in page.lower() and "suspected_copy" not in page
    assert "vectorised and extreme inputs is wrong" in page       # the hidden check's message is shown
    assert len(images(page)) == 1                                 # the sweep still plots (without "expected")

    err = make_result("error")
    page = write_feedback(err, tmp_path, assignment="ANN").read_text()
    assert "KeyError" not in page and "Traceback" not in page     # the grader's own error stays with TAs
    assert "not your fault" in page and "Not graded" in page


@pytest.mark.parametrize("kind", ["invalid", "no_submission", "timeout", "no_cid", "zero", "flagged"])
def test_feedback_every_status(tmp_path, kind):
    r = make_result(kind)
    page = write_feedback(r, tmp_path, assignment="ANN").read_text()
    assert r.message in page or kind == "error"
    if kind in ("invalid", "no_submission"):
        assert "Not graded" in page and "<h2>Checks</h2>" not in page
    else:
        assert "<h2>Checks</h2>" in page


MALFORMED_RECON = [None, "x", 3, [], {"input": [[1, 2], [3]], "output": [[1]], "ground_truth": [[1]]},
                   {"input": [[1]], "output": [[1]]}, {"input": [[[1]]], "output": [[1]], "ground_truth": [[1]]},
                   {"input": [[{"a": 1}]], "output": [[1]], "ground_truth": [[1]]},
                   {"input": [[0] * 2000], "output": [[1]], "ground_truth": [[1]]},
                   {"input": [[]], "output": [[1]], "ground_truth": [[1]]}]
MALFORMED_SWEEP = [None, [], "sweep", {"learning_rates": [0.1, 0.2], "student": [1.0], "expected_ok": [True]},
                   {"learning_rates": [-0.1], "student": [1.0], "expected_ok": [True]},
                   {"learning_rates": ["0.1"], "student": [1.0], "expected_ok": [True]},
                   {"learning_rates": [0.1], "student": [True], "expected_ok": [True]},
                   {"learning_rates": [0.1], "student": [1.0], "expected_ok": ["yes"]},
                   {"learning_rates": [0.1], "student": [1.0]},
                   {"learning_rates": [], "student": [], "expected_ok": []},
                   {"learning_rates": [0.1] * 1000, "student": [1.0] * 1000, "expected_ok": [True] * 1000}]


def test_malformed_extras_mean_no_plot_never_a_crash(tmp_path):
    for bad in MALFORMED_RECON:
        assert reconstruction_pngs(bad) is None, bad
    for bad in MALFORMED_SWEEP:
        assert sweep_png(bad) is None, bad
    for extras in ([], "x", {"reconstruction": MALFORMED_RECON[4], "sweep": MALFORMED_SWEEP[3]}):
        r = make_result("correct", extras=extras)
        assert images(write_feedback(r, tmp_path, assignment="ANN").read_text()) == []
    # odd but valid: diverged losses, a single rate, negative losses (no log y), None as a missing loss
    assert sweep_png({"learning_rates": [0.1, 1.5], "student": [float("inf"), None],
                      "expected_ok": [False, False]}).startswith(PNG_MAGIC)
    assert sweep_png({"learning_rates": [1], "student": [-2.0], "expected_ok": [True]}).startswith(PNG_MAGIC)
    # a rate that was not compared (no CID; not one of learning_rates) is None ("not compared"), not a failure
    assert sweep_png({"learning_rates": [0.01, 0.1, 0.5], "student": [0.2, 0.1, 0.3],
                      "expected_ok": [True, None, False]}).startswith(PNG_MAGIC)
    panels = reconstruction_pngs({**RECON, "output": [[float("nan")] * 50] * 50})
    assert [t for t, _ in panels] == ["Input (missing pixels)", "Your reconstruction", "Ground truth"]
    assert all(png.startswith(PNG_MAGIC) for _, png in panels)


def test_grey_png_is_0_to_255_clipped():
    from io import BytesIO

    from PIL import Image
    a = np.array([[-5.0, 0.0, 127.6], [255.0, 300.0, float("nan")]])
    img = np.asarray(Image.open(BytesIO(grey_png(a, scale=2))).convert("RGB"))
    assert img.shape == (4, 6, 3)
    assert [tuple(img[0, 2 * j]) for j in range(3)] == [(0, 0, 0), (0, 0, 0), (128, 128, 128)]
    assert [tuple(img[2, 2 * j]) for j in range(3)] == [(255, 255, 255), (255, 255, 255), (230, 0, 160)]


def test_feedback_filenames_are_safe_and_distinct():
    keys = ["abc", "a/b", "a_b", "a b", "../x", ".hidden", "é", "", "x" * 300]
    names = [feedback_filename(k) for k in keys]
    assert len(set(names)) == len(keys)
    assert names[0] == "abc.html"
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.html", n) and len(n) < 100 for n in names)


def test_write_all_feedback(tmp_path):
    results = [make_result(k, key=f"{k}{i}") for i in range(3) for k in ("correct", "partial", "invalid")]
    paths = write_all_feedback(results, tmp_path, assignment="ANN", workers=2)
    assert sorted(p.name for p in paths) == sorted(f"{r.key}.html" for r in results)
    assert all(p.is_file() for p in paths)


# -- class report ---------------------------------------------------------------------------------

def test_class_report(tmp_path):
    results = [*cohort(), make_result("flagged", key="mallory", name=HOSTILE, message=HOSTILE)]
    df = to_dataframe(results, parts=PARTS)
    path = write_class_report(results, df, tmp_path, assignment="ANN", timings={"intake": 1.25, "report": 0.5})
    assert path == tmp_path / CLASS_REPORT
    page = path.read_text()
    assert 'alt="Histogram of total scores"' in page and 'alt="Pass rate per check"' in page
    assert all(p.startswith(PNG_MAGIC) for p in images(page)) and len(images(page)) == 2
    assert "<script" not in page and "&lt;script&gt;" in page
    for heading in ("Status", "Scores", "Checks", "Most common failure messages", "Flagged submissions",
                    "Needs a TA (not uploaded)", "Timing"):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "<td>invalid_notebook</td><td>1</td><td>no (review)</td>" in page
    assert "<td>graded</td><td>5</td><td>yes</td>" in page
    assert "late_attempt_ignored; cid_not_on_roster" in page
    assert "<summary>traceback</summary><pre>Traceback (most recent call last):" in page
    assert "<td>sandbox</td><td>8</td><td>4</td><td>1500</td>" in page        # n, median, max
    assert "<td>intake</td><td>1.25</td>" in page
    # failure messages: most common first, with counts; ungraded submissions' checks not counted
    fails = common_failures(results)
    assert ("best_lr", "best lr", "best lr is wrong", 5) in fails
    assert [f[0] for f in fails][:3] == ["perceptron", "perceptron", "sigmoid"]      # in part order
    assert fails[0] == ("perceptron", "random cases", "random cases is wrong", 2)     # most common first
    assert not any("could not be run" in f[2] for f in fails)


def test_normalise_message():
    assert normalise_message("sigmoid(-3.25) returned 0.1; expected 3.7e-02") == \
        "sigmoid(#) returned #; expected #"
    assert normalise_message("  ") == "(no message)"


def test_class_report_empty_and_all_ungraded(tmp_path):
    write_class_report([], to_dataframe([], parts=PARTS), tmp_path, assignment="ANN", timings=None)
    assert "No graded submissions" in (tmp_path / CLASS_REPORT).read_text()
    results = [make_result("no_submission"), make_result("error")]
    page = write_class_report(results, to_dataframe(results), tmp_path, assignment="ANN").read_text()
    assert "No graded submissions" in page and images(page) == []


def test_class_report_300_students_is_fast(tmp_path):
    kinds = ["correct", "partial", "zero", "timeout", "flagged", "no_cid", "invalid", "no_submission", "error"]
    results = [make_result(kinds[i % len(kinds)], key=f"s{i:03d}") for i in range(300)]
    df = to_dataframe(results, parts=PARTS)
    t0 = time.perf_counter()
    write_class_report(results, df, tmp_path, assignment="ANN", timings={"intake": 3.0})
    assert time.perf_counter() - t0 < 10.0


def test_feedback_and_report_list_parts_in_the_courses_order():
    """Checks arrive in pytest's file order (best_lr first); pages follow the course's PARTS."""
    r = make_result("partial")
    r = type(r)(**{**r.__dict__, "checks": tuple(sorted(r.checks, key=lambda c: c.part))})
    page = feedback_html(r, assignment="A", course_parts=PARTS)
    at = [page.index(f"<td>{p}</td>") for p in PARTS]
    assert at == sorted(at), "parts not in notebook order"
    df = to_dataframe([r], parts=PARTS)
    html = report.class_report_html([r], df, assignment="A", parts=PARTS)
    common = html[html.index("Most common failure messages"):]
    shown = [p for p in PARTS if f"<td>{p}</td>" in common]
    assert [common.index(f"<td>{p}</td>") for p in shown] == sorted(common.index(f"<td>{p}</td>") for p in shown)
