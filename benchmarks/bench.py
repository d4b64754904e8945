#!/usr/bin/env python
"""Performance benchmark of the HPD workbench (``make bench``).

What it measures, each step in a fresh Python subprocess so that the peak resident memory
(``ru_maxrss`` of that child, read with ``os.wait4``) belongs to one step and one size:

1. ``classify`` at every size of ``--sizes`` (default 10 k, 100 k, 1 M patients): wall time of
   ``load_cohort`` (Parquet) and of ``classify`` under all nine published definitions, peak RSS.
2. ``report`` at 100 k patients (``--report-size``): wall time of the report's heavy steps on the
   classification table: ``incidence``, ``agreement``, ``survival_table``.
3. ``explorer`` (``hpd.explore``) on the bundled 500-patient example and at 100 k patients
   (``--explorer-size``): latency from a widget change to every output redrawn (incidence with
   CIs, agreement, UpSet counts, KM), the median of several moves of the primary definition's
   threshold, of another definition's threshold, and of a window (features rebuilt; then the
   cached setting). Targets: 300 ms on the example, 2 s at 100 k (a threshold move).
4. ``reference`` at 20 k patients (``--ref-size``): the vectorized ``classify`` and the per-patient
   reference (``benchmarks/reference.py``) on the same cohort; both must give identical
   ``hpd_<code>`` verdicts; prints the speed ratio reference time / ``classify`` time (each the
   best of ``REFERENCE_REPEATS`` interleaved runs).
4. ``rereads`` at 500 and 10 k patients: 200 seeded re-reads of every patient classified under
   the nine definitions (:mod:`hpd_analysis.uncertainty`); targets <= 3 s at 500 patients and
   <= 30 s with <= 4 GB peak RSS at 10 k.

4. ``growth`` (``--growth-size``, default 100 k patients): the Stein–Wilkerson growth-model fits
   (``hpd_analysis.growth.fit_growth``, all four models and tumgr's selection) on a simulated
   tumgr ``name, date, size`` table (1-12 evaluations per patient, 35-70 days apart, sizes from
   the gd model with 5 % log-normal noise), and on tumgr's sampleData (68 patients,
   ``hpd_analysis/data/tumgr``): first call (it includes importing ``scipy.special``) and best of 3.
   Targets: 100 k patients <= 60 s and <= 4 GB peak RSS, sampleData <= 1 s.
5. ``prediction`` (the bundled example, 500 patients, nine definitions): wall time of
   ``hpd_analysis.prediction.predictors_by_definition`` with the default parameters (200 Harrell
   bootstrap Firth refits and 2000 AUC bootstrap replicates per definition), the costliest table
   of the risk-factor section.

Simulated cohorts are cached as Parquet under ``benchmarks/out/`` (git-ignored), keyed by size,
seed and a hash of ``hpd_analysis/simulate.py`` so a rerun skips simulation but a changed simulator
does not reuse a stale cohort. Only public tools are used (``time.perf_counter``,
``os.wait4``/``resource``, ``cProfile`` for ``--profile``).

The last line printed is exactly one summary line::

    classify 1000000 patients: 12.3 s, peak 2100 MB, 85x faster than the per-patient reference

Targets (2 cores, 24 GB): 1 M patients loaded + classified in <= 20 s with <= 4 GB peak RSS, and
>= 50x faster than the reference. They are reported, never asserted (no timing in the tests).
The exit status is 1 when the fast path and the reference disagree or a step fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_CACHE = HERE / "out"
RESULT_MARK = "BENCH-RESULT "

DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
TARGET_SECONDS_1M = 20.0
TARGET_PEAK_MB_1M = 4096.0
TARGET_SPEEDUP = 50.0
#: explorer: seconds from a threshold slider move to updated outputs (example, 100 k patients)
TARGET_EXPLORER_EXAMPLE_S = 0.3
TARGET_EXPLORER_100K_S = 2.0
#: runs of each implementation in the reference comparison; the best run of each is compared
#: (the ``timeit`` convention: the minimum is the run least disturbed by other processes)
REFERENCE_REPEATS = 3
DEFAULT_GROWTH_SIZE = 100_000
TARGET_GROWTH_SECONDS = 60.0
TARGET_GROWTH_PEAK_MB = 4096.0
TARGET_GROWTH_SAMPLE_SECONDS = 1.0


# --------------------------------------------------------------------------------------------
# helpers shared by parent and workers
# --------------------------------------------------------------------------------------------


def simulator_key() -> str:
    """Short hash of the simulator's source: a changed simulator invalidates cached cohorts."""
    src = ROOT / "hpd_analysis" / "simulate.py"
    if not src.exists():
        return "nosim"
    return hashlib.sha256(src.read_bytes()).hexdigest()[:10]


