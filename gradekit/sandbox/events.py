"""The runner's (untrusted) events -> an ExecutionReport: every field validated, a message a TA can act on."""
from __future__ import annotations

from typing import Any

from ..budgets import Budget
from ..config import Limits
from ..model import CellRun, ExecutionReport, ProbeResult, Status
from ..probes import ProbeSpec, parse_probe_output
from .offline import NEEDS_NETWORK_TEXT, needs_network
from .recipe import EXECUTED_NOTEBOOK_BYTES, FIX_HINT
from .supervise import _Run


CELL_STATUSES = {"ok", "error", "timeout", "dead", "skipped"}
PROBE_STATUSES = {"ok", "error", "timeout", "not_run"}


def _num(v: Any) -> float:
    return float(v) if type(v) in (int, float) and v == v and abs(v) < 1e9 else 0.0


def _text(v: Any, n: int = 300) -> str | None:
    return v[:n] if isinstance(v, str) else None


def _report(run: _Run, probes: list[ProbeSpec], limits: Limits, wall: float, seconds: float,
            labels: dict[int, str] | None = None, budget: Budget | None = None) -> ExecutionReport:
    """Turn the runner's (untrusted) events into an ExecutionReport; validate every field."""
    cells: dict[int, CellRun] = {}
    results: dict[str, ProbeResult] = {}
    specs = {p.name: p for p in probes}
    kernel_events: list[dict] = []
    notebook_parts: list[dict] = []
    done: dict | None = None
    for ev in run.events:
        kind = ev.get("event")
        if kind == "cell":
            i, st = ev.get("index"), ev.get("status")
            if type(i) is int and 0 <= i < 100_000 and st in CELL_STATUSES and i not in cells:
                cells[i] = CellRun(i, st, _text(ev.get("error")), _num(ev.get("seconds")), _num(ev.get("limit_s")))
        elif kind == "probe":
            name, st = ev.get("name"), ev.get("status")
            if name in specs and name not in results and st in PROBE_STATUSES:
                results[name] = _probe_result(specs[name], ev)
        elif kind == "kernel":
            kernel_events.append(ev)
        elif kind == "notebook":
            notebook_parts.append(ev)
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
        limit = budget.notebook_timeout_s if budget is not None else limits.notebook_timeout_s
        status, head = Status.TIMEOUT, f"the notebook hit its time limit of {limit:.0f} s"
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
    parts = ([head] if head else []) + _cell_story(ordered, restarts, dropped, kernel_failed, limits, labels)
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
                           notebook=_executed_notebook(notebook_parts, ordered),
                           supervisor_cpu_s=round(run.supervisor_cpu_s, 3))


def _executed_notebook(parts: list[dict], cells: tuple[CellRun, ...]) -> str | None:
    """The runner's executed notebook, put together from its pieces and checked: every piece once,
    at most EXECUTED_NOTEBOOK_BYTES, a valid nbformat-4 notebook; each code cell then marked with
    what the trusted side saw happen to it.  None when any of that fails (it is only for reading)."""
    from ..notebook_html import mark_cells

    n = parts[0].get("parts") if parts else None
    if type(n) is not int or not 0 < n == len(parts):
        return None
    pieces = sorted(parts, key=lambda e: e.get("part") if type(e.get("part")) is int else -1)
    if [e.get("part") for e in pieces] != list(range(n)) or not all(isinstance(e.get("data"), str) for e in pieces):
        return None
    text = "".join(e["data"] for e in pieces)
    if len(text) > EXECUTED_NOTEBOOK_BYTES:
        return None
    return mark_cells(text, cells)


def _probe_result(spec: ProbeSpec, ev: dict) -> ProbeResult:
    st, secs = ev["status"], _num(ev.get("seconds"))
    if st == "ok":
        out = ev.get("output")
        if not isinstance(out, str):
            return ProbeResult(spec.name, "error", dict(spec.params), error="the probe produced no answer", seconds=secs)
        st, value, err = parse_probe_output(out)
        return ProbeResult(spec.name, st, dict(spec.params), value, err, secs)
    return ProbeResult(spec.name, st, dict(spec.params), error=_text(ev.get("error")) or st, seconds=secs)


