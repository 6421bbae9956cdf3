"""The command line: run every job, measure, draw, plot, and write report.md and results.json."""

import argparse
import contextlib
import dataclasses
import os
import pathlib
import sys
import time

from . import gates, graphs, jacobians, jobs, measurements, plots, provenance, report, results
from .settings import best_lstm, settings_for

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the repository
DESCRIPTION = "RNN versus LSTM (and GRU): why the LSTM remembers. Trains them, measures, and writes a report."


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=DESCRIPTION)
    p.add_argument("--out", default="out/showcase", help="the folder of the report (default: out/showcase)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a smoke run of every part in seconds")
    size.add_argument("--full", action="store_true", help="longer sequences, more steps and seeds (an hour or more)")
    p.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None,
                   help="training seeds per configuration (default: 1, or 3 with --full)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes for the training runs (default: 2, or 1 on one core)")
    p.add_argument("--eager", action="store_true",
                   help="train eagerly, without tinygrad_lite.compile (to time what compile saves)")
    return p.parse_args(argv)


def settings_of(args):
    s = settings_for("quick" if args.quick else "full" if args.full else "default")
    s = s if args.seeds is None else dataclasses.replace(s, seeds=max(1, args.seeds))
    return dataclasses.replace(s, compiled=False) if args.eager else s


class Clock:
    """The wall and CPU seconds each part of the run took in this process, in the order the parts ran."""

    def __init__(self):
        self.parts = {}

    @contextlib.contextmanager
    def part(self, name):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.parts[name] = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}


JOB_PARTS = (("token", "token task"), ("adding", "adding problem"), ("explode", "exploding gradients"),
             ("random search", "random search"))


def job_seconds_by_part(done):
    """{part: {"wall": summed seconds of its jobs, "cpu": their summed CPU seconds}}: each job's name
    says which part it belongs to."""
    seconds = {label: {"wall": 0.0, "cpu": 0.0} for _, label in JOB_PARTS}
    for name, r in done.items():
        label = next(label for prefix, label in JOB_PARTS if name.startswith(prefix))
        seconds[label]["wall"] += r["job_seconds"]
        seconds[label]["cpu"] += r["job_cpu_seconds"]
    return seconds


def timings_of(start, trained_at, workers, commit, done, clock):
    """The run's timings until now (and what ran: workers, date, commit) for the report and results.json."""
    end = time.perf_counter()
    return {"total": end - start, "training": trained_at - start, "after": end - trained_at,
            "workers": workers, "when": time.strftime("%Y-%m-%d"), "commit": commit,
            "job_seconds": sum(r["job_seconds"] for r in done.values()),
            "jobs_by_part": job_seconds_by_part(done), "after_by_part": dict(clock.parts),
            "load": os.getloadavg() if hasattr(os, "getloadavg") else None}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    start = time.perf_counter()
    load_at_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    commit = provenance.git_commit(ROOT)  # the code that runs is the code at the start
    s = settings_of(args)
    workers = max(1, args.jobs)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    job_list = jobs.make_jobs(s, args.seed)
    print(f"showcase ({s.mode}): {len(job_list)} jobs on {args.jobs} worker(s); report -> {out}/report.md",
          flush=True)
    done = jobs.run_jobs(job_list, workers, jobs.Progress(len(job_list)))
    trained_at = time.perf_counter()
    clock = Clock()
    token, adding = results.collect(s, args.seed, done)
    trained = results.trained_states(s, args.seed, done)
    print("measuring the gradient flow, the Jacobians and the gates, drawing the pictures ...", flush=True)
    with clock.part("gradient flow"):
        flow = measurements.flow_measurements(s, args.seed, trained)
    with clock.part("Jacobians through time"):
        jac = jacobians.jacobian_measurements(s, args.seed, trained)
    with clock.part("gate activity"):
        gate = gates.gate_activity(s, results.gate_states(s, args.seed, done), best_lstm(s))
    mechanism = {"gates": gate, "jacobians": jac, "explode": results.explode_runs(s, args.seed, done),
                 "random_search": results.random_results(s, args.seed, done, token, adding)}

    def save(timings):
        results.save_results(out / "results.json", s, args.seed, timings, flow, token, adding, done, mechanism)

    save(timings_of(start, trained_at, workers, commit, done, clock))  # every number, before anything is drawn
    with clock.part("graph pictures"):
        unrolls = graphs.draw_unrolls(s, args.seed, {n: trained[n] for n in ("rnn", best_lstm(s))}, out)
    if unrolls["missing"]:
        print(f"the graph pictures are not drawn (the report has every table and plot; the graphs' DOT text is in "
              f"{out}/unroll_*.dot): {unrolls['missing']}", flush=True)
    with clock.part("plots"):
        plots.plot_all(s, flow, token, adding, mechanism, out)
    timings = {**timings_of(start, trained_at, workers, commit, done, clock), "load_at_start": load_at_start}
    command = "python examples/showcase.py" + "".join(f" {a}" for a in argv)
    report.write_report(out / "report.md", s, args.seed, command, timings, flow, token, adding, unrolls, mechanism)
    save(timings)
    print(f"done in {timings['total']:.0f} s: {out / 'report.md'}", flush=True)
    return out
