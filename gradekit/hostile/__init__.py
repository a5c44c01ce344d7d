"""The hostile corpus's cases: what a case is (:mod:`.model`), the cases and how they are built
(:mod:`.cases`), and the hostile cells themselves as real Python files (``cells/``, read as text by
:func:`cell_source`).  :mod:`gradekit.corpus` grades and judges them."""
from .cases import CASES, CONTROLS, LMS_ASSIGNMENT, NAME_CASES, TRUST_CASES, cases_for, course_cases
from .model import CELLS, CID_A, CID_B, LEAK_MARK, PWNED, Case, Ctx, Expect, Sparse, ZipCase, cell_source

# Cells other tests insert into notebooks of their own (tests/test_budgets.py).
_CPU_HOG = cell_source("cpu_hog")
_SIGINT_IGNORED = cell_source("sigint_ignored")

__all__ = ["CASES", "CONTROLS", "TRUST_CASES", "NAME_CASES", "LMS_ASSIGNMENT", "cases_for", "course_cases", "CELLS", "CID_A",
           "CID_B", "LEAK_MARK", "PWNED", "Case", "Ctx", "Expect", "Sparse", "ZipCase", "cell_source"]
