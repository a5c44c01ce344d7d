# A hostile cell of the gradekit corpus: overwrites its job's data files; plants links, a fifo, an unreadable
# folder for the cleanup.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK

import os as _os
_cwd = _os.getcwd()
for _dp, _dns, _fns in _os.walk(_cwd):
    for _fn in _fns:
        if _fn != "submission.ipynb":
            try:
                with open(_os.path.join(_dp, _fn), "r+b") as _f:
                    _f.write(b"\0POISON" * 64)
            except BaseException:
                pass
# traps for whoever cleans this folder up: links to host files, a fifo, a folder nobody may enter
for _i, _t in enumerate(_GK["files"] + _GK["dirs"] + ["/", "/etc/passwd"]):
    try:
        _os.symlink(_t, _os.path.join(_cwd, "link%d" % _i))
    except BaseException:
        pass
try:
    _os.mkfifo(_os.path.join(_cwd, "fifo"))
    _os.makedirs(_os.path.join(_cwd, "locked", "inner"))
    open(_os.path.join(_cwd, "locked", "inner", "f"), "w").close()
    _os.chmod(_os.path.join(_cwd, "locked", "inner"), 0)
    _os.chmod(_os.path.join(_cwd, "locked"), 0)
    _os.chmod(_cwd, 0o500)
except BaseException:
    pass
