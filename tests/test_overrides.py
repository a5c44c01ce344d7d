"""overrides.csv: parsing, validation and applying are pure; a bad line refuses the whole file."""
import pytest

from gradekit.model import CheckResult, Override, Status, SubmissionResult
from gradekit.overrides import OverrideError, apply_overrides, parse_overrides, validate_overrides

PART_MAX = {"perceptron": 2.0, "sigmoid": 2.0}
STUDENTS = {"alice": True, "bob": True, "zed": False}   # zed: not judged (invalid notebook)


def result(key="alice", overrides=()):
    checks = (CheckResult("perceptron", "a", 2.0, 2.0, True, True), CheckResult("sigmoid", "b", 0.0, 1.0, False, True),
              CheckResult("sigmoid", "c", 1.0, 1.0, True, False))
    return SubmissionResult(key, f"{key}.ipynb", key.title(), 1, Status.GRADED, "", checks, overrides=overrides)


def test_parse_and_apply_replaces_the_part_and_the_total():
    lines = parse_overrides("\ufeffStudent,Part,Points,Reason,By\n"
                            "alice,sigmoid,2,\"regrade #3: np.exp, read the cell again\",TA Kim\n\n")
    ovr = validate_overrides(lines, STUDENTS, PART_MAX)
    assert ovr == {"alice": (Override("sigmoid", 2.0, "regrade #3: np.exp, read the cell again", "TA Kim"),)}
    r = apply_overrides(result(), ovr)
    assert r.part_points() == {"perceptron": 2.0, "sigmoid": 2.0} and r.total == 4.0
    assert r.judged_part_points()["sigmoid"] == 1.0 and r.max_total == 4.0
    assert apply_overrides(result("bob"), ovr) == result("bob")           # not named: unchanged
    assert apply_overrides(r, {}).overrides == ()                         # the line deleted: gone
    assert apply_overrides(r, ovr) is r                                   # nothing to do


def test_zero_is_a_valid_override_and_by_is_optional():
    ovr = validate_overrides(parse_overrides("student,part,points,reason\nbob,perceptron,0,copied\n"),
                             STUDENTS, PART_MAX)
    assert apply_overrides(result("bob"), ovr).part_points()["perceptron"] == 0.0


@pytest.mark.parametrize("text, message", [
    ("student,part,points\nalice,sigmoid,1\n", "missing reason"),
    ("student,part,points,reason,grade\n", "unknown column(s) grade"),
    ("student,part,points,reason\nalice,sigmoid,two,x\n", "line 2: points 'two' is not a number"),
    ("student,part,points,reason\nalice,sigmoid,nan,x\n", "line 2: points 'nan' is not a number"),
    ("student,part,points,reason\nalice,sigmoid,1,\n", "line 2: no reason"),
    ("student,part,points,reason\nalice,sigmoid,1,a\nalice,sigmoid,2,b\n", "line 3: alice / sigmoid is already overridden on line 2"),
    ("student,part,points,reason\nalice,sigmoid,1,a,extra\n", "line 2: more values than columns"),
])
def test_lines_refused_on_their_own(text, message):
    with pytest.raises(OverrideError, match="refused|line 1") as e:
        parse_overrides(text)
    assert message in str(e.value)


def test_lines_refused_against_the_cohort_all_named_at_once():
    lines = parse_overrides("student,part,points,reason\n"
                            "alice,sigmoid,1,ok\n"
                            "mallory,sigmoid,1,who\n"
                            "bob,sigmoid,2.5,too many\n"
                            "bob,perceptron,-1,negative\n"
                            "bob,backprop,1,no such part\n"
                            "zed,sigmoid,1,nothing judged\n")
    with pytest.raises(OverrideError) as e:
        validate_overrides(lines, STUDENTS, PART_MAX)
    msg = str(e.value)
    assert "nothing was written" in msg and "line 2" not in msg
    for expected in ("line 3: unknown student 'mallory'", "line 4: points 2.5 outside 0..2 for sigmoid",
                     "line 5: points -1 outside 0..2 for perceptron", "line 6: unknown part 'backprop'",
                     "line 7: 'zed' has no judged submission"):
        assert expected in msg


def test_result_json_roundtrip_keeps_overrides_answers_and_provenance():
    from gradekit.model import ProbeResult
    from gradekit.store import dumps_result, loads_result

    r = apply_overrides(result(), {"alice": (Override("sigmoid", 2.0, "why", "me"),)})
    from dataclasses import replace

    r = replace(r, answers={"p": ProbeResult("p", "ok", {"xs": [1.5]}, {"v": [float("nan")]})},
                provenance={"probe_seed": 7}, executed_notebook="{}")
    back = loads_result(dumps_result(r))
    assert back.overrides == r.overrides and back.provenance == {"probe_seed": 7}
    assert back.answers["p"].params == {"xs": [1.5]} and back.executed_notebook is None   # kept apart
