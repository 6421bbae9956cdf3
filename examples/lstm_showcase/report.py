"""report.md: one function per section, each returning its paragraphs; every number comes from the run."""

import dataclasses
import os
import platform

import numpy as np

from . import mechanism_report, tasks
from .formatting import compare, fmt_steps, fmt_values, table
from .settings import best_lstm, memory_path, model_label, model_spec


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


# ---------------------------------------------------------------------------------------------
# the sections, in the order of the report


def write_report(path, s, seed, command, timings, flow, token, adding, unrolls, mechanism):
    """Write report.md. ``command`` regenerates it; ``unrolls`` is what graphs.draw_unrolls returned;
    ``mechanism`` holds the gate activity, the Jacobians, the exploding runs and the random search."""
    m = mechanism_report
    paragraphs = (header(s, seed, command, timings) + flow_section(s, flow) + unroll_section(s, unrolls, command)
                  + m.jacobian_section(s, mechanism["jacobians"])
                  + token_section(s, seed, token) + memory_section(s, token)
                  + m.gate_section(s, mechanism["gates"]) + adding_section(s, adding)
                  + m.explode_section(s, mechanism["explode"]) + m.random_section(s, mechanism["random_search"])
                  + m.timing_section(s, timings) + settings_section(s, token, adding))
    path.write_text("\n".join(paragraphs), encoding="utf-8")


def header(s, seed, command, timings):
    """The title, how to regenerate the report, and the run: mode, seeds, time, machine, commit."""
    commit = f", commit {timings['commit']}" if timings["commit"] else ""
    paragraphs = [
        "# RNN versus LSTM: why the LSTM remembers\n",
        f"Regenerate this report with `{command}` (from the repository root; "
        "`make showcase` runs the default settings into `out/showcase/`).\n",
        f"Mode **{s.mode}**, seed {seed}, {s.seeds} training seed(s) per configuration. "
        f"Total run time **{timings['total']:.0f} s** on {os.cpu_count()} cores with {timings['workers']} worker "
        f"process(es) (training {timings['training']:.0f} s, summed over jobs {timings['job_seconds']:.0f} s; "
        f"gradient flow, pictures and plots {timings['after']:.0f} s). "
        f"{timings['when']}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"one BLAS thread per process{commit}.\n",
        "Every number below was measured by this run; the sentences that state a result are "
        "generated from the same numbers.\n"]
    if s.seeds == 1:
        paragraphs.append(
            "One training seed per configuration: whether and when a run solves its task varies between seeds, "
            "most near the edge of a budget; `--seeds 3` (or `--full`) reports the median and range over seeds.\n")
    return paragraphs


def flow_section(s, flow):
    """1. Gradient flow: why, how it is measured, the two tables, the plot, and what they show."""
    T = s.flow_T
    return [
        f"## 1. Gradient flow over T = {T} steps\n",
        "A tanh RNN carries its memory in h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), so going one step back "
        "multiplies the gradient by W_hh^T diag(1 - h_t²): unless those factors are tuned to 1 it shrinks (or "
        "grows) geometrically. The LSTM carries its memory in the cell state, C_t = f_t ⊙ C_{t-1} + i_t ⊙ g_t, and "
        "along that path dC_t/dC_{t-1} = diag(f_t): the gradient is multiplied by the forget gate only, and survives "
        "while the gate stays open (f near 1).\n",
        f"Measured with `nn.flow.gradient_flow` (retained gradients of the very tensors h[t], C[t] of the "
        f"unrolled graph, in float64 so nothing underflows): the token-task model (embedding {s.embed}, hidden "
        f"{s.hidden}, linear readout of h_T) reads a batch of {s.batch} sequences of {T} tokens (a key, "
        f"{T - 2} distractors, the query) and the loss is the cross-entropy of its answer at the last step. "
        f"The table gives the norm over the batch of dL/dC_t for the LSTM and dL/dh_t for the RNN (their memory "
        f"paths) at t = T, T-10, …, 1, and the ratio of the first to the last; the last column gives that ratio for "
        f"dL/dh_t, which for the LSTM is not its memory path. Untrained weights are PyTorch's initialisation, "
        f"U(±1/√H), plus the stated forget-gate bias.\n",
        "### At initialisation\n",
        flow_table(s, flow["init"], seeds_column=s.flow_seeds > 1) + "\n",
        f"### After training on the gap-{s.memory_gap} token task (section 3)\n",
        flow_table(s, flow["trained"], seeds_column=False) + "\n",
        "![gradient flow](flow.png)\n",
        flow_findings(s, flow)]


