"""Compare the eager speed of two versions of the library, side by side in one session.

    python benchmarks/compare.py BASE [OTHER] [--cases small,main,long,per_op] [--runs 7]
                                 [--threads N] [--budget SECONDS] [--malloc tuned|default]

BASE and OTHER are commits (anything ``git rev-parse`` understands: HEAD~1, a hash, a branch);
OTHER defaults to the work tree. Each side's ``tinygrad_lite/`` and ``nn/`` are put in a
temporary directory (``git archive`` of the commit, or a copy of the work tree taken once at
the start, so that edits made while the comparison runs do not leak into it) and removed at the
end. The benchmark code is this tree's, the same for both sides; every measurement is a fresh
worker process with that side's directory first on ``sys.path``.

Measured: our eager ``nn.LSTM`` training step, float32 (the cases of implementations.py), and the
per-op chain of probes.py (forward + backward, µs per op). Before any timing, each side must
import its own copy of the library and both must compute the same losses and gradients.

A run of a measure starts one fresh worker process per side; the two take turns of about 50 ms
of steps (A B, B A, ...; a turn's first step refills the caches and is not counted) for
``--budget`` seconds, so a round's two turns see the same load on the machine. A run gives each
side's median turn and the median of the per-round ratios OTHER ÷ BASE (and, as a second opinion
under load, the ratio of the two sides' fastest turns). Printed, over ``--runs`` runs (processes
started afresh each time): the medians of those, and the smallest and largest run ratio as the
spread, the noise of this machine.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import timing  # noqa: E402
from implementations import CASES  # noqa: E402

MEASURES = (*CASES, "per_op")
LIBRARY = ("tinygrad_lite", "nn")
WORK_TREE = "work tree"
MIN_RUNS = 5
BLOCK_S = 0.05  # seconds of steps per turn: short enough that a pair of turns sees the same load
MIN_ROUNDS, MAX_ROUNDS = 5, 1000


@dataclass
class Side:
    role: str  # "BASE" or "OTHER"
    spec: str  # the full commit hash, or WORK_TREE
    label: str  # the commit and its subject, or the work tree's state
    short: str  # for the table's column heads
    lib: str = ""  # the directory holding this side's tinygrad_lite/ and nn/


# ---------------------------------------------------------------------------------------------
# the two sides: a commit or the work tree, copied into a temporary directory


def git(*args):
    proc = subprocess.run(["git", "-C", ROOT, *args], capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"compare.py: git {' '.join(args)} failed: {proc.stderr.decode().strip()}")
    return proc.stdout


def describe(role, spec):
    """A Side for a command-line name, its label saying exactly which code it is."""
    if spec == WORK_TREE:
        head = git("rev-parse", "--short", "HEAD").decode().strip()
        dirty = git("status", "--porcelain", "--", *LIBRARY).decode().strip()
        return Side(role, spec, f"work tree (HEAD {head}" + (", with uncommitted changes)" if dirty else ")"), spec)
    proc = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "--quiet", spec + "^{commit}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"compare.py: {role} {spec!r} is not a commit of {ROOT}")
    commit = proc.stdout.strip()
    subject = git("log", "-1", "--format=%s", commit).decode().strip()
    return Side(role, commit, f"{commit[:9]} ({subject[:60]}{'…' if len(subject) > 60 else ''})", commit[:9])


def materialise(side, into):
    """Put the side's tinygrad_lite/ and nn/ into the directory ``into``."""
    os.makedirs(into)
    if side.spec == WORK_TREE:
        for name in LIBRARY:
            shutil.copytree(os.path.join(ROOT, name), os.path.join(into, name),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        archive = git("archive", "--format=tar", side.spec, *LIBRARY)
        subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    side.lib = into


# ---------------------------------------------------------------------------------------------
# checks before timing


def check_library(side, files):
    """Raise unless every module the worker imported lies in the side's own directory."""
    for name, path in files.items():
        if not path.startswith(side.lib + os.sep):
            raise SystemExit(f"compare.py: {side.role} imported {name} from {path}, not from its copy in "
                             f"{side.lib}: something (PYTHONPATH, a .pth file) puts another copy first")


def relative_difference(a, b):
    """Largest |a - b| / max(|a|, |b|) over two equally long lists of numbers (0.0 when identical)."""
    if len(a) != len(b):
        raise ValueError(f"relative_difference: {len(a)} numbers against {len(b)}")
    return max((abs(x - y) / max(abs(x), abs(y)) for x, y in zip(a, b) if x != y), default=0.0)


def check_same_results(base, other, rtol):
    """Per measure: the worst relative difference of the two sides' losses and gradient norms."""
    report = {}
    for measure, a in base.items():
        diff = relative_difference(a, other[measure])
        if diff > rtol:
            raise SystemExit(f"compare.py: {measure}: BASE computes {a}, OTHER {other[measure]} (relative "
                             f"difference {diff:.1e} > --rtol {rtol:g}); timing different computations "
                             "proves nothing")
        report[measure] = diff
    return report


# ---------------------------------------------------------------------------------------------
# the summary (pure functions, tested in tests/test_benchmarks.py)


def turn_order(turn, sides):
    """The sides in the order they take turn ``turn``: A B, then B A, and so on."""
    return list(sides) if turn % 2 == 0 else list(reversed(sides))


def summarise_run(base, other):
    """One run: each side's median over the rounds, and the median of the per-round ratios."""
    return {"base": timing.median(base), "other": timing.median(other),
            "ratio": timing.median([o / b for b, o in zip(base, other)])}


def fastest(base, other):
    """One run: each side's fastest turn, and their ratio. Other people's work on the machine only
    ever adds time, so this is the figure a burst of load disturbs least (a second opinion)."""
    return {"base": min(base), "other": min(other), "ratio": min(other) / min(base)}


def combine(runs):
    """All runs: medians of the runs' figures, and the smallest and largest run ratio (the spread)."""
    ratios = [r["ratio"] for r in runs]
    return {"base": timing.median([r["base"] for r in runs]), "other": timing.median([r["other"] for r in runs]),
            "ratio": timing.median(ratios), "low": min(ratios), "high": max(ratios), "runs": len(runs)}


def turn_plan(once_s, budget):
    """(steps per turn, rounds) from the slower side's single-step time: turns of about BLOCK_S,
    rounds (a turn for each side, plus a refill step each) for about ``budget`` seconds."""
    block = max(1, int(BLOCK_S / max(once_s, 1e-9)))
    rounds = int(budget / max(2 * (block + 1) * once_s, 1e-9))
    return block, min(MAX_ROUNDS, max(MIN_ROUNDS, rounds))


# ---------------------------------------------------------------------------------------------
# timing: per run, one worker process per side, taking turns


class Server:
    """A worker process serving one side's measure; ``turn(n)`` times n steps in it."""

    def __init__(self, side, measure, env):
        self.side, self.measure = side, measure
        settings = {"lib": side.lib, "measure": measure, "freeze": True}
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "worker.py"), "serve", json.dumps(settings)],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self._read()
        check_library(side, self.ready["files"])

    def turn(self, steps):
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"compare.py: the {self.side.role} worker for {self.measure} stopped "
                             "(its error, if any, is printed above)")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def time_run(sides, measure, run, budget, env):
    """One run of a measure: a fresh process per side, interleaved turns; the run's summary."""
    servers = []
    try:
        for side in turn_order(run, sides):
            servers.append(Server(side, measure, env))
        by_role = {s.side.role: s for s in servers}
        block, rounds = turn_plan(max(s.ready["once_s"] for s in servers), budget)
        figures = {role: {"wall_s": [], "cpu_s": []} for role in by_role}
        for r in range(rounds):
            for side in turn_order(run + r, sides):
                reply = by_role[side.role].turn(block)
                for key in ("wall_s", "cpu_s"):
                    figures[side.role][key].append(reply[key])
        for s in servers:
            s.close()
    except BaseException:
        for s in servers:
            s.kill()
        raise
    base, other = figures["BASE"], figures["OTHER"]
    return {"rounds": rounds, "block": block, "turns": figures,
            "wall": summarise_run(base["wall_s"], other["wall_s"]), "cpu": summarise_run(base["cpu_s"], other["cpu_s"]),
            "fastest": fastest(base["wall_s"], other["wall_s"])}


