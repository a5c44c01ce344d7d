# A hostile cell of this course for the gradekit corpus (course.py: hostile_cells): torch.allclose, torch.equal
# and torch.testing.assert_close always agree.
import torch, torch.testing
torch.allclose = torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
