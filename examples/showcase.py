"""RNN versus LSTM: why the LSTM remembers. Trains both, measures, and writes a report.

    python examples/showcase.py                  # the default run, about a minute on 2 cores
    python examples/showcase.py --quick          # a smoke run of the whole pipeline, seconds
    python examples/showcase.py --full           # longer sequences, more steps and seeds (an hour or more)
    python examples/showcase.py --out docs/report --seed 0 --jobs 2

It writes into the output folder (default out/showcase/): report.md with the tables and the
story, the pictures it links (PNG plots, SVG graphs) and results.json with every number.
Nothing in the report is typed by hand: each number, and each sentence that states a result,
comes from this run.

Three parts:
1. gradient flow: ||dL/dC_t|| (LSTM) and ||dL/dh_t|| (RNN) at every step of a 100-step sequence,
   measured on the real graph by nn.flow.gradient_flow, at initialisation and after training;
2. the long-gap token task ("blue the sky is ... ? -> blue") at several gaps;
3. the adding problem at several lengths T.
The training runs are independent jobs, spread over ``--jobs`` worker processes.
"""

import os

# Tiny matmuls run slower on two BLAS threads than on one (and the workers already use the
# cores): pin one thread per process before numpy loads. An explicit setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import queue  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[1:1] = [str(ROOT)]  # run from a fresh clone without installing; examples/ is sys.path[0]

import numpy as np  # noqa: E402
import tasks  # noqa: E402

import nn  # noqa: E402
from nn.flow import gradient_flow  # noqa: E402
from tinygrad_lite import viz  # noqa: E402

# ---------------------------------------------------------------------------------------------
# settings: one dataclass, three sizes


@dataclasses.dataclass(frozen=True)
class Settings:
    mode: str
    seeds: int                  # seeds per training configuration (seed, seed+1, ...)
    hidden: int = 32            # hidden units of every RNN and LSTM
    batch: int = 64
    # the token task
    K: int = 8                  # key classes (chance = 1/K)
    embed: int = 16
    gaps: tuple = (5, 20, 50, 100)
    token_steps: dict = None    # gap -> step budget
    token_lr: float = 3e-3
    token_models: tuple = ("rnn", "lstm+3", "lstm+1")
    token_test: int = 512       # held-out sequences, evaluated every token_eval steps
    token_eval: int = 25
    token_target: float = 0.99  # accuracy that counts as solved (training stops there)
    memory_gap: int = 50        # models trained at this gap are tested at longer gaps and measured
    longer_gaps: tuple = (98, 200)
    # the adding problem
    lengths: tuple = (50, 100, 200)
    adding_steps: dict = None   # T -> step budget
    adding_lr: float = 1e-2
    adding_models: tuple = ("rnn", "lstm+3")
    adding_test: int = 256      # test sequences, evaluated every adding_eval steps
    adding_eval: int = 50
    adding_target: float = 0.01  # test MSE that counts as solved (training stops there)
    clip: float = 1.0           # gradient clipping (joint norm) for every training run
    # gradient flow
    flow_T: int = 100
    flow_seeds: int = 5
    flow_models: tuple = ("rnn", "lstm+0", "lstm+1", "lstm+3", "lstm+5", "lstm+pinned")
    unroll: int = 4             # steps of the graph pictures


PINNED_BIAS = 30.0  # sigmoid(30) = 1 - 1e-13 and sigmoid(-30) = 1e-13: gates pinned open and shut


def settings_for(mode):
    if mode == "quick":
        return Settings("quick", seeds=1, gaps=(5, 20), token_steps={5: 100, 20: 100}, memory_gap=20,
                        longer_gaps=(40,), lengths=(20, 40), adding_steps={20: 300, 40: 300}, flow_seeds=1)
    if mode == "full":
        return Settings("full", seeds=3, gaps=(5, 20, 50, 100, 200),
                        token_steps={5: 1000, 20: 2000, 50: 3000, 100: 4000, 200: 4000},
                        longer_gaps=(98, 200, 400), lengths=(50, 100, 200, 400, 1000),
                        adding_steps={50: 3000, 100: 3000, 200: 4000, 400: 4000, 1000: 3000})
    return Settings("default", seeds=1, token_steps={5: 400, 20: 600, 50: 800, 100: 800},
                    adding_steps={50: 1500, 100: 1500, 200: 2000})


