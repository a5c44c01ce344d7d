"""What the engine asks of a student's kernel, and nothing more.

A probe is a small piece of course code (``def probe(params): ...``) that reads the student's
objects and returns plain data.  It runs in a *copy* of the student's global namespace so it cannot
disturb later probes, and its answer travels back as display data of one MIME type.  The kernel is
untrusted: whatever arrives is parsed as JSON and validated by the checks in the trusted process.
"""
from __future__ import annotations

import json
import reprlib
from dataclasses import dataclass, field
from typing import Any, Mapping

PROBE_MIME = "application/x-gradekit-probe"
MAX_PROBE_BYTES = 2_000_000  # a probe answer larger than this is refused (a hostile kernel can flood)


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    code: str                         # defines `def probe(params)`; may use helpers from PROBE_PRELUDE
    params: Mapping[str, Any] = field(default_factory=dict)  # JSON-able; chosen by the grader per run
    timeout_s: float = 60.0


# Helpers available to probe code.  `plain` turns numpy/torch values into JSON data without
# trusting their __eq__/__bool__; a value it cannot convert is described, not returned.
PROBE_PRELUDE = r'''
def plain(x, _depth=0):
    import math as _m
    if _depth > 4:
        return {"__unconvertible__": "nested too deeply"}
    if x is None or type(x) in (bool, int, str):
        return x
    if type(x) is float:
        return x if _m.isfinite(x) else repr(x)
    if type(x) in (list, tuple):
        return [plain(v, _depth + 1) for v in list(x)[:100000]]
    if type(x) is dict:
        return {str(k): plain(v, _depth + 1) for k, v in list(x.items())[:1000]}
    try:
        import numpy as _np
        a = _np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
        if a.dtype.kind in "biuf":
            a = a.astype(float)
            return {"__array__": [float(v) if _np.isfinite(v) else repr(float(v)) for v in a.ravel()[:200000]],
                    "shape": list(a.shape), "type": type(x).__module__ + "." + type(x).__name__}
    except Exception:
        pass
    return {"__unconvertible__": type(x).__module__ + "." + type(x).__name__}
'''


def wrap_probe(spec: ProbeSpec) -> str:
    """The cell source the runner executes in the student's kernel for one probe."""
    payload = json.dumps({"code": PROBE_PRELUDE + "\n" + spec.code, "params": spec.params})
    return (
        "def __gradekit_probe__(__p):\n"
        "    import json as _j\n"
        "    from IPython.display import publish_display_data as _pub\n"
        "    __p = _j.loads(__p)\n"
        "    try:\n"
        "        _ns = dict(globals())\n"
        "        exec(compile(__p['code'], '<gradekit-probe>', 'exec'), _ns)\n"
        "        _out = {'ok': True, 'value': _ns['plain'](_ns['probe'](__p['params']))}\n"
        "    except BaseException as _e:\n"
        "        _out = {'ok': False, 'error': (type(_e).__name__ + ': ' + str(_e))[:500]}\n"
        f"    _pub({{{PROBE_MIME!r}: _j.dumps(_out)}})\n"
        f"__gradekit_probe__({payload!r})\n"
        "del __gradekit_probe__\n"
    )


def parse_probe_output(text: str) -> tuple[str, Any, str | None]:
    """(status, value, error) from the kernel's JSON answer; anything malformed is an error."""
    if len(text) > MAX_PROBE_BYTES:
        return "error", None, f"probe answer too large ({len(text)} bytes)"
    try:
        out = json.loads(text)
    except (ValueError, RecursionError):
        return "error", None, "probe answer is not valid JSON"
    if not isinstance(out, dict) or not isinstance(out.get("ok"), bool):
        return "error", None, "probe answer has the wrong shape"
    if out["ok"]:
        return "ok", out.get("value"), None
    err = out.get("error")
    return "error", None, err if isinstance(err, str) else "probe failed"


MAX_ARRAY_ELEMENTS = 1_000_000    # more than a MAX_PROBE_BYTES answer can hold
MAX_ARRAY_DIMS = 32               # numpy's own limit


def as_float(v: Any) -> float:
    """A probe scalar as a float: the kernel sends non-finite floats as 'nan'/'inf' strings.

    Anything else raises TypeError with a sentence for the student -- an int too large for a float
    (``10 ** 400``) included, which float() would raise as OverflowError."""
    if type(v) is bool:
        raise TypeError("a boolean is not a number")
    if type(v) is float:
        return v
    if type(v) is int:
        try:
            return float(v)
        except OverflowError:
            raise TypeError(f"a number too large for a float ({describe(v)})") from None
    if type(v) is str and v in ("nan", "inf", "-inf"):
        return float(v)
    if isinstance(v, dict) and "__array__" in v and v.get("shape") == []:
        data = v["__array__"]
        if type(data) is list and len(data) == 1:
            return as_float(data[0])
    raise TypeError(f"expected a number, got {describe(v)}")


def _shape(v: Any, n: int) -> list[int]:
    """The shape of an array answer of n elements, checked before any arithmetic on it: a list of at
    most MAX_ARRAY_DIMS plain ints, each at most MAX_ARRAY_ELEMENTS (math.prod of 90,000 18-digit
    ints took 41 s); their product then costs at most 32 small multiplications."""
    if type(v) is not list or len(v) > MAX_ARRAY_DIMS or \
            not all(type(d) is int and 0 <= d <= MAX_ARRAY_ELEMENTS for d in v):
        raise TypeError("array answer has an invalid shape")
    size = 1
    for d in v:
        size *= d
    if size != n:
        raise TypeError("array answer has an inconsistent shape")
    return v


def as_array(v: Any):
    """A probe array (from `plain`) as a numpy float array; raises TypeError with a readable reason.
    Sizes and types are checked before any work is done on the data."""
    import numpy as np

    if isinstance(v, dict) and "__array__" in v:
        data = v["__array__"]
        if type(data) is not list or len(data) > MAX_ARRAY_ELEMENTS:
            raise TypeError(f"array answer is not a list of at most {MAX_ARRAY_ELEMENTS:,} numbers")
        shape = _shape(v.get("shape"), len(data))
        return np.array([as_float(x) for x in data], dtype=float).reshape(shape)
    if type(v) is list:
        if len(v) > MAX_ARRAY_ELEMENTS:
            raise TypeError(f"a list of more than {MAX_ARRAY_ELEMENTS:,} numbers")
        return np.array([as_float(x) for x in v], dtype=float)
    return np.array(as_float(v), dtype=float)


def _short_repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = 60
    r.maxlist = r.maxdict = r.maxtuple = 6
    r.maxlevel = 3
    return r


_REPR = _short_repr()


def describe(v: Any) -> str:
    """A short, bounded description of an answer for a message; never raises (reprlib caps the work
    on long lists and huge ints)."""
    if isinstance(v, dict) and "__unconvertible__" in v:
        kind = v["__unconvertible__"]
        return f"an object of type {kind[:80] if isinstance(kind, str) else _REPR.repr(kind)}"
    if isinstance(v, dict) and "__array__" in v:
        shape = v.get("shape")
        try:
            return f"an array of shape {tuple(_shape(shape, len(v['__array__'])))}"
        except TypeError:
            return "an array with an invalid shape"
    return f"{type(v).__name__} {_REPR.repr(v)}"[:80]
