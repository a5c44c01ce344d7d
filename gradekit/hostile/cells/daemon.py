# A hostile cell of the gradekit corpus: a setsid'd grandchild (sleep) meant to outlive the run.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK

import os
_pid = os.fork()
if _pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", _GK["daemon_tag"]])
    finally:
        os._exit(0)
os.waitpid(_pid, 0)
