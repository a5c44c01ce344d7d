"""A control group per sandboxed run (gradekit.cgroups): one notebook cannot starve the one graded next to it.

Found by the hostile corpus: background processes that each setsid() and spin (per-session fair
scheduling then does not group them) slowed a concurrently graded honest notebook ~20x, into cell
timeouts.  These tests need bubblewrap, root and a writable cgroup hierarchy; they skip otherwise.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import nbformat
import pytest

from gradekit import cgroups
from gradekit.config import Limits
from gradekit.model import Status
from gradekit.probes import ProbeSpec
from gradekit.sandbox import run_notebook

SLOT = 3200 + os.getpid() % 700           # other test files and checkouts use other uids
LIMITS = Limits(cell_timeout_s=20, notebook_timeout_s=60, probe_timeout_s=5, memory_mb=1024,
                max_processes=48, output_kb_per_cell=64)

_why_not = cgroups.problem()
needs_cgroups = pytest.mark.skipif(_why_not is not None, reason=f"no cgroups here: {_why_not}")
needs_bwrap = pytest.mark.sandbox      # skipped together, with one reason, when bubblewrap is absent (conftest)


def notebook(*sources: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]))


def value(name: str) -> ProbeSpec:
    return ProbeSpec(name, f"def probe(params):\n    return {name}", {}, 5)


@needs_cgroups
def test_a_run_group_caps_processes_and_is_removed():
    group = cgroups.RunGroup.create("test", max_processes=6, memory_mb=256)
    assert group is not None and all(d.is_dir() for d in group.dirs.values())
    script = ("import os, time\nforked = 0\nfor _ in range(10):\n    try:\n        if os.fork() == 0:\n"
              "            time.sleep(30)\n            os._exit(0)\n        forked += 1\n    except OSError:\n"
              "        pass\nprint(forked, flush=True)\ntime.sleep(30)\n")
    p = subprocess.Popen(group.wrap([sys.executable, "-c", script]), stdout=subprocess.PIPE, text=True)
    try:
        forked = int(p.stdout.readline())
        inside = group.pids()
        assert p.pid in inside                 # the wrapper moved itself in before exec, so all that follows is inside
        assert forked < 10 and len(inside) == forked + 1 <= 6
    finally:
        group.remove()                         # kills what is still inside
        p.wait(timeout=5)
        p.stdout.close()
    assert p.returncode == -9
    assert not any(d.exists() for d in group.dirs.values())


@needs_bwrap
@needs_cgroups
@pytest.mark.sandbox
def test_a_cpu_hog_does_not_slow_the_notebook_next_to_it():
    work = "import time\nt0 = time.process_time()\nn = 0\nwhile time.process_time() - t0 < 1.5:\n    n += 1\n" \
           "t1 = time.monotonic()\nm = 0\nwhile m < n:\n    m += 1\nelapsed = time.monotonic() - t1\n"
    hog = ("import os, time\nfor _ in range(40):\n    try:\n        pid = os.fork()\n    except OSError:\n"
           "        break\n    if pid == 0:\n        os.setsid()\n        end = time.monotonic() + 30\n"
           "        while time.monotonic() < end:\n            pass\n        os._exit(0)\nstarted = True\n")
    reports = {}

    def go(key, nb, slot, probes, delay):
        time.sleep(delay)
        reports[key] = run_notebook(nb, probes, {}, LIMITS, slot=slot)

    threads = [threading.Thread(target=go, args=("hog", notebook(hog, "import time\ntime.sleep(25)"), SLOT,
                                                 [value("started")], 0)),
               threading.Thread(target=go, args=("honest", notebook(work), SLOT + 1, [value("elapsed")], 4))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    honest = reports["honest"]
    assert honest.status is Status.GRADED, honest.message
    # 1.5 s of CPU on a core of its own; starved by 40 spinners it took over 20 s
    assert honest.probes["elapsed"].status == "ok" and honest.probes["elapsed"].value < 6, honest.probes
    assert reports["hog"].probes["started"].value is True
