"""Benchmark: the extra reference seconds a failing student costs (the diagnosis and the integrity
cross-check), on top of the checks' own reference work.  Not a test.

    .venv/bin/python bench/diagnosis_cost.py [--profile grading|tiny] [--students 3]

Each student has a failing sweep that no catalogued mistake explains: the worst case, where every
entry of autograder/ann/mistakes.py is tried (a named mistake stops at the first entry that
explains it).  Cold reference cache.  Printed per student: the checks' reference seconds, the
diagnosis' reference seconds, and the integrity pass's for that student against the cohort's other
CIDs and the template's.  The first student also pays the references every student shares (seed 102
and the template's CID), so later students show the per-student cost alone.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="grading")
    parser.add_argument("--students", type=int, default=3)
    args = parser.parse_args()

    from gradekit.config import load_config
    from gradekit.grading import Course
    from gradekit.judge import JudgeInputs, judge
    from gradekit.model import Identity, ProbeResult

    cfg = load_config(ROOT / "gradekit.toml").with_(profile=args.profile, cache=Path(tempfile.mkdtemp()))
    course = Course(cfg)
    ref, profile = course.reference, course.profile
    rates = [float(r) for r in profile["learning_rates"]]
    cids = [4400001 + i for i in range(args.students)]
    print(f"profile {args.profile}: {profile['num_images']} images x {profile['num_epochs']} epochs, "
          f"{len(rates)} rates, spot_checks {profile.get('spot_checks')}; 1 thread; cold cache")
    print(f"{'student':>8} {'checks ref s':>13} {'diagnosis ref s':>16} {'integrity ref s':>16}  mistakes")
    extra = []
    for i, cid in enumerate(cids):
        # finite, decreasing losses: wrong at every rate, explained by no catalogued mistake
        sweep = {"lr_results": [[r, 0.02 - 0.002 * k] for k, r in enumerate(rates)], "best_lr": rates[-1],
                 "learning_rates": rates, "CID": cid}
        probes = {"sweep": ProbeResult("sweep", "ok", {}, sweep)}
        t0 = ref.seconds_computing
        checks = judge(cfg.checks, JudgeInputs(probes, Identity("bench", cid), profile, ref, course.module))
        t1 = ref.seconds_computing
        mistakes = course.diagnose(checks, probes, cid)
        t2 = ref.seconds_computing
        answers = course.comparable_answers(probes)["lr_sweep"]
        for other in [c for c in cids[: i + 1] if c != cid] + [cfg.cid_placeholder]:
            course.matches_cid("lr_sweep", answers, other)
        t3 = ref.seconds_computing
        extra.append((t2 - t1) + (t3 - t2))
        print(f"{i + 1:>8} {t1 - t0:>13.2f} {t2 - t1:>16.2f} {t3 - t2:>16.2f}  {[m.id for m in mistakes] or '-'}")
    later = extra[1:] or extra
    print(f"extra reference seconds per failing student: first {extra[0]:.1f} s (shared references included), "
          f"then {sum(later) / len(later):.1f} s on average; honest students: 0 s")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"wall {time.perf_counter() - started:.1f} s")
