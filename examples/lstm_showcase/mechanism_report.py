"""report.md's sections on the mechanism, one function per section; every number comes from the run.

Jacobians through time, gate activity, exploding gradients, the random-search baseline, and the
time each part of the run took. Each sentence that states a result is built from the measured
numbers and says whichever way they came out.
"""

import numpy as np

from . import explode, random_search
from .formatting import compare, fmt_values, table
from .settings import model_label


def seeds_agreeing(values):
    """'3/3 seeds' / 'the seed' (one seed): in how many of the seeds a condition held."""
    return "the seed" if len(values) == 1 else f"{sum(values)}/{len(values)} seeds"


# ---------------------------------------------------------------------------------------------
# Jacobians through time


def jacobian_section(s, jac):
    """How the gradient of section 1 falls (or not): the Jacobians of one step back, and their bounds."""
    return [
        "## 2. Jacobians through time: why the RNN's gradient must fall\n",
        "Why the RNN's gradient must fall: going back from step T to step t multiplies by the Jacobian "
        "∂h_T/∂h_t = ∏_s diag(1 − h_s²) W_hh, whose spectral norm is at most the product of the per-step norms "
        "∏ ‖diag(1 − h_s²) W_hh‖₂ along the actual trajectory, which is at most (γ σ₁(W_hh))^(T−t) with γ = 1, the "
        "largest slope of tanh (Pascanu et al. 2013). When σ₁(W_hh) < 1 the coarse bound alone forces the "
        "gradient to vanish; saturated units (h_s near ±1, slope near 0) make the trajectory product fall faster "
        "still. The LSTM's cell path has the Jacobian diag(∏ f_s): its norm is the largest product of forget gates.\n",
        f"Measured by `nn.flow.jacobian_norms` on {jac['sequences']} of section 1's sequences (T = {s.flow_T}): each "
        "Jacobian built row by row from the engine's own vector-Jacobian products (one backward per hidden "
        "unit), its spectral norm taken per sequence; the plot and the sentences give the median over the "
        "sequences, the checks hold for every sequence and step.\n",
        "![Jacobians through time](jacobians.png)\n",
        " ".join(jacobian_sentences(jac, when) for when in ("init", "trained")) + "\n"]


def jacobian_sentences(jac, when):
    """The measured Jacobian norms at t = 1 against their bounds, for each model measured ``when``."""
    what = "At initialisation" if when == "init" else "After training"
    sentences = []
    for name, m in jac[when].items():
        kind = jac["kinds"][name]
        if kind == "rnn":
            worst = m["measured_over_bound"]
            coarse = ("above 1: the coarse bound grows with the distance and promises no decay" if m["sigma1"] > 1
                      else "below 1: the coarse bound alone forces decay")
            sentences.append(
                f"{what}, the {model_label(name)}'s ‖∂h_T/∂h_1‖ is {m['h'][1]:.1e}, the trajectory bound "
                f"{m['trajectory_bound'][1]:.1e} and the coarse bound {m['coarse_bound'][1]:.1e} "
                f"(σ₁(W_hh) = {m['sigma1']:.3f}, {coarse}); "
                f"the measured norm {'never exceeds' if worst <= 1 + 1e-9 else 'EXCEEDS'} the trajectory bound "
                f"(the largest ratio of the two over every step and sequence is {worst:.12f}; one step back the "
                f"bound is a single factor, the Jacobian's own norm) and is {compare(m['h'][1], m['trajectory_bound'][1])} "
                "it at t = 1.")
        elif kind == "lstm":
            sentences.append(
                f"The {model_label(name)}'s cell path ‖∂C_T/∂C_1‖ is {m['C_cell'][1]:.2e} and equals the largest "
                f"∏ f over units {agreement(m['cell_vs_f'])}; with every path "
                f"(through h_t and the gates) ‖∂C_T/∂C_1‖ is {m['C'][1]:.2e}, {compare(m['C'][1], m['C_cell'][1])} "
                "the cell path.")
        elif kind == "gru":
            sentences.append(
                f"The {model_label(name)}'s ‖∂h_T/∂h_1‖ is {m['h'][1]:.1e}, {compare(m['h'][1], m['z_product'][1])} "
                f"its largest product of update gates ∏ z ({m['z_product'][1]:.1e}).")
    return " ".join(sentences)


def agreement(relative):
    """'exactly' / 'to 3e-16 (relative, ...)': how closely two measured arrays agree."""
    if relative == 0:
        return "exactly, at every step and sequence"
    return f"to {relative:.0e} (relative, the worst step and sequence)"


