"""The benchmark's problem and the LSTM implementations it times, all on the same weights.

A maker takes ``(weights, x, target)`` (numpy arrays, PyTorch's layout) and returns
``(step, grads)``: ``step()`` runs one training step (forward over the sequence, ``mse_loss``
against the target, backward) and returns the loss; ``grads()`` gives the parameter gradients as
numpy arrays keyed like ``nn.LSTM``'s state_dict. The libraries are imported inside the makers,
so that a worker process can first choose which copy of ``tinygrad_lite`` and ``nn`` it loads.
"""

import importlib.util

CASES = {  # name: (T, B, I, H) = sequence length, batch, input size, hidden size
    "small": (20, 1, 8, 16),
    "main": (100, 64, 32, 128),
    "long": (1000, 16, 32, 64),
}
IMPLS = ("ours", "ours_compiled", "numpy", "torch_fused", "torch_composed", "torch_composed_slices")
LABELS = {
    "ours": "tinygrad_lite nn.LSTM",
    "ours_compiled": "tinygrad_lite nn.LSTM under tinygrad_lite.compile",
    "numpy": "numpy forward + hand-written BPTT",
    "torch_fused": "torch.nn.LSTM (fused)",
    "torch_composed": "torch, composed from ops, eager autograd (gates by chunk)",
    "torch_composed_slices": "torch, composed, gates by 4 slices as nn.LSTM",
}
SEED = 0
GRADIENT_TOLERANCE = 2e-3  # worst relative difference to ours accepted before timing (float32)


def problem(case):
    """Weights (one seeded uniform draw, as nn.LSTM initialises), input and target of a case."""
    import numpy as np

    T, B, I, H = CASES[case]  # noqa: E741  (I: input size)
    rng = np.random.default_rng(SEED)
    bound = 1 / np.sqrt(H)
    weights = {
        "weight_ih_l0": rng.uniform(-bound, bound, (4 * H, I)),
        "weight_hh_l0": rng.uniform(-bound, bound, (4 * H, H)),
        "bias_ih_l0": rng.uniform(-bound, bound, 4 * H),
        "bias_hh_l0": rng.uniform(-bound, bound, 4 * H),
    }
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    target = (0.5 * rng.standard_normal((T, B, H))).astype(np.float32)
    return weights, x, target


def ours(weights, x, target, compiled=False):
    """This repository's nn.LSTM, exactly as a user calls it (traces, names and all), or the
    same loss function under ``tinygrad_lite.compile`` (its first call records)."""
    import nn
    import tinygrad_lite
    from tinygrad_lite import Tensor

    T, B, I = x.shape  # noqa: E741  (I: input size)
    H = weights["weight_hh_l0"].shape[1]
    lstm = nn.LSTM(I, H)
    lstm.load_state_dict(weights)
    params = dict(lstm.named_parameters())
    x, target = Tensor(x), Tensor(target)

    def loss_of(x, target):
        out, _ = lstm(x)
        return nn.functional.mse_loss(out, target)

    if compiled:
        loss_of = tinygrad_lite.compile(loss_of)

    def step():
        for p in params.values():
            p.grad = None
        loss = loss_of(x, target)
        loss.backward()
        return loss

    def grads():
        return {k: p.grad.numpy() for k, p in params.items()}

    return step, grads


def ours_compiled(weights, x, target):
    return ours(weights, x, target, compiled=True)


def numpy_bptt(weights, x, target):
    """The hand-written numpy forward and backpropagation through time of numpy_lstm.py."""
    from numpy_lstm import lstm_step

    result = {}
    W_ih, W_hh, b_ih, b_hh = (weights[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))

    def step():
        loss, result["grads"] = lstm_step(x, target, W_ih, W_hh, b_ih, b_hh)
        return loss

    return step, lambda: result["grads"]


def _torch(kind):
    def make(weights, x, target):
        import torch_lstm

        if kind == "fused":
            return torch_lstm.fused_step(weights, x, target)
        return torch_lstm.composed_step(weights, x, target, gates_by=kind)

    return make


MAKERS = {"ours": ours, "ours_compiled": ours_compiled, "numpy": numpy_bptt, "torch_fused": _torch("fused"),
          "torch_composed": _torch("chunk"), "torch_composed_slices": _torch("slices")}


def have_torch():
    return importlib.util.find_spec("torch") is not None


def available(no_torch):
    """The implementations to run: all of them, or those without torch."""
    return [i for i in IMPLS if not (no_torch and i.startswith("torch"))]


def gradient_error(grads, reference, label):
    """Worst relative difference of our gradients to a reference's; raises if beyond float32 rounding."""
    import numpy as np

    worst = 0.0
    for name, g in grads.items():
        r = reference[name]
        scale = max(float(np.abs(r).max()), 1e-12)
        worst = max(worst, float(np.abs(g.astype(np.float64) - r).max()) / scale)
    if worst > GRADIENT_TOLERANCE:
        raise AssertionError(f"gradients of {label} differ from ours: worst relative error {worst:.2e}")
    return worst
