"""The benchmark command: ``python benchmarks/run.py`` (or ``make bench``) prints Markdown tables.

What it measures (see benchmarks/README.md for the method and the latest results):

* one LSTM training step (forward over the sequence, mse_loss, backward), float32, for three
  cases (T, B, I, H): our ``nn.LSTM`` against ``torch.nn.LSTM`` (fused), the same LSTM composed
  from torch ops with eager autograd, and the hand-written numpy forward + BPTT in
  ``numpy_lstm.py`` (whose gradients are checked against ours before anything is timed);
* per-op overhead: a chain of 10,000 elementwise ops on a shape-(4,) tensor, forward + backward;
* backward through a chain of 1,000,000 ops: time and peak memory.

How (the machine is shared, so everything is a comparison made inside one process):

* thread counts are pinned before numpy or torch is imported (``--threads``, default 1) and
  printed;
* every measurement runs in a worker process started by this one, once with glibc's default
  malloc and once with ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` set, for every
  implementation alike (``--malloc``), so the effect of malloc is reported, not hidden;
* implementations are interleaved round by round (the order rotates), after warm-up; we report
  medians of wall-clock and of thread CPU time, and the ratios as the median of the per-round
  ratios (a round's measurements are taken within a fraction of a second of each other);
* peak memory is measured in a fresh process per implementation and case (see ``_memory``).

PyTorch is optional: without it only our figures and the numpy reference are printed.
"""

import os
import sys

# Thread counts must be fixed before numpy (OpenBLAS) or torch (OpenMP, MKL) is imported:
# the libraries read them once, when they load. The parent passes them on to its workers.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
if "--worker" in sys.argv or "--memory" in sys.argv or "--chain" in sys.argv:
    for _var in _THREAD_VARS:
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]  # run from a fresh clone without installing anything

CASES = {  # name: (T, B, I, H)
    "small": (20, 1, 8, 16),
    "main": (100, 64, 32, 128),
    "long": (1000, 16, 32, 64),
}
IMPLS = ("ours", "numpy", "torch_fused", "torch_composed", "torch_composed_slices")
LABELS = {
    "ours": "tinygrad_lite nn.LSTM",
    "numpy": "numpy forward + hand-written BPTT",
    "torch_fused": "torch.nn.LSTM (fused)",
    "torch_composed": "torch, composed from ops, eager autograd (gates by chunk)",
    "torch_composed_slices": "torch, composed, gates by 4 slices as nn.LSTM",
}
# glibc: serve blocks up to 32 MiB (the largest value glibc accepts) from the heap instead of
# fresh mmap()s, and never give freed heap back to the OS: no page faults on every step.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
SEED = 0


# ---------------------------------------------------------------------------------------------
# the implementations: each returns (step, grads): step() runs one training step, grads() gives
# the parameter gradients as numpy arrays keyed like nn.LSTM's state_dict


def _problem(case):
    import numpy as np

    T, B, I, H = CASES[case]  # noqa: E741  (I: input size, as in the issue)
    rng = np.random.default_rng(SEED)
    bound = 1 / np.sqrt(H)
    weights = {
        "weight_ih_l0": rng.uniform(-bound, bound, (4 * H, I)),
        "weight_hh_l0": rng.uniform(-bound, bound, (4 * H, H)),
        "bias_ih_l0": rng.uniform(-bound, bound, 4 * H),
        "bias_hh_l0": rng.uniform(-bound, bound, 4 * H),
    }
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    target = (0.5 * rng.standard_normal((T, B, H))).astype(np.float32)
    return weights, x, target


def _ours(weights, x, target):
    import nn
    from tinygrad_lite import Tensor

    T, B, I = x.shape  # noqa: E741  (I: input size, as in the issue)
    H = weights["weight_hh_l0"].shape[1]
    lstm = nn.LSTM(I, H)
    lstm.load_state_dict(weights)
    params = dict(lstm.named_parameters())
    x, target = Tensor(x), Tensor(target)

    def step():
        for p in params.values():
            p.grad = None
        out, _ = lstm(x)
        loss = nn.functional.mse_loss(out, target)
        loss.backward()
        return loss

    def grads():
        return {k: p.grad.numpy() for k, p in params.items()}

    return step, grads