def cell_labels(notebook_json: str) -> dict[int, str]:
    """Cell index -> how a student finds that cell: its number among the code cells (markdown cells
    are not counted: students do not number them) and its first line."""
    import json

    try:
        cells = json.loads(notebook_json).get("cells") or []
    except (ValueError, AttributeError):
        return {}
    labels, n = {}, 0
    for i, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        n += 1
        src = cell.get("source")
        src = "".join(src) if isinstance(src, list) else src if isinstance(src, str) else ""
        first = next((ln.strip() for ln in src.splitlines() if ln.strip()), "")
        first = first if len(first) <= 40 else first[:37] + "..."
        labels[i] = f"code cell {n} (“{first}”)" if first else f"code cell {n}"
    return labels


def _cell_story(cells: tuple[CellRun, ...], restarts: int, dropped_cells: list[int], kernel_failed: dict | None,
                limits: Limits, labels: dict[int, str] | None = None) -> list[str]:
    """What a TA and the student need to know about the cells, shortest first.  A cell is named the
    way a student finds it (`cell_labels`: number among code cells, first line); errors caused by
    the sandbox having no network are told apart and not counted as the student's."""
    labels = labels or {}

    def name(indices: list[int]) -> str:
        if not indices:
            return ""
        if len(indices) == 1:
            return labels.get(indices[0], f"cell {indices[0] + 1}")
        shown = [labels.get(i, f"cell {i + 1}") for i in indices[:3]]
        more = f" and {len(indices) - 3} more" if len(indices) > 3 else ""
        return ", ".join(shown[:-1]) + (" and " if not more else ", ") + shown[-1] + more

    def verb(n: int) -> str:
        return "was" if n == 1 else "were"

    parts: list[str] = []
    stopped = [c for c in cells if c.status == "timeout" and c.error and "time limit" in c.error]
    timeouts = [c for c in cells if c.status == "timeout" and c not in stopped]
    if timeouts:
        limit = max(c.limit_s for c in timeouts) or limits.cell_timeout_s
        parts.append(f"{name([c.index for c in timeouts])} timed out after {limit:g} s and {verb(len(timeouts))} "
                     f"skipped")
    dead = [c.index for c in cells if c.status == "dead"]
    if dead:
        parts.append(f"{name(dead)} killed the kernel")
    if restarts:
        parts.append("kernel restarted" + (f" {restarts} times" if restarts > 1 else "") +
                     " and the successful cells replayed")
    dropped = sorted(set(dropped_cells))
    if dropped:
        parts.append(f"{name(dropped)} failed when replayed and {verb(len(dropped))} left out")
    if kernel_failed is not None:
        parts.append(f"kernel restart failed ({_text(kernel_failed.get('error'), 120)})")
    if stopped:
        parts.append(f"{name([c.index for c in stopped])} was stopped at the notebook's time limit")
    offline = [c for c in cells if c.status == "error" and needs_network(c.error)]
    if offline:
        parts.append(f"{name([c.index for c in offline])} {NEEDS_NETWORK_TEXT} ({(offline[0].error or '')[:80]})")
    errors = [c for c in cells if c.status == "error" and c not in offline]
    if errors:
        first = errors[0]
        parts.append(f"{len(errors)} cell{'s' if len(errors) > 1 else ''} raised errors "
                     f"(first: {name([first.index])}, {(first.error or '')[:80]})")
    skipped = [c.index for c in cells if c.status == "skipped"]
    if skipped:
        span = name(skipped) if len(skipped) <= 2 else f"{name(skipped[:1])} to {name(skipped[-1:])}"
        parts.append(f"{span} not run")
    return parts


def _log_tail(log: bytes, lines: int) -> str:
    text = log.decode("utf-8", errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])[-4000:]
