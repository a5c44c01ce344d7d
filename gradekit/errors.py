"""The engine's own exceptions: setup mistakes a user can fix.  A bad *submission* is never an
exception: it becomes a result with a status and a message (see model.Status)."""


class GradekitError(Exception):
    """Base class; the CLI prints the message and exits 2, without a traceback."""


class SetupError(GradekitError):
    """The course repository or the machine is not set up as gradekit needs (says how to fix it)."""


class SandboxUnavailable(SetupError):
    """bubblewrap is missing or does not work here; grading untrusted code needs --unsafe-no-sandbox."""
