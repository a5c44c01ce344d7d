# A hostile cell of the gradekit corpus: the next run in the same slot looks for the IPC objects, files and
# socket.
# It runs after prelude.py and state_common.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from state_common import _KEY, _NAME, _gk_libc, _gk_sock, _gk_writable_dirs, _os
    from prelude import _gk_note

for _what in ("shm", "msg", "sem"):
    try:
        with open("/proc/sysvipc/" + _what) as _f:
            _rows = [_l.split() for _l in _f.read().splitlines()[1:]]
    except OSError:
        continue
    if any(_r and _r[0] == str(_KEY) for _r in _rows):
        _gk_note("the previous run's SysV %s is still there" % _what)
if _gk_libc.mq_open(("/" + _NAME).encode(), _os.O_RDONLY) >= 0:
    _gk_note("the previous run's POSIX message queue is still there")
for _d in _gk_writable_dirs():
    if _os.path.exists(_os.path.join(_d, _NAME)):
        _gk_note("the previous run's file %s" % _os.path.join(_d, _NAME))
_s = _gk_sock.socket(_gk_sock.AF_UNIX)
try:
    _s.connect("\0" + _NAME)
    _gk_note("the previous run's abstract socket answers")
except OSError:
    pass