# ---------------------------------------------------------------------------------------------
# gate activity


GATE_ROWS = (("i_key", "input gate at the key (t = 1)"), ("i_else", "input gate elsewhere (t = 2…T)"),
             ("f_gap_mean", "forget gate, mean over the gap"), ("f_gap_min", "forget gate, minimum over the gap"),
             ("o_query", "output gate at the query (t = T)"), ("o_else", "output gate elsewhere (t < T)"))


def gate_section(s, gate):
    """When the LSTM writes, keeps and reads its memory: heat maps, the key units, their gates."""
    seeds = gate["seeds"]
    k, after = len(seeds[0]["key_units"]), seeds[0]["ablate_after"]
    label = model_label(gate["model"])
    ablation = table(
        ["seed", "accuracy", f"key units' C ablated after step {after}", f"{k} lowest-ranked ablated (control)",
         "top-ranked units ablated to halve the accuracy above chance"],
        [[r["seed"], f"{r['accuracy']:.3f}", f"{r['ablated_key']:.3f}", f"{r['ablated_control']:.3f}",
          f"{r['units_to_halve']}" + ("" if r["ablation_curve"][-1] <= halfway(r, s) else " (never: all ablated)")]
         for r in seeds])
    stats = table(
        ["", f"the {k} key units, {'median [min–max] over seeds' if len(seeds) > 1 else 'one seed'}",
         f"the other {s.hidden - k} units"],
        [[what, fmt_values([r["key"][key] for r in seeds], ".3f"), fmt_values([r["others"][key] for r in seeds], ".3f")]
         for key, what in GATE_ROWS])
    return [
        "## 4. Gate activity: when the LSTM writes, keeps and reads its memory\n",
        f"The {label} trained at gap {s.memory_gap} in section 3, {len(seeds)} seed(s) ({', '.join(str(r['seed']) for r in seeds)}), "
        f"read {s.gate_sequences} held-out sequences (float64). Which units keep the key is measured, not chosen: "
        f"each unit's mean |dL/dC_1| over the sequences (C_1 is the cell state right after the key; the loss at "
        f"the query depends on a unit's C_1 only through what the unit carries across the gap), and the {k} "
        f"units with the largest are called the key units. Ablation checks the ranking: the key units' C is "
        f"replaced by its mean over the sequences after step {after}, the middle of the gap (what they hold "
        f"about each sequence's key is gone, their typical size stays), against the same for the {k} "
        "lowest-ranked units.\n",
        "![gate activity](gates.png)\n",
        ablation + "\n",
        stats + "\n",
        gate_findings(s, gate) + "\n"]


def halfway(r, s):
    return 1 / s.K + (r["accuracy"] - 1 / s.K) / 2


def gate_findings(s, gate):
    """The measured account of the heat maps, over the seeds."""
    seeds = gate["seeds"]
    k = len(seeds[0]["key_units"])
    key = {name: [r["key"][name] for r in seeds] for name, _ in GATE_ROWS}
    med = {name: float(np.median(v)) for name, v in key.items()}
    ablated, control = ([r[x] for r in seeds] for x in ("ablated_key", "ablated_control"))
    to_halve = [r["units_to_halve"] for r in seeds]
    key_matters = [a < c for a, c in zip(ablated, control)]
    sentences = [
        f"Ablating the {k} key units takes the accuracy to {fmt_values(ablated, '.3f')}, ablating the {k} "
        f"lowest-ranked to {fmt_values(control, '.3f')} (intact: {fmt_values([r['accuracy'] for r in seeds], '.3f')}): "
        f"the key units matter more in {seeds_agreeing(key_matters)}.",
        f"Taking the accuracy halfway to chance needs the top {fmt_values(to_halve, 'd')} of {s.hidden} units: "
        + ("the key is spread over more units than the key units alone."
           if np.median(to_halve) > k else "the key units hold most of it."),
        f"The key units' input gate is {med['i_key']:.3f} at the key and {med['i_else']:.3f} elsewhere (medians): "
        f"higher at the key in {seeds_agreeing([a > b for a, b in zip(key['i_key'], key['i_else'])])} "
        f"(difference of the medians {med['i_key'] - med['i_else']:+.3f}).",
        f"Their forget gate averages {med['f_gap_mean']:.3f} over the {s.memory_gap}-word gap (smallest value "
        f"{med['f_gap_min']:.3f}); at that mean {med['f_gap_mean']:.3f}^{s.memory_gap} = "
        f"{med['f_gap_mean'] ** s.memory_gap:.2g} of C_1 is left at the query.",
        f"Their output gate is {med['o_query']:.3f} at the query and {med['o_else']:.3f} elsewhere: higher at the "
        f"query in {seeds_agreeing([a > b for a, b in zip(key['o_query'], key['o_else'])])} "
        f"(difference of the medians {med['o_query'] - med['o_else']:+.3f})."]
    return " ".join(sentences)