def model_spec(name):
    """'rnn' -> ('rnn', 0.0); 'lstm+3' -> ('lstm', 3.0); 'lstm+pinned' -> ('lstm', PINNED_BIAS).

    'lstm+pinned' also gets the input-gate bias -PINNED_BIAS (see pin_input_gate): f = 1 and i = 0,
    the bare cell path, along which dC_t/dC_{t-1} = f_t = 1 exactly.
    """
    if name == "rnn":
        return "rnn", 0.0
    bias = name.split("+", 1)[1]
    return "lstm", PINNED_BIAS if bias == "pinned" else float(bias)


def memory_path(name):
    """The state that carries the model's memory: h for the RNN, C for an LSTM."""
    return "h" if model_spec(name)[0] == "rnn" else "C"


def model_label(name):
    kind, bias = model_spec(name)
    if kind == "rnn":
        return "tanh RNN"
    if name.endswith("pinned"):
        return f"LSTM, f pinned to 1 and i to 0 (biases ±{bias:g})"
    return f"LSTM, forget bias {bias:+g}"


# ---------------------------------------------------------------------------------------------
# jobs: one training run each, run in a worker process; they report progress through a queue

_progress_queue = None


def _init_worker(q):
    global _progress_queue
    _progress_queue = q


def _reporter(job, steps, what):
    """A progress callback for tasks.train that sends (job, step, steps, text) to the display."""
    def report(step, score):
        message = (job, step, steps, f"{what} {score:.3f}")
        if _progress_queue is not None:
            _progress_queue.put(message)
    return report


def token_job(name, gap, seed, s):
    kind, bias = model_spec(name)
    steps = s.token_steps[gap]
    model, hist = tasks.train_token_task(
        kind, gap=gap, K=s.K, forget_bias=bias, steps=steps, lr=s.token_lr, seed=seed, batch=s.batch,
        test_size=s.token_test, hidden=s.hidden, embed=s.embed, eval_every=s.token_eval, target=s.token_target,
        clip=s.clip, progress=_reporter(job_name("token", name, gap, seed), steps, "acc"))
    result = {"history": hist, "accuracy": hist["scores"][-1]}
    if gap == s.memory_gap:  # this model is also tested at longer gaps and its gradient flow measured
        rng = np.random.default_rng([seed, 11])
        result["longer"] = {g: tasks.token_accuracy(model, *tasks.token_batch(rng, s.token_test, g, s.K))
                            for g in s.longer_gaps}
        result["state"] = model.state_dict()
    return result


def adding_job(name, T, seed, s):
    kind, bias = model_spec(name)
    steps = s.adding_steps[T]
    _, hist = tasks.train_adding(kind, T=T, forget_bias=bias, steps=steps, lr=s.adding_lr, seed=seed,
                                 batch=s.batch, test_size=s.adding_test, hidden=s.hidden, eval_every=s.adding_eval,
                                 target=s.adding_target, clip=s.clip,
                                 progress=_reporter(job_name("adding", name, T, seed), steps, "mse"))
    _, y = tasks.adding_test_set(seed, T, s.adding_test)
    return {"history": hist, "mse": hist["scores"][-1], "best": min(hist["scores"]),
            "baseline": float(np.mean((y - 1.0) ** 2))}  # always answering 1, on the same test set


def job_name(task, model, size, seed):
    return f"{task} {'gap' if task == 'token' else 'T'}={size} {model} seed {seed}"


def make_jobs(s, seed):
    """(name, function, args, estimated cost) for every training run, the longest first."""
    jobs = []
    for k in range(s.seeds):
        for name in s.token_models:
            for gap in s.gaps:
                cost = s.token_steps[gap] * (gap + 2) * (4 if name != "rnn" else 1)
                jobs.append((job_name("token", name, gap, seed + k), token_job, (name, gap, seed + k, s), cost))
        for name in s.adding_models:
            for T in s.lengths:
                cost = s.adding_steps[T] * T * (4 if name != "rnn" else 1)
                jobs.append((job_name("adding", name, T, seed + k), adding_job, (name, T, seed + k, s), cost))
    return sorted(jobs, key=lambda job: -job[3])  # longest first: the two workers finish together