def flow_findings(s, flow):
    """The sentences that state the measured ratios, and why a ratio above 1 is no error."""
    init, after = flow["init"], flow["trained"]
    lstm = best_lstm(s)
    sentences = [f"At initialisation the RNN's hidden gradient at step 1 is {init['rnn']['ratios'][0]:.1e} times "
                 f"the one at step {s.flow_T}."]
    for name in s.flow_models:
        r = init[name]["ratios"][0]
        if name.endswith("pinned"):
            sentences.append(f"{model_label(name)}: 1 − {1 - r:.1e}.")
        elif model_spec(name)[0] == "lstm":
            sentences.append(f"{model_label(name)}: {r:.1e}.")
    if lstm in init and lstm in after and "rnn" in after:
        sentences.append(
            f"After training, the {model_label(lstm)} keeps a cell-gradient ratio of {after[lstm]['ratios'][0]:.1e}, "
            f"the RNN's hidden ratio is {after['rnn']['ratios'][0]:.1e}.")
    return (" ".join(sentences) + " A ratio above 1 is no error: besides the path through f, the cell collects "
            "gradient from every later step through h_t and the gates of step t+1, so a cell that keeps its content "
            "can gather more gradient far from the loss than near it. With f pinned to 1 and i to 0 nothing is "
            "written or read and only the f path is left: the ratio is the product of the f_t, 1 to many digits.\n"
            + gru_findings(s, flow))


def gru_findings(s, flow):
    """The GRU's hidden ratio against its update gate, at initialisation and after training ('' without a GRU)."""
    parts = [(when, flow[key]["gru"]) for key, when in (("init", "at initialisation"),
                                                        ("trained", f"after training at gap {s.memory_gap}"))
             if "gru" in flow[key]]
    if not parts:
        return ""
    sentences = []
    for when, m in parts:
        ratio, z = m["ratios"][0], m["z"]
        sentences.append(
            f"{when.capitalize()} its ratio is {ratio:.1e}; z_t over t = 2…T averages {z['mean']:.3f} (smallest "
            f"{z['min']:.2g}), and the product of z_2…z_T of the unit where it is largest is {z['largest_product']:.1e} "
            f"(median over the sequences): the ratio is {compare(ratio, z['largest_product'])} that product.")
    rnn = flow["trained"].get("rnn")
    if rnn and "gru" in flow["trained"]:
        sentences.append(f"After training the GRU's ratio is {compare(flow['trained']['gru']['ratios'][0], rnn['ratios'][0])} "
                         f"the RNN's ({rnn['ratios'][0]:.1e}).")
    return ("\n**The GRU.** It carries its memory in h itself: h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}, so "
            "dh_t/dh_{t-1} = diag(z_t) plus the paths through the gates and the candidate n_t, and the gradient "
            "survives along the units whose update gate z_t stays near 1 (the GRU's counterpart of the forget gate). "
            + " ".join(sentences) + "\n")


def unroll_section(s, unrolls, command):
    """The graph pictures of a short unroll, or, without Graphviz, how to install it and the DOT files."""
    lo, hi = unrolls["grad_range"]
    paragraphs = [
        f"### The graph of a {s.unroll}-step unroll\n",
        f"The same graph that backward walks, drawn by `tinygrad_lite.viz` for one sequence "
        f"'{unrolls['sequence']}' with the models trained in section 3. Edge colour and width follow log10 of the "
        "gradient norm of the tensor the edge touches (legend under each picture). In the cell view one box is one "
        "time step and the edges between steps carry h[t] (and C[t]). The op view draws every op of the featured "
        "LSTM's first step, where it reads the key, with the gradients that reach it from the loss at the last "
        f"step (the op view of all {s.unroll} steps is too tall to read). Every picture has the same colour scale, "
        f"from {lo:.1e} to {hi:.1e} (`viz.shared_grad_range` and `grad_range`), so their colours compare.\n"]
    if unrolls["missing"]:
        files = ", ".join(f"[{file}]({file})" for file in unrolls["files"].values())
        example = next(iter(unrolls["files"].values()))
        paragraphs.append(
            f"**The pictures were not drawn**: {unrolls['missing']} Then rerun `{command}`. "
            f"The graphs' DOT text is saved beside this report ({files}); with Graphviz installed, "
            f"`dot -Tsvg {example} -o {example.removesuffix('.dot')}.svg` draws one.\n")
        return paragraphs
    for (name, view), file in unrolls["files"].items():
        what = "step 1, every op" if view == "ops" else "one box per step"
        paragraphs.append(f"**{model_label(name)}, {what}:**\n\n![{model_label(name)} unroll, {view} view]({file})\n")
    return paragraphs


