# A hostile cell of the gradekit corpus: environment variables, imports of the engine and reference, the course's
# files by path.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK, _gk_note, _gk_os, _gk_sys

import importlib as _gk_il, importlib.util as _gk_ilu
_secret = "gk-" + "canary-"
for _k, _v in _gk_os.environ.items():
    if _GK["env_var"] in _k or _secret in _v:
        _gk_note("environment %s=%s" % (_k, _v[:40]))
for _pid in [p for p in _gk_os.listdir("/proc") if p.isdigit()]:
    try:
        with open("/proc/%s/environ" % _pid, "rb") as _f:
            _data = _f.read()
    except BaseException:
        continue
    if _GK["env_var"].encode() in _data or _secret.encode() in _data:
        _gk_note("environment of process %s: %r" % (_pid, _data[:60]))
# the engine and the reference by import, the course's files by path, the editable install's map
for _mod in _GK["modules"]:
    try:
        _m = _gk_il.import_module(_mod)
    except BaseException:
        continue
    if getattr(_m, "__file__", None):
        _gk_note("imported %s from %s" % (_mod, _m.__file__))
for _p in _GK["repo_files"]:
    if _p.endswith(".py"):
        try:
            _spec = _gk_ilu.spec_from_file_location("gk_stolen", _p)
            _m = _gk_ilu.module_from_spec(_spec)
            _spec.loader.exec_module(_m)
            _gk_note("executed " + _p)
        except BaseException:
            pass
for _name, _mod in list(_gk_sys.modules.items()):
    _mapping = getattr(_mod, "MAPPING", None)
    if "__editable__" in _name and isinstance(_mapping, dict):
        for _pkg, _folder in _mapping.items():
            try:
                _gk_note("editable %s: %s" % (_pkg, sorted(_gk_os.listdir(_folder))[:3]))
            except BaseException:
                pass
