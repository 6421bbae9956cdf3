"""The report's plots (PNG, matplotlib): each model keeps its colour and line style in every plot (the RNN dashed, the GRU dash-dotted)."""

import numpy as np

from .settings import memory_path, model_label

MODEL_COLOURS = {"rnn": "#1f77b4", "lstm+0": "#8c564b", "lstm+1": "#2ca02c", "lstm+3": "#ff7f0e",
                 "lstm+5": "#9467bd", "lstm+pinned": "#7f7f7f", "gru": "#d62728"}


LINE_STYLES = {"rnn": "--", "gru": "-.", "lstm+pinned": ":"}
SURVIVES = 1e-3  # the flow plot's middle panel: the models whose ratio t=1 / t=T at initialisation is above this


def line_style(name):
    return {"color": MODEL_COLOURS.get(name), "linestyle": LINE_STYLES.get(name, "-"),
            "linewidth": 2.2 if name == "lstm+pinned" else 1.5}


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


def save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_flow(s, flow, path):
    """The gradient norm along each model's memory path: at initialisation (every model, then the
    ones whose gradient survives on a scale of their own, so that their lines part), after training."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    t = np.arange(s.flow_T + 1)
    surviving = {name: m for name, m in flow["init"].items() if m["ratios"][0] > SURVIVES}
    panels = ((axes[0], flow["init"], "at initialisation"),
              (axes[1], surviving, f"at initialisation, ratio > {SURVIVES:g} only"),
              (axes[2], flow["trained"], f"after training on the gap-{s.memory_gap} task"))
    for ax, models, title in panels:
        for name, m in models.items():
            norms = np.asarray(m["norms"], dtype=float)
            ax.semilogy(t[1:], np.where(norms[1:] > 0, norms[1:], np.nan), **line_style(name),
                        label=f"{model_label(name)}: ||dL/d{memory_path(name)}_t||")
        ax.set_title(title)
        ax.set_xlabel("time step t (the loss is at t = T)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("gradient norm (log scale)")
    fig.suptitle(f"Gradient flow over T = {s.flow_T} steps", y=0.99)
    save(plt, fig, path)


def plot_token(s, token, path):
    """Held-out accuracy against the gap, per model."""
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
    save(plt, fig, path)


def plot_adding(s, adding, path):
    """Final test MSE against T, and the test MSE while training (first seed), one panel per T:
    colour means the model in every panel."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 1 + len(s.lengths), figsize=(4.2 * (1 + len(s.lengths)), 4.2))
    for name in s.adding_models:
        mse = [np.median(adding[name][T]["mse"]) for T in s.lengths]
        axes[0].plot(s.lengths, mse, marker="o", **line_style(name), label=model_label(name))
    for ax, T in zip(axes[1:], s.lengths):
        for name in s.adding_models:
            hist = adding[name][T]["histories"][0]
            ax.plot(hist["steps"], hist["scores"], **line_style(name), label=model_label(name))
        ax.set_title(f"test MSE while training, T = {T}")
        ax.set_xlabel("training step")
    for ax in axes:
        ax.axhline(1 / 6, color="grey", lw=1, ls=":", label="always answer 1 (1/6)")
        ax.axhline(s.adding_target, color="black", lw=1, ls=(0, (1, 4)), label=f"solved ({s.adding_target:g})")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("test MSE (log scale)")
    log_x_ticks(axes[0], s.lengths)
    axes[0].set_xlabel("sequence length T")
    axes[0].set_title("final test MSE")
    axes[0].legend(fontsize=7)
    fig.suptitle("Adding problem" + (" (first seed)" if s.seeds > 1 else ""), y=0.99)
    save(plt, fig, path)


