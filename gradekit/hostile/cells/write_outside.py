# A hostile cell of the gradekit corpus: appends to, truncates and deletes canaries, the store, other submissions;
# drops files outside.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK, _gk_note, _gk_os, _gk_variants

import sqlite3 as _gk_sql
_mark = _GK["marker"]
for _p in _GK["files"]:
    for _v in _gk_variants(_p):
        if not _gk_os.path.lexists(_v):
            continue
        _gk_note("visible " + _v)
        try:
            with open(_v, "ab") as _f:
                _f.write(b"\n" + _mark.encode())
            _gk_note("appended to " + _v)
        except BaseException:
            pass
        if _v.endswith(".sqlite"):
            try:
                _c = _gk_sql.connect(_v)
                _c.execute("DROP TABLE IF EXISTS results")
                _c.commit()
                _gk_note("dropped the store's table in " + _v)
            except BaseException:
                pass
        for _act in (lambda: _gk_os.utime(_v, (0, 0)), lambda: _gk_os.chmod(_v, 0o777),
                     lambda: _gk_os.rename(_v, _v + "." + _mark), lambda: _gk_os.remove(_v)):
            try:
                _act()
                _gk_note("changed " + _v)
            except BaseException:
                pass
for _d in _GK["dirs"]:
    for _v in _gk_variants(_d):
        if not _gk_os.path.isdir(_v):
            continue
        for _name in (_mark, "gradebook.csv"):
            try:
                with open(_gk_os.path.join(_v, _name), "x") as _f:
                    _f.write("written from inside the sandbox")
                _gk_note("wrote %s into %s" % (_name, _v))
            except BaseException:
                pass
