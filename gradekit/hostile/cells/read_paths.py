# A hostile cell of the gradekit corpus: reads the confidential files and folders by absolute and relative paths.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK, _gk_listing, _gk_os, _gk_read, _gk_variants

for _p in _GK["files"] + _GK["repo_files"]:
    for _v in _gk_variants(_p, proc=False):
        _gk_read(_v)
for _r in _GK["repo_rel"]:
    for _k in range(9):
        _gk_read("../" * _k + _r)
for _d in _GK["read_dirs"] + [_GK["repo_root"], _gk_os.path.dirname(_GK["repo_root"])]:
    for _v in _gk_variants(_d, proc=False):
        _gk_listing(_v)
