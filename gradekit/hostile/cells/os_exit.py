# A hostile cell of the gradekit corpus: os._exit(0).
import os
os._exit(0)
