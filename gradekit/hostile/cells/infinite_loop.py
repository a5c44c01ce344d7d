# A hostile cell of the gradekit corpus: while True: pass.
while True:
    pass
