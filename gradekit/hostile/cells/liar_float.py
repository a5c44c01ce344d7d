# A hostile cell of the gradekit corpus: every student function returns a float subclass whose ==, float() and
# repr lie.
# It runs after liar_head.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liar_head import _gk_lie_about_everything

class LyingFloat(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = float.__hash__
    def __float__(self): return 0.5
    def __repr__(self): return "0.5"
    __str__ = __repr__


_gk_lie_about_everything(lambda args: LyingFloat(-12345.0))