def cohort_dir(cache: Path, n_patients: int, seed: int) -> Path:
    """Cache folder of the simulated cohort of ``n_patients`` with ``seed``."""
    return cache / f"cohort_n{n_patients}_seed{seed}_{simulator_key()}"


def _is_complete(path: Path) -> bool:
    return (path / "COMPLETE").exists()


def _emit(result: dict[str, Any]) -> None:
    """Worker: print the result as one JSON line the parent can find among other output."""
    sys.stdout.write(RESULT_MARK + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# workers (run in a fresh subprocess each)
# --------------------------------------------------------------------------------------------


def worker_simulate(n: int, seed: int, cache: Path) -> dict[str, Any]:
    """Simulate ``n`` patients and write them as Parquet to the cache (atomic rename)."""
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    target = cohort_dir(cache, n, seed)
    t0 = time.perf_counter()
    tables = simulate_cohort(n_patients=n, seed=seed)
    t1 = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp", dir=cache))
    written = Path(write_cohort(tables, tmp, fmt="parquet"))
    t2 = time.perf_counter()
    # write_cohort may return the folder or a file in it: the cohort folder is what we cache
    folder = written if written.is_dir() else written.parent
    (folder / "COMPLETE").write_text(json.dumps({"n_patients": n, "seed": seed}))
    if target.exists():
        shutil.rmtree(target)
    folder.rename(target)
    if tmp.exists() and tmp != folder:
        shutil.rmtree(tmp, ignore_errors=True)
    lesions = tables.get("lesions")
    return {
        "task": "simulate",
        "n_patients": n,
        "seed": seed,
        "path": str(target),
        "simulate_s": t1 - t0,
        "write_s": t2 - t1,
        "n_lesion_rows": None if lesions is None else len(lesions),
        "n_scans": None
        if lesions is None
        else int(lesions[["patient_id", "assessment_date"]].drop_duplicates().shape[0]),
    }


def _profile_summary(prof: Any, path: Path, top: int = 30) -> list[dict[str, Any]]:
    """Dump ``prof`` to ``path`` and return the ``top`` functions by cumulative time."""
    import pstats

    prof.dump_stats(str(path))
    stats = pstats.Stats(prof)
    total = max(stats.total_tt, 1e-12)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": nc,
                "tottime_s": tt,
                "cumtime_s": ct,
                "cum_share": ct / total,
            }
        )
    rows.sort(key=lambda r: r["cumtime_s"], reverse=True)
    return rows[:top]


