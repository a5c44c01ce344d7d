"""Errors that only mean "this cell needs the internet": the sandbox has no network, by design.

A cell that loads an image from a URL or pip-installs a package fails inside the sandbox with a
DNS failure or an unreachable network; that is the grader's choice, not the student's mistake, so
such errors are told apart (flag ``needs_network``) and not blamed on the student.  Matched on the
error text the kernel reports (type name and message), which is all the trusted side sees.
"""
from __future__ import annotations

import re

# What Python, urllib, requests/urllib3, socket and pip say when there is no network at all.
# A refused connection counts only with a host name or an outside address in the message: on the
# sandbox's own loopback it is an ordinary bug.
_NO_NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|No address associated with hostname"
    r"|nodename nor servname provided|getaddrinfo failed|\bgaierror\b|Network is unreachable"
    r"|NameResolutionError|Failed to resolve|Failed to establish a new connection"
    r"|Max retries exceeded with url|URLError: <urlopen error"
    r"|Could not resolve host|ConnectionRefusedError.*https?://(?!localhost|127\.)",
    re.IGNORECASE)

NEEDS_NETWORK_TEXT = "needs the internet, and grading runs offline: not counted as your error"


def needs_network(error: str | None) -> bool:
    """Is this cell error caused by the sandbox having no network?"""
    return bool(error) and _NO_NETWORK.search(error) is not None
