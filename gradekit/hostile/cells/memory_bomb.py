# A hostile cell of the gradekit corpus: 1 TiB at once, then 256 MiB blocks until the address-space limit.
import numpy as np
try:
    _huge = bytearray(1 << 40)              # 1 TiB at once
except MemoryError:
    pass


def _gk_bomb():
    hog = []
    while True:
        hog.append(np.ones(1 << 25))        # 256 MiB, written: resident, not merely reserved


_gk_bomb()
