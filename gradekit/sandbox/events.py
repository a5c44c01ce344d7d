"""The runner's (untrusted) events -> an ExecutionReport: every field validated, a message a TA can act on."""
from __future__ import annotations

from typing import Any

from ..config import Limits
from ..model import CellRun, ExecutionReport, ProbeResult, Status
from ..probes import ProbeSpec, parse_probe_output
from .recipe import FIX_HINT
from .supervise import _Run


CELL_STATUSES = {"ok", "error", "timeout", "dead", "skipped"}
PROBE_STATUSES = {"ok", "error", "timeout", "not_run"}


def _num(v: Any) -> float:
    return float(v) if type(v) in (int, float) and v == v and abs(v) < 1e9 else 0.0


def _text(v: Any, n: int = 300) -> str | None:
    return v[:n] if isinstance(v, str) else None


def _report(run: _Run, probes: list[ProbeSpec], limits: Limits, wall: float, seconds: float) -> ExecutionReport:
    """Turn the runner's (untrusted) events into an ExecutionReport; validate every field."""
    cells: dict[int, CellRun] = {}
    results: dict[str, ProbeResult] = {}
    specs = {p.name: p for p in probes}
    kernel_events: list[dict] = []
    done: dict | None = None
    for ev in run.events:
        kind = ev.get("event")
        if kind == "cell":
            i, st = ev.get("index"), ev.get("status")
            if type(i) is int and 0 <= i < 100_000 and st in CELL_STATUSES and i not in cells:
                cells[i] = CellRun(i, st, _text(ev.get("error")), _num(ev.get("seconds")))
        elif kind == "probe":
            name, st = ev.get("name"), ev.get("status")
            if name in specs and name not in results and st in PROBE_STATUSES:
                results[name] = _probe_result(specs[name], ev)
        elif kind == "kernel":
            kernel_events.append(ev)
        elif kind == "done" and done is None:
            done = ev

    restarts = sum(1 for e in kernel_events if e.get("status") == "restarted")
    kernel_failed = next((e for e in kernel_events if e.get("status") == "failed"), None)
    started = any(e.get("status") == "started" for e in kernel_events)
    if run.killed_outside:
        status, head = Status.TIMEOUT, f"the run was stopped after {wall:.0f} s (its time limit)"
    elif done is not None and done.get("status") == "error":
        status = Status.ERROR
        head = (f"the notebook could not be started: {_text(done.get('error'), 200)}; if the kernel did not start, "
                f"check memory_mb ({limits.memory_mb}) and max_processes ({limits.max_processes}) in gradekit.toml")
    elif done is None and not started:
        status = Status.ERROR
        last = _log_tail(run.log, 3).replace("\n", " | ") or "no output"
        head = f"the sandbox did not start (exit {run.returncode}: {last}); {FIX_HINT}"
    elif done is None:
        status = Status.KERNEL_DIED
        head = f"the grading runner stopped unexpectedly (exit {run.returncode}); the notebook may have killed it"
    elif done.get("status") == "timeout":
        status, head = Status.TIMEOUT, f"the notebook hit its time limit of {limits.notebook_timeout_s:.0f} s"
    elif done.get("kernel_alive") is False:
        status, head = Status.KERNEL_DIED, "the kernel died and could not be restarted"
    else:
        status, head = Status.GRADED, None

    for p in probes:
        if p.name not in results:
            why = ("the run timed out before this probe" if status is Status.TIMEOUT
                   else "the kernel died before this probe" if status is Status.KERNEL_DIED
                   else "the probe did not report (runner stopped)")
            results[p.name] = ProbeResult(p.name, "not_run", dict(p.params), error=why)

    ordered = tuple(cells[i] for i in sorted(cells))
    dropped = [i for e in kernel_events if isinstance(e.get("dropped"), list)
               for i in e["dropped"] if type(i) is int and 0 <= i < 100_000][:50]
    parts = ([head] if head else []) + _cell_story(ordered, restarts, dropped, kernel_failed, limits)
    parts += [f"probe {r.name} {'timed out' if r.status == 'timeout' else 'was not run'}"
              for r in results.values() if r.status in ("timeout", "not_run") and status is Status.GRADED]
    if run.events_truncated:
        parts.append("some runner events were dropped (too much data)")
    if not parts:
        n = sum(1 for c in ordered if c.status == "ok")
        parts = [f"ran {n} code cell{'' if n == 1 else 's'} in {seconds:.1f} s"]
    message = "; ".join(parts[:5]) + (f"; (+{len(parts) - 5} more)" if len(parts) > 5 else "")
    return ExecutionReport(status=status, message=message, cells=ordered, probes=results,
                           seconds=round(seconds, 3), log_tail=_log_tail(run.log, 20),
                           supervisor_cpu_s=round(run.supervisor_cpu_s, 3))


