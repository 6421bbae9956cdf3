"""A random-search baseline (Hochreiter and Schmidhuber 1996, "guessing"): draw every weight of the
same LSTM model at random, score the draw on a batch of training sequences, keep the best.

Their point: some long-lag benchmarks of the day were solved faster by guessing than by the
algorithms they were meant to show off; a task random search solves says little about a method.
Each draw sets every parameter (embedding, LSTM, readout, biases) from U(-w, w), with a scale w
drawn per draw log-uniformly from [SCALES[0], SCALES[1]] (guessing depends on the interval:
[-0.1, 0.1] and [-5, 5] search different nets). A draw is scored on one batch of training
sequences (a fresh batch per draw, as a training step sees one) by the training loss; whenever a
draw beats the best so far, it is also scored on the held-out test set of the trained models.
"""

import time

import numpy as np

import nn
from tinygrad_lite import Tensor, no_grad

from . import tasks

SCALES = (0.1, 10.0)


def randomise(model, rng):
    """Every parameter of ``model`` from U(-w, w), w log-uniform in SCALES; returns w."""
    w = float(np.exp(rng.uniform(np.log(SCALES[0]), np.log(SCALES[1]))))
    for p in model.parameters():
        p.data = rng.uniform(-w, w, p.shape).astype(p.dtype)
    return w


def search(model, next_batch, loss_of, test_score, draws, seed):
    """``draws`` random draws; returns the improvements [(draw, scale, training loss, test score)] and the seconds."""
    rng = np.random.default_rng([seed, 19])
    best, improvements = np.inf, []
    start = time.perf_counter()
    with no_grad():
        for draw in range(1, draws + 1):
            w = randomise(model, rng)
            inputs, targets = next_batch()
            loss = loss_of(model(inputs), targets)
            if loss < best:  # NaN never counts as better
                best = loss
                improvements.append((draw, w, loss, test_score()))
    return improvements, time.perf_counter() - start


def token_search(s, seed, gap, draws):
    """Random search for the token-task LSTM at ``gap``: test scores are held-out accuracies."""
    model = tasks.TokenModel("lstm", s.K, s.hidden, s.embed, rng=0)
    data = np.random.default_rng([seed, gap, 20])
    test_tokens, test_keys = tasks.token_test_set(seed, gap, s.K, s.token_test)
    improvements, seconds = search(
        model, lambda: tasks.token_batch(data, s.batch, gap, s.K),
        lambda logits, keys: float(nn.functional.cross_entropy(logits, keys).item()),
        lambda: tasks.token_accuracy(model, test_tokens, test_keys), draws, seed)
    return {"task": "token", "size": gap, "draws": draws, "improvements": improvements, "seconds": seconds}


def adding_search(s, seed, T, draws):
    """Random search for the adding-problem LSTM at length T: test scores are test MSEs."""
    model = tasks.AddingModel("lstm", s.hidden, rng=0)
    data = np.random.default_rng([seed, T, 21])
    test_x, test_y = tasks.adding_test_set(seed, T, s.adding_test)
    improvements, seconds = search(
        model, lambda: tasks.adding_batch(data, s.batch, T),
        lambda out, y: float(nn.functional.mse_loss(out, Tensor(y)).item()),
        lambda: tasks.adding_mse(model, test_x, test_y), draws, seed)
    return {"task": "adding", "size": T, "draws": draws, "improvements": improvements, "seconds": seconds}


def best_within(result, draws):
    """The best draw among the first ``draws``: (draw, scale, training loss, test score), or None."""
    found = [imp for imp in result["improvements"] if imp[0] <= draws]
    return found[-1] if found else None
