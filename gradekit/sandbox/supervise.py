"""Supervise one runner process: feed it its plan, read its events and log with capped buffers, and
kill it at the wall-clock limit.  The runner shares its uid with the student's code, so everything it
says is untrusted data (parsed in gradekit.sandbox.events)."""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from .recipe import EVENT_LINE_BYTES, EVENTS_BASE_BYTES, EXECUTED_NOTEBOOK_BYTES, LOG_READ_BYTES, LOG_TAIL_BYTES


@dataclass
class _Run:
    events: list[dict] = field(default_factory=list)
    returncode: int | None = None
    killed_outside: bool = False
    events_truncated: bool = False
    log: bytes = b""
    log_bytes: int = 0                 # read from the runner's stdout/stderr (at most LOG_READ_BYTES)
    log_truncated: bool = False        # more was offered: no longer read
    supervisor_cpu_s: float = 0.0      # this thread's CPU time for the whole run (the trusted side's cost)



def _supervise(argv: list[str], env: dict[str, str], cwd: str, plan: bytes, wall: float,
               n_probes: int, sandboxed: bool, pass_fds: tuple[int, ...] = ()) -> _Run:
    """Start the runner, feed the plan, collect events and the log's start, kill it at the wall limit.

    Everything is read in this thread with a selector, and every buffer is capped.  The log (the
    runner's stdout/stderr: its own warnings, bubblewrap's errors) is read up to LOG_READ_BYTES and
    then no more: a runner that floods it blocks itself, and costs this trusted process nothing.  The
    kernel's and the student's processes do not share that pipe (kernel_runner gives the kernel a
    file in the sandbox's /tmp), so a flood from a notebook never stalls the runner's events.
    """
    cpu0 = time.thread_time()
    ev_r, ev_w = os.pipe()
    run = _Run()
    events_cap = EVENTS_BASE_BYTES + n_probes * EVENT_LINE_BYTES + 6 * EXECUTED_NOTEBOOK_BYTES
    try:
        proc = subprocess.Popen(argv + ["--events-fd", str(ev_w)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(ev_w, *pass_fds),
                                env=env, cwd=cwd, start_new_session=True)
    except BaseException:
        os.close(ev_r)
        os.close(ev_w)
        raise
    os.close(ev_w)
    deadline = time.monotonic() + wall
    sel = selectors.DefaultSelector()
    for f in (proc.stdin, proc.stdout):
        os.set_blocking(f.fileno(), False)
    os.set_blocking(ev_r, False)
    sel.register(ev_r, selectors.EVENT_READ, "events")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "log")
    sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "plan")
    pending = memoryview(plan)
    ev_buf, ev_total, skipping = bytearray(), 0, False
    log = bytearray()
    exited_at = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 2.0:
                break                      # a leftover child (unsandboxed) may hold the pipes open
            if now > deadline and not run.killed_outside:
                run.killed_outside = True
                _kill(proc, sandboxed)
                deadline = now + 10.0
            elif now > deadline:
                break
            for key, _ in sel.select(timeout=0.25):
                fd = key.fd
                if key.data == "plan":
                    try:
                        n = os.write(fd, pending[:65536])
                        pending = pending[n:]
                    except (BrokenPipeError, BlockingIOError) as e:
                        if isinstance(e, BlockingIOError):
                            continue
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    continue
                if key.data == "log":
                    log += chunk[:LOG_READ_BYTES - run.log_bytes]
                    run.log_bytes += len(chunk)
                    if len(log) > 2 * LOG_TAIL_BYTES:
                        del log[:-LOG_TAIL_BYTES]
                    if run.log_bytes >= LOG_READ_BYTES:
                        run.log_truncated = True
                        sel.unregister(fd)      # kept open: a writer now blocks instead of getting EPIPE
                    continue
                ev_buf += chunk
                while True:
                    nl = ev_buf.find(b"\n")
                    if nl < 0:
                        if len(ev_buf) > EVENT_LINE_BYTES:   # an over-long line: drop it whole
                            ev_buf.clear()
                            skipping = True
                        break
                    line = bytes(ev_buf[:nl])
                    del ev_buf[:nl + 1]
                    if skipping:
                        skipping = False
                        continue
                    ev_total += len(line)
                    if ev_total > events_cap:
                        run.events_truncated = True
                        continue
                    try:
                        ev = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(ev, dict):
                        run.events.append(ev)
    finally:
        if proc.poll() is None:
            _kill(proc, sandboxed)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        sel.close()
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        os.close(ev_r)
    run.returncode = proc.returncode
    run.log = bytes(log[-LOG_TAIL_BYTES:])
    run.supervisor_cpu_s = time.thread_time() - cpu0
    return run


def _kill(proc: subprocess.Popen, sandboxed: bool) -> None:
    """Sandboxed: SIGKILL bwrap's process group; the pid namespace takes every student process
    with it.  Unsandboxed: SIGTERM first so the runner can kill the kernel's own process group."""
    try:
        if not sandboxed:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
