# A hostile cell of the gradekit corpus: sys.exit().
import sys
sys.exit()
