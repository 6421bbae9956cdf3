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


def flow_summary(f):
    """What the report and results.json keep of one gradient_flow result (``ratios``: this one's)."""
    return {"norms": f.state().tolist(), "h": f.h.tolist(), "ratios": [f.ratio()], "loss": f.loss}


def flow_measurements(s, seed, trained):
    """{"init": {model: {...}}, "trained": {...}}: per model the norms (first seed) and every seed's ratio."""
    tokens, keys = flow_batch(s, seed)
    init = {}
    for name in s.flow_models:
        flows = [measure_flow(flow_model(s, name, seed + k), tokens, keys) for k in range(s.flow_seeds)]
        init[name] = {**flow_summary(flows[0]), "ratios": [f.ratio() for f in flows]}
    after = {name: flow_summary(measure_flow(flow_model(s, name, seed, state), tokens, keys))
             for name, state in trained.items()}
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
