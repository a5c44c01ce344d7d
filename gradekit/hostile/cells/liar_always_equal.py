# A hostile cell of the gradekit corpus: every student function returns an object equal to everything.
# It runs after liar_head.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liar_head import _gk_lie_about_everything

class AlwaysRight:
    """Equal to everything, true, and 1 or 0.5 as a number."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __bool__(self): return True
    def __float__(self): return 0.5
    def __int__(self): return 1
    __index__ = __int__
    def __hash__(self): return 0
    def __repr__(self): return "1"
    def detach(self): return self
    cpu = numpy = item = tolist = detach


_gk_lie_about_everything(lambda args: AlwaysRight())
