"""How far back the gradient reaches: ||dL/dh_t|| and ||dL/dC_t|| for every step of a recurrent
layer (``gradient_flow``), and the Jacobians through time behind them (``jacobian_norms``).

    import nn
    from nn.flow import gradient_flow
    flow = gradient_flow(model, tokens, lambda logits: nn.functional.cross_entropy(logits, y))
    flow.h[t], flow.C[t]      # norms of dL/dh[t], dL/dC[t] for t = 1..T (index 0: the initial state)
    flow.ratio("C")           # ||dL/dC[1]|| / ||dL/dC[T]||: about 1 when the gradient survives

The numbers come from the real graph: the model runs forward as it does in training, and the
engine's own backward (``tinygrad_lite.grad``) collects the gradient at the very tensors the
layer recorded in its trace (``layer.trace.h[t]``, ``layer.trace.C[t]``). Nothing is computed
from a separate formula, so whatever the model does (embedding, readout, a loss at one step or
at every step) is part of the measurement.

    J = jacobian_norms(model, tokens)
    J.h[t], J.trajectory_bound[t]   # RNN: ||dh_T/dh_t||_2 and the product bound along the trajectory
    J.C[t], J.C_cell[t], J.f_product[t]   # LSTM: the full and the cell-path ||dC_T/dC_t||_2, max ∏ f

A tanh RNN's hidden gradient can fall below float32's smallest number (about 1e-45) within a
hundred steps: measure with a float64 copy of the model (``model.double()``) to see how far it falls.
The layers measured are nn.RNN, nn.LSTM and nn.GRU; for the RNN and the GRU the memory path is h
itself (a GRU's dh[t]/dh[t-1] contains diag(z[t])), for the LSTM it is C.
"""

from dataclasses import dataclass

import numpy as np

from tinygrad_lite import Tensor, enable_grad, grad

from .recurrent import GRU, LSTM, RNN

__all__ = ["FlowResult", "gradient_flow", "JacobianNorms", "jacobian_norms"]

RECURRENT = (RNN, LSTM, GRU)


@dataclass(frozen=True)
class FlowResult:
    """The gradient norms of one backward pass, indexed by time step as the layer's trace.

    h      array (T+1,): ||dL/dh[t]|| (Frobenius norm over batch and hidden units), t = 0..T
    C      array (T+1,) with ||dL/dC[t]|| for an LSTM, None for an RNN or a GRU
    loss   the loss value (a float)
    layer  the 0-based index of the measured layer

    Index 0 is the initial state: NaN when it is a constant (the layer started from zeros), the
    norm when the caller passed an initial state that requires grad. A step the loss does not
    depend on has norm 0.
    """

    h: np.ndarray
    C: np.ndarray | None
    loss: float
    layer: int

    @property
    def T(self):
        return len(self.h) - 1

    def state(self, which=None):
        """The norms along the memory path: ``C`` for an LSTM, ``h`` for an RNN or a GRU (or name one: "h"/"C")."""
        which = which or ("C" if self.C is not None else "h")
        if which not in ("h", "C"):
            raise ValueError(f"FlowResult: which must be 'h' or 'C', got {which!r}")
        norms = getattr(self, which)
        if norms is None:
            raise ValueError("FlowResult: an RNN or a GRU has no cell state C; use which='h'")
        return norms

    def ratio(self, which=None, first=1, last=None):
        """norm[first] / norm[last] (default: step 1 over step T) of ``state(which)``.

        Far below 1: the gradient vanished on its way back; about 1 or more: it got through.
        """
        norms = self.state(which)
        last = self.T if last is None else last
        return float(norms[first] / norms[last])


def _recurrent_layer(model, recurrent, caller):
    """The nn.RNN/LSTM/GRU whose trace to read: the given one, the model itself, or its only one."""
    if recurrent is not None:
        if not isinstance(recurrent, RECURRENT):
            raise TypeError(f"{caller}: recurrent must be an nn.RNN, nn.LSTM or nn.GRU, "
                            f"got {type(recurrent).__name__}")
        return recurrent
    if isinstance(model, RECURRENT):
        return model
    found = [m for m in model.modules() if isinstance(m, RECURRENT)] if hasattr(model, "modules") else []
    if len(found) != 1:
        what = "no nn.RNN or nn.LSTM or nn.GRU" if not found else f"{len(found)} recurrent layers"
        raise ValueError(f"{caller}: the model holds {what}; pass the one to measure as recurrent=")
    return found[0]


