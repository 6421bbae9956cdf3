"""The claims the showcase makes, checked with thresholds measured on this project's code.

Measurements behind the thresholds (float64, hidden 32, batch 16, inputs N(0,1), MSE loss of a
linear readout of h_T; seeds 0-9 unless said):

* f pinned to 1 and i to 0 (gate biases +30 / -30), T = 100: the cell-gradient ratio
  ||dL/dC_1|| / ||dL/dC_T|| was 1 - 8.5e-12 ... 1 - 1.04e-11 (f = 1 - 9.4e-14 per step); the
  hidden-state ratio of the same LSTM was 2e-14 ... 3e-14. Asserted: 1 - 1e-9 <= ratio <= 1.
* T = 50, untrained: LSTM with forget bias +5, cell ratio 3.2 ... 25; tanh RNN, hidden ratio
  6.8e-15 ... 2.4e-11; their quotient 1.5e11 ... 1.7e15. Asserted: quotient >= 1e6 (the issue's
  bound, five orders of magnitude below the smallest measurement) and RNN ratio <= 1e-8.
* The token task, K = 8, gap 20, embedding 16, hidden 32, Adam lr 3e-3, batch 64, held-out
  accuracy every 25 steps (seeds 0-11): the LSTM with forget bias +3 reached >= 0.99 at step 75
  (11 seeds) or 50 (1 seed); the RNN's accuracy over its first 150 steps never exceeded 0.164
  (chance 0.125). Asserted with a budget of 150 steps (2x the worst LSTM): LSTM >= 0.95, RNN <= 0.25.
"""


import numpy as np
import pytest
from lstm_showcase import tasks  # examples/ is on sys.path (conftest): the showcase's task and training code

import nn
from nn.flow import FlowResult, gradient_flow
from tinygrad_lite import Tensor


class Readout(nn.Module):
    """A recurrent layer and a linear readout of its last hidden state."""

    def __init__(self, rnn, hidden, rng):
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(hidden, 1, dtype=np.float64, rng=rng)

    def forward(self, x):
        self.rnn(x)
        return self.head(self.rnn.trace.h[-1])


def make_flow(kind, T, seed, forget_bias=0.0, pin_input=False, H=32, B=16, n_in=4):
    """gradient_flow of an untrained float64 model on N(0,1) inputs, MSE loss at the last step."""
    rng = np.random.default_rng(seed)
    if kind == "rnn":
        rnn = nn.RNN(n_in, H, dtype=np.float64, rng=rng)
    else:
        rnn = nn.LSTM(n_in, H, forget_bias=forget_bias, dtype=np.float64, rng=rng)
        if pin_input:  # shut the input gate: i = sigmoid(a - 30) ~ 1e-13
            bias = rnn.bias_ih_l0.data.copy()
            bias[:H] -= 30.0
            rnn.bias_ih_l0.data = bias
    model = Readout(rnn, H, rng)
    x = Tensor(rng.standard_normal((T, B, n_in)))
    y = Tensor(rng.standard_normal((B, 1)))
    return gradient_flow(model, x, lambda out: nn.functional.mse_loss(out, y)), model, y.data


# ---------------------------------------------------------------------------------------------
# the science


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pinned_forget_gate_passes_the_cell_gradient_unchanged(seed):
    flow, *_ = make_flow("lstm", 100, seed, forget_bias=30.0, pin_input=True)
    assert 1 - 1e-9 <= flow.ratio("C") <= 1
    assert flow.ratio("h") < 1e-6  # the same LSTM's hidden path forgets: the memory is in C


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_cell_gradient_outlives_the_rnn_hidden_gradient(seed):
    lstm, *_ = make_flow("lstm", 50, seed, forget_bias=5.0)
    rnn, *_ = make_flow("rnn", 50, seed)
    assert rnn.ratio() <= 1e-8
    assert lstm.ratio() >= 1e6 * rnn.ratio()


@pytest.mark.parametrize("seed", [0, 1])
def test_lstm_learns_gap_20_where_the_rnn_stays_near_chance(seed):
    common = dict(gap=20, K=8, steps=150, lr=3e-3, seed=seed)
    _, lstm = tasks.train_token_task("lstm", forget_bias=3.0, **common)
    _, rnn = tasks.train_token_task("rnn", forget_bias=0.0, target=2.0, **common)  # no early stop
    assert lstm["scores"][-1] >= 0.95
    assert max(rnn["scores"]) <= 0.25


