"""Run one student notebook, then the grader's probes, in a fresh kernel; report events as JSON lines.

This file is the only part of gradekit that runs *inside* the sandbox: it is bind-mounted alone,
read-only, at /opt/gradekit/kernel_runner.py, so it imports nothing from gradekit (only the standard
library, nbformat, nbclient and jupyter_client).  It runs as the same unprivileged uid as the
student's kernel, so nothing it says is trusted: the trusted process validates every event.

Input: a JSON plan on stdin::

    {"notebook": path, "cell_timeout_s": s, "notebook_timeout_s": s, "output_bytes_per_cell": n,
     "probes": [{"name": n, "source": wrapped cell, "timeout_s": s}],
     # optional: "cwd", "tmp", "interrupt_grace_s", "max_restarts", "probe_answer_bytes",
     #           "executed_notebook_bytes" (> 0: hand back the notebook as it ran, at most this size),
     #           "cell_timeouts_s": {"<cell index>": s}  (per-cell limits; others get cell_timeout_s)}

Output: one JSON object a line on the events fd (3 unless ``--events-fd N``), flushed each time::

    {"event": "kernel", "status": "started|restarted|failed", "seconds": s, ...}
    {"event": "cell", "index": i, "status": "ok|error|timeout|dead|skipped", "error": str|null, "seconds": s,
     "limit_s": s}
    {"event": "probe", "name": n, "status": "ok|error|timeout|not_run", "output": str|null, "error": ..., "seconds": s}
    {"event": "notebook", "part": k, "parts": n, "data": str}   # the executed notebook's JSON, in pieces
    {"event": "done", "status": "ok|timeout|error", "seconds": s, "restarts": n, "kernel_alive": bool, ...}

Why the loop is hand-made around ``NotebookClient.async_execute_cell`` instead of ``execute()``:
a student cell may never return (a loop that ignores SIGINT), kill its kernel (``os._exit``, a
segfault, the memory limit) or flood the output.  nbclient interrupts on timeout and raises
``DeadKernelError`` on death, but then the notebook is over.  Here a wedged or dead kernel is
replaced by a fresh one in which the cells that succeeded so far are replayed, so the later cells
and the probes are still graded (a bounded number of times, within the notebook's deadline).
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import inspect
import json
import os
import queue
import resource
import shutil
import signal
import stat
import sys
import time
from typing import Any

# nbformat imports jsonschema, whose optional IRI format check (rfc3987_syntax, pulled in by
# jupyter_events) compiles dozens of lark grammars at import: 1.3 s per run, for a check nbformat's
# schema never uses.  Marking it absent makes jsonschema skip it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

PROBE_MIME = "application/x-gradekit-probe"   # keep in sync with gradekit.probes.PROBE_MIME
TIMEOUT_ENAME = "GradekitCellTimeout"          # the execute_reply nbclient fakes after an interrupt
ERROR_CHARS = 300
NOTEBOOK_CHUNK_CHARS = 1 << 20                 # one "notebook" event line carries at most this much
KERNEL_LOG = "kernel-output.log"               # in the private /tmp (see Runner.__init__)
KERNEL_LOG_TAIL = 4096                         # bytes of it copied to our stderr at the end, for TAs


def _now() -> float:
    return time.monotonic()


class Emitter:
    """Writes events to an inherited pipe; each line is complete when write() returns."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.t0 = _now()

    def __call__(self, event: str, **fields: Any) -> None:
        fields = {"event": event, **fields}
        data = (json.dumps(fields, separators=(",", ":"), default=str, ensure_ascii=False) + "\n").encode()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def _content_size(content: dict) -> int:
    """A cheap estimate of how much memory one output message keeps."""
    size = len(content.get("text") or "") if isinstance(content.get("text"), str) else 0
    for v in (content.get("data") or {}).values():
        size += len(v) if isinstance(v, str) else len(json.dumps(v, default=str))
    for line in content.get("traceback") or ():
        size += len(line) if isinstance(line, str) else 0
    return size


