"""Where the time of one nn.LSTM training step goes: per op, forward and backward, and the rest.

    python benchmarks/profile_lstm.py [main|small|long] [--compiled] [--cprofile]

Every op class's ``forward`` and ``backward`` is wrapped with a timer (in this process only);
what the step costs beyond those is the engine's and nn's bookkeeping: making Tensor and node
objects, the consumer counting and ready list of backward, accumulating gradients, hooks, names.
The timers themselves cost about 0.1-0.2 µs per call; that is measured and subtracted.
``--cprofile`` prints cProfile's top functions instead (its overhead is larger and uneven).
``--compiled`` profiles the same step under ``tinygrad_lite.compile`` (after its recording):
what is left beyond the ops is then the replay's own loops (jit.py, replay.py).
"""

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]

import numpy as np  # noqa: E402
from implementations import CASES, ours, problem  # noqa: E402

from tinygrad_lite import ops  # noqa: E402

_perf = time.perf_counter
TOTALS = defaultdict(lambda: [0, 0.0, 0, 0.0])  # op name -> [forward calls, s, backward calls, s]


def _wrap(cls):
    fwd, bwd = cls.__dict__.get("forward"), cls.__dict__.get("backward")
    row = TOTALS[cls.__name__]
    if fwd is not None:
        def forward(self, *args):
            t0 = _perf()
            out = fwd(self, *args)
            row[1] += _perf() - t0
            row[0] += 1
            return out
        cls.forward = forward
    if bwd is not None:
        def backward(self, g):
            t0 = _perf()
            out = bwd(self, g)
            row[3] += _perf() - t0
            row[2] += 1
            return out
        cls.backward = backward


def _timer_cost():
    t0 = _perf()
    for _ in range(100_000):
        t1 = _perf()
        _ = _perf() - t1
    return (_perf() - t0) / 100_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case", nargs="?", default="main", choices=list(CASES))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--compiled", action="store_true", help="the step under tinygrad_lite.compile")
    args = parser.parse_args()
    step, _ = ours(*problem(args.case), compiled=args.compiled)
    step()  # compiled: the recording
    step()
    if args.cprofile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.steps):
            step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        return
    for cls in {c for c in vars(ops).values() if isinstance(c, type) and issubclass(c, ops.Function)}:
        _wrap(cls)
    step()
    for row in TOTALS.values():  # the wrappers hold these lists: reset them in place
        row[:] = [0, 0.0, 0, 0.0]
    steps = []
    for _ in range(args.steps):
        gc.collect()
        t0 = _perf()
        step()
        steps.append(_perf() - t0)
    cost = _timer_cost()
    n = args.steps
    calls = sum(fc + bc for fc, _, bc, _ in TOTALS.values()) / n
    # each wrapped call pays one pair of timer reads, which is what _timer_cost measures
    total = float(np.mean(steps)) - calls * cost
    print(f"case {args.case} {CASES[args.case]}: one step {total * 1e3:.2f} ms "
          f"(mean of {n}, timer cost {cost * 1e6:.2f} µs per call subtracted)")
    print(f"{'op':<12}{'calls':>7}{'fwd µs/call':>13}{'bwd µs/call':>13}{'fwd ms':>9}{'bwd ms':>9}")
    fwd_all = bwd_all = calls_all = 0.0
    for name, (fc, fs, bc, bs) in sorted(TOTALS.items(), key=lambda kv: -(kv[1][1] + kv[1][3])):
        if not fc:
            continue
        fs, bs = max(fs - fc * cost, 0), max(bs - bc * cost, 0)
        fwd_all += fs / n
        bwd_all += bs / n
        calls_all += fc / n
        print(f"{name:<12}{fc // n:>7}{fs / max(fc, 1) * 1e6:>13.2f}{bs / max(bc, 1) * 1e6:>13.2f}"
              f"{fs / n * 1e3:>9.2f}{bs / n * 1e3:>9.2f}")
    rest = total - fwd_all - bwd_all
    what = "the replay's loops" if args.compiled else "engine + nn bookkeeping"
    print(f"ops' forward {fwd_all * 1e3:.2f} ms, ops' backward {bwd_all * 1e3:.2f} ms, everything else "
          f"({what}) {rest * 1e3:.2f} ms = {rest / calls_all * 1e6:.2f} µs per op ({calls_all:.0f} ops per step)"
          f"; the rest is {rest / total:.0%} of the step")


if __name__ == "__main__":
    main()