def _numpy(weights, x, target):
    from numpy_lstm import lstm_step

    result = {}
    W_ih, W_hh, b_ih, b_hh = (weights[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))

    def step():
        loss, result["grads"] = lstm_step(x, target, W_ih, W_hh, b_ih, b_hh)
        return loss

    return step, lambda: result["grads"]


def _torch(kind):
    def make(weights, x, target):
        import torch_lstm

        if kind == "fused":
            return torch_lstm.fused_step(weights, x, target)
        return torch_lstm.composed_step(weights, x, target, gates_by=kind)

    return make


MAKERS = {"ours": _ours, "numpy": _numpy, "torch_fused": _torch("fused"), "torch_composed": _torch("chunk"),
          "torch_composed_slices": _torch("slices")}


def _have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _setup_threads(use_torch=True):
    """Pin torch's threads as well (numpy's were pinned through the environment); return a summary."""
    info = {var: os.environ.get(var) for var in _THREAD_VARS}
    if use_torch and _have_torch():
        import torch

        n = int(os.environ["OMP_NUM_THREADS"])
        torch.set_num_threads(n)
        info["torch.get_num_threads()"] = torch.get_num_threads()
    return info


def _check_gradients(grads, reference, label):
    """Our gradients against a reference's, entry by entry; returns the worst relative error."""
    import numpy as np

    worst = 0.0
    for name, g in grads.items():
        r = reference[name]
        scale = max(float(np.abs(r).max()), 1e-12)
        err = float(np.abs(g.astype(np.float64) - r).max()) / scale
        worst = max(worst, err)
    if worst > 2e-3:
        raise AssertionError(f"gradients of {label} differ from ours: worst relative error {worst:.2e}")
    return worst


# ---------------------------------------------------------------------------------------------
# timing


def _timed(fn):
    import gc

    gc.collect()  # start every run with the same (empty) garbage; the collector stays on
    c0, t0 = time.thread_time(), time.perf_counter()
    fn()
    t1, c1 = time.perf_counter(), time.thread_time()
    return t1 - t0, c1 - c0


def _interleaved(fns, budget, min_rounds, max_rounds, cold=False, block_s=0.05):
    """Rounds in which every function takes its turn, the order rotating; ~``budget`` seconds.

    A turn is a block of consecutive runs (as many as fit in ``block_s``, at least one) and the
    turn's figure is the block's median. The first run of a turn is not counted: it pays for the
    caches the previous implementation evicted, an artifact of taking turns (a training loop runs
    its own step again and again). ``cold=True`` counts single runs, that first one included.
    """
    import numpy as np

    names = list(fns)
    for name in names:  # warm-up: caches, allocator pools, lazy imports
        fns[name]()
        fns[name]()
    once = {n: _timed(fns[n])[0] for n in names}
    block = {n: 1 if cold else max(1, int(block_s / max(once[n], 1e-9))) for n in names}
    per_round = sum(once[n] * (block[n] + (0 if cold else 1)) for n in names)
    rounds = int(min(max_rounds, max(min_rounds, budget / max(per_round, 1e-9))))
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            if not cold:
                _timed(fns[n])  # the turn's first run: refills the caches, not counted
            runs = [_timed(fns[n]) for _ in range(block[n])]
            wall[n].append(float(np.median([w for w, _ in runs])))
            cpu[n].append(float(np.median([c for _, c in runs])))
    return wall, cpu, block