def _norm(g):
    return float(np.linalg.norm(g.data.ravel().astype(np.float64))) if g is not None else 0.0


def gradient_flow(model, inputs, loss_fn, *, recurrent=None, layer=-1):
    """Run ``loss_fn(model(inputs))`` and measure the gradient at every h[t] (and C[t]) of one layer.

    model      a callable, usually an nn.Module holding one nn.RNN, nn.LSTM or nn.GRU (or the layer itself)
    inputs     what the model takes, passed as is: ``model(inputs)``
    loss_fn    output -> a one-element Tensor, e.g. ``lambda out: cross_entropy(out, y)``
    recurrent  the nn.RNN / LSTM / GRU to measure, when the model holds several (default: its only one)
    layer      which of its layers (default: the last)

    Returns a FlowResult. Parameters' ``.grad`` are left untouched: the gradients are collected
    by ``tinygrad_lite.grad`` on the graph of this forward pass, which is then freed.
    """
    rnn = _recurrent_layer(model, recurrent, "gradient_flow")
    loss = loss_fn(model(inputs))
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise TypeError(f"gradient_flow: loss_fn must return a one-element Tensor, got {loss!r:.80}")
    if not loss.requires_grad:
        raise RuntimeError("gradient_flow: the loss does not require grad (called under no_grad, or the model "
                           "has no parameters that require grad?)")
    if not rnn.traces:
        raise RuntimeError(f"gradient_flow: {rnn!r} did not run in model(inputs)")
    trace = rnn.traces[layer]
    fields = ["h", "C"] if isinstance(rnn, LSTM) else ["h"]
    # every step's tensor, plus the initial state when it can have a gradient at all
    wanted = [(f, t, x) for f in fields for t, x in enumerate(getattr(trace, f)) if x.requires_grad]
    grads = grad(loss, [x for _, _, x in wanted], allow_unused=True)
    norms = {f: np.full(trace.T + 1, np.nan) for f in fields}
    for (f, t, _), g in zip(wanted, grads):
        norms[f][t] = _norm(g)
    return FlowResult(h=norms["h"], C=norms.get("C"), loss=float(loss.item()), layer=trace.layer)


# ---------------------------------------------------------------------------------------------
# Jacobians through time


@dataclass(frozen=True)
class JacobianNorms:
    """Spectral norms of the Jacobians from step t to the last step T, per sequence of the batch.

    Every array is indexed by t = 0..T first (index 0 is the initial state) and by the batch
    element b second, shape (T+1, B), except ``coarse_bound`` (T+1,). Fields a model does not
    have are None.

    h                 RNN, GRU: ||dh_T/dh_t||_2, measured
    trajectory_bound  RNN: prod_{s=t+1..T} ||diag(act'(a_s)) W_hh||_2 along the actual
                      trajectory (act' = 1 - h_s^2 for tanh, [a_s > 0] for relu); h[t] <= it
    coarse_bound      RNN: (γ σ1(W_hh))^(T-t) with γ = 1 (the largest slope of tanh and relu)
    C                 LSTM: ||dC_T/dC_t||_2, measured, every path included (C_t -> h_t -> gates)
    C_cell            LSTM: ||dC_T/dC_t||_2 along the cell path alone, the gates seeing h as a
                      constant: measured, and equal to diag(prod f) in exact arithmetic
    f_product         LSTM: the largest prod_{s=t+1..T} f_s over the units, which ``C_cell`` equals
    layer             the 0-based index of the measured layer

    The measured norms at index 0 are NaN when the layer started from a constant state (pass an
    initial state that requires grad to measure it); the bounds and ``C_cell`` are defined there.
    Index T is the identity: norm 1.
    """

    layer: int
    h: np.ndarray | None = None
    trajectory_bound: np.ndarray | None = None
    coarse_bound: np.ndarray | None = None
    C: np.ndarray | None = None
    C_cell: np.ndarray | None = None
    f_product: np.ndarray | None = None

    @property
    def T(self):
        return len(self.C if self.h is None else self.h) - 1


