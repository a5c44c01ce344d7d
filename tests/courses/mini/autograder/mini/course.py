"""A minimal course: one seeded bug (square) and one task (sum_of_squares) -- the whole contract
(gradekit.api.CourseHooks) in one page, with no optional hook."""
from __future__ import annotations

import copy

from gradekit.api import ProbeSpec, fabricate

PARTS = ("square", "sum_of_squares")
BUG_PARTS = ("square",)
TASK_PARTS = ("sum_of_squares",)

SQUARE_PROBE = '''
def probe(params):
    return [plain(square(x)) for x in params["xs"]]
'''

TASK_PROBE = '''
def probe(params):
    g = globals()
    return plain(g["sum_of_squares"]) if "sum_of_squares" in g else {"__missing__": "sum_of_squares"}
'''


def load_profile(name):
    return {"name": name}


def job_files(profile, *, release_dir, cache_dir):
    return {}


def make_probes(profile, rng):
    xs = rng.integers(-1000, 1000, size=20).tolist()        # fresh per run: nothing to prepare for
    return [ProbeSpec("square", SQUARE_PROBE, {"xs": xs}, 10), ProbeSpec("task", TASK_PROBE, {}, 10)]


def student(release, source, *, name, cid, fixed=(), solved=(), profile=None):
    nb = copy.deepcopy(release)
    for part in fixed:
        nb = fabricate.fix_bug(nb, source, part)
    for part in solved:
        nb = fabricate.solve(nb, source, part)
    return fabricate.set_details(nb, name, cid) if cid is not None else nb


def sum_of_squares(cid: int) -> int:
    """The reference answer of the task for one CID."""
    return sum(k * k for k in range(1, cid % 100 + 2))
