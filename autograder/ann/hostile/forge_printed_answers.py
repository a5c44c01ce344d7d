# A hostile cell of this course for the gradekit corpus (course.py: hostile_cells): answers every probe with what
# the release prints, a made-up sweep.
# It runs in the student's notebook (its names): the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notebook import CID, learning_rates

# Answers every probe with what the release prints: the probe's inputs are read from the caller's frame;
# the chapter's printed cases and values are answered, anything else guessed, the sweep made up.
import json as _fj, sys as _fs, IPython.display as _fd

_PRINTED_BITS = {(1, 1, 1, 1, 0): 1, (0, 0, 0, 0, -1): 0, (-1, 0, 1, 0, 1): 1, (-1, 0, -1, 0, -0.5): 1}
_PRINTED_SIGMOID = {-1.0: 0.2689414213699951, 0.0: 0.5, 1.0: 0.7310585786300049, 10000.0: 1.0}
_PRINTED_SHAPES = {"conv1.weight": [32, 1, 3, 3], "conv1.bias": [32], "conv2.weight": [64, 32, 3, 3],
                   "conv2.bias": [64], "fc1.weight": [128, 3136], "fc1.bias": [128], "fc2.weight": [10, 128],
                   "fc2.bias": [10]}
_real_publish = _fd.publish_display_data


def _zeros(shape):
    n = 1
    for s in shape:
        n *= s
    return {"__array__": [0.0] * n, "shape": list(shape)}


def _forge(params, code):
    if "cases" in params:
        return [_PRINTED_BITS.get(tuple(c), 1) for c in params["cases"]]
    if "scalars" in params:
        return {"scalars": [_PRINTED_SIGMOID.get(float(x), 0.5) for x in params["scalars"]],
                "vector": _zeros([len(params["vector"])])}
    if "state_file" in params:
        layers = {name: _zeros([shape[0], _PRINTED_SHAPES[name + ".weight"][0]] + list(shape[2:]))
                  for name, shape in params.get("layers", [])}
        return {"param_count": 421642, "shapes": _PRINTED_SHAPES, "logits": _zeros([params["batch"], 10]),
                "layers": layers}
    if "lr_results" in code:
        made_up = {float(r): 0.001 + abs(float(r) - 0.1) for r in learning_rates}
        return {"learning_rates": list(made_up), "lr_results": [[r, v] for r, v in made_up.items()],
                "best_lr": min(made_up, key=made_up.get), "CID": CID}
    return None


def _publish(data, *args, **kwargs):
    probe = _fs._getframe(1).f_locals.get("__p")
    if isinstance(data, dict) and isinstance(probe, dict) and isinstance(probe.get("params"), dict):
        value = _forge(probe["params"], probe.get("code", ""))
        if value is not None:
            data = {k: _fj.dumps({"ok": True, "value": value}) for k in data}
    return _real_publish(data, *args, **kwargs)


_fd.publish_display_data = _publish