def time_sides(sides, measures, args, env):
    """Run after run, every measure; returns {measure: [run summaries]}."""
    results = {m: [] for m in measures}
    for run in range(args.runs):
        for measure in measures:
            r = time_run(sides, measure, run, args.budget, env)
            results[measure].append(r)
            scale, unit_name = unit(measure)
            w = r["wall"]
            sys.stderr.write(f"run {run + 1}/{args.runs} {measure}: BASE {w['base'] * scale:.3g}, OTHER "
                             f"{w['other'] * scale:.3g} {unit_name}, ratio {w['ratio']:.3f} "
                             f"({r['rounds']} rounds of {r['block']} steps)\n")
    return results


# ---------------------------------------------------------------------------------------------
# the table


def unit(measure):
    """(scale from seconds, unit name) for a measure's figures."""
    if measure == "per_op":
        from probes import chain_ops

        return 1e6 / chain_ops(), "µs per op"
    return 1e3, "ms"


def measure_name(measure):
    if measure == "per_op":
        return "per-op chain (mul, add, tanh), fwd + bwd"
    return f"{measure} {CASES[measure]} step"


def table(summaries, base_label, other_label):
    """Markdown: one row per measure: medians (wall), the ratios of wall, CPU and fastest turns."""
    lines = [f"| measure | BASE {base_label} | OTHER {other_label} | OTHER ÷ BASE, wall (min–max) "
             "| CPU (min–max) | fastest turns (min–max) |", "|---|---:|---:|---:|---:|---:|"]
    for measure, s in summaries.items():
        scale, unit_name = unit(measure)
        wall = s["wall"]
        lines.append(f"| {measure_name(measure)}, {unit_name} | {wall['base'] * scale:.3g} | "
                     f"{wall['other'] * scale:.3g} | {ratio_cell(wall)} | {ratio_cell(s['cpu'])} | "
                     f"{ratio_cell(s['fastest'])} |")
    return lines