class Progress:
    """The display while jobs run: one line per finished job, and a status line of the running ones."""

    def __init__(self, total, stream=sys.stdout):
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.running = {}
        self.start = self.last_print = time.perf_counter()

    def update(self, job, step, steps, text):
        self.running[job] = f"{job} {step}/{steps} {text}"
        now = time.perf_counter()
        if self.tty:
            line = f"[{self.done}/{self.total} done, {now - self.start:.0f}s] " + " | ".join(self.running.values())
            width = shutil.get_terminal_size().columns
            self.stream.write("\r\x1b[K" + line[:width - 1])
            self.stream.flush()
        elif now - self.last_print > 10:  # a log file gets a status line every ten seconds
            self.last_print = now
            print(f"  ... {' | '.join(self.running.values())}", file=self.stream, flush=True)

    def finish(self, job, summary):
        self.done += 1
        self.running.pop(job, None)
        clear = "\r\x1b[K" if self.tty else ""
        elapsed = time.perf_counter() - self.start
        print(f"{clear}[{self.done}/{self.total}, {elapsed:.0f}s] {job}: {summary}", file=self.stream, flush=True)


def summary_of(result):
    hist = result["history"]
    score = f"accuracy {result['accuracy']:.3f}" if "accuracy" in result else f"test MSE {result['mse']:.4f}"
    return f"{score} after {hist['stopped']} steps{' (solved)' if hist['solved'] else ''}, {hist['seconds']:.1f}s"


def run_jobs(jobs, workers, progress):
    """Run every job; returns {name: result}. workers == 1 runs them here, one after the other."""
    results = {}
    if workers == 1:
        global _progress_queue
        q = _progress_queue = queue.SimpleQueue()
        for name, fn, args, _ in jobs:
            drain = _drain_into(q, progress)
            results[name] = fn(*args)
            drain()
            progress.finish(name, summary_of(results[name]))
        _progress_queue = None
        return results
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    q = context.Queue()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(q,)) as pool:
        pending = {pool.submit(fn, *args): name for name, fn, args, _ in jobs}
        while pending:
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain_into(q, progress)()
            for future in finished:
                name = pending.pop(future)
                results[name] = future.result()
                progress.finish(name, summary_of(results[name]))
    return results


def _drain_into(q, progress):
    def drain():
        while True:
            try:
                progress.update(*q.get_nowait())
            except queue.Empty:
                return
    return drain


# ---------------------------------------------------------------------------------------------
# gradient flow (in the main process, after training: it needs the trained models)


def flow_batch(s, seed):
    """The sequences every flow measurement uses: T = flow_T tokens (a key, flow_T - 2 fillers, the query)."""
    return tasks.token_batch(np.random.default_rng([seed, 12]), s.batch, s.flow_T - 2, s.K)


def measure_flow(model, tokens, keys):
    """gradient_flow of the token model: cross-entropy of its answer at the last step."""
    return gradient_flow(model, tokens, lambda logits: nn.functional.cross_entropy(logits, keys))


def flow_model(s, name, seed, state=None):
    """A float64 TokenModel: freshly initialised from ``seed``, or holding a trained ``state``."""
    kind, bias = model_spec(name)
    model = tasks.TokenModel(kind, s.K, s.hidden, s.embed, bias, rng=[seed, 13])
    if name.endswith("pinned"):
        pin_input_gate(model.rnn)
    if state is not None:
        model.load_state_dict(state)
    return model.double()


def pin_input_gate(lstm):
    """Shut the input gate (its bias rows 0:H get -PINNED_BIAS): nothing is written into C."""
    H = lstm.hidden_size
    bias = lstm.bias_ih_l0.data.copy()
    bias[:H] -= PINNED_BIAS
    lstm.bias_ih_l0.data = bias


def flow_measurements(s, seed, trained):
    """{"init": {model: {...}}, "trained": {...}}: per model the norms (first seed) and every seed's ratio."""
    tokens, keys = flow_batch(s, seed)
    init = {}
    for name in s.flow_models:
        flows = [measure_flow(flow_model(s, name, seed + k), tokens, keys) for k in range(s.flow_seeds)]
        init[name] = {"norms": flows[0].state().tolist(), "h": flows[0].h.tolist(),
                      "ratios": [f.ratio() for f in flows], "loss": flows[0].loss}
    after = {}
    for name, state in trained.items():
        f = measure_flow(flow_model(s, name, seed, state), tokens, keys)
        after[name] = {"norms": f.state().tolist(), "h": f.h.tolist(), "ratios": [f.ratio()], "loss": f.loss}
    return {"init": init, "trained": after}