# ---------------------------------------------------------------------------------------------
# the gradient-flow tool itself


def test_rnn_flow_matches_a_hand_written_backward():
    """dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) @ W_hh for a tanh RNN, written out in numpy."""
    flow, model, y = make_flow("rnn", 6, seed=3, H=5, B=3, n_in=2)
    trace, W_hh = model.rnn.trace, model.rnn.weight_hh_l0.data
    h = [trace.h[t].data for t in range(7)]
    out = model.head(trace.h[-1]).data
    g_out = 2 * (out - y) / out.size  # d mean((out - y)^2) / d out
    g = g_out @ model.head.weight.data  # dL/dh_T
    expected = {6: np.linalg.norm(g)}
    for t in range(6, 1, -1):
        g = (g * (1 - h[t] ** 2)) @ W_hh
        expected[t - 1] = np.linalg.norm(g)
    for t, norm in expected.items():
        assert flow.h[t] == pytest.approx(norm, rel=1e-10)
    assert np.isnan(flow.h[0]) and flow.C is None  # zero initial state is a constant; an RNN has no C


def test_lstm_flow_agrees_with_retain_grad_and_leaves_parameters_alone():
    flow, model, _ = make_flow("lstm", 8, seed=4, forget_bias=1.0, H=6, B=2, n_in=3)
    assert all(p.grad is None for p in model.parameters())
    assert flow.T == 8 and flow.C.shape == flow.h.shape == (9,)
    # the same numbers through the other handle on the graph: retain_grad + backward
    x = Tensor(np.random.default_rng(0).standard_normal((8, 2, 3)))
    flow = gradient_flow(model, x, lambda out: (out * out).sum())
    model(x)
    trace = model.rnn.trace
    for t in range(1, 9):
        trace.C[t].retain_grad()
        trace.h[t].retain_grad()
    (model.head(trace.h[-1]) ** 2).sum().backward()
    for t in range(1, 9):
        assert flow.C[t] == pytest.approx(np.linalg.norm(trace.C[t].grad.data), rel=1e-12)
        assert flow.h[t] == pytest.approx(np.linalg.norm(trace.h[t].grad.data), rel=1e-12)
    assert flow.ratio() == flow.C[1] / flow.C[8] and flow.state() is flow.C


def test_flow_measures_a_given_initial_state():
    lstm = nn.LSTM(2, 4, dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 3, 2))
    h0 = Tensor(np.zeros((1, 3, 4)), requires_grad=True)
    c0 = Tensor(np.zeros((1, 3, 4)), requires_grad=True)
    flow = gradient_flow(lambda inp: lstm(inp, (h0, c0))[0], x, lambda out: out[-1].sum(), recurrent=lstm)
    assert np.isfinite(flow.h).all() and np.isfinite(flow.C).all() and flow.C[0] > 0
    assert h0.grad is None  # collected by tinygrad_lite.grad, not accumulated into .grad


def test_flow_errors_name_the_problem():
    head = nn.Linear(3, 1)
    with pytest.raises(ValueError, match="no nn.RNN or nn.LSTM"):
        gradient_flow(head, np.zeros((2, 3), np.float32), lambda out: out.sum())

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.RNN(2, 3), nn.RNN(3, 3)

        def forward(self, x):
            return self.b(self.a(x)[0])[0]

    with pytest.raises(ValueError, match="recurrent="):
        gradient_flow(Two(), np.zeros((4, 1, 2), np.float32), lambda out: out.sum())
    rnn = nn.RNN(2, 3)
    with pytest.raises(TypeError, match="one-element"):
        gradient_flow(rnn, np.zeros((4, 1, 2), np.float32), lambda result: result[0])
    # the layer itself returns (output, h_n); a loss on step 1's output only
    flow = gradient_flow(rnn, np.ones((4, 1, 2), np.float32), lambda result: result[0][0].sum())
    assert isinstance(flow, FlowResult) and list(flow.h[2:]) == [0.0, 0.0, 0.0]  # the loss ignores steps 2-4
    with pytest.raises(ValueError, match="no cell state"):
        flow.ratio("C")