def _worker_lstm(args):
    import gc

    import numpy as np

    results = {}
    impls = [i for i in IMPLS if args.no_torch is False or not i.startswith("torch")]
    for case in args.cases:
        weights, x, target = _problem(case)
        steps, grads = {}, {}
        for name in impls:
            steps[name], grads[name] = MAKERS[name](weights, x, target)
        # correctness before speed: one step each, every gradient against ours
        for name in impls:
            steps[name]()
        if not args.no_gc_freeze:
            # Move every object alive now (torch alone brings ~150,000) out of the collector's
            # reach: otherwise each full collection triggered by a graph-building implementation
            # walks torch's objects too, a cost that depends on what else the process imported.
            gc.collect()
            gc.freeze()
        ours = grads["ours"]()
        errors = {name: _check_gradients(ours, grads[name](), LABELS[name]) for name in impls if name != "ours"}
        wall, cpu, block = _interleaved(steps, args.budget, 5, 400, args.cold)
        ratio = {name: float(np.median(np.array(wall["ours"]) / np.array(wall[name]))) for name in impls}
        ratio_cpu = {name: float(np.median(np.array(cpu["ours"]) / np.array(cpu[name]))) for name in impls}
        results[case] = {
            "rounds": len(wall["ours"]),
            "block": block,
            "wall_ms": {n: float(np.median(v)) * 1e3 for n, v in wall.items()},
            "cpu_ms": {n: float(np.median(v)) * 1e3 for n, v in cpu.items()},
            "ratio": ratio,
            "ratio_cpu": ratio_cpu,
            "grad_error": errors,
        }
    return results


PER_OP_CHAIN = 10_000


def _chain_ours(n):
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


def _chain_torch(n):
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


