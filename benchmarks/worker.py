"""One measurement in a process of its own: ``python benchmarks/worker.py ROLE SETTINGS_JSON``.

Started by run.py and compare.py, not typed by hand. The parent chooses the environment (thread
counts, malloc settings: they must be fixed before numpy or torch is imported) and, with
``settings["lib"]``, the directory whose ``tinygrad_lite/`` and ``nn/`` are imported (default:
this repository). The result is one line of JSON on stdout.

Roles: ``timing`` (every LSTM implementation interleaved, then the per-op chain), ``memory``
(peak memory of one step), ``chain`` (backward through a long chain) for run.py; ``identify``
(which library, and the losses it computes) and ``serve`` (our step, timed on demand) for compare.py.
"""

import gc
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def lstm_timing(cases, budget, cold, use_torch, freeze):
    """Every implementation on every case: gradients checked against ours, then interleaved rounds."""
    import implementations
    import timing

    results = {}
    impls = implementations.available(no_torch=not use_torch)
    for case in cases:
        weights, x, target = implementations.problem(case)
        steps, grads = {}, {}
        for name in impls:
            steps[name], grads[name] = implementations.MAKERS[name](weights, x, target)
        for name in impls:  # correctness before speed: every gradient against ours
            steps[name]()
            steps[name]()  # twice: a compiled step's first call records (eager), the second replays
        if freeze:
            _freeze_garbage_collector()
        ours = grads["ours"]()
        errors = {name: implementations.gradient_error(ours, grads[name](), implementations.LABELS[name])
                  for name in impls if name != "ours"}
        wall, cpu, block = timing.interleaved(steps, budget, 5, 400, cold)
        results[case] = {
            "rounds": len(wall["ours"]),
            "block": block,
            "wall_ms": {n: timing.median(v) * 1e3 for n, v in wall.items()},
            "cpu_ms": {n: timing.median(v) * 1e3 for n, v in cpu.items()},
            "ratio": {n: timing.ratio_of_medians_per_round(wall, "ours", n) for n in impls},
            "ratio_cpu": {n: timing.ratio_of_medians_per_round(cpu, "ours", n) for n in impls},
            # the compiled step against every implementation (the compile targets)
            "ratio_compiled": {n: timing.ratio_of_medians_per_round(wall, "ours_compiled", n) for n in impls}
            if "ours_compiled" in impls else {},
            "grad_error": errors,
        }
    return results


def _freeze_garbage_collector():
    # Move every object alive now (torch alone brings ~150,000) out of the collector's reach:
    # otherwise each full collection triggered by a graph-building implementation walks those
    # objects too, a cost that depends on what else the process imported.
    gc.collect()
    gc.freeze()


def role_timing(s):
    import numpy as np
    import probes
    import timing

    use_torch = not s["no_torch"]
    info = {"threads": timing.pin_torch_threads(use_torch), "numpy": np.__version__}
    if use_torch:
        import torch

        info["torch"] = torch.__version__
    info["lstm"] = lstm_timing(s["cases"], s["budget"], s["cold"], use_torch, not s["no_gc_freeze"])
    info["per_op"] = probes.per_op_overhead(s["budget"], s["cold"], use_torch)
    return info


def role_memory(s):
    import probes

    return probes.peak_memory(s["impl"], s["case"])


def role_chain(s):
    import probes

    return probes.long_chain(s["ops"], freeze=s["freeze"])


def _eager_measure(measure):
    """(run, fingerprint) for one of compare's measures: an LSTM case, or the per-op chain."""
    import implementations
    import numpy as np
    import probes

    if measure == "per_op":
        run = probes.chain_ours(probes.PER_OP_CHAIN)
        return run, lambda: [float(v) for v in run().numpy()]
    step, grads = implementations.ours(*implementations.problem(measure))

    def fingerprint():
        loss = float(step().numpy())
        return [loss] + [float(np.sqrt(np.sum(g.astype(np.float64) ** 2))) for g in grads().values()]

    return step, fingerprint


def _library_files():
    import nn
    import tinygrad_lite

    return {"tinygrad_lite": os.path.abspath(tinygrad_lite.__file__), "nn": os.path.abspath(nn.__file__)}


def role_identify(s):
    """Which library this process imports, and what it computes: for every measure the loss and
    the gradient norms (LSTM cases) or the input's gradient (per-op chain)."""
    import numpy as np
    import timing

    return {
        "files": _library_files(),
        "numpy": np.__version__,
        "threads": {var: os.environ.get(var) for var in timing.THREAD_VARS},
        "blas_threads": timing.blas_threads(),
        "fingerprints": {m: _eager_measure(m)[1]() for m in s["measures"]},
    }


def role_serve(s):
    """Our eager step (or the per-op chain) on demand, for compare.py's interleaved turns.

    Prints the library files and one run's time, then for every line ``N`` read from stdin runs
    N + 1 steps and prints the median wall and CPU seconds of the last N (the first refills the
    caches the other side's turn evicted, as in timing.interleaved); ends when stdin closes.
    """
    import timing

    run, _ = _eager_measure(s["measure"])
    warm_up = [timing.timed(run)[0] for _ in range(3)]  # their median: one step's time, for the plan
    if s["freeze"]:
        _freeze_garbage_collector()
    _reply({"files": _library_files(), "once_s": timing.median(warm_up)})
    for line in sys.stdin:
        timing.timed(run)
        runs = [timing.timed(run) for _ in range(int(line))]
        _reply({"wall_s": timing.median([w for w, _ in runs]), "cpu_s": timing.median([c for _, c in runs])})


def _reply(result):
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


ROLES = {"timing": role_timing, "memory": role_memory, "chain": role_chain, "identify": role_identify,
         "serve": role_serve}


def main():
    role, settings = sys.argv[1], json.loads(sys.argv[2])
    if role not in ROLES:
        raise SystemExit(f"worker.py: unknown role {role!r}; choose from {', '.join(ROLES)}")
    # the library under test first on sys.path, before anything imports it (this directory,
    # benchmarks/, is sys.path[0] already: the benchmark's own modules come from here)
    sys.path.insert(1, os.path.abspath(settings.get("lib") or ROOT))
    result = ROLES[role](settings)
    if result is not None:  # (serve has replied as it went)
        _reply(result)


if __name__ == "__main__":
    main()
