# A hostile cell of the gradekit corpus: a thread writes to the runner's own stdout/stderr for 60 s.
import os, sys, threading, time


def _flood():
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)   # the notebook's own work goes first
    except OSError:
        pass
    fds = [getattr(s, "_original_stdstream_copy", None) for s in (sys.stdout, sys.stderr)] + [1, 2]
    chunk = b"flood " * 10000
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for fd in fds:
            try:
                os.write(fd, chunk)
            except (OSError, TypeError):
                time.sleep(0.001)


threading.Thread(target=_flood, daemon=True).start()
