# A hostile cell of the gradekit corpus: an atexit hook that writes and sleeps forever, SIGTERM ignored, a non-
# daemon thread.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK

import atexit, os, signal, threading, time
_targets = list(_GK["dirs"])


def _last_words():
    for d in _targets:
        try:
            with open(os.path.join(d, _GK["marker"]), "w") as f:
                f.write("written at exit")
        except OSError:
            pass
    time.sleep(10 ** 6)


atexit.register(_last_words)
for _sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(_sig, signal.SIG_IGN)
threading.Thread(target=time.sleep, args=(10 ** 6,), daemon=False).start()
