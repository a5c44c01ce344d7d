# A hostile cell of the gradekit corpus: writes forged runner events to every pipe it holds and the runner's fds.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK, _gk_note, _gk_os

import fcntl, json, stat
_answer = json.dumps({"ok": True, "value": [{"__error__": "LEAKED a forged runner event was accepted"}] * 50})
_lines = [{"event": "probe", "name": n, "status": "ok", "output": _answer, "error": None, "seconds": 0.0}
          for n in _GK["probe_names"]]
_lines += [{"event": "cell", "index": 0, "status": "error", "error": "LEAKED a forged cell event", "seconds": 0.0},
           {"event": "done", "status": "ok", "seconds": 1.0, "restarts": 0, "kernel_alive": True}]
_data = "".join(json.dumps(l) + "\n" for l in _lines).encode()
_fds = [int(f) for f in _gk_os.listdir("/proc/self/fd")]
for _fd in _fds:
    try:
        if stat.S_ISFIFO(_gk_os.fstat(_fd).st_mode) and fcntl.fcntl(_fd, fcntl.F_GETFL) & _gk_os.O_ACCMODE != _gk_os.O_RDONLY:
            _gk_os.write(_fd, _data)
    except OSError:
        pass
for _pid in (_gk_os.getppid(), 1):
    for _fd in range(64):
        try:
            _w = _gk_os.open("/proc/%d/fd/%d" % (_pid, _fd), _gk_os.O_WRONLY | _gk_os.O_NONBLOCK)
            _gk_os.write(_w, _data)
            _gk_os.close(_w)
            _gk_note("wrote forged events to the runner's fd %d" % _fd)
        except OSError:
            pass