def jacobian_norms(model, inputs, *, recurrent=None, layer=-1):
    """Run ``model(inputs)`` and measure ||d state_T / d state_t||_2 for every t of one layer.

    model      a callable, usually an nn.Module holding one nn.RNN, nn.LSTM or nn.GRU (or the layer)
    inputs     what the model takes, passed as is: ``model(inputs)``
    recurrent  the layer to measure, when the model holds several (default: its only one)
    layer      which of its layers (default: the last)

    Returns a JacobianNorms (arrays indexed by t, then by batch element). Each Jacobian is built
    from the engine's own vector-Jacobian products on the graph of this forward pass: one
    backward per hidden unit j, seeded with the one-hot e_j at every batch element of state_T,
    gives row j of d state_T[b] / d state_t[b] for every t and b at once (the sequences of a
    batch do not interact inside the layer). Then the 2-norm (largest singular value) of each
    H x H matrix. The cell path re-runs the LSTM's C recurrence with the trace's gates detached.

    Cost: H backward passes (2H for the LSTM) and (T+1)·B·H² numbers. Measure a float64 copy
    (``model.double()``): in float32 the norms of a tanh RNN underflow within about a hundred steps.
    """
    rnn = _recurrent_layer(model, recurrent, "jacobian_norms")
    with enable_grad():
        model(inputs)
    if not rnn.traces:
        raise RuntimeError(f"jacobian_norms: {rnn!r} did not run in model(inputs)")
    trace = rnn.traces[layer]
    if not trace.h[-1].requires_grad:
        raise RuntimeError(f"jacobian_norms: the states of {rnn!r} do not require grad (do its parameters?)")
    if isinstance(rnn, LSTM):
        C_T, C_cell = _cell_path(trace)
        return JacobianNorms(layer=trace.layer, C=_norms(trace.C[-1], trace.C), C_cell=_norms(C_T, C_cell),
                             f_product=_largest_products([f.data for f in trace.f[1:]]))
    h = _norms(trace.h[-1], trace.h)
    if isinstance(rnn, GRU):
        return JacobianNorms(layer=trace.layer, h=h)
    W = getattr(rnn, f"weight_hh_l{trace.layer}").data.astype(np.float64)
    return JacobianNorms(layer=trace.layer, h=h, trajectory_bound=_trajectory_bound(rnn, trace, W),
                         coarse_bound=np.linalg.norm(W, 2) ** np.arange(trace.T, -1, -1.0))


def _norms(output, states):
    """(T+1, B): ||d output[b] / d states[t][b]||_2, NaN where states[t] does not require grad."""
    B, H = output.shape
    wanted = [t for t, s in enumerate(states) if s.requires_grad]
    J = np.zeros((len(wanted), B, H, H))
    for j in range(H):
        seed = np.zeros((B, H), output.dtype)
        seed[:, j] = 1.0
        grads = grad(output, [states[t] for t in wanted], gradient=seed, retain_graph=True, allow_unused=True)
        for row, g in zip(J, grads):
            if g is not None:  # None: output does not depend on that state at all, the row stays 0
                row[:, j, :] = g.data
    norms = np.full((len(states), B), np.nan)
    norms[wanted] = np.linalg.norm(J, 2, axis=(-2, -1))
    return norms


def _cell_path(trace):
    """C_t = f_t ⊙ C_{t-1} + i_t ⊙ g_t re-run with f, i, g as constants (detached from the trace):
    gates that see h as a constant, so C_T depends on C_t through the cell path only."""
    C = [Tensor(trace.C[0].data, requires_grad=True)]
    for t in range(1, trace.T + 1):
        C.append(trace.f[t].detach() * C[-1] + trace.i[t].detach() * trace.g[t].detach())
    return C[-1], C


def _largest_products(factors):
    """(T+1, B): max over units of prod_{s=t+1..T} factors[s-1], from (B, H) arrays; 1 at t = T."""
    products = [np.ones(factors[0].shape)]
    for factor in reversed(factors):
        products.append(products[-1] * factor.astype(np.float64))
    return np.stack(products[::-1]).max(axis=-1)


def _trajectory_bound(rnn, trace, W):
    """(T+1, B): prod_{s=t+1..T} ||diag(act'(a_s)) W_hh||_2 for each sequence (1 at t = T)."""
    steps = []
    for s in range(1, trace.T + 1):
        if rnn.nonlinearity == "tanh":
            slope = 1.0 - trace.h[s].data.astype(np.float64) ** 2
        else:
            slope = (trace.a[s].data > 0).astype(np.float64)
        steps.append(np.linalg.norm(slope[:, :, None] * W, 2, axis=(-2, -1)))  # (B,): each diag(d_b) W
    bound = [np.ones_like(steps[0])]
    for norm in reversed(steps):
        bound.append(bound[-1] * norm)
    return np.stack(bound[::-1])