def _maxrss_mb() -> float:
    """Peak resident memory of this process so far (MB; ``ru_maxrss`` is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _frame_mb(df: Any) -> float | None:
    """Deep memory size of a DataFrame (MB), object columns included."""
    return None if df is None else float(df.memory_usage(deep=True).sum()) / 2**20


def worker_classify(n: int, path: Path, cache: Path, profile: bool) -> dict[str, Any]:
    """Time ``load_cohort`` then ``classify`` (all definitions) on the cached cohort ``path``."""
    from hpd_analysis.classification import classify_table
    from hpd_analysis.load import load_cohort

    profs: dict[str, Any] = {}
    if profile:
        import cProfile

        profs = {"load": cProfile.Profile(), "classify": cProfile.Profile()}
    rss_start = _maxrss_mb()
    c0 = time.process_time()
    t0 = time.perf_counter()
    if profs:
        profs["load"].enable()
    cohort = load_cohort(path)
    if profs:
        profs["load"].disable()
    t1 = time.perf_counter()
    c1 = time.process_time()
    rss_load = _maxrss_mb()
    if profs:
        profs["classify"].enable()
    table = classify_table(cohort)
    if profs:
        profs["classify"].disable()
    t2 = time.perf_counter()
    c2 = time.process_time()
    codes = [
        c[4:]
        for c in table.columns
        if c.startswith("hpd_") and not c.endswith(("_reason", "_status"))
    ]
    out: dict[str, Any] = {
        "task": "classify",
        "n_patients": n,
        "n_rows_out": len(table),
        "n_lesion_rows": None if cohort.lesions is None else len(cohort.lesions),
        "load_s": t1 - t0,
        "classify_s": t2 - t1,
        "total_s": t2 - t0,
        # CPU time of this process (all threads): robust to other jobs sharing the machine
        "load_cpu_s": c1 - c0,
        "classify_cpu_s": c2 - c1,
        "definitions": codes,
        "n_hpd": {c: int(table[f"hpd_{c}"].fillna(False).astype(bool).sum()) for c in codes},
        "n_evaluable": {c: int(table[f"hpd_{c}"].notna().sum()) for c in codes},
        # peak RSS so far (MB) after imports, after load_cohort and after classify
        "maxrss_after_imports_mb": rss_start,
        "maxrss_after_load_mb": rss_load,
        "maxrss_after_classify_mb": _maxrss_mb(),
    }
    if profile:  # deep sizes of the tables in memory (slow on object columns: profile only)
        out["cohort_lesions_mb"] = _frame_mb(cohort.lesions)
        out["cohort_patients_mb"] = _frame_mb(cohort.patients)
        out["classification_mb"] = _frame_mb(table)
    for step, prof in profs.items():
        pfile = cache / f"profile_{step}_n{n}.pstats"
        out[f"profile_{step}_file"] = str(pfile)
        out[f"profile_{step}_top"] = _profile_summary(prof, pfile)
    return out


def worker_report(n: int, path: Path, cache: Path, profile: bool) -> dict[str, Any]:
    """Time the report's heavy steps (incidence, agreement, survival table) after classify."""
    from hpd_analysis import agreement as agreement_mod
    from hpd_analysis import incidence as incidence_mod
    from hpd_analysis import survival as survival_mod
    from hpd_analysis.classification import classify_table
    from hpd_analysis.definitions import get_definitions
    from hpd_analysis.load import load_cohort

    cohort = load_cohort(path)
    t0 = time.perf_counter()
    table = classify_table(cohort)
    t1 = time.perf_counter()
    codes = [d.code for d in get_definitions()]
    out: dict[str, Any] = {"task": "report", "n_patients": n, "classify_s": t1 - t0}
    steps = {
        "incidence": lambda: incidence_mod.incidence(table, codes),
        "agreement": lambda: agreement_mod.agreement(table, codes),
        # OS / PFS / TTF by HPD status under the primary (first) definition, landmark at the
        # first evaluation: what the report's survival section computes
        "survival_table": lambda: survival_mod.survival_table(table, group_by=codes[0]),
    }
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    for name, step in steps.items():
        s0 = time.perf_counter()
        if prof is not None:
            prof.enable()
        try:
            res = step()
            out[f"{name}_rows"] = len(res)
        except Exception as exc:  # report the failing step, keep timing the others
            out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
        if prof is not None:
            prof.disable()
        out[f"{name}_s"] = time.perf_counter() - s0
    if prof is not None:
        pfile = cache / f"profile_report_n{n}.pstats"
        out["profile_file"] = str(pfile)
        out["profile_top"] = _profile_summary(prof, pfile)
    return out


def worker_reference(n: int, path: Path) -> dict[str, Any]:
    """Run ``classify`` and the per-patient reference on one cohort; compare and time both."""
    sys.path.insert(0, str(HERE))
    import reference

    from hpd_analysis.classification import classify_table
    from hpd_analysis.load import load_cohort

    cohort = load_cohort(path)
    fast_times, ref_times = [], []
    for _ in range(REFERENCE_REPEATS):  # interleaved, so that machine load hits both alike
        t0 = time.perf_counter()
        fast = classify_table(cohort)
        t1 = time.perf_counter()
        ref = reference.reference_classify(cohort)
        t2 = time.perf_counter()
        fast_times.append(t1 - t0)
        ref_times.append(t2 - t1)
    mismatches = reference.compare_classifications(fast, ref)
    by_def = mismatches.groupby("definition").size().to_dict() if len(mismatches) else {}
    fast_s, ref_s = min(fast_times), min(ref_times)
    return {
        "task": "reference",
        "n_patients": n,
        "classify_s": fast_s,
        "reference_s": ref_s,
        "classify_all_s": fast_times,
        "reference_all_s": ref_times,
        "speedup": ref_s / max(fast_s, 1e-9),
        "n_mismatches": len(mismatches),
        "mismatches_by_definition": by_def,
        "mismatch_examples": mismatches.head(20).to_dict(orient="records"),
    }


