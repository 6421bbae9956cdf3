"""A hand-written LSTM in plain numpy: forward over the sequence and backpropagation through time.

This is the reference the engine is measured against: what a careful person writes by hand
when they know the whole computation in advance. It uses PyTorch's layout (gate rows i, f, g, o
in ``W_ih`` (4H, I), ``W_hh`` (4H, H), ``b_ih``, ``b_hh`` (4H)) and the benchmark's loss,
``mean((out - target)**2)`` over the (T, B, H) output, so its gradients can be compared with
``nn.LSTM``'s and with ``torch.nn.LSTM``'s entry by entry.

It does what a hand-written BPTT usually does and an autograd engine does not:

* the input projection of all steps is one matmul, and so are ``dW_ih`` and ``dW_hh`` (one
  (4H, T*B) @ (T*B, .) product at the end instead of one small product per step);
* the four gates of a step live in one (B, 4H) array, activated in place;
* backward keeps exactly what it needs: per step the activated gates, C[t], tanh(C[t]) and h[t].

It does not use ``out=`` buffers everywhere or other tricks that would make it hard to read:
it is the code a competent person writes in an afternoon.
"""

import numpy as np

__all__ = ["lstm_step", "kept_bytes"]


def _sigmoid(a):
    # 1 / (1 + exp(-a)); clipping keeps exp from overflowing (and warning) for very negative a
    return 1.0 / (1.0 + np.exp(-np.clip(a, -88.0, 88.0)))


def lstm_step(x, target, W_ih, W_hh, b_ih, b_hh):
    """One training step: forward over x (T, B, I), loss against target (T, B, H), backward.

    Returns ``(loss, grads)`` with ``grads`` a dict keyed like ``nn.LSTM``'s parameters
    (``weight_ih_l0`` …), in the parameters' dtype.
    """
    T, B, I = x.shape  # noqa: E741  (I: input size)
    H = W_hh.shape[1]
    dtype = W_hh.dtype

    # ---- forward -------------------------------------------------------------------------
    xw = (x.reshape(T * B, I) @ W_ih.T + (b_ih + b_hh)).reshape(T, B, 4 * H)
    W_hh_T = W_hh.T
    acts = np.empty((T, B, 4 * H), dtype)  # activated gates i, f, g, o of every step
    C = np.zeros((T + 1, B, H), dtype)  # C[0] = 0 and the cell state after every step
    h = np.zeros((T + 1, B, H), dtype)  # likewise the hidden state
    tanhC = np.empty((T, B, H), dtype)
    for t in range(T):
        a = xw[t] + h[t] @ W_hh_T
        a[:, :2 * H] = _sigmoid(a[:, :2 * H])  # i, f
        a[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])  # g
        a[:, 3 * H:] = _sigmoid(a[:, 3 * H:])  # o
        acts[t] = a
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        C[t + 1] = f * C[t] + i * g
        tanhC[t] = np.tanh(C[t + 1])
        h[t + 1] = o * tanhC[t]
    out = h[1:]
    diff = out - target
    loss = np.mean(diff * diff)

    # ---- backward ------------------------------------------------------------------------
    dout = diff * (np.asarray(2.0, dtype) / diff.size)  # d loss / d out
    dacts = np.empty((T, B, 4 * H), dtype)  # d loss / d (gate pre-activations), every step
    dh_next = np.zeros((B, H), dtype)
    dC_next = np.zeros((B, H), dtype)
    for t in reversed(range(T)):
        a = acts[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        dh = dout[t] + dh_next
        tc = tanhC[t]
        dC = dC_next + dh * o * (1 - tc * tc)
        d = dacts[t]
        d[:, :H] = dC * g * i * (1 - i)  # through i = σ(a_i)
        d[:, H:2 * H] = dC * C[t] * f * (1 - f)  # through f
        d[:, 2 * H:3 * H] = dC * i * (1 - g * g)  # through g = tanh(a_g)
        d[:, 3 * H:] = dh * tc * o * (1 - o)  # through o
        dC_next = dC * f
        dh_next = d @ W_hh
    d2 = dacts.reshape(T * B, 4 * H)
    db = d2.sum(axis=0)
    grads = {
        "weight_ih_l0": d2.T @ x.reshape(T * B, I),
        "weight_hh_l0": d2.T @ h[:-1].reshape(T * B, H),
        "bias_ih_l0": db,
        "bias_hh_l0": db.copy(),
    }
    return loss, grads


def kept_bytes(T, B, I, H, itemsize=4):  # noqa: E741
    """The bytes an LSTM's backward truly has to keep from the forward (see benchmarks/README.md).

    Per step: the four activated gates i, f, g, o, the cell state C[t], tanh(C[t]) and the
    hidden state h[t] (7·B·H numbers; C[t-1] and h[t-1] are the previous step's), plus the
    input x (T·B·I) for dW_ih. Parameters and their gradients are not counted.
    """
    return (7 * T * B * H + T * B * I) * itemsize
