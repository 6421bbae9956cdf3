"""Draw the computation graphs of a tiny MLP, a tanh RNN and an LSTM (3 steps), with gradients.

    python examples/draw_graph.py [output directory, default docs/]

Writes SVG pictures: the op view of each model (every tensor and op; each time step a
cluster) and, for the recurrent ones, the cell view (each step one node, the C and h edges
between steps). Every tensor shows the norm of its gradient; edge colour and width follow it
on a log scale. The recipe, for your own graphs:

    viz.retain_grads(loss)              # before backward: keep every intermediate gradient
    loss.backward(retain_graph=True)    # keep the graph, to draw it after backward
    viz.save(loss, "graph.svg", params=dict(model.named_parameters()))
"""

import pathlib
import sys

import numpy as np

import nn
from tinygrad_lite import Tensor, viz

T, B, N_IN, H = 3, 2, 3, 4  # steps, batch, input size, hidden size


def mlp(rng):
    fc1, fc2 = nn.Linear(N_IN, H, rng=rng), nn.Linear(H, 1, rng=rng)
    x = Tensor(rng.standard_normal((B, N_IN)), dtype=np.float32, name="x")
    hidden = fc1(x).tanh()
    hidden.name = "hidden"
    y = fc2(hidden)
    y.name = "y"
    loss = nn.functional.mse_loss(y, Tensor(np.ones((B, 1)), dtype=np.float32, name="target"))
    params = {f"{layer}.{name}": p for layer, module in (("fc1", fc1), ("fc2", fc2))
              for name, p in module.named_parameters()}
    return loss, params


def recurrent(layer, rng):
    """Loss at the last step only: the gradient reaches the earlier steps through C and h."""
    x = Tensor(rng.standard_normal((T, B, N_IN)), dtype=np.float32, name="x")
    _, state = layer(x)
    h_n = state[0] if isinstance(state, tuple) else state
    loss = nn.functional.mse_loss(h_n[-1], Tensor(np.ones((B, H)), dtype=np.float32, name="target"))
    return loss, dict(layer.named_parameters())


def main(out_dir):
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    models = {
        "mlp": ("tiny MLP: 3 → 4 (tanh) → 1, MSE", mlp(rng), ["ops"]),
        "rnn": (f"tanh RNN over {T} steps, loss at the last step", recurrent(nn.RNN(N_IN, H, rng=rng), rng),
                ["ops", "cells"]),
        "lstm": (f"LSTM over {T} steps, loss at the last step", recurrent(nn.LSTM(N_IN, H, rng=rng), rng),
                 ["ops", "cells"]),
    }
    for key, (title, (loss, params), views) in models.items():
        loss.name = "loss"
        viz.retain_grads(loss)
        loss.backward(retain_graph=True)
        for view in views:
            path = out_dir / (f"graph_{key}.svg" if view == "ops" else f"graph_{key}_{view}.svg")
            viz.save(loss, path, view=view, params=params, title=title)
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "docs")
