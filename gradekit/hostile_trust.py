"""Hostile cells for the corpus's trust cases: state handed from one run to the next, odd and oversized
answers, a folder chain for the cleanup, a flood of the runner's stdout (see ``hostile.CASES``).

Plain source strings, run after ``hostile._PRELUDE`` (``_GK``, ``_gk_note``) where they report a find.
The ``*_store`` cells run first and the ``*_take`` cells later in the same sandbox slot (same uid):
whatever a store cell leaves that a take cell finds is reported as ``LEAKED`` -- an escape.
"""
from __future__ import annotations

HANDOVER = "gradekit-corpus-handover"          # the name everything a store cell leaves goes by
SYSV_KEY = 0x6B636F72                           # its SysV IPC key

_KEYRING_SYSCALLS = r'''
import ctypes as _gk_ct, platform as _gk_pf
_gk_libc = _gk_ct.CDLL(None, use_errno=True)
_gk_libc.syscall.restype = _gk_ct.c_long
_ADD_KEY, _KEYCTL = {"aarch64": (217, 219)}.get(_gk_pf.machine(), (248, 250))      # x86_64 otherwise
_RINGS = ((-4, "user"), (-5, "user-session"), (-3, "session"))                     # KEY_SPEC_*
'''

KEYRING_STORE = _KEYRING_SYSCALLS + r'''
# What the attack in issue 12 stored: the trained sweep, for the next notebook graded as this uid.
_payload = ("LEAKED-HANDOVER lr_results=%r" % (globals().get("lr_results"),)).encode()[:300]
for _ring, _name in _RINGS:
    _r = _gk_libc.syscall(_ADD_KEY, b"user", b"__HANDOVER__", _payload, len(_payload), _gk_ct.c_int(_ring))
    if _r >= 0:
        _gk_note("add_key stored key %d in the %s keyring: it outlives the run" % (_r, _name))
_p = _gk_libc.syscall(_KEYCTL, 22, _gk_ct.c_int(-1), _gk_ct.c_int(-4))            # KEYCTL_GET_PERSISTENT
if _p >= 0:
    _gk_note("the persistent keyring %d (kept for days) is reachable" % _p)
'''.replace("__HANDOVER__", HANDOVER)

KEYRING_TAKE = _KEYRING_SYSCALLS + r'''
for _ring, _name in _RINGS:
    _k = _gk_libc.syscall(_KEYCTL, 10, _gk_ct.c_int(_ring), b"user", b"__HANDOVER__", 0)   # KEYCTL_SEARCH
    if _k >= 0:
        _buf = _gk_ct.create_string_buffer(512)
        _n = _gk_libc.syscall(_KEYCTL, 11, _gk_ct.c_int(_k), _buf, 512)                      # KEYCTL_READ
        _gk_note("the previous run's key in the %s keyring: %r" % (_name, _buf.raw[:max(0, min(_n, 60))]))
try:
    with open("/proc/keys") as _f:
        if "__HANDOVER__" in _f.read():
            _gk_note("/proc/keys lists the previous run's key")
except OSError:
    pass
'''.replace("__HANDOVER__", HANDOVER)

_STATE_COMMON = r'''
import ctypes as _gk_ct, os as _os, socket as _gk_sock, sys as _gk_sys
_gk_libc = _gk_ct.CDLL(None, use_errno=True)
_NAME, _KEY = "__HANDOVER__", __SYSV_KEY__


def _gk_writable_dirs():
    """Every folder this run can write to outside its job folder (the system and Python trees are
    read-only binds: checked at the top, not walked)."""
    skip = {"/proc", "/sys", "/job", "/usr", _gk_sys.prefix, _gk_sys.base_prefix}
    for top in sorted(set(_os.listdir("/"))):
        top = "/" + top
        if _os.access(top, _os.W_OK) and top not in ("/proc", "/sys", "/job"):
            yield top
        if top in skip or not _os.path.isdir(top) or _os.path.islink(top):
            continue
        for dp, dns, fns in _os.walk(top):
            dns[:] = [d for d in dns if _os.path.join(dp, d) not in skip]
            if dp != top and _os.access(dp, _os.W_OK):
                yield dp
'''.replace("__HANDOVER__", HANDOVER).replace("__SYSV_KEY__", str(SYSV_KEY))