def plot_gates(s, gate, path):
    """Heat maps (units x time) of i, f, o and C over one held-out sequence of the first seed's LSTM,
    the words on the time axis, the units ranked by |dL/dC_1| (the key units on top, above the line)."""
    plt = pyplot()
    first = gate["seeds"][0]
    heat, k = first["heat"], len(first["key_units"])
    words = heat["words"]
    fig, axes = plt.subplots(4, 1, figsize=(13, 14), sharex=True)
    c_max = float(np.max(np.abs(heat["C"])))
    rows = (("i", "input gate i_t", "viridis", 0.0, 1.0), ("f", "forget gate f_t", "viridis", 0.0, 1.0),
            ("o", "output gate o_t", "viridis", 0.0, 1.0), ("C", "cell state C_t", "RdBu_r", -c_max, c_max))
    for ax, (key, title, cmap, lo, hi) in zip(axes, rows):
        image = ax.imshow(np.asarray(heat[key]), aspect="auto", cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.axhline(k - 0.5, color="white" if key != "C" else "black", lw=1.5)
        ax.set_title(f"{title}: units ranked by |dL/dC_1|, the {k} key units above the line", fontsize=11)
        ax.set_ylabel("unit (rank)")
        fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    axes[-1].set_xticks(range(len(words)), [f"{w} ({t})" if t in (1, len(words)) else w
                                             for t, w in enumerate(words, start=1)], rotation=90, fontsize=8)
    axes[-1].set_xlabel("time step: the word read at that step (the key first, the query '?' last)")
    fig.suptitle(f"{model_label(gate['model'])} trained at gap {s.memory_gap}, seed {first['seed']}: "
                 "its gates over one held-out sequence", y=0.995)
    save(plt, fig, path)


def plot_jacobians(s, jac, path):
    """||d state_T / d state_t|| against the bounds, per model (columns), at initialisation and after training (rows)."""
    plt = pyplot()
    names = list(jac["trained"])
    fig, axes = plt.subplots(2, len(names), figsize=(5.6 * len(names), 8), squeeze=False)
    for row, when in enumerate(("init", "trained")):
        for ax, name in zip(axes[row], names):
            m = jac[when][name]
            t = np.arange(len(next(iter(m.values()))))
            for key, label, style in JACOBIAN_LINES[jac["kinds"][name]]:
                values = np.asarray(m[key], dtype=float)
                ax.semilogy(t, np.where(values > 0, values, np.nan), label=label, **style)
            ax.set_title(f"{model_label(name)}, {'at initialisation' if when == 'init' else 'after training'}",
                         fontsize=10)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
            ax.set_xlabel("t (the Jacobian runs from step t to T)")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"spectral norm, median of {jac['sequences']} sequences")
    fig.suptitle(f"Jacobians through time over T = {s.flow_T} steps", y=0.995)
    save(plt, fig, path)


JACOBIAN_LINES = {
    "rnn": (("h", "measured ||dh_T/dh_t||", {"color": MODEL_COLOURS["rnn"], "lw": 2}),
            ("trajectory_bound", "bound: prod ||diag(1-h_s²) W_hh|| along the run", {"color": "black", "ls": "--"}),
            ("coarse_bound", "bound: σ1(W_hh)^(T-t)", {"color": "grey", "ls": ":"})),
    "lstm": (("C", "measured ||dC_T/dC_t||, every path", {"color": MODEL_COLOURS["lstm+3"], "lw": 2}),
             ("C_cell", "measured, the cell path alone", {"color": "black", "lw": 1}),
             ("f_product", "largest prod f_s over units (markers)", {"color": "black", "ls": "none", "marker": "o",
                                                                     "markersize": 3, "markevery": 5})),
    "gru": (("h", "measured ||dh_T/dh_t||", {"color": MODEL_COLOURS["gru"], "lw": 2}),
            ("z_product", "largest prod z_s over units", {"color": "black", "ls": "--"})),
}


