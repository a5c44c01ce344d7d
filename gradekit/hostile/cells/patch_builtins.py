# A hostile cell of the gradekit corpus: sum/min/max/sorted/abs/round/print lie.
import builtins
_real = {n: getattr(builtins, n) for n in ("sum", "min", "max", "sorted", "abs", "round", "print")}
builtins.sum = lambda it, start=0: 42
builtins.min = lambda *a, **k: _real["min"](*a, **k) if k or len(a) != 1 else 0
builtins.max = lambda *a, **k: _real["max"](*a, **k) if k or len(a) != 1 else 1
builtins.sorted = lambda it, *a, **k: list(reversed(_real["sorted"](it, *a, **k)))
builtins.abs = lambda x: 0
builtins.round = lambda x, n=None: 0.5
builtins.print = lambda *a, **k: None