def ratio_cell(s):
    return f"{s['ratio']:.3f} ({s['low']:.3f}–{s['high']:.3f})"


# ---------------------------------------------------------------------------------------------
# the command


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base", metavar="BASE", help="a commit")
    parser.add_argument("other", metavar="OTHER", nargs="?", default=WORK_TREE,
                        help="a commit (default: the work tree, uncommitted changes included)")
    parser.add_argument("--cases", default=",".join(MEASURES), help="comma-separated: " + ", ".join(MEASURES))
    parser.add_argument("--runs", type=int, default=7, help=f"runs of each side (at least {MIN_RUNS}; default 7)")
    parser.add_argument("--budget", type=float, default=2.0,
                        help=f"seconds of turns per run and measure, both sides together (at least {MIN_ROUNDS} "
                             "rounds; default 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads for both sides (default: the machine's default)")
    parser.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                        help="glibc malloc settings, the same for both sides (default: tuned, as run.py's tables)")
    parser.add_argument("--rtol", type=float, default=1e-5,
                        help="largest relative difference of losses and gradient norms accepted between "
                             "the sides (default 1e-5: float32 rounding)")
    parser.add_argument("--json", help="also write every number to this file")
    args = parser.parse_args(argv)
    args.cases = [c for c in args.cases.split(",") if c]
    for c in args.cases:
        if c not in MEASURES:
            parser.error(f"unknown case {c!r}; choose from {', '.join(MEASURES)}")
    if args.runs < MIN_RUNS:
        parser.error(f"--runs {args.runs}: at least {MIN_RUNS}, or the medians and the spread mean little")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads {args.threads}: at least 1")
    return args


