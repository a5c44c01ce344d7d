"""Benchmark (issue #7): grade one cohort with nbgrader's autograde and with gradekit, in one run.

    .venv/bin/python bench/run.py [--students 8] [--profile grading|tiny] [--workers N]
                                  [--skip-nbgrader] [--out DIR]

1. builds a cohort of N submissions from the release (correct and flawed, distinct CIDs) with
   autograder/<assignment>/variants.py;
2. measures the floor: each notebook run once with plain nbclient (no sandbox, one thread), plus the
   reference work the checks need for it (the learning rates they compare for the student's
   lr_results, one thread; the full sweep of each CID is timed rate by rate and reported too);
   floor = their CPU seconds / cores (wall times are printed too: on a shared machine they grow with
   other people's load, CPU seconds hardly do);
3. grades the cohort with `nbgrader autograde` (a temporary course folder: the instructor source, so
   nbgrader has the hidden tests that recompute the reference sweep inline; serial; one thread);
4. grades it with gradekit's batch grader (local pool, one worker per core, a cold reference cache);
5. prints wall time, CPU time, peak memory (per worker: sampled with psutil over each worker's
   process tree, sandbox and kernel included), gradekit's per-stage times, the ratios, and PASS/FAIL
   against the issue's targets.  Raw numbers go to <out>/bench.json.

Each measured phase runs as a child process reaped with os.wait4, so its CPU time and peak RSS are
its own (children included).  The machine may be shared: the load average is printed before and after.
Not a test: nothing here runs under pytest.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GiB = 1 << 30
MiB = 1 << 20
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
NBGRADER_CELLS = {"test_perceptron": "perceptron", "test_sigmoid": "sigmoid", "test_simple_cnn": "simple_cnn",
                  "test_lr_sweep": "lr_sweep", "test_best_lr": "best_lr"}

# The issue's targets.
TARGET_SPEEDUP = 3.0
TARGET_WALL_OVER_FLOOR = 1.15
TARGET_OVERHEAD_S = 0.5
TARGET_WORKER_BYTES = 2 * GiB


# ---- the cohort ----------------------------------------------------------------------------------

def recipes(v):
    """(label, build(release, source, name, cid, profile)) — cycled to make N students."""
    everything = dict(fixed=v.BUG_PARTS, solved=v.TASK_PARTS)

    def full(r, s, name, cid, p):
        return v.student(r, s, name=name, cid=cid, profile=p, **everything)

    return [
        ("full marks", full),
        ("sweep without re-seeding", lambda *a: v.sweep_without_reinit(full(*a))),
        ("perceptron fixed, tasks unanswered",
         lambda r, s, name, cid, p: v.student(r, s, name=name, cid=cid, profile=p, fixed=["perceptron"])),
        ("sigmoid with math.exp", lambda *a: v.sigmoid_not_vectorised(full(*a))),
        ("SimpleCNN hidden layer of 64", lambda *a: v.cnn_wrong_sizes(full(*a))),
        ("sweep printed, no lr_results", lambda *a: v.sweep_printed_only(full(*a))),
        ("bugs fixed, tasks unanswered",
         lambda r, s, name, cid, p: v.student(r, s, name=name, cid=cid, profile=p, fixed=v.BUG_PARTS)),
        ("full marks", full),
    ]


def build_cohort(course, cfg, n: int) -> list[dict]:
    import nbformat

    v = course.content_module("variants")
    release = nbformat.read(cfg.release, as_version=4)
    source = nbformat.read(cfg.source, as_version=4)
    rs = recipes(v)
    cohort = []
    for i in range(n):
        label, build = rs[i % len(rs)]
        key, cid = f"s{i + 1:02d}", 1000001 + i
        nb = build(release, source, f"Student {i + 1}", cid, course.profile)
        cohort.append({"key": key, "cid": cid, "variant": label, "notebook": nbformat.writes(nb)})
    return cohort


def place_files(dest: Path, files: dict) -> None:
    """The job files (relative path -> host path) the sandbox gets, copied into an ordinary folder."""
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(src).is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, target)


# ---- measuring child processes -------------------------------------------------------------------

class TreeSampler:
    """Samples the RSS of this process's descendants (psutil) every `interval` seconds.

    Per sample, each process's subtree RSS (itself + descendants) is summed; `peaks` keeps the
    largest subtree sum seen per pid, `labels` a short name.  RSS sums count shared pages (the
    torch libraries) once per process, so they are an upper bound of the real footprint."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.anon_peaks: dict[int, int] = {}   # the same, counting only private (anonymous) pages
        self.single: dict[int, int] = {}
        self.labels: dict[int, str] = {}
        self.parents: dict[int, int] = {}
        self.total_peak = 0
        self.cpu: dict[int, float] = {}      # latest user+system seconds of each process seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        ps = self.psutil
        rss: dict[int, int] = {}
        anon: dict[int, int] = {}
        parent: dict[int, int] = {}
        try:
            procs = self.me.children(recursive=True)
        except ps.Error:
            return
        for p in procs:
            try:
                with p.oneshot():
                    mem = p.memory_info()
                    rss[p.pid], anon[p.pid] = mem.rss, mem.rss - mem.shared
                    parent[p.pid] = p.ppid()
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                    # read each time: a spawned worker shows its parent's command line until it execs
                    # (and a zombie shows none: keep the last one seen)
                    label = " ".join(p.cmdline())[:160]
                    if label:
                        self.labels[p.pid] = label
            except ps.Error:
                continue
        subtree, subtree_anon = dict(rss), dict(anon)
        for pid in rss:  # add each process's RSS to every ancestor's subtree
            q = parent.get(pid)
            while q in rss:
                subtree[q] += rss[pid]
                subtree_anon[q] += anon[pid]
                q = parent.get(q)
        for pid, total in subtree.items():
            self.peaks[pid] = max(self.peaks.get(pid, 0), total)
            self.anon_peaks[pid] = max(self.anon_peaks.get(pid, 0), subtree_anon[pid])
            self.single[pid] = max(self.single.get(pid, 0), rss[pid])
            self.parents[pid] = parent[pid]
        self.total_peak = max(self.total_peak, sum(rss.values()))

    def reset(self) -> None:
        self.peaks.clear()
        self.anon_peaks.clear()
        self.cpu.clear()

    def cpu_by_role(self) -> dict[str, float]:
        """Sampled CPU seconds per kind of process (misses each process's last interval)."""
        out: dict[str, float] = {}
        for pid, secs in self.cpu.items():
            out[role(self.labels.get(pid, ""))] = out.get(role(self.labels.get(pid, "")), 0.0) + secs
        return out

    def workers_of(self, root_pid: int, anon: bool = False) -> dict[int, int]:
        """Peak subtree RSS (or private RSS) of the pool workers of root_pid: the children of its
        forkserver (gradekit.executors.worker_context), which is the one forkserver child of root_pid."""
        peaks = self.anon_peaks if anon else self.peaks
        servers = {pid for pid, parent in self.parents.items()
                   if parent == root_pid and "forkserver" in self.labels.get(pid, "")}
        return {pid: peak for pid, peak in peaks.items() if self.parents.get(pid) in servers}