def _probe_result(spec: ProbeSpec, ev: dict) -> ProbeResult:
    st, secs = ev["status"], _num(ev.get("seconds"))
    if st == "ok":
        out = ev.get("output")
        if not isinstance(out, str):
            return ProbeResult(spec.name, "error", dict(spec.params), error="the probe produced no answer", seconds=secs)
        st, value, err = parse_probe_output(out)
        return ProbeResult(spec.name, st, dict(spec.params), value, err, secs)
    return ProbeResult(spec.name, st, dict(spec.params), error=_text(ev.get("error")) or st, seconds=secs)


def _cell_story(cells: tuple[CellRun, ...], restarts: int, dropped_cells: list[int], kernel_failed: dict | None,
                limits: Limits) -> list[str]:
    """What a TA needs to know about the cells, shortest first.  Cells count from 1, top to bottom,
    markdown included (CellRun.index is the 0-based position)."""
    parts: list[str] = []
    stopped = [c for c in cells if c.status == "timeout" and c.error and "time limit" in c.error]
    timeouts = [c for c in cells if c.status == "timeout" and c not in stopped]
    if timeouts:
        parts.append(f"{_cells(timeouts)} timed out after {limits.cell_timeout_s:g} s and "
                     f"{'was' if len(timeouts) == 1 else 'were'} skipped")
    dead = [c for c in cells if c.status == "dead"]
    if dead:
        parts.append(f"{_cells(dead)} killed the kernel")
    if restarts:
        parts.append("kernel restarted" + (f" {restarts} times" if restarts > 1 else "") +
                     " and the successful cells replayed")
    dropped = sorted({i + 1 for i in dropped_cells})
    if dropped:
        parts.append(f"{_numbers('cell', dropped)} failed when replayed and "
                     f"{'was' if len(dropped) == 1 else 'were'} left out")
    if kernel_failed is not None:
        parts.append(f"kernel restart failed ({_text(kernel_failed.get('error'), 120)})")
    if stopped:
        parts.append(f"{_cells(stopped)} was stopped at the notebook's time limit")
    errors = [c for c in cells if c.status == "error"]
    if errors:
        first = errors[0]
        parts.append(f"{len(errors)} cell{'s' if len(errors) > 1 else ''} raised errors "
                     f"(first: cell {first.index + 1}, {(first.error or '')[:80]})")
    skipped = [c.index + 1 for c in cells if c.status == "skipped"]
    if skipped:
        span = f"cell {skipped[0]}" if len(skipped) == 1 else f"cells {skipped[0]}-{skipped[-1]}"
        parts.append(f"{span} not run")
    return parts


def _cells(cells: list[CellRun]) -> str:
    return _numbers("cell", [c.index + 1 for c in cells])


def _numbers(word: str, ns: list[int]) -> str:
    """'cell 3', 'cells 3 and 5', 'cells 3, 5, 6, 8, ... (9 in all)'."""
    if len(ns) == 1:
        return f"{word} {ns[0]}"
    if len(ns) > 5:
        return f"{word}s {', '.join(map(str, ns[:4]))}, ... ({len(ns)} in all)"
    return f"{word}s {', '.join(map(str, ns[:-1]))} and {ns[-1]}"


def _log_tail(log: bytes, lines: int) -> str:
    text = log.decode("utf-8", errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])[-4000:]
