"""The two memory tasks of the showcase, their models and one training loop.

* The long-gap token task ("the sky is ... blue"): a key word (one of K colours), ``gap``
  distractor words, then a query mark; the model must answer the key. Chance is 1/K.
* The adding problem (Hochreiter and Schmidhuber 1997, in the form of Arjovsky et al. 2016):
  T steps of (value ~ U[0,1], marker); one marker in each half; the answer is the sum of the two
  marked values. Always answering 1 scores MSE 1/6 = 0.167.

Every function takes its random numbers from the generator it is given, so a run is fixed by
its seeds alone, whichever order (or process) the jobs run in.
"""

import time

import numpy as np

import nn
import tinygrad_lite
from tinygrad_lite import Tensor, no_grad

# ---------------------------------------------------------------------------------------------
# the token task's words: keys, fillers and the query mark (ids: keys first, then fillers, then "?")

COLOURS = ["blue", "red", "green", "gold", "grey", "pink", "black", "white",
           "brown", "cyan", "olive", "navy", "teal", "plum", "rust", "sand"]
FILLERS = ["the", "sky", "is", "today", "over", "hill", "and", "very", "at", "noon",
           "of", "a", "calm", "sea", "quite", "so"]


def vocabulary(K):
    """The words of the token task with K keys: the key words, then the fillers, then the query."""
    if not 2 <= K <= len(COLOURS):
        raise ValueError(f"token task: K must lie in [2, {len(COLOURS)}], got {K}")
    return COLOURS[:K] + FILLERS + ["?"]


def token_batch(rng, batch, gap, K):
    """(tokens (gap+2, batch) int64, keys (batch,)): key, ``gap`` fillers, the query mark."""
    keys = rng.integers(0, K, batch)
    fillers = K + rng.integers(0, len(FILLERS), (gap, batch))
    query = np.full((1, batch), K + len(FILLERS))
    return np.concatenate([keys[None], fillers, query]), keys


def describe_tokens(tokens, K, column=0, keep=4):
    """One sequence as words, the middle of a long gap elided: 'blue the sky ... so ?'."""
    words = [vocabulary(K)[i] for i in tokens[:, column]]
    if len(words) > 2 * keep + 2:
        words = words[:keep + 1] + [f"... ({len(words) - 2 * keep - 1} words) ..."] + words[-keep:]
    return " ".join(words)


