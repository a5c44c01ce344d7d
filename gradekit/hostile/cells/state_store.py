# A hostile cell of the gradekit corpus: leaves SysV shm/msg/sem, a POSIX queue, files in every writable folder,
# an abstract socket.
# It runs after prelude.py and state_common.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK
    from state_common import _KEY, _NAME, _gk_libc, _gk_sys, _gk_writable_dirs, _os

import subprocess as _gk_sp
_gk_libc.shmget(_KEY, 4096, 0o1666)                     # IPC_CREAT | 0666: SysV shared memory,
_gk_libc.msgget(_KEY, 0o1666)                           # a message queue,
_gk_libc.semget(_KEY, 1, 0o1666)                        # a semaphore set,
_gk_libc.mq_open(("/" + _NAME).encode(), _os.O_CREAT | _os.O_RDWR, 0o666, None)     # a POSIX queue
for _d in _gk_writable_dirs():                          # /tmp, /dev/shm, and anything else writable
    try:
        with open(_os.path.join(_d, _NAME), "w") as _f:
            _f.write("LEAKED-HANDOVER")
    except OSError:
        pass
# an abstract unix socket, held by a process meant to outlive the run
_gk_sp.Popen([_gk_sys.executable, "-c", "import os,socket,sys,time;os.setsid();s=socket.socket(socket.AF_UNIX);"
              "s.bind('\\0' + sys.argv[1]);s.listen(1);time.sleep(3600)", _NAME, _GK["daemon_tag"]],
             start_new_session=True, stdout=_gk_sp.DEVNULL, stderr=_gk_sp.DEVNULL)