# ---------------------------------------------------------------------------------------------
# exploding gradients


def explode_section(s, runs):
    """The other side of the bound: an RNN whose W_hh starts with spectral radius above 1, with and without clipping."""
    rows = []
    for entry in runs:
        for label, seeds in entry["runs"].items():
            rows.append([
                radius_text(entry) + f", σ₁ {fmt_values([r['sigma1'] for r in seeds], '.2f')}",
                label, "; ".join(explode.outcome(r) for r in seeds),
                fmt_values([r["max_norm"] for r in seeds], ".1e"),
                final_losses(seeds),
                "—" if label == "unclipped" else fmt_values([100 * r["above_clip"] for r in seeds], ".0f") + " %"])
    return [
        "## 6. Exploding gradients: the other side of the bound\n",
        f"When the Jacobians' norms exceed 1 the gradient can grow geometrically with the distance back. A tanh "
        f"RNN (hidden {s.hidden}) on the adding problem at T = {s.explode_T}, its W_hh rescaled at initialisation "
        f"to the spectral radius given, trained by plain SGD (lr {s.explode_lr:g}, batch {s.batch}, "
        f"{s.explode_steps} steps; Adam would divide by its own running gradient scale) without clipping and with "
        f"`clip_grad_norm_` at {s.clip:g}, from the same weights on the same batches, {s.analysis_seeds} seed(s). "
        f"Recorded per step: the gradient norm before clipping and the loss; a run stops at its first NaN or "
        f"infinite loss or gradient (the weights are NaN after it). A spike is a step whose gradient norm is "
        f"above {explode.SPIKE_FACTOR:g} × the median of the {explode.SPIKE_WINDOW} steps before it; the loss "
        f"blew up when it exceeded {explode.BLOW_UP:g} × its first value.\n",
        table(["spectral radius of W_hh at the start", "clipping", "what happened, per seed",
               "largest gradient norm", f"final loss (mean of the last {explode.SPIKE_WINDOW} steps)",
               "steps that clipping changed"], rows) + "\n",
        "![exploding gradients](explode.png)\n",
        explode_findings(s, runs) + "\n"]


def radius_text(entry):
    """'1.50', or for the weights as initialised their measured radius over the seeds: '0.60 [0.59–0.62] (as initialised)'."""
    radii = [r["radius"] for r in entry["runs"]["clipped"]]
    return f"{entry['radius']:.2f}" if entry["radius"] is not None else fmt_values(radii, ".2f") + " (as initialised)"


def final_losses(seeds):
    finals = [r["final_loss"] for r in seeds]
    done = [f for f in finals if f is not None]
    text = fmt_values(done, ".3f") if done else "—"
    return text + (f" ({len(finals) - len(done)} of {len(finals)} ended in NaN/inf)" if len(done) < len(finals) else "")


def explode_findings(s, runs):
    """Per radius: how many seeds hit NaN/inf without and with clipping, and the loss the clipped runs ended at."""
    sentences = []
    for entry in runs:
        bad = {label: [r["nonfinite_at"] for r in seeds if r["nonfinite_at"] is not None]
               for label, seeds in entry["runs"].items()}
        n = len(entry["runs"]["clipped"])
        text = f"At spectral radius {radius_text(entry)}: without clipping {len(bad['unclipped'])}/{n} seeds hit NaN/inf"
        if bad["unclipped"]:
            text += f" (at step {fmt_values(bad['unclipped'], 'd')})"
        text += f", with clipping {len(bad['clipped'])}/{n}"
        done = [r["final_loss"] for r in entry["runs"]["clipped"] if r["final_loss"] is not None]
        if done:
            text += (f"; the clipped runs ended at loss {fmt_values(done, '.3f')} "
                     f"({'below' if np.median(done) < 1 / 6 else 'not below'} 1/6 ≈ 0.167, the loss of always "
                     "answering 1)")
        sentences.append(text + ".")
    return " ".join(sentences)


