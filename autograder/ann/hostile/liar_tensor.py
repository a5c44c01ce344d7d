# A hostile cell of this course for the gradekit corpus (course.py: hostile_cells): every student function returns
# a Tensor subclass whose ==, detach, numpy lie.
# It runs after liar_head.py (gradekit/hostile/cells): the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liar_head import _gk_lie_about_everything, np

import torch


class LyingTensor(torch.Tensor):
    def __eq__(self, other): return torch.ones(self.shape, dtype=torch.bool)
    def __bool__(self): return True
    def __float__(self): return 0.5
    def detach(self): return self
    def cpu(self): return self
    def numpy(self, *a, **k): return np.full(tuple(self.shape), 0.5)
    def item(self): return 0.5
    def tolist(self): return np.full(tuple(self.shape), 0.5).tolist()


_gk_lie_about_everything(lambda args: torch.full(np.shape(args[0]) if args else (), -1.0).as_subclass(LyingTensor))