def worker_explorer(n: int, path: Path | None) -> dict[str, Any]:
    """Time the explorer's updates after widget changes, as a user moves them (median of moves).

    ``path`` None: the bundled example. Primary threshold: ``ferrara2018.delta_tgr_min``; other
    threshold: ``champiat2017.tgr_ratio_min``; window: ``windows.first_eval_min_days``."""
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import hpd_analysis as hpd

    cohort = hpd.datasets.load_example() if path is None else hpd.load_cohort(path)
    t0 = time.perf_counter()
    ex = hpd.explore(cohort)
    build = time.perf_counter() - t0

    cpu: list[float] = []

    def moves(widget: Any, values: list[Any]) -> list[float]:
        out = []
        for v in values:
            widget.value = v
            out.append(ex.last_update_seconds)
            cpu.append(ex.last_update_cpu_seconds)
        return out

    primary = moves(
        ex.thresholds[("ferrara2018", "delta_tgr_min")], [40.0, 60.0, 75.0, 90.0, 100.0]
    )
    primary_cpu = statistics.median(cpu)
    other = moves(ex.thresholds[("champiat2017", "tgr_ratio_min")], [1.5, 2.5, 3.0, 4.0])
    window_new = moves(ex.windows["first_eval_min_days"], [21, 28])
    window_cached = moves(ex.windows["first_eval_min_days"], [21, 28, 21])
    return {
        "task": "explorer",
        "n_patients": cohort.n_patients,
        "build_s": build,
        "primary_threshold_s": statistics.median(primary),
        "primary_threshold_max_s": max(primary),
        "primary_threshold_cpu_s": primary_cpu,
        "load_average": os.getloadavg()[0],
        "other_threshold_s": statistics.median(other),
        "window_new_s": statistics.median(window_new),
        "window_cached_s": statistics.median(window_cached),
    }


#: re-read benchmark (measurement uncertainty): re-reads, and targets (seconds, MB) per size
REREADS = 200
REREAD_TARGETS = {500: (3.0, None), 10_000: (30.0, 4096.0)}


def worker_rereads(n: int, path: Path) -> dict[str, Any]:
    """Time ``REREADS`` seeded re-reads of every patient under the nine definitions (load and the
    published classification excluded: the features are built first, as ``classify`` does)."""
    from hpd_analysis.classification import feature_values
    from hpd_analysis.definitions import resolve_definitions
    from hpd_analysis.load import load_cohort
    from hpd_analysis.params import Parameters
    from hpd_analysis.uncertainty import reread_summary, simulate_rereads

    cohort = load_cohort(path)
    params = Parameters()
    defs = resolve_definitions(None)
    values = feature_values(cohort, params)
    t0 = time.perf_counter()
    rr = simulate_rereads(cohort, defs, params, n_rereads=REREADS, features=values)
    summary = reread_summary(rr)
    t1 = time.perf_counter()
    return {
        "task": "rereads",
        "n_patients": n,
        "n_rereads": REREADS,
        "rereads_s": t1 - t0,
        "maxrss_mb": _maxrss_mb(),
        "jaccard": dict(zip(summary["definition"], summary["jaccard"].round(3), strict=True)),
    }