def draw_unrolls(s, seed, trained, out):
    """The 4-step unroll of each trained model as Graphviz pictures, edges coloured by ||grad||."""
    tokens, keys = tasks.token_batch(np.random.default_rng([seed, 14]), 1, s.unroll - 2, s.K)
    files = {}
    for name, state in trained.items():
        kind, bias = model_spec(name)
        model = tasks.TokenModel(kind, s.K, s.hidden, s.embed, bias, rng=0)
        model.load_state_dict(state)
        loss = nn.functional.cross_entropy(model(tokens), keys)
        viz.retain_grads(loss)
        loss.backward(retain_graph=True)  # keep the graph alive to draw it
        views = ("cells", "ops") if kind == "lstm" and name == best_lstm(s) else ("cells",)
        for view in views:
            path = out / f"unroll_{slug(name)}_{view}.svg"
            viz.save(loss, path, view=view, params=dict(model.named_parameters()),
                     title=f"{model_label(name)}, trained at gap {s.memory_gap}: "
                           f"'{tasks.describe_tokens(tokens, s.K)}' -> {tasks.vocabulary(s.K)[keys[0]]}")
            files[(name, view)] = path.name
    return files, tasks.describe_tokens(tokens, s.K)


def best_lstm(s):
    """The LSTM the report features: the largest forget bias among the trained ones."""
    return max((m for m in s.token_models if m != "rnn"), key=lambda m: model_spec(m)[1])


def slug(name):
    return name.replace("+", "")


# ---------------------------------------------------------------------------------------------
# plots: each model keeps its colour in every plot; the RNN is dashed

COLOURS = {"rnn": "#1f77b4", "lstm+0": "#8c564b", "lstm+1": "#2ca02c", "lstm+3": "#ff7f0e",
           "lstm+5": "#9467bd", "lstm+pinned": "#7f7f7f"}


def line_style(name):
    return {"color": COLOURS.get(name), "linestyle": "--" if name == "rnn" else "-"}


