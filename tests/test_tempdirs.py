"""Temp folders a killed process left behind are removed by the next one (gradekit.tempdirs)."""
import os
import signal
import subprocess
import sys
import time

from gradekit.tempdirs import owned_tempdir, owner, sweep_dead

MAKE = ("import sys, time; from pathlib import Path; from gradekit.tempdirs import owned_tempdir;"
        "d = owned_tempdir('gk-test-', Path(sys.argv[1])); (d / 'notebook.ipynb').write_text('x');"
        "print(d, flush=True); time.sleep(60)")


def test_a_killed_owners_folders_are_swept_and_a_live_owners_kept(tmp_path):
    victim = subprocess.Popen([sys.executable, "-c", MAKE, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    left = tmp_path / victim.stdout.readline().strip().rsplit("/", 1)[-1]
    assert left.is_dir() and owner(left, "gk-test-") == victim.pid
    mine = owned_tempdir("gk-test-", tmp_path)               # a live owner: this process
    victim.send_signal(signal.SIGKILL)                       # no finally, no atexit
    victim.wait(timeout=10)
    victim.stdout.close()
    time.sleep(0.1)
    chain = left
    for _ in range(1200):                                    # deeper than a recursive removal survives
        chain = chain / "d"
        chain.mkdir()
    assert sweep_dead("gk-test-", tmp_path) == [left]
    assert not left.exists() and mine.is_dir()
    (tmp_path / "gk-test-notapid-x").mkdir()                 # not ours: never touched
    assert sweep_dead("gk-test-", tmp_path) == [] and (tmp_path / "gk-test-notapid-x").is_dir()


def test_sandbox_slots_are_claimed_machine_wide_whatever_each_graders_tmpdir(tmp_path):
    """Slots are uids: two graders with different TMPDIRs must not both get slot 0 (they did when the
    lock folder lived under TMPDIR)."""
    hold = "from gradekit.executors import claim_slot; print(claim_slot(), flush=True); input()"
    procs = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            procs.append(subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True,
                                          env={**os.environ, "TMPDIR": str(tmp_path / name)}))
        slots = [int(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.communicate("\n", timeout=30)
    assert slots[0] != slots[1]
