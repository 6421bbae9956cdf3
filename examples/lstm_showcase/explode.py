"""Exploding gradients: a tanh RNN whose W_hh starts with a spectral radius above 1, trained on the
adding problem with and without gradient clipping, on the same data from the same weights.

Pascanu et al. (2013): when the recurrent Jacobians' norms exceed 1 the gradient can grow
geometrically with the distance back in time; one such step of plain SGD can throw the weights
far away. ``clip_grad_norm_`` rescales the gradient to a fixed norm and keeps that step bounded.
Plain SGD (no Adam, which divides by its own running gradient scale) shows the effect directly.

Every run records the gradient norm before clipping and the loss of every step, and stops at the
first step whose loss or gradient norm is not finite (the weights are NaN after it).
"""

import math
import time

import numpy as np

import nn
from tinygrad_lite import Tensor

from . import tasks

SPIKE_FACTOR = 10.0  # a spike: a gradient norm above 10 x the median of the previous SPIKE_WINDOW steps
SPIKE_WINDOW = 20
BLOW_UP = 10.0       # the loss blew up: above 10 x its value at the first step


def spectral_radius(W):
    return float(np.max(np.abs(np.linalg.eigvals(W.astype(np.float64)))))


def scaled_model(radius, seed, hidden):
    """The adding-problem RNN of ``seed`` with W_hh rescaled to spectral radius ``radius``."""
    model = tasks.AddingModel("rnn", hidden, rng=[seed, 7])
    W = model.rnn.weight_hh_l0.data
    model.rnn.weight_hh_l0.data = (W * (radius / spectral_radius(W))).astype(W.dtype)
    return model


def train_exploding(radius, clip, seed, *, T, steps, lr, hidden=32, batch=64):
    """Plain SGD on the adding problem at length T; ``clip`` None: no clipping. Returns the run's record."""
    model = scaled_model(radius, seed, hidden)
    W = model.rnn.weight_hh_l0.data.astype(np.float64)
    data = np.random.default_rng([seed, T, 17])  # the same batches with and without clipping
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf and NaN is what these runs look for
        norms, losses = sgd_steps(model, lambda: tasks.adding_batch(data, batch, T), steps, lr, clip)
    return {"radius": spectral_radius(W), "sigma1": float(np.linalg.norm(W, 2)), "clip": clip, "seed": seed,
            "norms": norms, "losses": losses, "seconds": time.perf_counter() - start,
            **what_happened(norms, losses, steps, clip)}


def sgd_steps(model, next_batch, steps, lr, clip):
    """Up to ``steps`` SGD steps of the MSE loss; returns the gradient norms (before clipping) and the losses."""
    params = list(model.parameters())
    opt = nn.optim.SGD(params, lr=lr)
    norms, losses = [], []
    for _ in range(steps):
        x, y = next_batch()
        loss = nn.functional.mse_loss(model(x), Tensor(y))
        opt.zero_grad()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(params, math.inf if clip is None else clip))  # inf: measure only
        losses.append(loss.item())
        if not (math.isfinite(norms[-1]) and math.isfinite(losses[-1])):
            break  # a NaN or inf gradient makes every weight NaN: nothing more to see
        opt.step()
    return norms, losses


def what_happened(norms, losses, steps, clip):
    """The run's events: the first non-finite step, the spikes, whether the loss blew up, the final
    loss, and the share of steps whose gradient norm was above ``clip`` (the steps clipping changed)."""
    finite = {i for i, (norm, loss) in enumerate(zip(norms, losses)) if math.isfinite(norm) and math.isfinite(loss)}
    first_bad = next((i + 1 for i in range(len(norms)) if i not in finite), None)  # runs stop there: it is the last
    spikes = [i + 1 for i in range(SPIKE_WINDOW, len(norms))
              if math.isfinite(norms[i]) and norms[i] > SPIKE_FACTOR * np.median(norms[i - SPIKE_WINDOW:i])]
    ok_losses = [losses[i] for i in sorted(finite)]
    tail = ok_losses[-SPIKE_WINDOW:] if first_bad is None else []
    return {"nonfinite_at": first_bad, "spikes": spikes, "steps_run": len(norms), "steps": steps,
            "above_clip": float(np.mean([n > clip for n in norms])) if clip is not None else None,
            "max_norm": max((norms[i] for i in finite), default=float("nan")),
            "blew_up": bool(ok_losses) and max(ok_losses) > BLOW_UP * ok_losses[0],
            "final_loss": float(np.mean(tail)) if tail else None}


def outcome(run):
    """'NaN at step 3' / 'loss blew up' / '4 spikes' / 'none': what the record shows, worst first."""
    if run["nonfinite_at"] is not None:
        return f"NaN/inf at step {run['nonfinite_at']}"
    events = []
    if run["blew_up"]:
        events.append(f"loss above {BLOW_UP:g}x its first value")
    if run["spikes"]:
        events.append(f"{len(run['spikes'])} spike{'s' if len(run['spikes']) > 1 else ''}")
    return ", ".join(events) or "none"
