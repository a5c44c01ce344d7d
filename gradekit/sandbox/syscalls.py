"""The seccomp filter every sandboxed run gets (bubblewrap's ``--seccomp FD``): no kernel keyrings.

Why: Linux keyrings belong to a uid, not to a namespace bubblewrap can give us.  Without a filter, a
notebook stores data with ``add_key`` in its uid's user keyring (or the session keyring it inherits)
and the next notebook graded in the same slot -- same uid -- reads it back with ``keyctl``: a sweep
handed from one student to the next, living until reboot.  A fresh user namespace per run would hide
the user keyrings too, but the recipe deliberately runs without one (a real unprivileged uid is what
makes RLIMIT_NPROC bind, see the package docstring).  So the three keyring system calls are refused.

They fail with ENOSYS ("this kernel has no keyrings"), not EPERM: libraries that try keyrings
(Kerberos, keyutils users) then take their no-keyring path instead of reporting a permission error.
Everything else is allowed; calls of another ABI (i386 ``int 0x80``, x32) kill the thread, which is
libseccomp's default for an architecture the filter was not built for -- they could otherwise reach
the keyring calls under other numbers.

The program is compiled once per process by libseccomp (Debian's libseccomp2, through the pyseccomp
ctypes binding) rather than written by hand: libseccomp handles the architecture checks and the x32
syscall bit, which a hand-written BPF program easily gets wrong.
"""
from __future__ import annotations

import errno
import os
import threading

REFUSED_SYSCALLS = ("add_key", "keyctl", "request_key")

_BPF: dict[str, bytes] = {}
_LOCK = threading.Lock()


class FilterUnavailable(RuntimeError):
    """libseccomp (or its Python binding) is missing: the sandbox cannot keep runs apart."""


def filter_program() -> bytes:
    """The compiled BPF program (cached per process); FilterUnavailable when libseccomp is missing."""
    with _LOCK:
        if "bpf" not in _BPF:
            _BPF["bpf"] = _compile()
        return _BPF["bpf"]


def _compile() -> bytes:
    try:
        import pyseccomp
    except (ImportError, OSError) as e:          # OSError: the binding loads libseccomp.so.2 at import
        raise FilterUnavailable(f"the seccomp filter needs libseccomp2 and pyseccomp ({e})") from None
    flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in REFUSED_SYSCALLS:
        flt.add_rule(pyseccomp.ERRNO(errno.ENOSYS), name)
    r, w = os.pipe()
    try:
        with open(w, "wb", closefd=True) as out:
            flt.export_bpf(out)      # a few hundred bytes: far below the pipe's buffer
        with open(r, "rb", closefd=False) as inp:
            return inp.read()
    finally:
        os.close(r)


def filter_fd() -> int:
    """A fresh file descriptor holding the program, positioned at its start, for one bubblewrap
    (which reads it to the end).  The caller passes it on (``pass_fds``) and closes it."""
    program = filter_program()
    fd = os.memfd_create("gradekit-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
