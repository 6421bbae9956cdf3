"""How the benchmarks time things on a shared machine: worker processes with a chosen environment,
interleaved rounds, medians of per-round ratios.

* Thread counts are fixed through the environment of a worker process, before numpy (OpenBLAS)
  or torch (OpenMP, MKL) is imported: the libraries read them once, when they load.
* glibc's malloc settings are also environment variables, so they are chosen per worker too, the
  same for every implementation in it.
* Implementations are compared inside one process, in rounds where each takes a turn (the order
  rotating); a ratio is the median of the per-round ratios, because a round's turns are a
  fraction of a second apart and a change of load on the machine cancels out of each ratio.
"""

import gc
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# glibc: serve blocks up to 32 MiB (the largest value glibc accepts) from the heap instead of
# fresh mmap()s, and never give freed heap back to the OS: no page faults on every step.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
MALLOC_MODES = {"default": {}, "tuned": TUNED_MALLOC}


# ---------------------------------------------------------------------------------------------
# worker processes


def worker_env(threads, malloc):
    """The environment of a worker: ours without malloc settings, then ``malloc``'s; the thread
    variables set to ``threads``, or left as they are when ``threads`` is None (the machine's
    default unless the caller's environment sets them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if threads is not None:
        env.update({var: str(threads) for var in THREAD_VARS})
    env.update(MALLOC_MODES[malloc])
    return env


def run_worker(role, settings, env):
    """Run ``worker.py ROLE SETTINGS`` in a fresh process; return the JSON it prints last."""
    cmd = [sys.executable, os.path.join(HERE, "worker.py"), role, json.dumps(settings)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark worker failed: {role} {json.dumps(settings)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pin_torch_threads(use_torch=True):
    """Give torch the thread count the environment gives BLAS; return the thread settings."""
    info = {var: os.environ.get(var) for var in THREAD_VARS}
    if use_torch and os.environ.get("OMP_NUM_THREADS"):
        try:
            import torch
        except ImportError:
            return info
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        info["torch.get_num_threads()"] = torch.get_num_threads()
    return info


def blas_threads():
    """The thread count numpy's bundled OpenBLAS runs with, or None where it cannot be asked."""
    import ctypes

    import numpy as np

    for path in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                return int(getattr(lib, name)())
    return None


# ---------------------------------------------------------------------------------------------
# timing inside a worker


def timed(fn):
    """One run of ``fn``: (wall seconds, thread CPU seconds). The collector runs before, untimed."""
    gc.collect()  # start every run with the same (empty) garbage; the collector stays on
    c0, t0 = time.thread_time(), time.perf_counter()
    fn()
    t1, c1 = time.perf_counter(), time.thread_time()
    return t1 - t0, c1 - c0


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def interleaved(fns, budget, min_rounds, max_rounds, cold=False, block_s=0.05):
    """Rounds in which every function takes its turn, the order rotating; ~``budget`` seconds.

    A turn is a block of consecutive runs (as many as fit in ``block_s``, at least one) and the
    turn's figure is the block's median. The first run of a turn is not counted: it pays for the
    caches the previous implementation evicted, an artifact of taking turns (a training loop runs
    its own step again and again). ``cold=True`` counts single runs, that first one included.
    Returns per-round wall and CPU seconds of every function, and the block sizes.
    """
    names = list(fns)
    for name in names:  # warm-up: caches, allocator pools, lazy imports
        fns[name]()
        fns[name]()
    once = {n: timed(fns[n])[0] for n in names}
    block = {n: 1 if cold else max(1, int(block_s / max(once[n], 1e-9))) for n in names}
    per_round = sum(once[n] * (block[n] + (0 if cold else 1)) for n in names)
    rounds = int(min(max_rounds, max(min_rounds, budget / max(per_round, 1e-9))))
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            if not cold:
                timed(fns[n])  # the turn's first run: refills the caches, not counted
            runs = [timed(fns[n]) for _ in range(block[n])]
            wall[n].append(median([w for w, _ in runs]))
            cpu[n].append(median([c for _, c in runs]))
    return wall, cpu, block


def ratio_of_medians_per_round(times, numerator, denominator):
    """Median over rounds of times[numerator][r] / times[denominator][r]."""
    return median([a / b for a, b in zip(times[numerator], times[denominator])])


def repeated(fn, budget, min_runs=5):
    """Runs of one function alone for about ``budget`` seconds (at least ``min_runs``), after two
    warm-up runs; returns the wall and CPU seconds of each run."""
    fn()
    fn()
    wall, cpu = [], []
    start = time.perf_counter()
    while len(wall) < min_runs or time.perf_counter() - start < budget:
        w, c = timed(fn)
        wall.append(w)
        cpu.append(c)
    return wall, cpu
