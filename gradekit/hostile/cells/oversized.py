# A hostile cell of the gradekit corpus: every probe answers an array whose shape lists 90,000 18-digit integers.
import json, IPython.display
_real_pub = IPython.display.publish_display_data
_GIANT = json.dumps({"ok": True, "value": {"__array__": [1.0] * 4, "shape": [10 ** 17 + 3] * 90000}})


def _pub(data, *args, **kwargs):
    if isinstance(data, dict) and any("gradekit" in k for k in data):
        data = {k: _GIANT for k in data}
    return _real_pub(data, *args, **kwargs)


IPython.display.publish_display_data = _pub
