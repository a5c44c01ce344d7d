# A hostile cell of the gradekit corpus: the next run in the same slot (same uid) reads the keys back.
# It runs after keyring_syscalls.py and prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyring_syscalls import _KEYCTL, _RINGS, _gk_ct, _gk_libc
    from prelude import _gk_note

for _ring, _name in _RINGS:
    _k = _gk_libc.syscall(_KEYCTL, 10, _gk_ct.c_int(_ring), b"user", b"gradekit-corpus-handover", 0)   # KEYCTL_SEARCH
    if _k >= 0:
        _buf = _gk_ct.create_string_buffer(512)
        _n = _gk_libc.syscall(_KEYCTL, 11, _gk_ct.c_int(_k), _buf, 512)                      # KEYCTL_READ
        _gk_note("the previous run's key in the %s keyring: %r" % (_name, _buf.raw[:max(0, min(_n, 60))]))
try:
    with open("/proc/keys") as _f:
        if "gradekit-corpus-handover" in _f.read():
            _gk_note("/proc/keys lists the previous run's key")
except OSError:
    pass
