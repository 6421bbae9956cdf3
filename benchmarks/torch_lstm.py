"""The PyTorch references: the fused ``torch.nn.LSTM`` and the same LSTM composed from torch ops.

Both take the benchmark's weights (numpy arrays in PyTorch's layout) and return a function that
runs one training step (forward over the sequence, ``mse_loss`` against the target, backward)
and leaves the gradients in the parameters' ``.grad``.

The composed one is written the way a PyTorch user would write it, and the fastest way we found
in eager mode: the input projection of all steps in one matmul, split with ``unbind`` (indexing
``xw[t]`` instead makes every step's backward zero-fill a (T, B, 4H) gradient, O(T²): see
docs/design.md) and one ``h @ W_hh.T`` per step; the four gates are cut with ``chunk`` (one node)
or, op for op as nn.LSTM does, with four slices.
"""

import torch
import torch.nn.functional as F

__all__ = ["fused_step", "composed_step"]


def _params(weights):
    return {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}


def fused_step(weights, x, target):
    """torch.nn.LSTM (one C++ kernel per step forward and backward)."""
    T, B, I = x.shape  # noqa: E741  (I: input size)
    H = weights["weight_hh_l0"].shape[1]
    lstm = torch.nn.LSTM(I, H)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            p.copy_(torch.from_numpy(weights[name]))
    x, target = torch.from_numpy(x), torch.from_numpy(target)

    def step():
        lstm.zero_grad(set_to_none=True)
        out, _ = lstm(x)
        loss = F.mse_loss(out, target)
        loss.backward()
        return loss

    def grads():
        return {name: p.grad.numpy() for name, p in lstm.named_parameters()}

    return step, grads


def composed_step(weights, x, target, gates_by="chunk"):
    """The LSTM from torch's elementary ops, eager autograd (one graph node per op).

    ``gates_by="chunk"`` cuts the four gates with one ``chunk`` (one node, PyTorch's idiom);
    ``"slices"`` with four ``gates[:, a:b]`` as nn.LSTM does (four nodes).
    """
    p = _params(weights)
    W_ih, W_hh, b_ih, b_hh = p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]
    T, B, I = x.shape  # noqa: E741  (I: input size)
    H = W_hh.shape[1]
    x, target = torch.from_numpy(x), torch.from_numpy(target)
    zeros = torch.zeros(B, H)

    def step():
        for q in p.values():
            q.grad = None
        xw = (x.reshape(T * B, I) @ W_ih.T + b_ih + b_hh).reshape(T, B, 4 * H)
        W_hh_T = W_hh.T
        h, c, hs = zeros, zeros, []
        for xw_t in xw.unbind(0):
            gates = xw_t + h @ W_hh_T
            if gates_by == "chunk":
                a_i, a_f, a_g, a_o = gates.chunk(4, 1)
            else:
                a_i, a_f, a_g, a_o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
            i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
            hs.append(h)
        loss = F.mse_loss(torch.stack(hs), target)
        loss.backward()
        return loss

    def grads():
        return {name: q.grad.numpy() for name, q in p.items()}

    return step, grads