def _chain_numpy(n):
    import numpy as np

    a = np.full(4, 0.999, np.float32)
    b = np.full(4, 0.001, np.float32)

    def run():  # forward only: the floor that numpy itself costs
        y = np.full(4, 0.5, np.float32)
        for _ in range(n // 3):
            y = np.tanh(y * a + b)
        return y

    return run


def _worker_per_op(args):
    import numpy as np

    fns = {"ours": _chain_ours(PER_OP_CHAIN), "numpy_forward_only": _chain_numpy(PER_OP_CHAIN)}
    if not args.no_torch:
        fns["torch"] = _chain_torch(PER_OP_CHAIN)
        g1, g2 = fns["ours"]().numpy(), fns["torch"]().numpy()
        if not np.allclose(g1, g2, rtol=1e-3):
            raise AssertionError(f"per-op chain: our gradient {g1} differs from torch's {g2}")
    wall, cpu, _ = _interleaved(fns, args.budget, 5, 200, args.cold)
    ops = 3 * (PER_OP_CHAIN // 3)
    out = {
        "ops": ops,
        "us_per_op": {n: float(np.median(v)) / ops * 1e6 for n, v in wall.items()},
        "us_per_op_cpu": {n: float(np.median(v)) / ops * 1e6 for n, v in cpu.items()},
    }
    if "torch" in fns:
        out["ratio"] = float(np.median(np.array(wall["ours"]) / np.array(wall["torch"])))
    return out


def worker(args):
    info = {"threads": _setup_threads(not args.no_torch)}
    import numpy as np

    info["numpy"] = np.__version__
    if not args.no_torch:
        import torch

        info["torch"] = torch.__version__
    info["lstm"] = _worker_lstm(args)
    info["per_op"] = _worker_per_op(args)
    return info


# ---------------------------------------------------------------------------------------------
# memory: one fresh process per implementation and case


def memory(impl, case):
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

    _setup_threads(use_torch=impl.startswith("torch"))
    weights, x, target = _problem(case)
    step, _ = MAKERS[impl](weights, x, target)
    result = {}
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    rss0 = _status_kib("VmRSS")
    step()
    result["rss_peak_mib"] = (_status_kib("VmHWM") - rss0) / 1024
    if not impl.startswith("torch"):
        del step
        step, _ = MAKERS[impl](weights, x, target)
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
# backward through a million ops


def chain(n, freeze=True):
    """A chain of n elementwise ops (mul, tanh) on a shape-(4,) tensor: build it, time its backward.

    Twice: once timed (tracemalloc off: it slows every allocation down several times), then once
    under tracemalloc for the bytes the graph holds and the peak while backward runs.
    """
    import gc
    import tracemalloc

    import numpy as np

    from tinygrad_lite import Tensor

    _setup_threads(use_torch=False)
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


# ---------------------------------------------------------------------------------------------
# the parent: starts the workers, prints the tables


def _run_child(flags, env_extra, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update({var: str(args.threads) for var in _THREAD_VARS})
    env.update(env_extra)
    cmd = [sys.executable, os.path.abspath(__file__), *flags]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark worker failed: {' '.join(flags)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt_ms(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def _verdict(ok):
    return "**met**" if ok else "**not met**"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--budget", type=float, default=4.0,
                        help="seconds of timed rounds per case (all implementations together)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default 1)")
    parser.add_argument("--malloc", choices=("both", "default", "tuned"), default="both",
                        help="glibc malloc settings to run under (default: both, and report the effect)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument("--chain-ops", type=int, default=1_000_000, help="length of the backward chain (0: skip)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--cold", action="store_true",
                        help="count single interleaved runs, each right after another implementation's (see README)")
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="do not gc.freeze() the objects alive before timing (see README)")
    parser.add_argument("--json", help="also write every number to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=2, metavar=("IMPL", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--chain", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chain_ops and args.chain_ops < 2:
        parser.error("--chain-ops: 0 (skip) or at least 2 (the chain is pairs of mul and tanh)")
    args.cases = [c for c in args.cases.split(",") if c]
    for c in args.cases:
        if c not in CASES:
            parser.error(f"unknown case {c!r}; choose from {', '.join(CASES)}")
    if not args.no_torch and not _have_torch():
        args.no_torch = True

    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.memory:
        print(json.dumps(memory(*args.memory)))
        return
    if args.chain:
        print(json.dumps(chain(args.chain, freeze=not args.no_gc_freeze)))
        return
    parent(args)


def parent(args):
    import datetime

    torch_flag = ["--no-torch"] if args.no_torch else []
    freeze_flag = ["--no-gc-freeze"] if args.no_gc_freeze else []
    modes = {"default": {}, "tuned": TUNED_MALLOC}
    if args.malloc != "both":
        modes = {args.malloc: modes[args.malloc]}
    started = datetime.datetime.now(datetime.timezone.utc)
    load = os.getloadavg()
    results = {}
    for mode, env in modes.items():
        sys.stderr.write(f"timing under malloc={mode} ...\n")
        results[mode] = _run_child(["--worker", "--cases", ",".join(args.cases), "--budget", str(args.budget),
                                    *torch_flag, *freeze_flag,
                                    *(["--cold"] if args.cold else [])], env, args)
    main_mode = "tuned" if "tuned" in results else next(iter(results))
    impls = [i for i in IMPLS if not (args.no_torch and i.startswith("torch"))]
    mem = {}
    if not args.no_memory:
        sys.stderr.write("peak memory, one process per implementation and case ...\n")
        for case in args.cases:
            for impl in impls:
                mem[case, impl] = _run_child(["--memory", impl, case, *torch_flag], modes[main_mode], args)
    chain_result = None
    if args.chain_ops:
        sys.stderr.write(f"backward through {args.chain_ops:,} ops ...\n")
        chain_result = _run_child(["--chain", str(args.chain_ops), *freeze_flag], modes[main_mode], args)

    info = results[main_mode]
    out = []
    p = out.append
    p(f"## tinygrad_lite benchmarks ({started:%Y-%m-%d %H:%M} UTC)\n")
    p(f"- command: `python {' '.join([os.path.relpath(__file__, ROOT)] + sys.argv[1:])}`")
    p(f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
      f"{load[2]:.2f} at the start; Python {platform.python_version()}, numpy {info['numpy']}"
      + (f", torch {info['torch']}" if "torch" in info else ", torch not used (not installed, or --no-torch): its rows are left out"))
    p("- threads: " + ", ".join(f"{k}={v}" for k, v in info["threads"].items()))
    p(f"- malloc for the tables below: {main_mode}"
      + (" (" + ", ".join(f"{k}={v}" for k, v in TUNED_MALLOC.items()) + ")" if main_mode == "tuned" else "")
      + ", the same for every implementation")
    p("- times: medians over interleaved rounds after warm-up; `ours ÷ ref` is the median of the per-round "
      "ratios (below 1: ours is faster); "
      + ("every single run counted, each right after another implementation's (--cold)" if args.cold else
         "each turn is a block of runs whose first (cache refill after the previous implementation) is not "
         "counted")
      + "; garbage collector " + ("not frozen" if args.no_gc_freeze else "frozen (gc.freeze) before timing")
      + "\n")

    p("### One training step of an LSTM (forward over T steps, mse_loss, backward), float32\n")
    p("| case (T, B, I, H) | implementation | median wall ms | median CPU ms | ours ÷ ref (wall) | ours ÷ ref (CPU) "
      "| peak tracemalloc MiB | peak RSS growth MiB |")
    p("|---|---|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        r = info["lstm"][case]
        for impl in impls:
            m = mem.get((case, impl), {})
            tm = m.get("tracemalloc_peak_mib")
            p(f"| {case} {CASES[case]} | {LABELS[impl]} | {_fmt_ms(r['wall_ms'][impl])} | {_fmt_ms(r['cpu_ms'][impl])} | "
              + ("—" if impl == "ours" else f"{r['ratio'][impl]:.2f}") + " | "
              + ("—" if impl == "ours" else f"{r['ratio_cpu'][impl]:.2f}") + " | "
              + (f"{tm:.1f}" if tm is not None else "—") + " | "
              + (f"{m['rss_peak_mib']:.1f}" if m else "—") + " |")
    p("")
    p("Rounds per case (runs per turn for ours): "
      + ", ".join(f"{c} {info['lstm'][c]['rounds']} ({info['lstm'][c]['block']['ours']})" for c in args.cases)
      + ". Worst relative gradient difference to ours (checked before timing): "
      + "; ".join(f"{c}: " + ", ".join(f"{k} {v:.1e}" for k, v in info["lstm"][c]["grad_error"].items())
                  for c in args.cases) + ".\n")

    from numpy_lstm import kept_bytes

    kept_mib = {c: kept_bytes(*CASES[c]) / 2**20 for c in args.cases}
    peaks = "; ".join(f"{c}: " + ", ".join(f"{i} {mem[c, i]['tracemalloc_peak_mib'] / kept_mib[c]:.2f}×"
                                           for i in ("ours", "numpy") if "tracemalloc_peak_mib" in mem.get((c, i), {}))
                      for c in args.cases if (c, "ours") in mem)
    p("Bytes that backward must keep (activations i, f, g, o, C, tanh C, h of every step, and x; "
      "see README): " + ", ".join(f"{c} {kept_mib[c]:.3g} MiB" for c in args.cases)
      + (f". Peak tracemalloc ÷ that: {peaks}" if peaks else "") + ".\n")

    # targets

    rows = []
    lstm = info["lstm"]
    composed = [k for k in ("torch_composed", "torch_composed_slices") if k in impls]
    short = {"torch_composed": "torch composed (chunk)", "torch_composed_slices": "torch composed (slices)"}
    if "main" in lstm:
        r = lstm["main"]
        for k in composed:
            v = r["ratio"][k]
            rows.append((f"main: ours ≤ 0.8 × {short[k]}", f"{v:.2f}×", v <= 0.8))
        v = r["ratio"]["numpy"]
        rows.append(("main: ours ≤ 1.2 × numpy hand-written BPTT", f"{v:.2f}×", v <= 1.2))
    for case in ("small", "long"):
        for k in composed:
            if case in lstm:
                v = lstm[case]["ratio"][k]
                rows.append((f"{case}: ours < 1 × {short[k]}", f"{v:.2f}×", v < 1))
    po = info["per_op"]
    if "ratio" in po:
        rows.append(("per-op overhead below torch eager's", f"{po['us_per_op']['ours']:.2f} µs vs "
                     f"{po['us_per_op']['torch']:.2f} µs ({po['ratio']:.2f}×)", po["ratio"] < 1))
    if ("long", "ours") in mem and "tracemalloc_peak_mib" in mem["long", "ours"]:
        need = kept_bytes(*CASES["long"]) / 2**20
        peak = mem["long", "ours"]["tracemalloc_peak_mib"]
        rows.append(("long: peak memory ≤ 1.5 × bytes backward must keep",
                     f"{peak:.1f} MiB / {need:.1f} MiB = {peak / need:.2f}×", peak <= 1.5 * need))
    if rows:
        p("### Targets (issue 6)\n")
        p("| target | measured | |")
        p("|---|---|---|")
        for name, value, ok in rows:
            p(f"| {name} | {value} | {_verdict(ok)} |")
        p("")

    p(f"### Per-op overhead: a chain of {po['ops']:,} elementwise ops (mul, add, tanh) on a shape-(4,) tensor\n")
    p("| implementation | µs per op (wall) | µs per op (CPU) |")
    p("|---|---:|---:|")
    names = {"ours": "tinygrad_lite, forward + backward", "torch": "torch eager, forward + backward",
             "numpy_forward_only": "raw numpy, forward only (the floor)"}
    for k, v in po["us_per_op"].items():
        p(f"| {names[k]} | {v:.2f} | {po['us_per_op_cpu'][k]:.2f} |")
    p("")

    if chain_result:
        c = chain_result
        p(f"### Backward through a chain of {c['ops']:,} ops (mul, tanh on a shape-(4,) tensor)\n")
        p(f"- building the graph: {c['build_s']:.2f} s; it holds {c['graph_mib']:.0f} MiB "
          f"({c['graph_mib'] * 2**20 / c['ops']:.0f} bytes per op: tensor, node, parents tuple, array; tracemalloc)")
        p(f"- backward: {c['backward_s']:.2f} s ({c['backward_s'] / c['ops'] * 1e6:.2f} µs per op), peak "
          f"{c['peak_mib']:.0f} MiB while it runs: nothing beyond the graph itself, which backward frees as it "
          f"walks it ({c['after_mib']:.1f} MiB left after); no recursion; gradient finite: {c['grad_finite']}\n")

    if len(results) > 1:
        p("### glibc malloc: default against MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ set (same for all)\n")
        p("| case | implementation | default ms | tuned ms | tuned ÷ default |")
        p("|---|---|---:|---:|---:|")
        for case in args.cases:
            for impl in impls:
                d = results["default"]["lstm"][case]["wall_ms"][impl]
                t = results["tuned"]["lstm"][case]["wall_ms"][impl]
                p(f"| {case} | {LABELS[impl]} | {_fmt_ms(d)} | {_fmt_ms(t)} | {t / d:.2f} |")
        p("")
        p("| case | reference | ours ÷ ref, default malloc | ours ÷ ref, tuned malloc |")
        p("|---|---|---:|---:|")
        for case in args.cases:
            rd, rt = results["default"]["lstm"][case]["ratio"], results["tuned"]["lstm"][case]["ratio"]
            for impl in impls[1:]:
                p(f"| {case} | {LABELS[impl]} | {rd[impl]:.2f} | {rt[impl]:.2f} |")
        p("")
    print("\n".join(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"timing": results, "memory": {f"{c}/{i}": v for (c, i), v in mem.items()},
                       "chain": chain_result}, f, indent=1)


if __name__ == "__main__":
    main()
