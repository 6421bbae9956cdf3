"""The report's plots (PNG, matplotlib): each model keeps its colour in every plot; the RNN is dashed."""

import numpy as np

from .settings import memory_path, model_label

MODEL_COLOURS = {"rnn": "#1f77b4", "lstm+0": "#8c564b", "lstm+1": "#2ca02c", "lstm+3": "#ff7f0e",
                 "lstm+5": "#9467bd", "lstm+pinned": "#7f7f7f"}


def line_style(name):
    return {"color": MODEL_COLOURS.get(name), "linestyle": "--" if name == "rnn" else "-"}


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
    """The gradient norm along each model's memory path, at initialisation and after training."""
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
    """Final test MSE against T, and the test MSE while training (first seed)."""
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
    save(plt, fig, path)


def plot_all(s, flow, token, adding, out):
    """Every plot of the report into ``out``."""
    plot_flow(s, flow, out / "flow.png")
    plot_token(s, token, out / "token_accuracy.png")
    plot_adding(s, adding, out / "adding_mse.png")
