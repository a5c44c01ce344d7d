# A hostile cell of the gradekit corpus: time.sleep(10**6).
import time
time.sleep(10 ** 6)