def simulate_growth_table(n: int, seed: int) -> Any:
    """A tumgr ``name, date, size`` table of ``n`` simulated patients (see the module docstring)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    k = rng.integers(1, 13, n)
    name = np.repeat(np.arange(n), k)
    first = np.cumsum(k) - k
    pos = np.arange(k.sum()) - np.repeat(first, k)
    gap = rng.uniform(35, 70, k.sum())
    gap[pos == 0] = 0.0
    cum = np.cumsum(gap)
    day = np.round(cum - np.repeat(cum[first], k))
    g = np.repeat(rng.lognormal(np.log(0.003), 1.0, n), k)
    d = np.repeat(rng.lognormal(np.log(0.015), 1.0, n) * (rng.random(n) < 0.7), k)
    size = 60.0 * (np.exp(-d * day) + np.exp(g * day) - 1.0) * np.exp(rng.normal(0, 0.05, k.sum()))
    return pd.DataFrame({"name": name.astype(str), "date": day, "size": np.round(size, 1)})


def worker_growth(n: int, seed: int) -> dict[str, Any]:
    """Time ``fit_growth`` on ``n`` simulated patients and on tumgr's sampleData."""
    from hpd_analysis.growth import fit_growth, read_tumgr_table

    sample = read_tumgr_table(ROOT / "hpd_analysis" / "data" / "tumgr" / "sampleData.csv.gz")
    sample_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fit_growth(sample)
        sample_times.append(time.perf_counter() - t0)
    table = simulate_growth_table(n, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fit_growth(table)
    fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {
        "task": "growth",
        "n_patients": n,
        "n_rows": len(table),
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "n_included": int((out["status"] == "included").sum()),
        "selected": out["selected_fit"].value_counts().to_dict(),
        "sample_first_s": sample_times[0],
        "sample_best_s": min(sample_times),
        "maxrss_mb": _maxrss_mb(),
    }


def worker_prediction() -> dict[str, Any]:
    """Time ``predictors_by_definition`` on the bundled example (as the risk-factor section)."""
    from hpd_analysis import prediction, report

    with tempfile.TemporaryDirectory() as tmp:
        section = report.open_section(None, output_dir=tmp)
    data = prediction.section_data(section)
    outcomes = prediction.evaluable_outcomes(section)
    predictors = prediction.default_predictors(data.columns)
    t0, c0 = time.perf_counter(), time.process_time()
    prediction.predictors_by_definition(data, outcomes, predictors, params=section.params)
    return {
        "task": "prediction",
        "n_patients": len(data),
        "n_definitions": len(outcomes),
        "n_predictors": len(predictors),
        "fit_s": time.perf_counter() - t0,
        "fit_cpu_s": time.process_time() - c0,
        "maxrss_mb": _maxrss_mb(),
    }


def run_worker_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench.py _worker")
    p.add_argument(
        "task",
        choices=[
            "simulate",
            "classify",
            "report",
            "reference",
            "explorer",
            "growth",
            "prediction",
            "rereads",
        ],
    )
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--path", type=Path, help="cohort folder (all tasks but simulate)")
    p.add_argument("--profile", action="store_true")
    a = p.parse_args(argv)
    if a.task == "simulate":
        res = worker_simulate(a.size, a.seed, a.cache)
    elif a.task == "classify":
        res = worker_classify(a.size, a.path, a.cache, a.profile)
    elif a.task == "report":
        res = worker_report(a.size, a.path, a.cache, a.profile)
    elif a.task == "explorer":
        res = worker_explorer(a.size, a.path)
    elif a.task == "rereads":
        res = worker_rereads(a.size, a.path)
    elif a.task == "growth":
        res = worker_growth(a.size, a.seed)
    elif a.task == "prediction":
        res = worker_prediction()
    else:
        res = worker_reference(a.size, a.path)
    _emit(res)
    return 0


# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------


def run_step(
    task: str, size: int, seed: int, cache: Path, profile: bool = False, path: Path | None = None
) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; add its wall time and peak RSS (MB)."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_worker",
        task,
        "--size",
        str(size),
        "--seed",
        str(seed),
        "--cache",
        str(cache),
    ]
    if path is not None:
        cmd += ["--path", str(path)]
    if profile:
        cmd.append("--profile")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, cwd=ROOT, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)  # rusage of this child only
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read().decode(errors="replace")
    result: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK) :])
        elif line.strip():
            print(line)
    if proc.returncode != 0 or not result:
        raise RuntimeError(f"{task} worker for {size} patients failed (exit {proc.returncode})")
    result["process_wall_s"] = wall
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0  # Linux: kilobytes
    result["cpu_user_s"] = usage.ru_utime
    result["cpu_system_s"] = usage.ru_stime
    return result


