"""The training runs as independent jobs, spread over worker processes, with a progress display.

Each job is one training run (one task, model, size and seed). Its data and initial weights
follow from the seed alone, so the results do not depend on the number of workers or on the
order in which the jobs finish. The workers report progress through a queue.
"""

import multiprocessing
import queue
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np

from . import explode, random_search, tasks
from .settings import best_lstm, model_spec

_progress_queue = None  # where this process's jobs send their progress (None: nowhere)


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


# ---------------------------------------------------------------------------------------------
# the two kinds of job


def token_job(name, gap, seed, s):
    """Train one token-task model; the one at the memory gap is also tested at longer gaps."""
    kind, bias = model_spec(name)
    steps = s.token_steps[gap]
    model, hist = tasks.train_token_task(
        kind, gap=gap, K=s.K, forget_bias=bias, steps=steps, lr=s.token_lr, seed=seed, batch=s.batch,
        test_size=s.token_test, hidden=s.hidden, embed=s.embed, eval_every=s.token_eval, target=s.token_target,
        clip=s.clip, progress=_reporter(job_name("token", name, gap, seed), steps, "acc"), compiled=s.compiled)
    result = {"history": hist, "accuracy": hist["scores"][-1]}
    if gap == s.memory_gap:  # this model is also tested at longer gaps and its gradient flow measured
        rng = np.random.default_rng([seed, 11])
        result["longer"] = {g: tasks.token_accuracy(model, *tasks.token_batch(rng, s.token_test, g, s.K))
                            for g in s.longer_gaps}
        result["state"] = model.state_dict()
    return result


def adding_job(name, T, seed, s):
    """Train one adding-problem model; also scores the baseline that always answers 1."""
    kind, bias = model_spec(name)
    steps = s.adding_steps[T]
    _, hist = tasks.train_adding(kind, T=T, forget_bias=bias, steps=steps, lr=s.adding_lr, seed=seed,
                                 batch=s.batch, test_size=s.adding_test, hidden=s.hidden, eval_every=s.adding_eval,
                                 target=s.adding_target, clip=s.clip, compiled=s.compiled,
                                 progress=_reporter(job_name("adding", name, T, seed), steps, "mse"))
    _, y = tasks.adding_test_set(seed, T, s.adding_test)
    return {"history": hist, "mse": hist["scores"][-1], "best": min(hist["scores"]),
            "baseline": float(np.mean((y - 1.0) ** 2))}  # always answering 1, on the same test set


def explode_job(radius, clip, seed, s):
    """One plain-SGD run of the RNN with W_hh scaled to ``radius`` (None: as initialised), clipped or not."""
    scale = radius if radius is not None else explode.spectral_radius(
        tasks.AddingModel("rnn", s.hidden, rng=[seed, 7]).rnn.weight_hh_l0.data)
    run = explode.train_exploding(scale, clip, seed, T=s.explode_T, steps=s.explode_steps, lr=s.explode_lr,
                                  hidden=s.hidden, batch=s.batch)
    return {**run, "summary": f"{explode.outcome(run)}, {run['steps_run']} steps, {run['seconds']:.1f}s"}


def random_job(task, size, seed, s):
    """Random search on one task, as many draws as the LSTM's step budget there."""
    if task == "token":
        result = random_search.token_search(s, seed, size, s.token_steps[size])
    else:
        result = random_search.adding_search(s, seed, size, s.adding_steps[size])
    draw, _, _, score = result["improvements"][-1]
    return {**result, "summary": f"best of {result['draws']} draws (draw {draw}) scores {score:.3f} on the test set, "
                                 f"{result['seconds']:.1f}s"}


def job_name(task, model, size, seed):
    return f"{task} {'gap' if task == 'token' else 'T'}={size} {model} seed {seed}"


def explode_name(radius, clip, seed):
    return f"explode radius={'init' if radius is None else radius} clip={clip} seed {seed}"


def random_name(task, size, seed):
    return f"random search {task} {'gap' if task == 'token' else 'T'}={size} seed {seed}"