def _make_client_class():
    # Imported here so that a broken installation surfaces as an event, not as an import crash.
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """NotebookClient that keeps at most ``gk_cap`` bytes of outputs per cell.

        Student outputs are not needed by the grader at all, but a cell printing 100 MB or
        displaying a 50 MB image must not grow this process without bound: outputs past the cap
        are dropped.  In a probe cell the probe's answer (display data of ``PROBE_MIME``) is
        captured separately, with its own cap.
        """

        def gk_begin(self, cap: int, probe: bool, probe_cap: int) -> None:
            self.gk_cap, self.gk_used, self.gk_truncated = cap, 0, False
            self.gk_probe, self.gk_probe_cap = probe, probe_cap
            self.gk_answer: str | None = None
            self.gk_answer_problem: str | None = None

        def output(self, outs, msg, display_id, cell_index):  # noqa: D102 (nbclient's hook)
            content = msg.get("content") or {}
            if self.gk_probe and msg.get("msg_type") in ("display_data", "execute_result"):
                answer = (content.get("data") or {}).get(PROBE_MIME)
                if isinstance(answer, str) and len(answer) <= self.gk_probe_cap:
                    self.gk_answer, self.gk_answer_problem = answer, None
                elif answer is not None:
                    self.gk_answer_problem = f"probe answer too large or not text ({_content_size(content)} bytes)"
            size = _content_size(content)
            if self.gk_used + size > self.gk_cap:
                self.gk_truncated = True
                return None
            self.gk_used += size
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


class Outcome:
    __slots__ = ("status", "error", "seconds", "wedged", "answer")

    def __init__(self, status: str, error: str | None = None, seconds: float = 0.0,
                 wedged: bool = False, answer: str | None = None) -> None:
        self.status, self.error, self.seconds, self.wedged, self.answer = status, error, seconds, wedged, answer

    @property
    def needs_restart(self) -> bool:
        return self.status == "dead" or self.wedged