def ensure_cohort(size: int, seed: int, cache: Path) -> tuple[Path, dict[str, Any] | None]:
    """The cached cohort folder, simulated first unless a complete copy exists.

    The folder is fixed here, once per run (the workers get it explicitly), so that an edit of
    the simulator during a run cannot send a worker to another cache key. Cohorts of the same
    size and seed made by an older simulator are removed.
    """
    target = cohort_dir(cache, size, seed)
    if _is_complete(target):
        return target, None
    for stale in cache.glob(f"cohort_n{size}_seed{seed}_*"):
        if stale.is_dir() and stale != target:
            shutil.rmtree(stale, ignore_errors=True)
    _log(f"simulating {size} patients (seed {seed}) into {cache} ...")
    res = run_step("simulate", size, seed, cache)
    _log(
        f"  simulated in {res['simulate_s']:.1f} s, written in {res['write_s']:.1f} s, "
        f"{res['n_lesion_rows']} lesion rows, peak {res['peak_rss_mb']:.0f} MB"
    )
    return Path(res["path"]), res


def _fmt_size(n: int) -> str:
    return (
        f"{n // 1_000_000}M"
        if n % 1_000_000 == 0
        else (f"{n // 1000}k" if n % 1000 == 0 else str(n))
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker":
        return run_worker_main(argv[1:])

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        metavar="N",
        help="cohort sizes (patients) to load + classify (default 10000 100000 1000000)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 10k patients only, report steps at 10k, reference at 5k",
    )
    p.add_argument("--seed", type=int, default=2026, help="simulation seed (default 2026)")
    p.add_argument("--report-size", type=int, help="patients for the report steps (default 100000)")
    p.add_argument(
        "--ref-size", type=int, help="patients for the reference comparison (default 20000)"
    )
    p.add_argument("--no-report", action="store_true", help="skip the report steps")
    p.add_argument("--no-reference", action="store_true", help="skip the reference comparison")
    p.add_argument(
        "--explorer-size",
        type=int,
        help="patients for the explorer latency beside the example (default 100000)",
    )
    p.add_argument("--no-explorer", action="store_true", help="skip the explorer latency")
    p.add_argument(
        "--no-rereads",
        action="store_true",
        help="skip the re-read (measurement uncertainty) benchmark",
    )
    p.add_argument(
        "--growth-size", type=int, help="patients for the growth-model fits (default 100000)"
    )
    p.add_argument("--no-growth", action="store_true", help="skip the growth-model fits")
    p.add_argument(
        "--no-prediction", action="store_true", help="skip the prediction table on the example"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run cProfile inside the classify/report workers; print the top functions "
        "(slower: times are then not comparable)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="folder of cached cohorts (default benchmarks/out)",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write every measurement as JSON")
    a = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # keep stdout and the workers' stderr in order

    sizes = a.sizes or ([10_000] if a.quick else DEFAULT_SIZES)
    report_size = a.report_size or (10_000 if a.quick else 100_000)
    ref_size = a.ref_size or (5_000 if a.quick else 20_000)
    explorer_size = a.explorer_size or (10_000 if a.quick else 100_000)
    cache = a.cache.resolve()
    results: dict[str, Any] = {
        "seed": a.seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "simulator_key": simulator_key(),
        "simulate": [],
        "classify": [],
        "report": None,
        "reference": None,
        "explorer": [],
        "rereads": [],
        "growth": None,
        "prediction": None,
        "errors": [],
    }
    ok = True

    reread_sizes = set() if a.no_rereads else set(REREAD_TARGETS)
    needed = sorted(
        set(sizes)
        | reread_sizes
        | (set() if a.no_report else {report_size})
        | (set() if a.no_reference else {ref_size})
        | (set() if a.no_explorer else {explorer_size})
    )
    paths: dict[int, Path] = {}
    for n in needed:
        try:
            paths[n], sim = ensure_cohort(n, a.seed, cache)
            if sim:
                results["simulate"].append(sim)
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False

    print(
        f"{'patients':>10} {'lesion rows':>12} {'load s':>8} {'classify s':>11} "
        f"{'total s':>8} {'cpu s':>7} {'peak MB':>8}"
    )
    for n in sorted(sizes):
        if n not in paths:
            continue  # simulation failed (recorded above)
        try:
            r = run_step("classify", n, a.seed, cache, profile=a.profile, path=paths[n])
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False
            continue
        results["classify"].append(r)
        print(
            f"{n:>10} {r['n_lesion_rows'] or 0:>12} {r['load_s']:>8.2f} {r['classify_s']:>11.2f} "
            f"{r['total_s']:>8.2f} {r['load_cpu_s'] + r['classify_cpu_s']:>7.1f} "
            f"{r['peak_rss_mb']:>8.0f}"
        )
        if r["n_rows_out"] != n:
            print(f"  ERROR: classify returned {r['n_rows_out']} rows for {n} patients")
            ok = False
        print(
            f"  peak RSS after imports {r['maxrss_after_imports_mb']:.0f} MB, after load "
            f"{r['maxrss_after_load_mb']:.0f} MB, after classify "
            f"{r['maxrss_after_classify_mb']:.0f} MB"
        )
        if a.profile:
            print(
                f"  in memory: lesions {r['cohort_lesions_mb']:.0f} MB, patients "
                f"{r['cohort_patients_mb']:.0f} MB, classification table "
                f"{r['classification_mb']:.0f} MB"
            )
        for step in ("load", "classify") if a.profile else ():
            print(
                f"  cProfile of {step} ({_fmt_size(n)}), top by cumulative time "
                f"({r[f'profile_{step}_file']}):"
            )
            for row in r[f"profile_{step}_top"][:25]:
                print(
                    f"    {row['cumtime_s']:8.2f} s {row['cum_share']:6.1%} "
                    f"{row['tottime_s']:8.2f} s self  {row['function']}"
                )

    if not a.no_report and report_size in paths:
        try:
            r = run_step(
                "report", report_size, a.seed, cache, profile=a.profile, path=paths[report_size]
            )
            results["report"] = r
            print(
                f"report steps at {report_size} patients (classify {r['classify_s']:.2f} s, "
                f"peak {r['peak_rss_mb']:.0f} MB):"
            )
            for step in ("incidence", "agreement", "survival_table"):
                err = r.get(f"{step}_error")
                print(f"  {step:<15} {r[f'{step}_s']:8.2f} s" + (f"  FAILED: {err}" if err else ""))
                ok = ok and not err
            if a.profile:
                for row in r["profile_top"][:15]:
                    print(
                        f"    {row['cumtime_s']:8.2f} s {row['cum_share']:6.1%}  {row['function']}"
                    )
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False

    speedup = None
    if not a.no_reference and ref_size in paths:
        try:
            r = run_step("reference", ref_size, a.seed, cache, path=paths[ref_size])
            results["reference"] = r
            speedup = r["speedup"]
            print(
                f"reference at {ref_size} patients: classify {r['classify_s']:.3f} s, "
                f"per-patient reference {r['reference_s']:.2f} s -> {speedup:.0f}x "
                f"(best of {len(r['classify_all_s'])} interleaved runs each)"
            )
            if r["n_mismatches"]:
                ok = False
                print(
                    f"  DISAGREEMENT on {r['n_mismatches']} patient-definition verdicts: "
                    f"{r['mismatches_by_definition']}"
                )
                for ex in r["mismatch_examples"][:10]:
                    print(f"    {ex}")
            else:
                print("  identical hpd_<code> verdicts for every patient and definition")
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False

    if not a.no_explorer:
        print(
            "explorer (hpd.explore): seconds from a widget change to every output redrawn "
            "(median of the moves)"
        )
        for n, target in (
            (None, TARGET_EXPLORER_EXAMPLE_S),
            (explorer_size, TARGET_EXPLORER_100K_S),
        ):
            if n is not None and n not in paths:
                continue
            try:
                r = run_step(
                    "explorer", n or 0, a.seed, cache, path=None if n is None else paths[n]
                )
            except RuntimeError as exc:
                results["errors"].append(str(exc))
                ok = False
                continue
            results["explorer"].append(r)
            name = "example" if n is None else _fmt_size(n)
            print(
                f"  explorer {name} ({r['n_patients']} patients): primary threshold "
                f"{1000 * r['primary_threshold_s']:.0f} ms (max "
                f"{1000 * r['primary_threshold_max_s']:.0f}, CPU "
                f"{1000 * r['primary_threshold_cpu_s']:.0f} ms, load average "
                f"{r['load_average']:.1f}), other threshold "
                f"{1000 * r['other_threshold_s']:.0f} ms, window {1000 * r['window_new_s']:.0f} ms "
                f"(cached {1000 * r['window_cached_s']:.0f} ms), opened in {r['build_s']:.1f} s"
            )
            met = r["primary_threshold_s"] <= target
            busy = r["load_average"] > (os.cpu_count() or 1)
            print(
                f"target explorer {name}: {'met' if met else 'MISSED'}: "
                f"{1000 * r['primary_threshold_s']:.0f} ms wall (target <= {1000 * target:.0f} ms)"
                + (
                    f"; CPU {1000 * r['primary_threshold_cpu_s']:.0f} ms: the machine is busy "
                    f"(load average {r['load_average']:.1f} on {os.cpu_count()} CPUs), rerun "
                    "on a quiet one"
                    if busy and not met
                    else ""
                )
            )

    if not a.no_growth:
        gsize = a.growth_size or (10_000 if a.quick else DEFAULT_GROWTH_SIZE)
        try:
            r = run_step("growth", gsize, a.seed, cache)
            results["growth"] = r
            met = (
                r["fit_s"] <= TARGET_GROWTH_SECONDS
                and r["peak_rss_mb"] <= TARGET_GROWTH_PEAK_MB
                and r["sample_first_s"] <= TARGET_GROWTH_SAMPLE_SECONDS
            )
            print(
                f"growth {gsize} patients ({r['n_rows']} rows): {r['fit_s']:.1f} s "
                f"({r['fit_cpu_s']:.1f} s CPU), peak "
                f"{r['peak_rss_mb']:.0f} MB, {r['n_included']} included; tumgr sampleData 68 "
                f"patients: {r['sample_first_s']:.2f} s first call, {r['sample_best_s']:.2f} s "
                f"best of 3 (targets <= {TARGET_GROWTH_SECONDS:.0f} s, "
                f"<= {TARGET_GROWTH_PEAK_MB:.0f} MB, <= {TARGET_GROWTH_SAMPLE_SECONDS:.0f} s: "
                f"{'met' if met else 'MISSED'})"
            )
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False

    if not a.no_prediction:
        try:
            r = run_step("prediction", 0, a.seed, cache)
            results["prediction"] = r
            print(
                f"prediction by definition, example ({r['n_patients']} patients, "
                f"{r['n_definitions']} definitions, {r['n_predictors']} predictors): "
                f"{r['fit_s']:.1f} s ({r['fit_cpu_s']:.1f} s CPU)"
            )
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False

    for n in sorted(reread_sizes):
        if n not in paths:
            continue
        try:
            r = run_step("rereads", n, a.seed, cache, path=paths[n])
        except RuntimeError as exc:
            results["errors"].append(str(exc))
            ok = False
            continue
        results["rereads"].append(r)
        max_s, max_mb = REREAD_TARGETS[n]
        met = r["rereads_s"] <= max_s and (max_mb is None or r["peak_rss_mb"] <= max_mb)
        print(
            f"rereads: {r['n_rereads']} re-reads of {n} patients in {r['rereads_s']:.2f} s, "
            f"peak {r['peak_rss_mb']:.0f} MB (target <= {max_s:.0f} s"
            + (f", <= {max_mb:.0f} MB" if max_mb else "")
            + f"): {'met' if met else 'MISSED'}"
        )

    for err in results["errors"]:
        print(f"ERROR: {err}")

    largest = max(results["classify"], key=lambda r: r["n_patients"], default=None)
    if largest is not None and largest["n_patients"] >= 1_000_000:
        checks = [
            (
                "time",
                largest["total_s"] <= TARGET_SECONDS_1M,
                f"{largest['total_s']:.1f} s (target <= {TARGET_SECONDS_1M:.0f} s)",
            ),
            (
                "memory",
                largest["peak_rss_mb"] <= TARGET_PEAK_MB_1M,
                f"{largest['peak_rss_mb']:.0f} MB (target <= {TARGET_PEAK_MB_1M:.0f} MB)",
            ),
        ]
        if speedup is not None:
            checks.append(
                (
                    "speed-up",
                    speedup >= TARGET_SPEEDUP,
                    f"{speedup:.0f}x (target >= {TARGET_SPEEDUP:.0f}x)",
                )
            )
        for name, passed, detail in checks:
            print(f"target {name}: {'met' if passed else 'MISSED'}: {detail}")

    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(results, indent=2, default=str))

    if largest is None:
        print("classify: no size completed")
        return 1
    ratio = f"{speedup:.0f}x faster than" if speedup is not None else "not compared with"
    print(
        f"classify {largest['n_patients']} patients: {largest['total_s']:.1f} s, "
        f"peak {largest['peak_rss_mb']:.0f} MB, {ratio} the per-patient reference"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
