# A hostile cell of the gradekit corpus: prints 100 MB.
import sys
_chunk = 'x' * (1 << 20) + '\n'
for _ in range(100):
    sys.stdout.write(_chunk)
sys.stdout.flush()
