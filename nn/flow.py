"""How far back the gradient reaches: ||dL/dh_t|| and ||dL/dC_t|| for every step of a recurrent layer.

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

A tanh RNN's hidden gradient can fall below float32's smallest number (about 1e-45) within a
hundred steps: measure with a float64 copy of the model (``model.double()``) to see how far it falls.
The layers measured are nn.RNN, nn.LSTM and nn.GRU; for the RNN and the GRU the memory path is h
itself (a GRU's dh[t]/dh[t-1] contains diag(z[t])), for the LSTM it is C.
"""

from dataclasses import dataclass

import numpy as np

from tinygrad_lite import Tensor, grad

from .recurrent import GRU, LSTM, RNN

__all__ = ["FlowResult", "gradient_flow"]

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