STATE_STORE = _STATE_COMMON + r'''
import subprocess as _gk_sp
_gk_libc.shmget(_KEY, 4096, 0o1666)                     # IPC_CREAT | 0666: SysV shared memory,
_gk_libc.msgget(_KEY, 0o1666)                           # a message queue,
_gk_libc.semget(_KEY, 1, 0o1666)                        # a semaphore set,
_gk_libc.mq_open(("/" + _NAME).encode(), _os.O_CREAT | _os.O_RDWR, 0o666, None)     # a POSIX queue
for _d in _gk_writable_dirs():                          # /tmp, /dev/shm, and anything else writable
    try:
        with open(_os.path.join(_d, _NAME), "w") as _f:
            _f.write("LEAKED-HANDOVER")
    except OSError:
        pass
# an abstract unix socket, held by a process meant to outlive the run
_gk_sp.Popen([_gk_sys.executable, "-c", "import os,socket,sys,time;os.setsid();s=socket.socket(socket.AF_UNIX);"
              "s.bind('\\0' + sys.argv[1]);s.listen(1);time.sleep(3600)", _NAME, _GK["daemon_tag"]],
             start_new_session=True, stdout=_gk_sp.DEVNULL, stderr=_gk_sp.DEVNULL)
'''

STATE_TAKE = _STATE_COMMON + r'''
for _what in ("shm", "msg", "sem"):
    try:
        with open("/proc/sysvipc/" + _what) as _f:
            _rows = [_l.split() for _l in _f.read().splitlines()[1:]]
    except OSError:
        continue
    if any(_r and _r[0] == str(_KEY) for _r in _rows):
        _gk_note("the previous run's SysV %s is still there" % _what)
if _gk_libc.mq_open(("/" + _NAME).encode(), _os.O_RDONLY) >= 0:
    _gk_note("the previous run's POSIX message queue is still there")
for _d in _gk_writable_dirs():
    if _os.path.exists(_os.path.join(_d, _NAME)):
        _gk_note("the previous run's file %s" % _os.path.join(_d, _NAME))
_s = _gk_sock.socket(_gk_sock.AF_UNIX)
try:
    _s.connect("\0" + _NAME)
    _gk_note("the previous run's abstract socket answers")
except OSError:
    pass
'''

# -- odd and oversized answers -------------------------------------------------------------------

OUT_OF_RANGE = "lr_results = {10 ** 400: 0.0, 0.1: 10 ** 400}\nbest_lr = 10 ** 400\n"

# Every probe answers with an array whose `shape` lists 90,000 18-digit integers (1.7 MB of JSON,
# under the answer cap): math.prod over it cost the judge 41 s of CPU.
OVERSIZED = r'''
import json, IPython.display
_real_pub = IPython.display.publish_display_data
_GIANT = json.dumps({"ok": True, "value": {"__array__": [1.0] * 4, "shape": [10 ** 17 + 3] * 90000}})


def _pub(data, *args, **kwargs):
    if isinstance(data, dict) and any("gradekit" in k for k in data):
        data = {k: _GIANT for k in data}
    return _real_pub(data, *args, **kwargs)


IPython.display.publish_display_data = _pub
'''

# -- the cleanup and the trusted side's reading ---------------------------------------------------

DEEP_FOLDERS = r'''
import os
_top = os.getcwd()
for _ in range(3000):                   # Python 3.11's recursive rmtree gave up at ~1,000
    os.mkdir("d")
    os.chdir("d")
open("last", "w").close()
os.chmod(".", 0)
os.chdir(_top)
'''

# A thread writes to the runner's own stdout (ipykernel's copy of fd 1) while the notebook goes on:
# this cost the trusted supervisor 17.7 s of CPU when it read everything.
STDOUT_FLOOD = r'''
import os, sys, threading, time


def _flood():
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)   # the notebook's own work goes first
    except OSError:
        pass
    fds = [getattr(s, "_original_stdstream_copy", None) for s in (sys.stdout, sys.stderr)] + [1, 2]
    chunk = b"flood " * 10000
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for fd in fds:
            try:
                os.write(fd, chunk)
            except (OSError, TypeError):
                time.sleep(0.001)


threading.Thread(target=_flood, daemon=True).start()
'''
