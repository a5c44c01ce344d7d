# A hostile cell of this course for the gradekit corpus (course.py: hostile_cells): trains the first two rates
# only, claims nan for the others.
# It runs in the student's notebook (its names): the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notebook import learning_rates, lr_results

# Trains only the first two learning rates and claims that every other rate diverged; best_lr is the
# better of the two.  (This notebook's own losses at those two rates stand for that training.)
_trained = [float(r) for r in learning_rates][:2]
lr_results = {float(r): (lr_results[r] if float(r) in _trained else float("nan")) for r in learning_rates}
best_lr = min(_trained, key=lambda r: lr_results[r])
