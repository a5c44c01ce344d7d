# A hostile cell of the gradekit corpus: DNS, TCP out, the grader's loopback port and abstract socket on the host.
# It runs after prelude.py: the names imported below exist there.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prelude import _GK, _gk_note

import socket


def _gk_try(what, fn):
    try:
        result = fn()
    except BaseException:
        return
    if result:
        _gk_note("%s: %s" % (what, result))


def _gk_tcp(host, port):
    s = socket.create_connection((host, port), timeout=2)
    s.close()
    return "connected"


def _gk_unix(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(name)
    s.close()
    return "connected"


for _host in ("example.com", "pypi.org"):
    _gk_try("dns " + _host, lambda: [a[4][0] for a in socket.getaddrinfo(_host, 443)
                                      if not a[4][0].startswith(("127.", "::1"))])
for _ip, _port in (("1.1.1.1", 53), ("8.8.8.8", 443), ("93.184.215.14", 80)):
    _gk_try("tcp %s:%d" % (_ip, _port), lambda: _gk_tcp(_ip, _port))
for _ip in ["127.0.0.1", "::1"] + _GK["host_ips"]:
    _gk_try("the grader's port on %s" % _ip, lambda: _gk_tcp(_ip, _GK["port"]))
_gk_try("the grader's abstract socket", lambda: _gk_unix("\0" + _GK["abstract"]))
_gk_try("network interfaces", lambda: [n for _, n in socket.if_nameindex() if n != "lo"])
