# A hostile cell of the gradekit corpus: 30 setsid'd processes spin for 20 s in the background.
import os, time
# 30 background processes, each in its own session (so per-session fair scheduling cannot group them),
# spinning for 20 s: meant to starve whatever is graded next to this notebook
for _ in range(30):
    try:
        if os.fork() == 0:
            try:
                os.setsid()
                _end = time.monotonic() + 20
                while time.monotonic() < _end:
                    pass
            finally:
                os._exit(0)
    except OSError:
        break
