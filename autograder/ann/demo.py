"""The demo cohort of `gradekit demo`: a few correct and typically flawed students, built from the release.

Packed by the engine the way a learning platform's bulk download arrives (gradekit/demo.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nbformat

from gradekit.api import DemoStudent, sibling

T1, T2 = "2026-11-20-09-15-02", "2026-11-21-17-48-30"


def demo_cohort(release, source, profile: Mapping[str, Any]) -> list[DemoStudent]:
    v = sibling(__file__, "variants")

    def nb_bytes(nb) -> bytes:
        return nbformat.writes(nb).encode()

    def student(**kw):
        return v.student(release, source, profile=profile, **kw)

    everything = dict(fixed=v.BUG_PARTS, solved=v.TASK_PARTS)
    return [
        DemoStudent("aturing", "Alan Turing", 1000001,
                    ((T1, "ann.ipynb", nb_bytes(student(name="Alan Turing", cid=1000001, **everything))),)),
        DemoStudent("bclark", "Barbara Clark", 1000002,
                    ((T1, "exercise6.ipynb", nb_bytes(v.sweep_without_reinit(
                        student(name="Barbara Clark", cid=1000002, **everything)))),)),
        DemoStudent("cdarwin", "Charles Darwin", 1000003,
                    ((T1, "ann (1).ipynb", nb_bytes(student(name="Charles Darwin", cid=1000003,
                                                            fixed=["perceptron"]))),)),
        DemoStudent("dfranklin", "Dora Franklin", 1000004,          # forgot to enter her CID
                    ((T1, "ann.ipynb", nb_bytes(v.full_marks(release, source, name="Dora Franklin", cid=None,
                                                             profile=profile))),)),
        DemoStudent("ehopper", "Edith Hopper", 1000005,             # upload cut short
                    ((T1, "ann.ipynb", nb_bytes(student(name="Edith Hopper", cid=1000005, **everything))[:5000]),)),
        DemoStudent("flovelace", "Fay Lovelace", 1000006,           # two attempts: the later counts
                    ((T1, "ann.ipynb", nb_bytes(student(name="Fay Lovelace", cid=1000006))),
                     (T2, "ann_final.ipynb", nb_bytes(v.sigmoid_not_vectorised(
                         student(name="Fay Lovelace", cid=1000006, **everything)))))),
        DemoStudent("gnoether", "Gita Noether", 1000007),           # on the roster, did not submit
    ]