def identify(sides, measures, env, rtol):
    """Each side's library files and results, checked; returns them and the results' differences."""
    found = {}
    for side in sides:
        found[side.role] = timing.run_worker("identify", {"lib": side.lib, "measures": measures}, env)
        check_library(side, found[side.role]["files"])
    same = check_same_results(found["BASE"]["fingerprints"], found["OTHER"]["fingerprints"], rtol)
    return found, same


def header(args, sides, found, same, started, load):
    info = found["BASE"]
    threads = info["threads"]
    thread_text = (", ".join(f"{k}={v}" for k, v in threads.items()) if any(threads.values())
                   else "machine default (" + ", ".join(threads) + " not set)")
    blas = info["blas_threads"]
    lines = [f"## Eager speed: OTHER against BASE ({started:%Y-%m-%d %H:%M} UTC)", "",
             f"- command: `python {' '.join(['benchmarks/compare.py'] + sys.argv[1:])}`",
             f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} "
             f"{load[1]:.2f} {load[2]:.2f} at the start; Python {platform.python_version()}, numpy {info['numpy']}",
             f"- threads: {thread_text}; numpy's BLAS threads: {blas or 'unknown'}",
             f"- malloc: {args.malloc}, the same for both sides"]
    if load[0] >= (os.cpu_count() or 1):
        lines.append(f"- **the machine was busy** (load average {load[0]:.1f} on {os.cpu_count()} cores): other work "
                     "competed for the cores, expect a wide spread; more --runs, --threads 1, or a quieter moment")
    for side in sides:
        lines.append(f"- {side.role}: {side.label}; imports {', '.join(found[side.role]['files'].values())}")
    lines.append("- same results on both sides (loss and gradient norms; per-op chain: its gradient), worst "
                 "relative difference: " + ", ".join(f"{m} {d:.1e}" if d else f"{m} identical"
                                                     for m, d in same.items()))
    lines.append(f"- {args.runs} runs per measure; a run is a fresh process per side, the two taking turns of "
                 f"about {BLOCK_S * 1e3:.0f} ms (A B, B A, …; the first step of a turn not counted) for "
                 f"{args.budget:g} s; a side's figure is the median over runs of its median turn; OTHER ÷ BASE "
                 "is the median over runs of each run's median per-round ratio (below 1: OTHER is faster), "
                 "min–max the smallest and largest run's ratio; fastest turns: the same for the ratio of "
                 "each side's fastest turn in a run (load only ever adds time)")
    lines.append("")
    return lines


def main():
    args = parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    load, t0 = os.getloadavg(), time.perf_counter()
    sides = [describe("BASE", args.base), describe("OTHER", args.other)]
    env = timing.worker_env(args.threads, args.malloc)
    with tempfile.TemporaryDirectory(prefix="tinygrad-lite-compare-") as tmp:
        # directories "a" and "b": the two sides' paths (and so their workers' argv) of the same
        # length, as the stack and heap layout, and with it the speed, can depend on such sizes
        for side, name in zip(sides, "ab"):
            materialise(side, os.path.join(tmp, name))
        found, same = identify(sides, args.cases, env, args.rtol)
        results = time_sides(sides, args.cases, args, env)
    summaries = {m: {kind: combine([r[kind] for r in runs]) for kind in ("wall", "cpu", "fastest")}
                 for m, runs in results.items()}
    end_load = os.getloadavg()
    lines = header(args, sides, found, same, started, load) + table(summaries, sides[0].short, sides[1].short)
    lines += ["", "Each run's ratio, wall: " + "; ".join(
        f"{m} " + ", ".join(f"{r['wall']['ratio']:.3f}" for r in runs) for m, runs in results.items()) + "."]
    lines += ["", f"Took {time.perf_counter() - t0:.0f} s; load average at the end {end_load[0]:.2f} "
              f"{end_load[1]:.2f} {end_load[2]:.2f}."]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sides": {s.role: {"spec": s.spec, "label": s.label} for s in sides},
                       "identify": found, "summaries": summaries, "runs": results}, f, indent=1)


if __name__ == "__main__":
    main()