def plot_explode(s, runs, path):
    """Per starting radius (columns): the gradient norm before clipping and the loss at every step,
    every seed, unclipped and clipped (colour means clipping); an x where a run hit NaN/inf."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(runs), figsize=(5.2 * len(runs), 7.5), squeeze=False, sharex=True)
    styles = {"clipped": {"color": "#1f77b4", "lw": 1.2}, "unclipped": {"color": "#d62728", "lw": 1, "ls": "--"}}
    for col, entry in enumerate(runs):
        for label in ("clipped", "unclipped"):  # unclipped dashed on top: where clipping never acts they coincide
            for k, run in enumerate(entry["runs"][label]):
                steps = np.arange(1, len(run["norms"]) + 1)
                for row, key in enumerate(("norms", "losses")):
                    values = np.asarray(run[key], dtype=float)
                    ok = np.isfinite(values)
                    axes[row, col].semilogy(steps[ok], values[ok], **styles[label], alpha=0.85,
                                            label=label if k == 0 else None)
                    if run["nonfinite_at"] is not None and ok.any():
                        axes[row, col].plot(steps[ok][-1], values[ok][-1], "x", color=styles[label]["color"], ms=9,
                                            mew=2)
        clipped = entry["runs"]["clipped"]
        changed = np.median([r["above_clip"] for r in clipped])
        where = " (as initialised)" if entry["radius"] is None else ""
        axes[0, col].set_title(f"W_hh spectral radius {clipped[0]['radius']:.2g}{where}; clipping changed "
                               f"{100 * changed:.0f} % of the steps", fontsize=10)
        axes[1, col].set_xlabel("SGD step")
    axes[0, 0].set_ylabel("gradient norm before clipping")
    axes[1, 0].set_ylabel("training loss (MSE)")
    for ax in axes.ravel():
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Exploding gradients: tanh RNN, adding problem T = {s.explode_T}, SGD lr {s.explode_lr:g}, "
                 f"clipping at {s.clip:g}; x: the last finite value before NaN/inf", y=0.995)
    save(plt, fig, path)


def plot_random_search(s, found, token, adding, path):
    """The test score of the best random draw so far against the number of draws, beside the
    trained LSTM's test score against its training steps."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(found), figsize=(6.5 * len(found), 4.2), squeeze=False)
    for ax, r in zip(axes[0], found):
        draws = [imp[0] for imp in r["improvements"]] + [r["draws"]]
        scores = [imp[3] for imp in r["improvements"]]
        ax.step(draws, scores + scores[-1:], where="post", color="#7f7f7f", label="random search: test score of the best draw so far (by training loss)")
        cells = (token if r["task"] == "token" else adding)[r["model"]][r["size"]]
        hist = cells["histories"][0]
        ax.plot(hist["steps"], hist["scores"], **line_style(r["model"]), label=f"{model_label(r['model'])}, trained")
        if r["task"] == "token":
            ax.axhline(1 / s.K, color="grey", lw=1, ls=":", label=f"chance (1/{s.K})")
            ax.set_ylabel("held-out accuracy")
            ax.set_title(f"token task, gap {r['size']}")
        else:
            ax.axhline(1 / 6, color="grey", lw=1, ls=":", label="always answer 1 (1/6)")
            ax.set_yscale("log")
            ax.set_ylabel("test MSE (log scale)")
            ax.set_title(f"adding problem, T = {r['size']}")
        ax.set_xlabel("random draws / training steps")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    save(plt, fig, path)


def plot_all(s, flow, token, adding, mechanism, out):
    """Every plot of the report into ``out``."""
    plot_flow(s, flow, out / "flow.png")
    plot_token(s, token, out / "token_accuracy.png")
    plot_adding(s, adding, out / "adding_mse.png")
    plot_gates(s, mechanism["gates"], out / "gates.png")
    plot_jacobians(s, mechanism["jacobians"], out / "jacobians.png")
    plot_explode(s, mechanism["explode"], out / "explode.png")
    plot_random_search(s, mechanism["random_search"], token, adding, out / "random_search.png")