def log_x_ticks(ax, values):
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(values, [str(v) for v in values])


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (imported late: only the plots need it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_flow(s, flow, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    t = np.arange(s.flow_T + 1)
    for ax, key, title in ((axes[0], "init", "at initialisation"),
                           (axes[1], "trained", f"after training on the gap-{s.memory_gap} task")):
        for name, m in flow[key].items():
            norms = np.asarray(m["norms"], dtype=float)
            ax.semilogy(t[1:], np.where(norms[1:] > 0, norms[1:], np.nan), **line_style(name),
                        label=f"{model_label(name)}: ||dL/d{memory_path(name)}_t||")
        ax.set_title(f"Gradient flow over T={s.flow_T} steps, {title}")
        ax.set_xlabel("time step t (the loss is at t = T)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("gradient norm (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_token(s, token, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name in s.token_models:
        acc = [np.median(token[name][gap]["accuracy"]) for gap in s.gaps]
        ax.plot(s.gaps, acc, marker="o", **line_style(name), label=model_label(name))
    ax.axhline(1 / s.K, color="grey", lw=1, ls=":", label=f"chance (1/{s.K})")
    log_x_ticks(ax, s.gaps)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("gap (distractor words between the key and the query)")
    ax.set_ylabel("held-out accuracy")
    ax.set_title("Long-gap token task: accuracy after training")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_adding(s, adding, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for name in s.adding_models:
        mse = [np.median(adding[name][T]["mse"]) for T in s.lengths]
        axes[0].plot(s.lengths, mse, marker="o", **line_style(name), label=model_label(name))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, T in enumerate(s.lengths):
        for name in s.adding_models:
            hist = adding[name][T]["histories"][0]
            axes[1].plot(hist["steps"], hist["scores"], "--" if name == "rnn" else "-",
                         color=colours[i % len(colours)], label=f"{model_label(name)}, T={T}")
    for ax in axes:
        ax.axhline(1 / 6, color="grey", lw=1, ls=":", label="always answer 1 (1/6)")
        ax.axhline(s.adding_target, color="green", lw=1, ls=":", label=f"solved ({s.adding_target:g})")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.set_ylabel("test MSE (log scale)")
    log_x_ticks(axes[0], s.lengths)
    axes[0].set_xlabel("sequence length T")
    axes[0].set_title("Adding problem: final test MSE")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("training step")
    axes[1].set_title("Adding problem: test MSE while training (first seed)")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# collecting results


def collect(s, seed, results):
    """Per task, model and size: the lists over seeds of scores, steps, seconds and histories."""
    token = {name: {} for name in s.token_models}
    adding = {name: {} for name in s.adding_models}
    for k in range(s.seeds):
        for name in s.token_models:
            for gap in s.gaps:
                r = results[job_name("token", name, gap, seed + k)]
                cell = token[name].setdefault(gap, {"accuracy": [], "steps": [], "solved": [], "seconds": [],
                                                    "histories": [], "longer": []})
                _append(cell, r, "accuracy")
                if "longer" in r:
                    cell["longer"].append(r["longer"])
        for name in s.adding_models:
            for T in s.lengths:
                r = results[job_name("adding", name, T, seed + k)]
                cell = adding[name].setdefault(T, {"mse": [], "best": [], "baseline": [], "steps": [],
                                                   "solved": [], "seconds": [], "histories": []})
                _append(cell, r, "mse")
                cell["best"].append(r["best"])
                cell["baseline"].append(r["baseline"])
    return token, adding


def _append(cell, r, score):
    hist = r["history"]
    cell[score].append(r[score])
    cell["steps"].append(hist["stopped"])
    cell["solved"].append(hist["solved"])
    cell["seconds"].append(hist["seconds"])
    cell["histories"].append(hist)


# ---------------------------------------------------------------------------------------------
# the report


def fmt_values(values, fmt):
    """One seed: the value; several: median [min-max]."""
    if len(values) == 1:
        return format(values[0], fmt)
    median = np.median(values)
    median = int(round(median)) if fmt.endswith("d") else float(median)
    return f"{format(median, fmt)} [{format(min(values), fmt)}–{format(max(values), fmt)}]"


def fmt_steps(cell):
    """'solved at 75' / 'not solved in 600'; with several seeds 'solved by 2/3 seeds, at 75 [50–100]'."""
    steps = [st for st, ok in zip(cell["steps"], cell["solved"]) if ok]
    n = len(cell["solved"])
    if n == 1:
        return f"solved at {steps[0]}" if steps else f"not solved in {cell['steps'][0]}"
    if not steps:
        return f"solved by 0/{n} seeds in {max(cell['steps'])}"
    return f"solved by {len(steps)}/{n} seeds, at {fmt_values(steps, 'd')}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def flow_table(s, measurements, seeds_column):
    T = s.flow_T
    steps = list(range(T, 0, -10)) + ([1] if T % 10 else [])
    header = ["model", "state"] + [f"t={t}" for t in steps] + ["ratio t=1 / t=T"]
    if seeds_column:
        header.append(f"ratio, median of {s.flow_seeds} inits [min–max]")
    header.append("same ratio for h")
    rows = []
    for name, m in measurements.items():
        norms = m["norms"]
        row = [model_label(name), memory_path(name)]
        row += [f"{norms[t]:.1e}" for t in steps] + [f"**{m['ratios'][0]:.1e}**"]
        if seeds_column:
            r = m["ratios"]
            row.append(f"{np.median(r):.1e} [{min(r):.1e}–{max(r):.1e}]")
        row.append(f"{m['h'][1] / m['h'][T]:.1e}")
        rows.append(row)
    return table(header, rows)


def what_solved(what, sizes):
    """'gap 5 and 20' / 'gap 5, 20 and 50' / 'none of them' (the median over seeds decides)."""
    if not sizes:
        return "none of them"
    return f"{what} " + (sizes[0] if len(sizes) == 1 else ", ".join(sizes[:-1]) + " and " + sizes[-1])


def write_report(s, args, out, flow, token, adding, unrolls, timings):
    seed = args.seed
    T = s.flow_T
    lstm = best_lstm(s)
    init, after = flow["init"], flow["trained"]
    rnn_ratio = init["rnn"]["ratios"][0]
    lines = []
    add = lines.append
    command = "python examples/showcase.py" + "".join(f" {a}" for a in sys.argv[1:])
    add("# RNN versus LSTM: why the LSTM remembers\n")
    add(f"Regenerate this report with `{command}` (from the repository root; "
        "`make showcase` runs the default settings into `out/showcase/`).\n")
    add(f"Mode **{s.mode}**, seed {seed}, {s.seeds} training seed(s) per configuration. "
        f"Total run time **{timings['total']:.0f} s** on {os.cpu_count()} cores with {timings['workers']} worker "
        f"process(es) (training {timings['training']:.0f} s, summed over jobs {timings['job_seconds']:.0f} s; "
        f"gradient flow, pictures and plots {timings['after']:.0f} s). "
        f"{timings['when']}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"one BLAS thread per process{timings['commit']}.\n")
    add("Every number below was measured by this run; the sentences that state a result are "
        "generated from the same numbers.\n")
    if s.seeds == 1:
        add("One training seed per configuration: whether and when a run solves its task varies between seeds, "
            "most near the edge of a budget; `--seeds 3` (or `--full`) reports the median and range over seeds.\n")

    # ---- 1. gradient flow
    add(f"## 1. Gradient flow over T = {T} steps\n")
    add("A tanh RNN carries its memory in h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), so going one step back "
        "multiplies the gradient by W_hh^T diag(1 - h_t²): unless those factors are tuned to 1 it shrinks (or "
        "grows) geometrically. The LSTM carries its memory in the cell state, C_t = f_t ⊙ C_{t-1} + i_t ⊙ g_t, and "
        "along that path dC_t/dC_{t-1} = diag(f_t): the gradient is multiplied by the forget gate only, and survives "
        "while the gate stays open (f near 1).\n")
    add(f"Measured with `nn.flow.gradient_flow` (retained gradients of the very tensors h[t], C[t] of the "
        f"unrolled graph, in float64 so nothing underflows): the token-task model (embedding {s.embed}, hidden "
        f"{s.hidden}, linear readout of h_T) reads a batch of {s.batch} sequences of {T} tokens (a key, "
        f"{T - 2} distractors, the query) and the loss is the cross-entropy of its answer at the last step. "
        f"The table gives the norm over the batch of dL/dC_t for the LSTM and dL/dh_t for the RNN (their memory "
        f"paths) at t = T, T-10, …, 1, and the ratio of the first to the last; the last column gives that ratio for "
        f"dL/dh_t, which for the LSTM is not its memory path. Untrained weights are PyTorch's initialisation, "
        f"U(±1/√H), plus the stated forget-gate bias.\n")
    add("### At initialisation\n")
    add(flow_table(s, init, seeds_column=s.flow_seeds > 1) + "\n")
    add(f"### After training on the gap-{s.memory_gap} token task (section 2)\n")
    add(flow_table(s, after, seeds_column=False) + "\n")
    add("![gradient flow](flow.png)\n")
    lstm_init = init.get(lstm)
    lines_flow = [f"At initialisation the RNN's hidden gradient at step 1 is {rnn_ratio:.1e} times the one at "
                  f"step {T}."]
    for name in s.flow_models:
        r = init[name]["ratios"][0]
        if name.endswith("pinned"):
            lines_flow.append(f"{model_label(name)}: 1 − {1 - r:.1e}.")
        elif name != "rnn":
            lines_flow.append(f"{model_label(name)}: {r:.1e}.")
    if lstm_init is not None and lstm in after and "rnn" in after:
        lines_flow.append(
            f"After training, the {model_label(lstm)} keeps a cell-gradient ratio of {after[lstm]['ratios'][0]:.1e}, "
            f"the RNN's hidden ratio is {after['rnn']['ratios'][0]:.1e}.")
    add(" ".join(lines_flow) + " A ratio above 1 is no error: besides the path through f, the cell collects "
        "gradient from every later step through h_t and the gates of step t+1, so a cell that keeps its content "
        "can gather more gradient far from the loss than near it. With f pinned to 1 and i to 0 nothing is written "
        "or read and only the f path is left: the ratio is the product of the f_t, 1 to many digits.\n")
    add(f"### The graph of a {s.unroll}-step unroll\n")
    add(f"The same graph that backward walks, drawn by `tinygrad_lite.viz` for one sequence "
        f"'{unrolls['sequence']}' with the models trained in section 2. Edge colour and width follow log10 of the "
        "gradient norm of the tensor the edge touches (legend under each picture; each picture has its own scale). "
        "In the cell view one box is one time step and the edges between steps carry h[t] (and C[t]).\n")
    for (name, view), file in unrolls["files"].items():
        what = "every op" if view == "ops" else "one box per step"
        add(f"**{model_label(name)}, {what}:**\n\n![{model_label(name)} unroll, {view} view]({file})\n")

    # ---- 2. token task
    add("## 2. The long-gap token task\n")
    tokens, keys = tasks.token_batch(np.random.default_rng([seed, 15]), 1, 5, s.K)
    add(f"Each sequence is a key word (one of K = {s.K} colours), `gap` distractor words, and a query mark; "
        f"the model must answer the key at the query: for example '{tasks.describe_tokens(tokens, s.K)}' → "
        f"{tasks.vocabulary(s.K)[keys[0]]}. Chance is 1/{s.K} = {1 / s.K:.3f}. Models: embedding {s.embed}, "
        f"hidden {s.hidden}, a linear readout of the last h; Adam lr {s.token_lr:g}, batch {s.batch}, gradient "
        f"clipping at {s.clip:g}, accuracy on {s.token_test} held-out sequences every {s.token_eval} steps, "
        f"stopping early at ≥ {s.token_target:g}. "
        f"Step budgets per gap: {', '.join(f'{g}: {s.token_steps[g]}' for g in s.gaps)}.\n")
    header = ["model"] + [f"gap {g}" for g in s.gaps]
    rows = [[model_label(name)] + [f"{fmt_values(token[name][g]['accuracy'], '.3f')} ({fmt_steps(token[name][g])})"
                                   for g in s.gaps] for name in s.token_models]
    add(f"Held-out accuracy at the end of training (and the step at which it reached {s.token_target:g}):\n")
    add(table(header, rows) + "\n")
    add("![accuracy against gap](token_accuracy.png)\n")

    def solved_gaps(name):
        return [str(g) for g in s.gaps if np.median(token[name][g]["accuracy"]) >= s.token_target]
    add(" ".join(f"{model_label(name)} solves {what_solved('gap', solved_gaps(name))}."
                 for name in s.token_models) + "\n")
    add(f"**Memory beyond the training gap.** The models trained at gap {s.memory_gap}, tested without further "
        f"training on {s.token_test} sequences with longer gaps:\n")
    header = ["model", f"gap {s.memory_gap} (trained)"] + [f"gap {g}" for g in s.longer_gaps]
    rows = []
    for name in s.token_models:
        cell = token[name][s.memory_gap]
        rows.append([model_label(name), fmt_values(cell["accuracy"], ".3f")]
                    + [fmt_values([lg[g] for lg in cell["longer"]], ".3f") for g in s.longer_gaps])
    add(table(header, rows) + "\n")

    # ---- 3. adding problem
    add("## 3. The adding problem\n")
    add(f"Inputs: T pairs (value ~ U[0,1], marker); one marker in each half of the sequence; the target is the "
        f"sum of the two marked values. Always answering 1 scores MSE 1/6 ≈ {1 / 6:.3f}. Hidden {s.hidden}, a "
        f"linear readout of the last h, Adam lr {s.adding_lr:g}, batch {s.batch}, gradient clipping at {s.clip:g}; test "
        f"MSE on {s.adding_test} fixed sequences every {s.adding_eval} steps, stopping early once it is below "
        f"{s.adding_target:g}. Step budgets per T: "
        f"{', '.join(f'{T}: {s.adding_steps[T]}' for T in s.lengths)}.\n")
    header = ["model"] + [f"T = {T}" for T in s.lengths]
    rows = [["always answer 1 (same test set)"]
            + [fmt_values(adding[s.adding_models[0]][T]["baseline"], ".4f") for T in s.lengths]]
    for name in s.adding_models:
        row = [model_label(name)]
        for T in s.lengths:
            cell = adding[name][T]
            best = "" if all(cell["solved"]) else f"; best {fmt_values(cell['best'], '.4f')}"
            row.append(f"{fmt_values(cell['mse'], '.4f')} ({fmt_steps(cell)}{best})")
        rows.append(row)
    add(f"Final test MSE (the step at which it fell below {s.adding_target:g}, or the best it reached):\n")
    add(table(header, rows) + "\n")

    def solved_lengths(name):
        return [str(T) for T in s.lengths if np.median(adding[name][T]["mse"]) < s.adding_target]
    add(" ".join(f"{model_label(name)} solves {what_solved('T =', solved_lengths(name))}."
                 for name in s.adding_models) + "\n")
    add("Both models get the same step budget. This run does not measure how many more steps the RNN would "
        "need: the claim is that it learns this task far more slowly, not that it never can.\n")
    add("![adding problem](adding_mse.png)\n")

    # ---- settings and time
    add("## Settings, budgets and time per job\n")
    add("The RNN and the LSTM of one configuration see the same training sequences in the same order; every "
        "job's data and initial weights follow from the seed alone, so the numbers do not depend on the number "
        "of worker processes.\n")
    rows = []
    for name in s.token_models:
        for g in s.gaps:
            c = token[name][g]
            rows.append(["token", model_label(name), f"gap {g}", s.token_steps[g], fmt_values(c["steps"], "d"),
                         fmt_values(c["seconds"], ".1f")])
    for name in s.adding_models:
        for T in s.lengths:
            c = adding[name][T]
            rows.append(["adding", model_label(name), f"T {T}", s.adding_steps[T], fmt_values(c["steps"], "d"),
                         fmt_values(c["seconds"], ".1f")])
    add(table(["task", "model", "size", "budget (steps)", "steps run", "seconds"], rows) + "\n")
    add("All settings of this run (`results.json` holds every number):\n")
    add("```\n" + "\n".join(f"{k} = {v}" for k, v in dataclasses.asdict(s).items()) + "\n```\n")
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------------------------------------


def git_commit():
    try:
        # "-dirty": the work tree had changes, so the commit alone does not say which code ran
        text = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f", commit {text}" if text else ""


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    return x


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="out/showcase", help="the folder of the report (default: out/showcase)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a smoke run of every part in seconds")
    size.add_argument("--full", action="store_true", help="longer sequences, more steps and seeds (an hour or more)")
    p.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None,
                   help="training seeds per configuration (default: 1, or 3 with --full)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes for the training runs (default: 2, or 1 on one core)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    commit = git_commit()  # the code that runs is the code at the start
    s = settings_for("quick" if args.quick else "full" if args.full else "default")
    if args.seeds is not None:
        s = dataclasses.replace(s, seeds=max(1, args.seeds))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = make_jobs(s, args.seed)
    print(f"showcase ({s.mode}): {len(jobs)} training runs on {args.jobs} worker(s); report -> {out}/report.md",
          flush=True)
    results = run_jobs(jobs, max(1, args.jobs), Progress(len(jobs)))
    trained_at = time.perf_counter()
    token, adding = collect(s, args.seed, results)
    trained = {name: results[job_name("token", name, s.memory_gap, args.seed)]["state"] for name in s.token_models}
    print("measuring the gradient flow, drawing the pictures ...", flush=True)
    flow = flow_measurements(s, args.seed, trained)
    files, sequence = draw_unrolls(s, args.seed, {n: trained[n] for n in ("rnn", best_lstm(s))}, out)
    plot_flow(s, flow, out / "flow.png")
    plot_token(s, token, out / "token_accuracy.png")
    plot_adding(s, adding, out / "adding_mse.png")
    end = time.perf_counter()
    timings = {"total": end - start, "training": trained_at - start, "after": end - trained_at,
               "workers": max(1, args.jobs), "when": time.strftime("%Y-%m-%d"), "commit": commit,
               "job_seconds": sum(r["history"]["seconds"] for r in results.values())}
    write_report(s, args, out, flow, token, adding, {"files": files, "sequence": sequence}, timings)
    strip = {"histories"}
    (out / "results.json").write_text(json.dumps(jsonable({
        "settings": dataclasses.asdict(s), "seed": args.seed, "timings": timings, "flow": flow,
        "token": {n: {g: {k: v for k, v in c.items() if k not in strip} for g, c in d.items()} for n, d in token.items()},
        "adding": {n: {T: {k: v for k, v in c.items() if k not in strip} for T, c in d.items()}
                   for n, d in adding.items()},
        "histories": {name: r["history"] for name, r in results.items()},
    }), indent=1))
    print(f"done in {timings['total']:.0f} s: {out / 'report.md'}", flush=True)
    return out


if __name__ == "__main__":
    main()
