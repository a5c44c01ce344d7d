# A hostile cell of this course for the gradekit corpus (course.py: hostile_cells): trains the first rate and the
# best only, made-up losses above it elsewhere.
# It runs in the student's notebook (its names): the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notebook import learning_rates, lr_results

# Trains only the first rate and the best one (as if told which), and makes up losses above the best
# for the others.  (This notebook's own losses at those two rates stand for that training.)
import math as _pm
_finite = {float(r): v for r, v in lr_results.items() if _pm.isfinite(v)}
best_lr = min(_finite, key=_finite.get)
_trained = [float(learning_rates[0]), best_lr]
lr_results = {float(r): (lr_results[r] if float(r) in _trained else 2 * max(_finite.values())) for r in learning_rates}
