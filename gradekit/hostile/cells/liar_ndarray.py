# A hostile cell of the gradekit corpus: every student function returns an ndarray subclass whose ==, __array__,
# astype lie.
# It runs after liar_head.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liar_head import _gk_lie_about_everything, np

class LyingArray(np.ndarray):
    def __eq__(self, other): return np.ones(self.shape, bool)
    def __ne__(self, other): return np.zeros(self.shape, bool)
    def __bool__(self): return True
    def __float__(self): return 0.5
    def __array__(self, dtype=None, copy=None): return np.full(self.shape, 0.5)
    def astype(self, *a, **k): return np.full(self.shape, 0.5)
    def tolist(self): return np.full(self.shape, 0.5).tolist()


_gk_lie_about_everything(lambda args: np.full(np.shape(args[0]) if args else (), -1.0).view(LyingArray))