def step_cost(name):
    """The relative cost of one time step: an LSTM step has four gates, a GRU step three, an RNN one."""
    return {"rnn": 1, "gru": 3, "lstm": 4}[model_spec(name)[0]]


def make_jobs(s, seed):
    """(name, function, args, estimated cost) for every training run, the longest first."""
    jobs = []
    for k in range(s.seeds):
        for name in s.token_models:
            for gap in s.gaps:
                cost = s.token_steps[gap] * (gap + 2) * step_cost(name)
                jobs.append((job_name("token", name, gap, seed + k), token_job, (name, gap, seed + k, s), cost))
        for name in s.adding_models:
            for T in s.lengths:
                cost = s.adding_steps[T] * T * step_cost(name)
                jobs.append((job_name("adding", name, T, seed + k), adding_job, (name, T, seed + k, s), cost))
    lstm = best_lstm(s)
    for k in range(s.seeds, s.analysis_seeds):  # the gate activity's further seeds of the featured LSTM
        cost = s.token_steps[s.memory_gap] * (s.memory_gap + 2) * step_cost(lstm)
        jobs.append((job_name("token", lstm, s.memory_gap, seed + k), token_job, (lstm, s.memory_gap, seed + k, s), cost))
    for k in range(s.analysis_seeds):
        for radius in s.explode_radii:
            for clip in (None, s.clip):
                jobs.append((explode_name(radius, clip, seed + k), explode_job, (radius, clip, seed + k, s),
                             s.explode_steps * s.explode_T))
    for task, size in (("token", s.memory_gap), ("adding", s.random_T)):
        draws = s.token_steps[size] if task == "token" else s.adding_steps[size]
        jobs.append((random_name(task, size, seed), random_job, (task, size, seed, s), draws * size))
    return sorted(jobs, key=lambda job: -job[3])  # longest first: the two workers finish together


# ---------------------------------------------------------------------------------------------
# running them


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
    if "summary" in result:
        return result["summary"]
    hist = result["history"]
    score = f"accuracy {result['accuracy']:.3f}" if "accuracy" in result else f"test MSE {result['mse']:.4f}"
    return f"{score} after {hist['stopped']} steps{' (solved)' if hist['solved'] else ''}, {hist['seconds']:.1f}s"


def timed(fn, *args):
    """``fn(*args)``, a result dict, with ``job_seconds`` (how long the job took, start to end) and
    ``job_cpu_seconds`` (the CPU time its process spent on it: other programs on the cores add to
    the first, hardly to the second)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return {**result, "job_seconds": time.perf_counter() - start, "job_cpu_seconds": time.process_time() - cpu}


def run_jobs(jobs, workers, progress):
    """Run every job; returns {name: result} in the order of ``jobs``, whichever finished first."""
    results = _run_here(jobs, progress) if workers == 1 else _run_in_pool(jobs, workers, progress)
    return {name: results[name] for name, *_ in jobs}


def _run_here(jobs, progress):
    """One job after the other in this process (``--jobs 1``)."""
    global _progress_queue
    results = {}
    q = _progress_queue = queue.SimpleQueue()
    try:
        for name, fn, args, _ in jobs:
            results[name] = timed(fn, *args)
            _drain(q, progress)
            progress.finish(name, summary_of(results[name]))
    finally:
        _progress_queue = None
    return results


def _run_in_pool(jobs, workers, progress):
    """The jobs on ``workers`` processes; the display is updated while they run."""
    results = {}
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    q = context.Queue()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(q,)) as pool:
        pending = {pool.submit(timed, fn, *args): name for name, fn, args, _ in jobs}
        while pending:
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, progress)
            for future in finished:
                name = pending.pop(future)
                results[name] = future.result()
                progress.finish(name, summary_of(results[name]))
    return results


def _drain(q, progress):
    """Show every progress message waiting in ``q``."""
    while True:
        try:
            progress.update(*q.get_nowait())
        except queue.Empty:
            return