class Runner:
    def __init__(self, plan: dict, emit: Emitter) -> None:
        import nbformat

        self.plan, self.emit = plan, emit
        self.t0 = emit.t0
        self.cell_timeout = float(plan["cell_timeout_s"])
        self.cell_timeouts = {int(k): float(v) for k, v in (plan.get("cell_timeouts_s") or {}).items()}
        self.deadline = self.t0 + float(plan["notebook_timeout_s"])
        self.probes = list(plan.get("probes") or ())
        # Probes get their own time after the notebook's: a notebook that used all of its time is
        # still probed (status TIMEOUT, "what could be probed was").
        self.hard_deadline = self.deadline + sum(float(p["timeout_s"]) for p in self.probes)
        self.out_cap = int(plan.get("output_bytes_per_cell", 256 * 1024))
        self.probe_cap = int(plan.get("probe_answer_bytes", 2_100_000))
        self.grace = float(plan.get("interrupt_grace_s", 5.0))
        self.max_restarts = int(plan.get("max_restarts", 3))
        self.cwd = plan.get("cwd") or os.path.dirname(os.path.abspath(plan["notebook"]))
        self.tmp = plan.get("tmp") or "/tmp"
        self.nb = nbformat.read(plan["notebook"], as_version=4)
        self.good: list[int] = []       # code cells that succeeded: replayed after a restart
        self.ran: dict[int, list] = {}  # code cell -> its outputs (capped) in the notebook's own pass
        self.last_cell = None           # the cell object execute() ran last (holds its outputs)
        self.restarts = 0
        self.kernel_alive = False
        self.timed_out = False
        self.reply: dict | None = None
        self.timeout_now = 1.0
        self.kernel_env = self._kernel_env()
        # The kernel's own stdout/stderr (what a notebook writes to fd 1/2 or to ipykernel's
        # _original_stdstream_copy, and whatever its subprocesses print) goes to a file in the private
        # /tmp, never to our stdout: that pipe is read by the trusted side with a byte budget, and a
        # notebook flooding it would block our own writes to it.  The file is capped by /tmp's size.
        self.kernel_log_path = os.path.join(self.tmp, "gradekit-jupyter", KERNEL_LOG)
        self.kernel_log = open(self.kernel_log_path, "ab", buffering=0)
        client_class = _make_client_class()
        from traitlets.config import Config

        # Unix sockets in the private /tmp instead of TCP ports: no port races between slots when
        # running unsandboxed, and nothing listening on any network interface.
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": self._socket_base()}})
        self.client = client_class(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")]),
            kernel_name="python3",
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "cell timed out", "traceback": []},
            timeout_func=lambda cell: self.timeout_now,
            iopub_timeout=max(1, int(self.grace)),
            shutdown_kernel="immediate",
            record_timing=False,
            skip_cells_with_tag="\0gradekit: run every code cell",   # grading needs all of them
            on_cell_executed=self._on_cell_executed,
            config=ipc,
        )

    def timeout_of(self, index: int) -> float:
        """The time limit of code cell `index`: its budget, else the notebook-wide one."""
        return self.cell_timeouts.get(index, self.cell_timeout)

    # -- kernel ------------------------------------------------------------------------------
    def _socket_base(self) -> str:
        """Where the kernel's unix sockets go: the private tmp, unless its path is too long for a socket
        (108 bytes, and ZeroMQ appends "-<port>"): an unsandboxed run in a deep folder then gets a
        short private folder under /tmp (removed at exit)."""
        base = os.path.join(self.tmp, "gradekit-kernel")
        if len(base.encode()) <= 90:
            return base
        import atexit
        import tempfile

        short = tempfile.mkdtemp(prefix="gk-ipc-", dir="/tmp")
        atexit.register(shutil.rmtree, short, True)
        return os.path.join(short, "k")

    def _kernel_env(self) -> dict[str, str]:
        """The kernel's environment: one thread per library (grading slots share the cores),
        no display, private runtime/config folders in /tmp, the job folder as HOME."""
        keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
        env = {
            **keep,
            "HOME": self.cwd,
            "TMPDIR": self.tmp,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        for var in ("JUPYTER_RUNTIME_DIR", "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR",
                    "IPYTHONDIR", "MPLCONFIGDIR"):
            env[var] = os.environ[var]
        env.setdefault("LANG", "C.UTF-8")
        return env

    def _on_cell_executed(self, cell=None, cell_index=None, execute_reply=None) -> None:
        self.reply = execute_reply

    async def start_kernel(self, limit: float) -> str | None:
        """Start a kernel and its client; None when ready, else the reason it did not start."""
        c = self.client
        c.km = c.create_kernel_manager()
        c.startup_timeout = int(max(5, min(60, limit - _now())))
        try:
            await c.async_start_new_kernel(cwd=self.cwd, env=self.kernel_env, stdout=self.kernel_log,
                                           stderr=self.kernel_log)
            await c.async_start_new_kernel_client()
        except Exception as e:  # noqa: BLE001 - any failure to start is reported, not raised
            await self.stop_kernel()
            return _short(f"{type(e).__name__}: {e}")
        self.kernel_alive = True
        return None

    async def stop_kernel(self) -> None:
        """Kill the kernel's process group (SIGKILL) and forget it; never raises."""
        c = self.client
        km, kc = c.km, c.kc
        c.km = c.kc = None
        self.kernel_alive = False
        try:
            if kc is not None:
                kc.stop_channels()
        except Exception:  # noqa: BLE001
            pass
        if km is None:
            return
        try:
            await asyncio.wait_for(km.shutdown_kernel(now=True), timeout=10)
        except Exception:  # noqa: BLE001 - already dead, or stuck: fall back to the process group
            prov = getattr(km, "provisioner", None)
            pgid = getattr(prov, "pgid", None)
            if pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass

    async def responsive(self, wait: float) -> bool:
        """Does the kernel answer a request on its shell channel (where cells run) within wait s?

        kernel_info on the *control* channel would answer even while the main thread is stuck.
        """
        c = self.client
        try:
            if c.km is None or c.kc is None or not await c.km.is_alive():
                return False
            msg_id = c.kc.kernel_info()
            if inspect.isawaitable(msg_id):
                msg_id = await msg_id
            end = _now() + wait
            while (left := end - _now()) > 0:
                msg = await c.kc.shell_channel.get_msg(timeout=left)
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
        except (queue.Empty, asyncio.TimeoutError):
            return False
        except Exception:  # noqa: BLE001
            return False
        return False

    async def drain_iopub(self, budget: float) -> None:
        """Discard output a previous cell left queued (nbclient stops waiting for it after
        iopub_timeout), so that a probe's answer is not stuck behind 100 MB of old prints."""
        kc = self.client.kc
        end = _now() + budget
        try:
            while kc is not None and _now() < end:
                await kc.iopub_channel.get_msg(timeout=0.01)
        except (queue.Empty, asyncio.TimeoutError):
            pass
        except Exception:  # noqa: BLE001
            pass

    # -- one cell ------------------------------------------------------------------------------
    async def execute(self, source: str, timeout: float, probe: bool = False) -> Outcome:
        """Run source as one cell with a timeout; classify what happened to it and to the kernel."""
        from nbclient.exceptions import DeadKernelError
        import nbformat

        c = self.client
        t = _now()
        self.last_cell = None
        if c.kc is None:
            return Outcome("dead", "no kernel", 0.0)
        cell = nbformat.v4.new_code_cell(source)
        c.nb.cells = [cell]
        c.gk_begin(self.out_cap, probe, self.probe_cap)
        self.timeout_now = max(0.5, timeout)
        self.reply = None
        self.last_cell = cell
        try:
            await c.async_execute_cell(cell, 0)
        except DeadKernelError:
            self.kernel_alive = False
            return Outcome("dead", "the kernel died", _now() - t)
        except Exception as e:  # noqa: BLE001 - the channel broke: treat the kernel as lost
            self.kernel_alive = False
            return Outcome("dead", _short(f"kernel failure: {type(e).__name__}: {e}"), _now() - t)
        seconds = _now() - t
        content = (self.reply or {}).get("content") or {}
        status = content.get("status")
        if status == "ok":
            return Outcome("ok", None, seconds, answer=c.gk_answer if probe else None)
        if status == "error" and content.get("ename") == TIMEOUT_ENAME:
            alive = await self.responsive(min(self.grace, 2.0))
            return Outcome("timeout", f"timed out after {timeout:.0f} s", seconds, wedged=not alive)
        if status == "error":
            ename, evalue = str(content.get("ename") or "Error"), str(content.get("evalue") or "")
            err = f"{ename}: {evalue}" if evalue else ename
            return Outcome("error", _short(err), seconds, answer=c.gk_answer if probe else None)
        return Outcome("error", _short(f"execution {status or 'failed'}"), seconds)

    # -- recovery ------------------------------------------------------------------------------
    async def recover(self, limit: float, reason: str) -> bool:
        """Replace a dead or wedged kernel and replay the cells that succeeded, before limit.

        A replayed cell that now fails is dropped from the replay list; one that kills or wedges
        the new kernel costs another restart.  False when the restarts are used up or a kernel
        does not start: the notebook's kernel is lost.
        """
        while self.restarts < self.max_restarts:
            self.restarts += 1
            t = _now()
            await self.stop_kernel()
            if _now() >= limit:
                self.emit("kernel", status="failed", error="no time left to restart the kernel", reason=reason,
                          seconds=round(_now() - t, 3))
                return False
            problem = await self.start_kernel(limit)
            if problem:
                self.emit("kernel", status="failed", error=problem, reason=reason, seconds=round(_now() - t, 3))
                return False
            replayed, again, complete, dropped = 0, False, True, []
            for idx in list(self.good):
                left = limit - _now()
                if left <= 0:
                    complete = False
                    break
                out = await self.execute(self.nb.cells[idx].source, min(self.timeout_of(idx), left))
                if out.status == "ok":
                    replayed += 1
                    continue
                self.good.remove(idx)
                dropped.append(idx)
                if out.needs_restart:
                    reason = f"cell {idx} failed again during the replay ({out.status})"
                    again = True
                    break
            if not complete:
                self.timed_out = True       # the state the later cells expect is not all there
            self.emit("kernel", status="restarted", reason=reason, replayed=replayed, dropped=dropped,
                      replay_complete=complete and not again, restarts=self.restarts, seconds=round(_now() - t, 3))
            if not again:
                return True
        self.emit("kernel", status="failed", error=f"gave up after {self.restarts} restarts", reason=reason,
                  seconds=0.0)
        await self.stop_kernel()
        return False

    # -- the whole run ---------------------------------------------------------------------------
    async def run(self) -> None:
        emit = self.emit
        t = _now()
        problem = await self.start_kernel(self.hard_deadline)
        if problem:
            emit("kernel", status="failed", error=problem, seconds=round(_now() - t, 3))
            emit("done", status="error", error=f"the kernel did not start: {problem}",
                 seconds=round(_now() - self.t0, 3), restarts=0, kernel_alive=False, **self._usage())
            return
        emit("kernel", status="started", seconds=round(_now() - t, 3))

        lost = False
        for i, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if not cell.source.strip():
                emit("cell", index=i, status="ok", error=None, seconds=0.0)
                continue
            if lost:
                emit("cell", index=i, status="skipped", error="the kernel could not be restarted", seconds=0.0)
                continue
            left = self.deadline - _now()
            if left <= 0:
                self.timed_out = True
                emit("cell", index=i, status="skipped", error="the notebook's time limit was reached", seconds=0.0)
                continue
            limit = self.timeout_of(i)
            cut_by_deadline = left < limit
            out = await self.execute(cell.source, min(limit, left))
            if out.status == "timeout" and cut_by_deadline:
                self.timed_out = True
                out.error = "stopped at the notebook's time limit"
            emit("cell", index=i, status=out.status, error=out.error, seconds=round(out.seconds, 3),
                 limit_s=round(limit, 3), **({"wedged": True} if out.wedged else {}))
            self.ran[i] = list(self.last_cell.get("outputs", [])) if self.last_cell is not None else []
            if out.status == "ok":
                self.good.append(i)
            elif out.needs_restart:
                if self.timed_out:
                    # No time is left to replay: probing an empty kernel would only mislead.
                    await self.stop_kernel()
                    lost = True
                elif not await self.recover(self.deadline, f"cell {i} {'died' if out.status == 'dead' else 'hung'}"):
                    lost = True

        for p in self.probes:
            name = str(p["name"])
            if lost or not self.kernel_alive:
                why = ("the notebook timed out while its kernel was stuck or dead" if self.timed_out
                       else "the kernel died and could not be restarted")
                emit("probe", name=name, status="not_run", output=None, error=why, seconds=0.0)
                continue
            left = self.hard_deadline - _now()
            if left <= 0:
                emit("probe", name=name, status="not_run", output=None, error="no time left", seconds=0.0)
                continue
            await self.drain_iopub(min(self.grace, left / 2))
            out = await self.execute(p["source"], min(float(p["timeout_s"]), left), probe=True)
            status = {"ok": "ok", "timeout": "timeout"}.get(out.status, "error")
            error = out.error
            if out.status == "dead":
                error = "the kernel died while running the probe"
            elif out.status == "ok" and out.answer is None:
                status, error = "error", self.client.gk_answer_problem or "the probe produced no answer"
            emit("probe", name=name, status=status, output=out.answer if status == "ok" else None,
                 error=error, seconds=round(out.seconds, 3))
            if out.needs_restart and not await self.recover(self.hard_deadline, f"probe {name} {out.status}"):
                lost = True

        alive = self.kernel_alive and not lost
        await self.stop_kernel()
        self.emit_notebook(int(self.plan.get("executed_notebook_bytes", 0)))
        emit("done", status="timeout" if self.timed_out else "ok", seconds=round(_now() - self.t0, 3),
             restarts=self.restarts, kernel_alive=alive, **self._usage())

    def emit_notebook(self, cap: int) -> None:
        """Hand back the notebook as it ran: each code cell with the outputs of the notebook's own
        pass (as capped above; not the replays, not the probes).  Over ``cap`` bytes, the largest
        cells' outputs are dropped first, each replaced by a note saying so."""
        if cap <= 0:
            return
        import nbformat

        try:
            nb = self.nb
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    cell.outputs = self.ran.get(i, [])
                    cell.execution_count = None
            sizes = sorted(((len(json.dumps(c.get("outputs", []))), i) for i, c in enumerate(nb.cells)
                            if c.cell_type == "code" and c.outputs), reverse=True)
            text = nbformat.writes(nb)
            while len(text.encode()) > cap and sizes:
                _, i = sizes.pop(0)
                nb.cells[i].outputs = [nbformat.v4.new_output(
                    "stream", name="stderr", text="[gradekit: this cell's outputs were dropped: the executed "
                                                  "notebook was over its size limit]\n")]
                text = nbformat.writes(nb)
            if len(text.encode()) > cap:
                raise ValueError(f"the notebook is over {cap} bytes even without outputs")
        except Exception as e:  # noqa: BLE001 - the run's result does not depend on this
            self.emit("notebook", part=0, parts=0, error=_short(f"{type(e).__name__}: {e}"))
            return
        chunks = [text[k:k + NOTEBOOK_CHUNK_CHARS] for k in range(0, len(text), NOTEBOOK_CHUNK_CHARS)]
        for k, chunk in enumerate(chunks):
            self.emit("notebook", part=k, parts=len(chunks), data=chunk)

    @staticmethod
    def _usage() -> dict:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {"runner_maxrss_kb": own, "kernel_maxrss_kb": kids}


def _set_private_env(tmp: str, mpl_cache: str | None = None) -> None:
    """Jupyter's runtime/config/data folders and a kernelspec of our own, all in the private /tmp.

    The kernelspec pins the kernel to this interpreter (no kernel.json found elsewhere is used).
    matplotlib's font list is copied from the trusted side's prebuilt cache, when there is one.
    """
    base = os.path.join(tmp, "gradekit-jupyter")
    for sub in ("runtime", "data", "config", "ipython", "mpl", "path/kernels/python3"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    try:
        for name in os.listdir(mpl_cache or ""):
            if name.startswith("fontlist") and name.endswith(".json"):
                shutil.copyfile(os.path.join(mpl_cache, name), os.path.join(base, "mpl", name))
    except OSError:
        pass
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (gradekit)", "language": "python", "interrupt_mode": "signal"}
    with open(os.path.join(base, "path/kernels/python3/kernel.json"), "w") as f:
        json.dump(spec, f)
    os.environ.update({
        "TMPDIR": tmp,                      # connection files: never the host's /tmp when unsandboxed
        "JUPYTER_RUNTIME_DIR": os.path.join(base, "runtime"),
        "JUPYTER_DATA_DIR": os.path.join(base, "data"),
        "JUPYTER_CONFIG_DIR": os.path.join(base, "config"),
        "JUPYTER_PATH": os.path.join(base, "path"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": os.path.join(base, "ipython"),
        "MPLCONFIGDIR": os.path.join(base, "mpl"),
    })


def _copy_tail(path: str, n: int) -> None:
    """The last n bytes of the kernel's output file onto our stderr (the log tail TAs see)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)   # the notebook may have swapped it
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return
            f.seek(max(0, st.st_size - n))
            tail = f.read(n)
        if tail.strip():
            sys.stderr.write("--- the kernel's output (last %d bytes) ---\n" % len(tail))
            sys.stderr.write(tail.decode("utf-8", errors="replace") + "\n")
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _make_undumpable() -> None:
    """Student code runs under our uid: without this it could open /proc/<runner>/fd/<events> and
    forge events, or read the plan (probe parameters) from our memory.  Non-dumpable processes'
    /proc entries belong to root and cannot be ptraced by the same uid."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:  # noqa: BLE001 - best effort (not Linux)
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events-fd", type=int, default=3)
    args = ap.parse_args(argv)
    fd = args.events_fd
    os.set_inheritable(fd, False)          # the kernel must not be able to write events
    _make_undumpable()
    emit = Emitter(fd)
    try:
        plan = json.loads(sys.stdin.read())
    except ValueError as e:
        emit("done", status="error", error=f"unreadable plan: {e}", seconds=0.0, restarts=0, kernel_alive=False)
        return 2
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _set_private_env(plan.get("tmp") or "/tmp", plan.get("mpl_cache"))

    async def _main() -> None:
        runner = None
        try:
            runner = Runner(plan, emit)
        except Exception as e:  # noqa: BLE001
            emit("done", status="error", error=_short(f"{type(e).__name__}: {e}"),
                 seconds=round(_now() - emit.t0, 3), restarts=0, kernel_alive=False)
            return
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await runner.run()
        finally:
            await runner.stop_kernel()
            _copy_tail(runner.kernel_log_path, KERNEL_LOG_TAIL)

    try:
        asyncio.run(_main())
    except asyncio.CancelledError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
