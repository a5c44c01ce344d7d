# A hostile cell of the gradekit corpus: exec, json.dumps and publish_display_data forge every probe answer
# ("__FORGED__" is substituted).
import builtins, json, IPython.display
_FORGED = json.dumps({"ok": True, "value": "__FORGED__"})
_real_exec, _real_dumps, _real_pub = builtins.exec, json.dumps, IPython.display.publish_display_data


def _exec(code, *args, **kwargs):
    _real_exec(code, *args, **kwargs)
    ns = args[0] if args else kwargs.get("globals")
    if getattr(code, "co_filename", "") == "<gradekit-probe>" and isinstance(ns, dict):
        ns["probe"] = lambda params: json.loads(_FORGED)["value"]
        ns["plain"] = lambda x, *a: x


def _dumps(obj, *args, **kwargs):
    if isinstance(obj, dict) and "ok" in obj and ("value" in obj or "error" in obj):
        return _FORGED
    return _real_dumps(obj, *args, **kwargs)


def _pub(data, *args, **kwargs):
    if isinstance(data, dict) and any("gradekit" in k for k in data):
        data = {k: _FORGED for k in data}
    return _real_pub(data, *args, **kwargs)


builtins.exec, json.dumps, IPython.display.publish_display_data = _exec, _dumps, _pub