def role(cmdline: str) -> str:
    for needle, name in (("ipykernel_launcher", "kernel"), ("kernel_runner.py", "sandbox runner"),
                         ("forkserver", "pool worker"), ("bwrap", "bwrap"), ("--phase gradekit", "batch process"),
                         ("nbgrader", "nbgrader")):
        if needle in cmdline:
            return name
    return "other"


def run_measured(argv: list[str], *, env: dict, cwd: Path | str, log: Path) -> dict:
    """Run argv to completion; wall time, and CPU time / peak RSS of it and all its descendants."""
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=str(cwd), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
            "maxrss_bytes": ru.ru_maxrss * 1024, "returncode": proc.returncode, "pid": proc.pid}


def base_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "MPL"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env["PYTHONPATH"] = str(REPO)
    env.update(ONE_THREAD)
    env.update(extra)
    return env


# ---- the floor -----------------------------------------------------------------------------------

NOTEBOOK_SCRIPT = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
path, timeout, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
nb = nbformat.read(path, as_version=4)
# One extra cell reports the student's lr_results (what the reference work of the checks depends on).
nb.cells.append(nbformat.v4.new_code_cell(
    "import json as _json\n"
    "_r = globals().get('lr_results')\n"
    "try:\n"
    "    print('__LR_RESULTS__' + _json.dumps([[repr(float(k)), repr(float(v))] for k, v in _r.items()]))\n"
    "except Exception:\n"
    "    print('__LR_RESULTS__null')\n"))
