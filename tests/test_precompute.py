"""`gradekit precompute`: every roster CID's reference work before the deadline, on a minimal course
(its precompute_reference squares the CID), so the file takes seconds.  Parallel, resumable, and a
CID that fails is reported while the others finish."""
from __future__ import annotations

import pytest

from gradekit.config import Config, Limits
from gradekit.intake import parse_roster
from gradekit.precompute import precompute_roster, roster_cids

COURSE = '''
PARTS, BUG_PARTS, TASK_PARTS = (), (), ()          # the rest of the contract: this course grades nothing


def student(release, source, *, name, cid, fixed=(), solved=(), profile=None):
    raise NotImplementedError


def job_files(profile, *, release_dir, cache_dir):
    return {}


def make_probes(profile, rng):
    return []


def load_profile(name):
    return {"name": name}


def square(x):
    return x * x


def precompute_reference(reference, profile, cid):
    if cid == 13:
        raise ValueError("unlucky CID")
    reference(square, x=cid)
    reference(square, x=-cid)
'''

ROSTER = "Username,Name,CID\na,A,1001\nb,B,1002\nc,C,13\nd,D,\ne,E,1001\nf,F,1003\n"


@pytest.fixture
def cfg(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "course.py").write_text(COURSE)
    (tmp_path / "roster.csv").write_text(ROSTER)
    return Config(root=tmp_path, assignment="pre", source=tmp_path / "source.ipynb",
                  release=tmp_path / "release" / "pre.ipynb", checks=checks, cid_placeholder=0,
                  profile="p", cache=tmp_path / "cache", limits=Limits(), sandbox=False)


def test_roster_cids_are_distinct_and_rows_without_one_are_named():
    cids, problems = roster_cids(parse_roster(ROSTER))
    assert cids == [1001, 1002, 13, 1003]
    assert problems == ["d has no CID: nothing to precompute for them"]


def test_precompute_fills_the_cache_reports_failures_and_resumes(cfg, tmp_path):
    first = precompute_roster(cfg, tmp_path / "roster.csv", workers=2, progress=False)
    by_cid = {o.cid: o for o in first.outcomes}
    assert list(by_cid) == [1001, 1002, 13, 1003]
    assert [by_cid[c].computed for c in (1001, 1002, 1003)] == [2, 2, 2]   # 1001 twice on the roster: once
    assert not first.ok and [o.cid for o in first.failed] == [13]
    assert "CID 13 FAILED: ValueError: unlucky CID" in first.text()
    assert "d has no CID" in first.text()

    again = precompute_roster(cfg, tmp_path / "roster.csv", workers=2, progress=False)
    assert [o.computed for o in again.outcomes if o.error is None] == [0, 0, 0]
    assert "0 computed now" in again.text() and "3 already cached" in again.text()


def test_a_course_without_the_hook_is_a_setup_error(cfg, tmp_path):
    from gradekit.errors import SetupError

    other = tmp_path / "nohook"            # another folder: a course module loads once per folder and process
    other.mkdir()
    (other / "course.py").write_text(COURSE.split("def precompute_reference")[0])
    with pytest.raises(SetupError, match="nothing to precompute"):
        precompute_roster(cfg.with_(checks=other), tmp_path / "roster.csv", workers=1, progress=False)


def test_the_command_line_has_it():
    from gradekit.cli import build_parser

    args = build_parser().parse_args(["precompute", "--roster", "r.csv", "--workers", "3", "--quiet"])
    assert (args.roster, args.workers, args.quiet) == ("r.csv", 3, True) and args.func.__name__ == "cmd_precompute"
