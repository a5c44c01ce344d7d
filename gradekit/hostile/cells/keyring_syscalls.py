# A hostile cell of the gradekit corpus: the head of the keyring cells: add_key/keyctl through libc's syscall().
import ctypes as _gk_ct, platform as _gk_pf
_gk_libc = _gk_ct.CDLL(None, use_errno=True)
_gk_libc.syscall.restype = _gk_ct.c_long
_ADD_KEY, _KEYCTL = {"aarch64": (217, 219)}.get(_gk_pf.machine(), (248, 250))      # x86_64 otherwise
_RINGS = ((-4, "user"), (-5, "user-session"), (-3, "session"))                     # KEY_SPEC_*
