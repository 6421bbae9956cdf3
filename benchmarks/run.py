"""The benchmark command: ``python benchmarks/run.py`` (or ``make bench``) prints Markdown tables.

It measures (see benchmarks/README.md for the method and the latest results) one LSTM training
step, float32, in three cases, for our ``nn.LSTM``, ``torch.nn.LSTM`` (fused), the same LSTM
composed from torch ops and the hand-written numpy BPTT; the per-op overhead of a chain of tiny
ops; backward through a chain of 1,000,000 ops; and peak memory. Every measurement runs in a
worker process (worker.py) with pinned threads, under glibc's default malloc and a tuned one.
PyTorch is optional: without it only our figures and the numpy reference are printed.

The parts: implementations.py (what is timed), timing.py (how), probes.py (per-op overhead,
memory, the long chain), report.py (the tables and the targets), worker.py (one process's work).
"""

import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import implementations  # noqa: E402
import report  # noqa: E402
import timing  # noqa: E402


def parse_args(argv=None):
    cases = implementations.CASES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(cases), help="comma-separated: " + ", ".join(cases))
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
    args = parser.parse_args(argv)
    if args.chain_ops and args.chain_ops < 2:
        parser.error("--chain-ops: 0 (skip) or at least 2 (the chain is pairs of mul and tanh)")
    args.cases = [c for c in args.cases.split(",") if c]
    for c in args.cases:
        if c not in cases:
            parser.error(f"unknown case {c!r}; choose from {', '.join(cases)}")
    if not args.no_torch and not implementations.have_torch():
        args.no_torch = True
    return args


def measure(args):
    """Start the workers: timing under each malloc mode, then peak memory and the long chain."""
    modes = ("default", "tuned") if args.malloc == "both" else (args.malloc,)
    main_mode = "tuned" if "tuned" in modes else modes[0]
    started = datetime.datetime.now(datetime.timezone.utc)
    load = os.getloadavg()
    results = {}
    for mode in modes:
        sys.stderr.write(f"timing under malloc={mode} ...\n")
        results[mode] = timing.run_worker("timing", {
            "cases": args.cases, "budget": args.budget, "cold": args.cold, "no_torch": args.no_torch,
            "no_gc_freeze": args.no_gc_freeze}, timing.worker_env(args.threads, mode))
    env = timing.worker_env(args.threads, main_mode)
    impls = implementations.available(args.no_torch)
    memory = {}
    if not args.no_memory:
        sys.stderr.write("peak memory, one process per implementation and case ...\n")
        for case in args.cases:
            for impl in impls:
                memory[case, impl] = timing.run_worker("memory", {"impl": impl, "case": case}, env)
    chain = None
    if args.chain_ops:
        sys.stderr.write(f"backward through {args.chain_ops:,} ops ...\n")
        chain = timing.run_worker("chain", {"ops": args.chain_ops, "freeze": not args.no_gc_freeze}, env)
    command = " ".join([os.path.relpath(os.path.abspath(__file__), os.path.dirname(HERE))] + sys.argv[1:])
    return report.Results(started=started, command=command, load=load, cases=args.cases, impls=impls,
                          timing=results, main_mode=main_mode, memory=memory, chain=chain, cold=args.cold,
                          gc_frozen=not args.no_gc_freeze)


def main():
    args = parse_args()
    res = measure(args)
    print(report.render(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"timing": res.timing, "memory": {f"{c}/{i}": v for (c, i), v in res.memory.items()},
                       "chain": res.chain}, f, indent=1)


if __name__ == "__main__":
    main()
