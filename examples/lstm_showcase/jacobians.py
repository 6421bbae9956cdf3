"""Jacobians through time, measured by nn.flow.jacobian_norms, against the bounds that explain them.

RNN: ||dh_T/dh_t||_2 against the product of the per-step norms along the actual trajectory,
prod_s ||diag(1 - h_s^2) W_hh||_2 (it can never exceed it), and against the coarse bound
(gamma sigma_1(W_hh))^(T-t) with gamma = 1, the largest slope of tanh (Pascanu et al. 2013).
LSTM: ||dC_T/dC_t||_2 along the cell path alone (the gates seeing h as a constant), which is
diag(prod f), against the largest product of forget gates; and the full ||dC_T/dC_t||_2 with
every path. GRU: ||dh_T/dh_t||_2 against the largest product of its update gates z.
"""

import numpy as np

from nn.flow import jacobian_norms

from . import measurements
from .settings import model_spec


def _median(values):
    """The median over the sequences (axis 1) of a (T+1, B) array, as a list (NaN where undefined)."""
    return np.median(np.asarray(values, dtype=float), axis=1).tolist()


def largest_z_product(trace):
    """(T+1, B): the largest over units of prod_{s=t+1..T} z_s (1 at t = T) of a GRU's trace."""
    products = [np.ones(trace.z[1].shape)]
    for t in range(trace.T, 0, -1):
        products.append(products[-1] * trace.z[t].data.astype(np.float64))
    return np.stack(products[::-1]).max(axis=-1)


def measure(model, tokens):
    """What the report keeps of jacobian_norms for one model: medians over the sequences per t, and
    the checks (measured over bound, cell path against prod f) over every t and sequence."""
    J = jacobian_norms(model, tokens)
    kind = model_spec_of(model)
    if kind == "lstm":
        cell, f = np.asarray(J.C_cell[:-1]), np.asarray(J.f_product[:-1])
        return {"C": _median(J.C), "C_cell": _median(J.C_cell), "f_product": _median(J.f_product),
                "cell_vs_f": float(np.max(np.abs(cell - f) / np.where(f > 0, f, np.inf)))}
    measured = np.asarray(J.h[1:])  # index 0: the constant initial state, not measured
    if kind == "gru":
        z = largest_z_product(model.rnn.trace)
        return {"h": _median(J.h), "z_product": _median(z)}
    bound = np.asarray(J.trajectory_bound[1:])
    return {"h": _median(J.h), "trajectory_bound": _median(J.trajectory_bound), "coarse_bound": J.coarse_bound.tolist(),
            "sigma1": float(J.coarse_bound[-2]), "measured_over_bound": float(np.max(measured / bound))}


def model_spec_of(model):
    return {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}[type(model.rnn).__name__]


def jacobian_measurements(s, seed, trained):
    """{"init": {model: ...}, "trained": {model: ...}} for the RNN, the featured LSTM and the GRU."""
    tokens, _ = measurements.flow_batch(s, seed)
    tokens = tokens[:, :s.jacobian_sequences]
    names = [n for n in s.jacobian_models if n in trained]
    return {"init": {n: measure(measurements.flow_model(s, n, seed), tokens) for n in names},
            "trained": {n: measure(measurements.flow_model(s, n, seed, trained[n]), tokens) for n in names},
            "sequences": int(tokens.shape[1]), "kinds": {n: model_spec(n)[0] for n in names}}