def adding_batch(rng, batch, T):
    """(x (T, batch, 2) float32, y (batch, 1) float32): values U[0,1] and one marker per half."""
    values = rng.random((T, batch))
    first = rng.integers(0, T // 2, batch)
    second = rng.integers(T // 2, T, batch)
    markers = np.zeros((T, batch))
    markers[first, np.arange(batch)] = 1.0
    markers[second, np.arange(batch)] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[first, np.arange(batch)] + values[second, np.arange(batch)])[:, None].astype(np.float32)
    return x, y


# ---------------------------------------------------------------------------------------------
# models: a recurrent layer with an input (embedding or raw) and a readout of the last h


def recurrent_layer(kind, input_size, hidden, forget_bias, rng):
    """An nn.RNN (kind "rnn", tanh), nn.GRU (kind "gru") or nn.LSTM (kind "lstm", with ``forget_bias``)."""
    if kind == "rnn":
        return nn.RNN(input_size, hidden, rng=rng)
    if kind == "gru":
        return nn.GRU(input_size, hidden, rng=rng)
    if kind == "lstm":
        return nn.LSTM(input_size, hidden, forget_bias=forget_bias, rng=rng)
    raise ValueError(f"kind must be 'rnn', 'gru' or 'lstm', got {kind!r}")


class TokenModel(nn.Module):
    """Embedding -> RNN, GRU or LSTM -> Linear on the last hidden state: tokens (T, B) -> logits (B, K)."""

    def __init__(self, kind, K, hidden=32, embed=16, forget_bias=0.0, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        self.embed = nn.Embedding(len(vocabulary(K)), embed, rng=rng)
        self.rnn = recurrent_layer(kind, embed, hidden, forget_bias, rng)
        self.head = nn.Linear(hidden, K, rng=rng)

    def forward(self, tokens):
        self.rnn(self.embed(tokens))
        return self.head(self.rnn.trace.h[-1])


class AddingModel(nn.Module):
    """RNN or LSTM over (value, marker) pairs -> Linear on the last hidden state: (T, B, 2) -> (B, 1)."""

    def __init__(self, kind, hidden=32, forget_bias=0.0, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        self.rnn = recurrent_layer(kind, 2, hidden, forget_bias, rng)
        self.head = nn.Linear(hidden, 1, rng=rng)

    def forward(self, x):
        self.rnn(x if isinstance(x, Tensor) else Tensor(x))
        return self.head(self.rnn.trace.h[-1])


class WithLoss(nn.Module):
    """A model and its loss as one Module, ``(inputs, targets) -> loss``: what a training step
    compiles. A Module, so that compile sees the layers inside (their mode, their parameters, and
    their traces, which it marks stale after a replay)."""

    def __init__(self, model, loss_fn):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, inputs, targets):
        return self.loss_fn(self.model(inputs), targets)


# ---------------------------------------------------------------------------------------------
# training


def token_accuracy(model, tokens, keys):
    with no_grad():
        return float(np.mean(model(tokens).data.argmax(axis=1) == keys))


def adding_mse(model, x, y):
    with no_grad():
        return float(np.mean((model(x).data - y) ** 2))


def held_out_model(model, compiled):
    """What the held-out evaluations call: ``model``, or with ``compiled`` the model under
    ``tinygrad_lite.compile``. The evaluations run without grad, so they replay a no-grad recording
    of their own (the same ops in the same order: the same numbers); the inputs must be Tensors."""
    return tinygrad_lite.compile(model) if compiled else model


def train(model, next_batch, loss_fn, evaluate, *, steps, lr, eval_every, done, clip=1.0, progress=None,
          compiled=False):
    """Adam with gradient clipping until ``done(score)`` or ``steps`` steps; returns a history dict.

    ``compiled``: the forward and loss run under ``tinygrad_lite.compile`` (recorded at the first
    step, replayed after it; the inputs and targets must then be Tensors). The numbers are eager's
    within float32 rounding; every later measurement stays eager. ``evaluate`` is the caller's (the
    tasks below compile it too, see held_out_model). In both modes subnormal floats are flushed to
    zero while training (``tinygrad_lite.set_flush_denormal``), and only then.

    next_batch()      -> (inputs, targets) for one step
    loss_fn(out, tgt) -> the loss Tensor
    evaluate()        -> a float on held-out data (accuracy or MSE), every ``eval_every`` steps
    done(score)       -> True to stop early
    progress(step, score) is called after each evaluation (a display, or None).

    History: ``steps`` (the evaluated step numbers), ``scores``, ``losses`` (mean training loss
    since the previous evaluation), ``stopped`` (the step training ended at), ``solved`` (whether
    ``done`` fired), ``seconds``.
    """
    params = list(model.parameters())
    opt = nn.optim.Adam(params, lr=lr)
    step_loss = WithLoss(model, loss_fn)
    if compiled:
        step_loss = tinygrad_lite.compile(step_loss)
    # subnormal gradients (a vanishing one, many steps back) cost a tanh RNN most of its training
    # time and add nothing a float32 sum keeps: flushed to zero while training, in both modes
    flushing = tinygrad_lite.set_flush_denormal(True)
    try:
        return _train_steps(next_batch, step_loss, opt, params, evaluate, steps, eval_every, done, clip, progress)
    finally:
        if flushing:
            tinygrad_lite.set_flush_denormal(False)


def _train_steps(next_batch, step_loss, opt, params, evaluate, steps, eval_every, done, clip, progress):
    history = {"steps": [0], "scores": [evaluate()], "losses": [float("nan")], "solved": False}
    start, running = time.perf_counter(), []
    step = 0
    while step < steps and not history["solved"]:
        loss = step_loss(*next_batch())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        running.append(loss.item())
        step += 1
        if step % eval_every == 0 or step == steps:
            score = evaluate()
            history["steps"].append(step)
            history["scores"].append(score)
            history["losses"].append(float(np.mean(running)))
            running = []
            history["solved"] = bool(done(score))
            if progress is not None:
                progress(step, score)
    history["stopped"] = step
    history["seconds"] = time.perf_counter() - start
    return history


def token_test_set(seed, gap, K, size=512):
    """The held-out sequences of one (seed, gap): the same for every model."""
    return token_batch(np.random.default_rng([seed, gap, 2]), size, gap, K)


def adding_test_set(seed, T, size=256):
    """The test sequences of one (seed, T): the same for every model."""
    return adding_batch(np.random.default_rng([seed, T, 6]), size, T)


def train_token_task(kind, *, gap, K, forget_bias, steps, lr, seed, batch=64, test_size=512,
                     hidden=32, embed=16, eval_every=25, target=0.99, clip=1.0, progress=None, compiled=True):
    """Train a TokenModel at one gap; returns (model, history). Stops at held-out accuracy >= target.

    The data stream depends on (seed, gap) only, the initial weights on (seed, kind): RNN and
    LSTM see the same sequences in the same order. Compiled by default, as the adding problem: the
    embedding and the loss index by the batch's values through an op that reads them at every
    replay, so one recording serves the whole run.
    """
    data_rng = np.random.default_rng([seed, gap, 1])
    test_tokens, test_keys = token_test_set(seed, gap, K, test_size)
    test_tokens = Tensor(test_tokens)
    model = TokenModel(kind, K, hidden, embed, forget_bias, rng=[seed, {"rnn": 3, "lstm": 4, "gru": 9}[kind]])
    judge = held_out_model(model, compiled)
    history = train(
        model, lambda: tuple(map(Tensor, token_batch(data_rng, batch, gap, K))),
        lambda logits, keys: nn.functional.cross_entropy(logits, keys),
        lambda: token_accuracy(judge, test_tokens, test_keys),
        steps=steps, lr=lr, eval_every=eval_every, done=lambda acc: acc >= target, clip=clip, progress=progress,
        compiled=compiled)
    return model, history


def train_adding(kind, *, T, forget_bias, steps, lr, seed, batch=64, test_size=256, hidden=32,
                 eval_every=50, target=0.01, clip=1.0, progress=None, compiled=True):
    """Train an AddingModel at length T; returns (model, history). Stops at test MSE < target.

    Compiled by default: every step has the same shapes, so one recording serves the whole run."""
    data_rng = np.random.default_rng([seed, T, 5])
    test_x, test_y = adding_test_set(seed, T, test_size)
    test_x = Tensor(test_x)
    model = AddingModel(kind, hidden, forget_bias, rng=[seed, {"rnn": 7, "lstm": 8, "gru": 10}[kind]])
    judge = held_out_model(model, compiled)
    history = train(
        model, lambda: tuple(map(Tensor, adding_batch(data_rng, batch, T))),
        nn.functional.mse_loss,
        lambda: adding_mse(judge, test_x, test_y),
        steps=steps, lr=lr, eval_every=eval_every, done=lambda mse: mse < target, clip=clip, progress=progress,
        compiled=compiled)
    return model, history