def token_section(s, seed, token):
    """2. The long-gap token task: the task with an example, the accuracy table, the plot, what was solved."""
    tokens, keys = tasks.token_batch(np.random.default_rng([seed, 15]), 1, 5, s.K)
    header = ["model"] + [f"gap {g}" for g in s.gaps]
    rows = [[model_label(name)] + [f"{fmt_values(token[name][g]['accuracy'], '.3f')} ({fmt_steps(token[name][g])})"
                                   for g in s.gaps] for name in s.token_models]
    solved = " ".join(f"{model_label(name)} solves {what_solved('gap', solved_gaps(s, token, name))}."
                      for name in s.token_models)
    return [
        "## 3. The long-gap token task\n",
        f"Each sequence is a key word (one of K = {s.K} colours), `gap` distractor words, and a query mark; "
        f"the model must answer the key at the query: for example '{tasks.describe_tokens(tokens, s.K)}' → "
        f"{tasks.vocabulary(s.K)[keys[0]]}. Chance is 1/{s.K} = {1 / s.K:.3f}. Models: embedding {s.embed}, "
        f"hidden {s.hidden}, a linear readout of the last h; Adam lr {s.token_lr:g}, batch {s.batch}, gradient "
        f"clipping at {s.clip:g}, accuracy on {s.token_test} held-out sequences every {s.token_eval} steps, "
        f"stopping early at ≥ {s.token_target:g}. "
        f"Step budgets per gap: {', '.join(f'{g}: {s.token_steps[g]}' for g in s.gaps)}. {_training_mode(s)}\n",
        f"Held-out accuracy at the end of training (and the step at which it reached {s.token_target:g}):\n",
        table(header, rows) + "\n",
        "![accuracy against gap](token_accuracy.png)\n",
        solved + "\n"]


def solved_gaps(s, token, name):
    return [str(g) for g in s.gaps if np.median(token[name][g]["accuracy"]) >= s.token_target]


def memory_section(s, token):
    """The models trained at the memory gap, tested at longer gaps without further training."""
    header = ["model", f"gap {s.memory_gap} (trained)"] + [f"gap {g}" for g in s.longer_gaps]
    rows = []
    for name in s.token_models:
        cell = token[name][s.memory_gap]
        rows.append([model_label(name), fmt_values(cell["accuracy"], ".3f")]
                    + [fmt_values([lg[g] for lg in cell["longer"]], ".3f") for g in s.longer_gaps])
    return [
        f"**Memory beyond the training gap.** The models trained at gap {s.memory_gap}, tested without further "
        f"training on {s.token_test} sequences with longer gaps:\n",
        table(header, rows) + "\n"]


def _training_mode(s):
    """How the training steps ran, in one sentence of the report (the token task and adding problem)."""
    flushed = (" While training, in either mode, subnormal floats are flushed to zero "
               "(`tinygrad_lite.set_flush_denormal(True)`, on x86-64 Linux): a vanishing gradient many steps back "
               "is subnormal and costs a slow path of the processor, and no float32 sum keeps it.")
    if not s.compiled:
        return "The training steps and their held-out evaluations run eagerly (`--eager`)." + flushed
    return ("The training steps and their held-out evaluations run under `tinygrad_lite.compile` (recorded at "
            "the first call, replayed after it; an evaluation replays exactly eager's ops): the training's "
            "float32 numbers equal eager mode's within rounding, so an eager rerun (`--eager`) can differ in the "
            "last digits, and where a score sits at a threshold, by an evaluation step." + flushed)


def adding_section(s, adding):
    """3. The adding problem: the task, the MSE table against the baseline, what was solved, the plot."""
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
    solved = " ".join(f"{model_label(name)} solves {what_solved('T =', solved_lengths(s, adding, name))}."
                      for name in s.adding_models)
    return [
        "## 5. The adding problem\n",
        f"Inputs: T pairs (value ~ U[0,1], marker); one marker in each half of the sequence; the target is the "
        f"sum of the two marked values. Always answering 1 scores MSE 1/6 ≈ {1 / 6:.3f}. Hidden {s.hidden}, a "
        f"linear readout of the last h, Adam lr {s.adding_lr:g}, batch {s.batch}, gradient clipping at {s.clip:g}; "
        f"test MSE on {s.adding_test} fixed sequences every {s.adding_eval} steps, stopping early once it is below "
        f"{s.adding_target:g}. Step budgets per T: "
        f"{', '.join(f'{T}: {s.adding_steps[T]}' for T in s.lengths)}. {_training_mode(s)}\n",
        f"Final test MSE (the step at which it fell below {s.adding_target:g}, or the best it reached):\n",
        table(header, rows) + "\n",
        solved + "\n",
        "Both models get the same step budget. This run does not measure how many more steps the RNN would "
        "need: the claim is that it learns this task far more slowly, not that it never can.\n",
        "![adding problem](adding_mse.png)\n"]


def solved_lengths(s, adding, name):
    return [str(T) for T in s.lengths if np.median(adding[name][T]["mse"]) < s.adding_target]


def settings_section(s, token, adding):
    """The budget, the steps run and the seconds of every job, and every setting of the run."""
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
    return [
        "## Settings, budgets and time per job\n",
        "The RNN and the LSTM of one configuration see the same training sequences in the same order; every "
        "job's data and initial weights follow from the seed alone, so the numbers do not depend on the number "
        "of worker processes.\n",
        table(["task", "model", "size", "budget (steps)", "steps run", "seconds"], rows) + "\n",
        "All settings of this run (`results.json` holds every number):\n",
        "```\n" + "\n".join(f"{k} = {v}" for k, v in dataclasses.asdict(s).items()) + "\n```\n"]
