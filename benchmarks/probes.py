"""Probes beside the LSTM step: per-op overhead, peak memory of one step, backward through a
long chain. Each runs inside a worker process (see worker.py), which has chosen the library."""

import time

import timing
from implementations import MAKERS, problem

PER_OP_CHAIN = 10_000  # ops in the per-op overhead chain (mul, add, tanh cycling)


# ---------------------------------------------------------------------------------------------
# per-op overhead: a chain of tiny elementwise ops, forward + backward


def chain_ours(n):
    import numpy as np

    from tinygrad_lite import Tensor

    a = Tensor(np.full(4, 0.999, np.float32))
    b = Tensor(np.full(4, 0.001, np.float32))

    def run():
        x = Tensor(np.full(4, 0.5, np.float32), requires_grad=True)
        y = x
        for _ in range(n // 3):  # 3 ops per turn: mul, add, tanh
            y = (y * a + b).tanh()
        y.backward(np.ones(4, np.float32))
        return x.grad

    return run


def chain_torch(n):
    import torch

    a = torch.full((4,), 0.999)
    b = torch.full((4,), 0.001)

    def run():
        x = torch.full((4,), 0.5, requires_grad=True)
        y = x
        for _ in range(n // 3):
            y = (y * a + b).tanh()
        y.backward(torch.ones(4))
        return x.grad

    return run


def chain_numpy(n):
    import numpy as np

    a = np.full(4, 0.999, np.float32)
    b = np.full(4, 0.001, np.float32)

    def run():  # forward only: the floor that numpy itself costs
        y = np.full(4, 0.5, np.float32)
        for _ in range(n // 3):
            y = np.tanh(y * a + b)
        return y

    return run


def chain_ops(n=PER_OP_CHAIN):
    """How many ops the per-op chain of length ``n`` really has (whole turns of three)."""
    return 3 * (n // 3)


def per_op_overhead(budget, cold=False, use_torch=True):
    """µs per op of the chain: ours (forward + backward), raw numpy (forward), torch eager."""
    import numpy as np

    fns = {"ours": chain_ours(PER_OP_CHAIN), "numpy_forward_only": chain_numpy(PER_OP_CHAIN)}
    if use_torch:
        fns["torch"] = chain_torch(PER_OP_CHAIN)
        g1, g2 = fns["ours"]().numpy(), fns["torch"]().numpy()
        if not np.allclose(g1, g2, rtol=1e-3):
            raise AssertionError(f"per-op chain: our gradient {g1} differs from torch's {g2}")
    wall, cpu, _ = timing.interleaved(fns, budget, 5, 200, cold)
    ops = chain_ops()
    out = {
        "ops": ops,
        "us_per_op": {n: timing.median(v) / ops * 1e6 for n, v in wall.items()},
        "us_per_op_cpu": {n: timing.median(v) / ops * 1e6 for n, v in cpu.items()},
    }
    if "torch" in fns:
        out["ratio"] = timing.ratio_of_medians_per_round(wall, "ours", "torch")
    return out


# ---------------------------------------------------------------------------------------------
# peak memory of one training step (a fresh process per implementation and case)


def peak_memory(impl, case):
    """Peak memory of one training step, measured two ways.

    * tracemalloc: every byte numpy allocates for an array is reported to it (and every Python
      object), so for our engine and the numpy reference it counts exactly the arrays alive at
      the worst moment, independent of malloc's caching. torch's allocator does not report to
      tracemalloc, so it would say ~0 for torch: not shown for torch.
    * peak RSS growth (VmHWM after the step - VmRSS before it, in this fresh process): what the
      OS had to give, for every implementation alike, including allocator slack and libraries'
      workspaces. Coarser (pages, and memory malloc keeps cached), but comparable across all four.
    """
    import tracemalloc

    timing.pin_torch_threads(use_torch=impl.startswith("torch"))
    weights, x, target = problem(case)
    step, _ = MAKERS[impl](weights, x, target)
    # compiled: the first call records (eager), the second generates the replay's code (its
    # transient peak is in benchmarks/README.md); measure the replays a training loop runs
    warm = 2 if impl == "ours_compiled" else 0
    for _ in range(warm):
        step()
    result = {}
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    rss0 = _status_kib("VmRSS")
    step()
    result["rss_peak_mib"] = (_status_kib("VmHWM") - rss0) / 1024
    if not impl.startswith("torch"):
        del step
        step, _ = MAKERS[impl](weights, x, target)
        for _ in range(warm):
            step()
        tracemalloc.start()
        step()
        result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# ---------------------------------------------------------------------------------------------
# backward through a very long chain


def long_chain(n, freeze=True):
    """A chain of n elementwise ops (mul, tanh) on a shape-(4,) tensor: build it, time its backward.

    Twice: once timed (tracemalloc off: it slows every allocation down several times), then once
    under tracemalloc for the bytes the graph holds and the peak while backward runs.
    """
    import gc
    import tracemalloc

    import numpy as np

    from tinygrad_lite import Tensor

    timing.pin_torch_threads(use_torch=False)
    a = Tensor(np.full(4, 0.999, np.float32))

    def build():
        x = Tensor(np.full(4, 0.5, np.float32), requires_grad=True)
        y = x
        for _ in range(n // 2):
            y = (y * a).tanh()
        return x, y

    result = {"ops": 2 * (n // 2)}
    gc.collect()
    if freeze:
        gc.freeze()
    t0 = time.perf_counter()
    x, y = build()
    t1 = time.perf_counter()
    y.backward(np.ones(4, np.float32))
    t2 = time.perf_counter()
    result.update(build_s=t1 - t0, backward_s=t2 - t1, grad_finite=bool(np.isfinite(x.grad.numpy()).all()))
    del x, y
    gc.collect()
    tracemalloc.start()
    x, y = build()
    result["graph_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.reset_peak()
    y.backward(np.ones(4, np.float32))
    result["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    del y
    result["after_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    return result
