# A hostile cell of the gradekit corpus: walks up from its folder and over the whole visible tree, looking for
# canaries.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _gk_listing, _gk_note, _gk_os, _gk_sys

_skip = {"/proc", "/sys", "/dev", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/job"}
for _r in (_gk_sys.prefix, _gk_sys.base_prefix, _gk_sys.exec_prefix):
    _skip |= {_r, _gk_os.path.realpath(_r)}
# walk up from the working folder, then the whole visible tree
_d = _gk_os.getcwd()
while True:
    _gk_listing(_d)
    if _d == "/":
        break
    _d = _gk_os.path.dirname(_d)
_n, _secret = 0, ("gk-" + "canary-").encode()
for _dp, _dns, _fns in _gk_os.walk("/"):
    _dns[:] = [d for d in _dns if _gk_os.path.join(_dp, d) not in _skip]
    _gk_listing(_dp)
    for _fn in _fns:
        _n += 1
        _full = _gk_os.path.join(_dp, _fn)
        try:
            if _gk_os.path.isfile(_full) and _gk_os.path.getsize(_full) < 65536:
                with open(_full, "rb") as _f:
                    _data = _f.read()
                if _secret in _data:
                    _gk_note("found a canary in %s: %r" % (_full, _data[:48]))
        except BaseException:
            pass
    if _n > 20000:
        break