client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                        resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}})
t = time.perf_counter()
client.execute()
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
errors = [o.get("ename") for c in nb.cells[:-1] if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
marked = [o.get("text", "") for o in nb.cells[-1].get("outputs", []) if o.get("name") == "stdout"]
lr = json.loads("".join(marked).split("__LR_RESULTS__", 1)[1]) if marked and "__LR_RESULTS__" in "".join(marked) else None
json.dump({"wall_s": wall, "kernel_cpu_s": ru.ru_utime + ru.ru_stime, "kernel_maxrss_bytes": ru.ru_maxrss * 1024,
           "errors": errors, "lr_results": lr}, open(out, "w"))
"""

REFERENCE_SCRIPT = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from reference.microscopy import lr_sweep
p = json.loads(sys.argv[1])
out = {}
for cid in p["cids"]:
    out[str(cid)] = rates = {}
    for rate in p["learning_rates"]:   # one rate at a time, as the checks ask for them
        t, c = time.perf_counter(), time.thread_time()
        loss = lr_sweep(cid, [rate], num_images=p["num_images"], num_epochs=p["num_epochs"], data_seed=p["data_seed"])[rate]
        rates[repr(rate)] = {"wall_s": time.perf_counter() - t, "cpu_s": time.thread_time() - c, "loss": repr(loss)}
json.dump(out, open(sys.argv[2], "w"))
"""


def measure_floor(cohort: list[dict], files: dict, course, cfg, work: Path) -> dict:
    """Each notebook once with plain nbclient (one thread, no sandbox, no probes), and each distinct
    CID's reference sweep at one thread, rate by rate: the compute nobody can avoid.  The floor's
    reference work for a student is the rates the checks compare for that student's lr_results
    (course.expected_sweep: every rate; none without lr_results -- unless `gradekit precompute` ran
    before the deadline, which this does not model); the full sweep is reported next to it."""
    profile = course.profile
    env = base_env(MPLBACKEND="Agg")  # as in gradekit's kernel: plt.show() renders nothing
    notebooks = {}
    for s in cohort:
        d = work / "floor" / s["key"]
        d.mkdir(parents=True)
        place_files(d, files)
        (d / "ann.ipynb").write_text(s["notebook"])
        res_file = d / "floor.json"
        outer = run_measured([sys.executable, "-c", NOTEBOOK_SCRIPT, str(d / "ann.ipynb"),
                              str(cfg.limits.cell_timeout_s), str(res_file)], env=env, cwd=d, log=d / "log.txt")
        inner = json.loads(res_file.read_text()) if res_file.exists() else {"wall_s": float("nan")}
        notebooks[s["key"]] = {**inner, "process_cpu_s": outer["cpu_s"], "process_wall_s": outer["wall_s"]}
        print(f"  floor {s['key']}: notebook {inner['wall_s']:.1f} s wall, {inner.get('kernel_cpu_s', 0):.1f} s kernel CPU",
              flush=True)
    cids = sorted({s["cid"] for s in cohort})
    params = {"cids": cids, "learning_rates": [float(r) for r in profile["learning_rates"]],
              "num_images": int(profile["num_images"]), "num_epochs": int(profile["num_epochs"]),
              "data_seed": int(profile["data_seed"])}
    ref_file = work / "floor" / "reference.json"
    run_measured([sys.executable, "-c", REFERENCE_SCRIPT, json.dumps(params), str(ref_file)], env=env,
                 cwd=REPO, log=work / "floor" / "reference.log")
    per_rate = {int(cid): {float(r): {**v, "loss": float(v["loss"])} for r, v in rates.items()}
                for cid, rates in json.loads(ref_file.read_text()).items()}
    references = {}
    for s in cohort:
        rates = per_rate[s["cid"]]
        needed = needed_rates(course, s["cid"], notebooks[s["key"]].get("lr_results"), rates)
        references[s["key"]] = {
            "cid": s["cid"], "rates_needed": needed,
            "cpu_s": sum(rates[r]["cpu_s"] for r in needed), "wall_s": sum(rates[r]["wall_s"] for r in needed),
            "full_sweep_cpu_s": sum(v["cpu_s"] for v in rates.values()),
            "full_sweep_wall_s": sum(v["wall_s"] for v in rates.values())}
    print(f"  floor references: {len(per_rate)} CIDs, full sweeps {sum(v['cpu_s'] for r in per_rate.values() for v in r.values()):.1f} s CPU; "
          f"the checks need {sum(r['cpu_s'] for r in references.values()):.1f} s", flush=True)
    return {"notebooks": notebooks, "references": references}


def needed_rates(course, cid: int, lr_results, per_rate: dict) -> list[float]:
    """The rates the lr_sweep checks compare for this student's lr_results (none when there is no
    usable lr_results): the course's own choice (expected_sweep), answered from the losses the floor
    measured instead of the reference cache."""
    if not lr_results:
        return []
    try:
        student = {float(k): float(v) for k, v in lr_results}
    except (TypeError, ValueError):
        return []

    def measured(fn, *, learning_rates, **_):
        return {r: per_rate[r]["loss"] for r in learning_rates}

    return list(course.module.expected_sweep(measured, course.profile, cid, student))


# ---- nbgrader ------------------------------------------------------------------------------------

def setup_nbgrader_course(course_dir: Path, cohort: list[dict], files: dict, source_nb_text: str, cfg) -> None:
    course_dir.mkdir(parents=True)
    conf = (REPO / "nbgrader_config.py").read_text()
    conf += ("\n# bench/run.py: the same per-cell time limit as gradekit's (nbgrader's default is 30 s)\n"
             f"c.Execute.timeout = {int(cfg.limits.cell_timeout_s)}\n")
    (course_dir / "nbgrader_config.py").write_text(conf)
    src = course_dir / "source" / cfg.assignment
    src.mkdir(parents=True)
    (src / f"{cfg.assignment}.ipynb").write_text(source_nb_text)
    place_files(src, files)
    for s in cohort:
        sub = course_dir / "submitted" / s["key"] / cfg.assignment
        sub.mkdir(parents=True)
        (sub / f"{cfg.assignment}.ipynb").write_text(s["notebook"])
        place_files(sub, files)


def nbgrader_scores(course_dir: Path, assignment: str, keys: list[str]) -> dict:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for key in keys:
            try:
                nb = gb.find_submission_notebook(assignment, assignment, key)
            except Exception as e:  # noqa: BLE001 - not graded at all
                out[key] = {"error": str(e)}
                continue
            out[key] = {NBGRADER_CELLS.get(g.name, g.name): [g.score, g.max_score] for g in nb.grades
                        if g.max_score}
    return out


def run_nbgrader(cohort, files, source_nb_text, cfg, work: Path, sampler: TreeSampler) -> dict:
    course_dir = work / "nbgrader"
    setup_nbgrader_course(course_dir, cohort, files, source_nb_text, cfg)
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    env = base_env()
    gen = run_measured([nbgrader, "generate_assignment", cfg.assignment, "--force"], env=env, cwd=course_dir,
                       log=course_dir / "generate_assignment.log")
    if gen["returncode"] != 0:
        raise SystemExit(f"nbgrader generate_assignment failed; see {course_dir / 'generate_assignment.log'}")
    sampler.reset()
    res = run_measured([nbgrader, "autograde", cfg.assignment, "--force"], env=env, cwd=course_dir,
                       log=course_dir / "autograde.log")
    if res["returncode"] != 0:
        print(f"  WARNING: nbgrader autograde exited {res['returncode']}; see {course_dir / 'autograde.log'}")
    res["tree_peak_bytes"] = sampler.peaks.get(res["pid"], 0)
    res["tree_anon_peak_bytes"] = sampler.anon_peaks.get(res["pid"], 0)
    res["cpu_by_role"] = sampler.cpu_by_role()
    res["scores"] = nbgrader_scores(course_dir, cfg.assignment, [s["key"] for s in cohort])
    res["generate_assignment_s"] = gen["wall_s"]
    return res


# ---- gradekit (runs in a child process: `bench/run.py --phase gradekit`) ----------------------

def phase_gradekit(args) -> None:
    """Grade <out>/submissions with grade_batch; write <out>/gradekit/bench.json."""
    import psutil

    from gradekit import executors
    from gradekit.batch import grade_batch
    from gradekit.store import ResultStore

    started = psutil.Process().create_time()

    cfg = load_cfg(args)
    out = Path(args.out) / "gradekit"
    marks: dict = {"arrivals": []}
    real_run_local = executors.run_local

    def timed_run_local(subs, cfg, *, workers, on_result):
        def note(result):
            marks["arrivals"].append([result.key, time.perf_counter() - marks["pool_start"]])
            on_result(result)
        marks["pool_start"] = time.perf_counter()
        marks["before_pool_s"] = marks["pool_start"] - t0    # intake, store
        try:
            return real_run_local(subs, cfg, workers=workers, on_result=note)
        finally:
            marks["pool_s"] = time.perf_counter() - marks["pool_start"]

    executors.run_local = timed_run_local
    reaper = OrphanReaper()
    marks["startup_s"] = time.time() - started      # interpreter and imports, before grade_batch
    t0 = time.perf_counter()
    summary = grade_batch(cfg, [Path(args.out) / "submissions"], out, workers=args.workers, progress=False)
    marks["grade_batch_s"] = time.perf_counter() - t0
    marks["after_pool_s"] = marks["grade_batch_s"] - marks["before_pool_s"] - marks["pool_s"]  # gradebook, reports
    reaper.stop()
    with ResultStore(out / "results.sqlite", readonly=True) as store:
        results = store.all()
    marks["results"] = {r.key: {"status": str(r.status), "message": r.message, "timings": dict(r.timings),
                                "reference_computed": r.reference_computed, "parts": _parts(r)} for r in results}
    marks["summary"] = summary
    (out / "bench.json").write_text(json.dumps(marks, indent=1))


class OrphanReaper:
    """Make this process a child subreaper and reap the orphans that land here, so that their CPU
    time counts in our RUSAGE_CHILDREN.

    bubblewrap with --unshare-pid reports its namespace's exit status through a pipe and exits
    without waiting for the namespace's init, so the sandbox's processes (runner, kernel) are never
    reaped by anything in our tree and their CPU time would be missing from any rusage.  Only
    zombies named bwrap are reaped here: the pool's own workers are left to multiprocessing."""

    PR_SET_CHILD_SUBREAPER = 36

    def __init__(self, interval: float = 0.2):
        import ctypes

        import psutil

        self.psutil = psutil
        ctypes.CDLL(None, use_errno=True).prctl(self.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.reaped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.reap()

    def reap(self) -> None:
        ps = self.psutil
        for p in ps.Process().children():
            try:
                if p.status() == ps.STATUS_ZOMBIE and p.name() == "bwrap":
                    os.wait4(p.pid, os.WNOHANG)
                    self.reaped += 1
            except (ps.Error, ChildProcessError):
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        time.sleep(0.5)
        self.reap()


def _parts(result) -> dict:
    parts: dict[str, list[float]] = {}
    for c in result.checks:
        got, most = parts.get(c.part, [0.0, 0.0])
        parts[c.part] = [got + c.points, most + c.max_points]
    return parts


def run_gradekit(cohort, cfg, args, work: Path, sampler: TreeSampler) -> dict:
    subs = work / "submissions"
    subs.mkdir()
    for s in cohort:
        (subs / f"{s['key']}.ipynb").write_text(s["notebook"])
    shutil.rmtree(cfg.cache / "reference", ignore_errors=True)  # cold: every CID's reference is computed
    argv = [sys.executable, str(Path(__file__).resolve()), "--phase", "gradekit", "--out", str(work),
            "--profile", args.profile, "--workers", str(args.workers), "--cache", str(cfg.cache)]
    sampler.reset()
    res = run_measured(argv, env=base_env(), cwd=REPO, log=work / "gradekit.log")
    if res["returncode"] != 0:
        raise SystemExit(f"the gradekit phase failed; see {work / 'gradekit.log'}")
    res.update(json.loads((work / "gradekit" / "bench.json").read_text()))
    res["worker_peaks_bytes"] = sorted(sampler.workers_of(res["pid"]).values(), reverse=True)
    res["worker_anon_peaks_bytes"] = sorted(sampler.workers_of(res["pid"], anon=True).values(), reverse=True)
    res["tree_peak_bytes"] = sampler.peaks.get(res["pid"], 0)
    res["phase_process_peak_bytes"] = sampler.single.get(res["pid"], 0)
    res["cpu_by_role"] = sampler.cpu_by_role()
    return res


# ---- report --------------------------------------------------------------------------------------

def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def fmt_mib(b: float) -> str:
    return f"{b / MiB:,.0f} MiB"


def report(args, cohort, floor, nbg, gk, load_before, load_after, cores) -> str:
    n = len(cohort)
    lines = []
    add = lines.append
    add(f"machine: {cores} cores, {os.uname().machine}; load average before {load_before}, after {load_after}")
    add(f"cohort: {n} submissions, profile {args.profile}, {args.workers} gradekit workers, distinct CIDs; "
        f"nbgrader runs serially")
    add("")
    # floor
    nb_wall = sum(v["wall_s"] for v in floor["notebooks"].values())
    nb_cpu = sum(v.get("kernel_cpu_s", 0.0) for v in floor["notebooks"].values())
    refs_f = floor["references"].values()
    ref_wall = sum(v["wall_s"] for v in refs_f)
    ref_cpu = sum(v["cpu_s"] for v in refs_f)
    full_cpu = sum(v["full_sweep_cpu_s"] for v in refs_f)
    answered = sum(1 for v in refs_f if v["rates_needed"])
    n_rates = sum(len(v["rates_needed"]) for v in refs_f)
    # The floor is compute: CPU seconds of the kernels and of the reference work the checks need.  Wall
    # times are shown too; on a shared machine they grow with other people's load, CPU seconds hardly do.
    floor_s = (nb_cpu + ref_cpu) / cores
    add(f"floor: notebooks {nb_cpu:.1f} s CPU (kernels, plain nbclient, 1 thread; {nb_wall:.1f} s wall) + "
        f"reference {ref_cpu:.1f} s CPU (the {n_rates} rates the checks compare for the {answered} students with an "
        f"lr_results; 1 thread) = {nb_cpu + ref_cpu:.1f} s of one core; / {cores} cores = {floor_s:.1f} s  "
        f"(from wall times: {(nb_wall + ref_wall) / cores:.1f} s)")
    add(f"       (the full sweep of every CID, which nbgrader's hidden tests compute: {full_cpu:.1f} s CPU; "
        f"with it the floor would be {(nb_cpu + full_cpu) / cores:.1f} s)")
    # Contention from other processes: each phase's CPU over what it could have used.
    shares = [("the floor's single-threaded runs", (nb_cpu + ref_cpu) / (nb_wall + ref_wall), 1)]
    if nbg:
        shares.append(("nbgrader (serial)", nbg["cpu_s"] / nbg["wall_s"], 1))
    shares.append((f"gradekit's {args.workers} workers", gk["cpu_s"] / gk["wall_s"] / min(args.workers, cores),
                   min(args.workers, cores)))
    for what, share, n_cores in shares:
        if share < 0.85:
            add(f"WARNING: {what} got {share:.0%} of {'a core' if n_cores == 1 else f'{n_cores} cores'} "
                f"(CPU/wall): other processes competed for the machine, so its wall time is inflated")
    add("")
    # main table
    w = 26
    add(f"{'':34}{'nbgrader autograde':>{w}}{'gradekit grade_batch':>{w}}")

    def row(label, a, b):
        add(f"{label:34}{a:>{w}}{b:>{w}}")

    g_wall = gk["wall_s"]
    row("wall time", f"{nbg['wall_s']:.1f} s" if nbg else "skipped", f"{g_wall:.1f} s")
    row("  of which grading (pool)", "", f"{gk['pool_s']:.1f} s")
    row("CPU time (children incl.)", f"{nbg['cpu_s']:.1f} s" if nbg else "", f"{gk['cpu_s']:.1f} s")
    row("CPU / wall (busy cores)", f"{nbg['cpu_s'] / nbg['wall_s']:.2f}" if nbg else "", f"{gk['cpu_s'] / g_wall:.2f}")
    row("throughput", f"{60 * n / nbg['wall_s']:.2f} nb/min" if nbg else "", f"{60 * n / g_wall:.2f} nb/min")
    row("peak RSS, largest process", fmt_mib(nbg["maxrss_bytes"]) if nbg else "", fmt_mib(gk["maxrss_bytes"]))
    row("peak RSS, whole tree (sampled)", fmt_mib(nbg["tree_peak_bytes"]) if nbg else "", fmt_mib(gk["tree_peak_bytes"]))
    wp = gk["worker_peaks_bytes"]
    row("peak RSS per worker (sampled)", fmt_mib(nbg["tree_peak_bytes"]) + " (1)" if nbg else "",
        ", ".join(fmt_mib(b) for b in wp) or "?")
    row("  private pages only", fmt_mib(nbg["tree_anon_peak_bytes"]) + " (1)" if nbg else "",
        ", ".join(fmt_mib(b) for b in gk["worker_anon_peaks_bytes"]) or "?")
    row("peak RSS, batch process", "", fmt_mib(gk["phase_process_peak_bytes"]))
    roles = sorted(set(gk["cpu_by_role"]) | set((nbg or {}).get("cpu_by_role", {})))
    for r in roles:
        row(f"  CPU, {r} (sampled)", f"{nbg['cpu_by_role'].get(r, 0):.1f} s" if nbg else "",
            f"{gk['cpu_by_role'].get(r, 0):.1f} s")
    add("")
    # stages
    res = gk["results"]
    add("gradekit per-stage times (from SubmissionResult.timings), seconds:")
    add(f"  {'stage':10}{'sum':>9}{'median':>9}{'max':>9}")
    for stage in ("prepare", "sandbox", "reference", "judge", "diagnosis"):
        vals = [r["timings"].get(stage, 0.0) for r in res.values()]
        if vals:
            add(f"  {stage:10}{sum(vals):9.2f}{statistics.median(vals):9.2f}{max(vals):9.2f}")
    stage_sum = sum(sum(r["timings"].values()) for r in res.values())
    refs = [r["timings"].get("reference", 0.0) for r in res.values()]
    computed = sum(r.get("reference_computed", 0) for r in res.values())
    add(f"  in stages {stage_sum:.1f} s of {gk['pool_s'] * args.workers:.1f} worker-seconds in the pool; "
        f"reference: {computed} rates computed for {sum(1 for x in refs if x > 0)} submissions ({sum(refs):.1f} s; "
        f"the floor counts {n_rates} rates, {ref_cpu:.1f} s, for {answered})")
    add(f"  outside the pool {g_wall - gk['pool_s']:.1f} s: start-up (interpreter, imports) {gk['startup_s']:.1f} s, "
        f"intake + store {gk['before_pool_s']:.1f} s, gradebook + reports {gk['after_pool_s']:.1f} s")
    add("")
    # per student
    add(f"  {'key':4} {'variant':36}{'floor nb':>9}{'sandbox':>9}{'ref':>7}{'judge':>7}  {'status':8}"
        f"{'gradekit':>10}{'nbgrader':>10}  agree")
    disagree = 0
    for s in cohort:
        k = s["key"]
        r = res.get(k, {"timings": {}, "status": "missing", "parts": {}})
        t = r["timings"]
        ours = r["parts"]
        ours_pts = f"{sum(v[0] for v in ours.values()):g}/{sum(v[1] for v in ours.values()):g}"
        theirs = (nbg or {}).get("scores", {}).get(k)
        if theirs and "error" not in theirs:
            nb_pts = f"{sum(v[0] for v in theirs.values()):g}/{sum(v[1] for v in theirs.values()):g}"
            full_ours = {p for p, (a, b) in ours.items() if a == b}
            full_theirs = {p for p, (a, b) in theirs.items() if a == b}
            diff = sorted(full_ours ^ full_theirs)
            agree = "yes" if not diff else "NO: " + ",".join(diff)
            disagree += bool(diff)
        else:
            nb_pts, agree = ("-", "-") if not nbg else ("error", "?")
        fl = floor["notebooks"].get(k, {}).get("wall_s", float("nan"))
        add(f"  {k:4} {s['variant'][:35]:36}{fl:9.1f}{t.get('sandbox', 0):9.1f}{t.get('reference', 0):7.1f}"
            f"{t.get('judge', 0):7.2f}  {r['status']:8}{ours_pts:>10}{nb_pts:>10}  {agree}")
    add("  (agree: the parts with full marks are the same under both graders)")
    add("")
    # targets
    speedup = nbg["wall_s"] / g_wall if nbg else None
    overhead = (g_wall - floor_s) * cores / n
    add("targets (issue #7):")
    add(f"  throughput gradekit / nbgrader >= {TARGET_SPEEDUP:g}x      "
        f"{(f'{speedup:.2f}x' if speedup else 'n/a'):>10}  {verdict(None if speedup is None else speedup >= TARGET_SPEEDUP)}")
    add(f"  wall <= {TARGET_WALL_OVER_FLOOR:g} x floor                    {g_wall / floor_s:9.2f}x  "
        f"{verdict(g_wall <= TARGET_WALL_OVER_FLOOR * floor_s)}")
    add(f"  harness overhead <= {TARGET_OVERHEAD_S:g} s / submission     {overhead:9.2f}s  "
        f"{verdict(overhead <= TARGET_OVERHEAD_S)}   ((wall - floor) x {cores} cores / {n})")
    outside = g_wall - gk["pool_s"]
    in_pool = (gk["pool_s"] * min(args.workers, cores) - (nb_cpu + ref_cpu)) / n
    add(f"    of which once per batch, outside the pool (start-up, intake, gradebook + reports, exit): "
        f"{outside:.1f} s wall = {outside * cores / n:.2f} s per submission at this cohort size;")
    add(f"    in the pool (worker start-up, task hand-offs, judging, idle cores at the end): {in_pool:+.2f} s "
        f"per submission")
    worst = max(wp) if wp else 0
    add(f"  peak memory per worker <= 2 GiB           {worst / GiB:8.2f}GiB  "
        f"{verdict(bool(wp) and worst <= TARGET_WORKER_BYTES)}   (RSS summed over the worker, its sandbox and "
        f"kernel: shared library pages counted in each)")
    floor_cpu = nb_cpu + ref_cpu
    add(f"  (CPU beyond the floor's {floor_cpu:.1f} s, per submission: gradekit {(gk['cpu_s'] - floor_cpu) / n:+.2f} s"
        + (f", nbgrader {(nbg['cpu_s'] - floor_cpu) / n:+.2f} s;" if nbg else ";")
        + (f" CPU-time throughput ratio, cores fully used: {nbg['cpu_s'] / (gk['cpu_s'] / cores):.2f}x)" if nbg else ")"))
    if nbg and disagree:
        add(f"  NOTE: {disagree} submission(s) got different full-mark parts from the two graders (see above)")
    return "\n".join(lines)


# ---- main ----------------------------------------------------------------------------------------

def load_cfg(args):
    from gradekit.config import load_config

    cfg = load_config(REPO / "gradekit.toml")
    return cfg.with_(profile=args.profile, cache=Path(args.cache))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=8, help="cohort size (default 8)")
    ap.add_argument("--profile", choices=("grading", "tiny"), default="grading")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                    help="gradekit pool workers (default: one per core)")
    ap.add_argument("--skip-nbgrader", action="store_true")
    ap.add_argument("--out", help="folder for the cohort, both graders' output and bench.json "
                                  "(default: a new temporary folder)")
    ap.add_argument("--report", metavar="DIR", help="print the report of an earlier run from DIR/bench.json")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase == "gradekit":
        phase_gradekit(args)
        return 0
    if args.report:
        saved = json.loads((Path(args.report) / "bench.json").read_text())
        print(report(argparse.Namespace(**saved["args"]), saved["cohort"], saved["floor"], saved["nbgrader"],
                     saved["gradekit"], saved["load_before"], saved["load_after"], saved["cores"]))
        return 0

    os.environ.update(ONE_THREAD)
    import nbformat

    from gradekit.grading import Course

    work = Path(args.out or tempfile.mkdtemp(prefix="gradekit-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        raise SystemExit(f"{work} is not empty")
    args.cache = str(work / "cache")
    cfg = load_cfg(args)
    course = Course(cfg)
    cores = len(os.sched_getaffinity(0))
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bench: {work}  (load average {load_before} on {cores} cores)", flush=True)

    files = course.job_files()  # generates the profile's grading data once, outside every timing
    cohort = build_cohort(course, cfg, args.students)
    v = course.content_module("variants")
    source_text = nbformat.writes(v.apply_profile(nbformat.read(cfg.source, as_version=4), course.profile))

    print("1/3 floor (plain nbclient, one thread, serial)", flush=True)
    floor = measure_floor(cohort, files, course, cfg, work)
    with TreeSampler() as sampler:
        nbg = None
        if not args.skip_nbgrader:
            print("2/3 nbgrader autograde (serial)", flush=True)
            nbg = run_nbgrader(cohort, files, source_text, cfg, work, sampler)
            print(f"  nbgrader: {nbg['wall_s']:.1f} s", flush=True)
        print(f"3/3 gradekit grade_batch ({args.workers} workers)", flush=True)
        gk = run_gradekit(cohort, cfg, args, work, sampler)
        print(f"  gradekit: {gk['wall_s']:.1f} s", flush=True)
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(args, cohort, floor, nbg, gk, load_before, load_after, cores)
    print()
    print(text)
    (work / "bench.json").write_text(json.dumps(
        {"args": {k: v for k, v in vars(args).items()}, "cores": cores, "load_before": load_before,
         "load_after": load_after, "cohort": [{k: s[k] for k in ("key", "cid", "variant")} for s in cohort],
         "floor": floor, "nbgrader": nbg, "gradekit": gk}, indent=1, default=str))
    (work / "bench.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
