# A hostile cell of the gradekit corpus: the head of the liar cells: _gk_lie_about_everything(make) makes every
# student function return make(args).
import numpy as np  # noqa: F401 (for the cells after this one)
_g = globals()


def _gk_lie_about_everything(make):
    for k, v in list(_g.items()):
        if not k.startswith("_") and callable(v) and not isinstance(v, type) \
                and getattr(v, "__module__", None) == "__main__":
            _g[k] = (lambda f: lambda *args, **kwargs: make(args))(v)
