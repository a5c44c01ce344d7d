"""Temp folders a killed process left behind are removed by the next one (gradekit.tempdirs)."""
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
