# A hostile cell of the gradekit corpus: control: reads back the secret planted in its own notebook (the corpus
# must see an escape).
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _gk_note, _gk_os

_planted = b"<!-- " + ("gk-" + "canary-").encode()
for _fn in sorted(_gk_os.listdir(".")):
    if _fn.endswith(".ipynb"):
        with open(_fn, "rb") as _f:
            _whole = _f.read()
        if _planted in _whole:
            _at = _whole.index(_planted) + 5
            _gk_note("control: the secret planted in my own notebook %r" % _whole[_at:_at + 40])