# ---------------------------------------------------------------------------------------------
# random search


def random_section(s, found):
    """Is the task hard? Random weights for the same LSTM, as many draws as the LSTM's training steps."""
    rows = []
    for r in found:
        at_steps = random_search.best_within(r, r["lstm_steps"])
        best = r["improvements"][-1]
        fmt = ".3f" if r["task"] == "token" else ".4f"
        rows.append([
            f"token task, gap {r['size']} (held-out accuracy)" if r["task"] == "token"
            else f"adding problem, T = {r['size']} (test MSE)",
            f"{r['lstm_score']:{fmt}} after {r['lstm_steps']} steps{' (solved)' if r['lstm_solved'] else ''}",
            f"{at_steps[3]:{fmt}}" if at_steps else "—",
            f"{best[3]:{fmt}} (draw {best[0]}, w = {best[1]:.2g})",
            f"{1 / s.K:.3f} (chance)" if r["task"] == "token" else "0.167 (always answer 1)"])
    return [
        "## 7. A random-search baseline: are the tasks hard?\n",
        "Hochreiter and Schmidhuber (1996) showed that some long-lag benchmarks of their day were solved "
        "faster by guessing weights at random than by the algorithms they were meant to show off. Here: the "
        f"same LSTM model, every parameter drawn from U(−w, w) with w log-uniform in [{random_search.SCALES[0]:g}, "
        f"{random_search.SCALES[1]:g}] per draw, each draw scored by the training loss on one fresh batch of "
        f"{s.batch} training sequences (as a training step sees one); the best draw so far is scored on the "
        f"trained models' test set (the best is chosen by its training loss, so a later best can score worse on "
        f"the test set). As many draws as the LSTM's step budget on that task (first seed).\n",
        table(["task", f"{model_label(found[0]['model'])}, trained", "random search: best after as many draws as the "
               "LSTM's steps", "best after every draw", "reference"], rows) + "\n",
        "![random search](random_search.png)\n",
        random_findings(s, found) + "\n"]


def random_findings(s, found):
    sentences = []
    for r in found:
        best = r["improvements"][-1][3]
        if r["task"] == "token":
            solved = best >= s.token_target
            sentences.append(
                f"On the token task at gap {r['size']} the best of {r['draws']} random draws reaches held-out "
                f"accuracy {best:.3f} (chance {1 / s.K:.3f}, solved at ≥ {s.token_target:g}): "
                + ("guessing solves it, so it says little about a learning method." if solved else
                   "guessing does not solve it."))
        else:
            solved = best < s.adding_target
            sentences.append(
                f"On the adding problem at T = {r['size']} it reaches test MSE {best:.4f} (always answering 1: "
                f"0.167, solved below {s.adding_target:g}): "
                + ("guessing solves it." if solved else "guessing does not solve it."))
    return " ".join(sentences)


# ---------------------------------------------------------------------------------------------
# time per part


def timing_section(s, timings):
    """How long each part of the run took: jobs (summed over the worker processes) and the main
    process; wall time and CPU time (other programs on the cores add to the first, hardly to the second)."""
    rows = [[part, f"{sec['wall']:.1f}", f"{sec['cpu']:.1f}", f"jobs, summed over {timings['workers']} worker process(es)"]
            for part, sec in timings["jobs_by_part"].items()]
    rows += [[part, f"{sec['wall']:.1f}", f"{sec['cpu']:.1f}", "main process, after the jobs"]
             for part, sec in timings["after_by_part"].items()]
    cpu = sum(sec["cpu"] for part in ("jobs_by_part", "after_by_part") for sec in timings[part].values())
    load = timings.get("load_at_start")
    load_text = (f" The load average (1 minute) was {load[0]:.1f} at the start and {timings['load'][0]:.1f} at the "
                 f"end (the run's own {timings['workers']} worker process(es) add about {timings['workers']} while the "
                 "jobs run): other programs sharing the cores lengthen the wall times, hardly the CPU times."
                 if load and timings.get("load") else "")
    return [
        "## Time per part\n",
        f"Wall time **{timings['total']:.0f} s** in all: the jobs ran for {timings['training']:.0f} s on "
        f"{timings['workers']} worker process(es), the measurements, pictures and plots after them took "
        f"{timings['after']:.0f} s; the CPU time of every part adds up to {cpu:.0f} s.{load_text}\n",
        table(["part", "wall seconds", "CPU seconds", "where"], rows) + "\n"]
