# A hostile cell of this course for the gradekit corpus (course.py: hostile_cells): lr_results and best_lr out of
# any float's range.
lr_results = {10 ** 400: 0.0, 0.1: 10 ** 400}
best_lr = 10 ** 400
