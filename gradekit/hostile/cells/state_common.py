# A hostile cell of the gradekit corpus: the head of the state cells: the hand-over's name and SysV key, every
# writable folder.
import ctypes as _gk_ct, os as _os, socket as _gk_sock, sys as _gk_sys  # noqa: F401 (_gk_sock: for state_take)
_gk_libc = _gk_ct.CDLL(None, use_errno=True)
_NAME, _KEY = "gradekit-corpus-handover", 0x6B636F72     # what a store cell leaves goes by; its SysV IPC key


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
