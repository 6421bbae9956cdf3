"""Gradient flow on the real graph, at initialisation and after training, and the graphs to draw.

These run in the main process after training: they need the trained models' weights.
"""

import numpy as np

import nn
from nn.flow import gradient_flow
from tinygrad_lite import viz

from . import tasks
from .settings import PINNED_BIAS, model_spec


def flow_batch(s, seed):
    """The sequences every flow measurement uses: T = flow_T tokens (a key, flow_T - 2 fillers, the query)."""
    return tasks.token_batch(np.random.default_rng([seed, 12]), s.batch, s.flow_T - 2, s.K)


def measure_flow(model, tokens, keys):
    """gradient_flow of the token model: cross-entropy of its answer at the last step."""
    return gradient_flow(model, tokens, lambda logits: nn.functional.cross_entropy(logits, keys))


def flow_model(s, name, seed, state=None):
    """A float64 TokenModel: freshly initialised from ``seed``, or holding a trained ``state``."""
    kind, bias = model_spec(name)
    model = tasks.TokenModel(kind, s.K, s.hidden, s.embed, bias, rng=[seed, 13])
    if name.endswith("pinned"):
        pin_input_gate(model.rnn)
    if state is not None:
        model.load_state_dict(state)
    return model.double()


def pin_input_gate(lstm):
    """Shut the input gate (its bias rows 0:H get -PINNED_BIAS): nothing is written into C."""
    H = lstm.hidden_size
    bias = lstm.bias_ih_l0.data.copy()
    bias[:H] -= PINNED_BIAS
    lstm.bias_ih_l0.data = bias


def flow_summary(f, model):
    """What the report and results.json keep of one gradient_flow result (``ratios``: this one's).

    For a GRU also its update gate at steps 2..T (the factors between h_1 and h_T), read from the
    trace of the measured forward pass: dh_t/dh_{t-1} contains diag(z_t).
    """
    summary = {"norms": f.state().tolist(), "h": f.h.tolist(), "ratios": [f.ratio()], "loss": f.loss}
    if isinstance(model.rnn, nn.GRU):
        summary["z"] = update_gate_summary(model.rnn.trace)
    return summary


def update_gate_summary(trace):
    """A GRU's z_t, t = 2..T: its mean and minimum, and per sequence the largest product over units (median)."""
    z = np.stack([trace.z[t].data for t in range(2, trace.T + 1)])  # (T-1, B, H)
    return {"mean": float(z.mean()), "min": float(z.min()),
            "largest_product": float(np.median(np.prod(z, axis=0).max(axis=-1)))}


def flow_measurements(s, seed, trained):
    """{"init": {model: {...}}, "trained": {...}}: per model the norms (first seed) and every seed's ratio."""
    tokens, keys = flow_batch(s, seed)
    init = {}
    for name in s.flow_models:
        summaries = []
        for k in range(s.flow_seeds):
            model = flow_model(s, name, seed + k)
            summaries.append(flow_summary(measure_flow(model, tokens, keys), model))
        init[name] = {**summaries[0], "ratios": [m["ratios"][0] for m in summaries]}
    after = {}
    for name, state in trained.items():
        model = flow_model(s, name, seed, state)
        after[name] = flow_summary(measure_flow(model, tokens, keys), model)
    return {"init": init, "trained": after}


# ---------------------------------------------------------------------------------------------
# the unrolled graphs the report draws


def unroll_batch(s, seed):
    """The one sequence the graph pictures show: a key, ``unroll - 2`` fillers, the query mark."""
    return tasks.token_batch(np.random.default_rng([seed, 14]), 1, s.unroll - 2, s.K)


def unroll_graph(s, name, state, tokens, keys):
    """(loss, model) of a trained token model on ``tokens`` after backward, with its graph and every gradient kept."""
    kind, bias = model_spec(name)
    model = tasks.TokenModel(kind, s.K, s.hidden, s.embed, bias, rng=0)
    model.load_state_dict(state)
    loss = nn.functional.cross_entropy(model(tokens), keys)
    viz.retain_grads(loss)
    loss.backward(retain_graph=True)  # keep the graph alive to draw it
    return loss, model
