"""RNN and LSTM: gradients (gradcheck), the constant error carousel, traces and names, errors."""

import re

import numpy as np
import pytest
from layer_helpers import call_with, check, float64_params, graph_nodes

import nn
from tinygrad_lite import ShapeError, Tensor, no_grad


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_gradcheck(batch_first):
    rng = np.random.default_rng(0)
    lstm = nn.LSTM(2, 2, num_layers=2, batch_first=batch_first, dtype=np.float64, rng=1)
    x = Tensor(rng.standard_normal((2, 3, 2) if batch_first else (3, 2, 2)), requires_grad=True)
    h0, c0 = (Tensor(rng.standard_normal((2, 2, 2)), requires_grad=True) for _ in range(2))

    def fn(x, h0, c0, *params):
        out, (h_n, c_n) = call_with(lstm, params, x, (h0, c0))
        return out, h_n, c_n

    assert check(fn, [x, h0, c0, *float64_params(lstm)])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradcheck(nonlinearity):
    rng = np.random.default_rng(0)
    rnn = nn.RNN(2, 3, num_layers=2, nonlinearity=nonlinearity, dtype=np.float64, rng=1)
    x = Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert check(lambda x, h0, *ps: call_with(rnn, ps, x, h0), [x, h0, *float64_params(rnn)])


@pytest.mark.parametrize("cell", [nn.LSTMCell(2, 3, dtype=np.float64, rng=0), nn.RNNCell(2, 3, dtype=np.float64, rng=0)])
def test_cell_gradcheck(cell):
    x = Tensor(np.random.default_rng(0).standard_normal((2, 2)), requires_grad=True)
    assert check(lambda x, *ps: call_with(cell, ps, x), [x, *float64_params(cell)])


@pytest.mark.parametrize("T", [1, 20, 200])
def test_constant_error_carousel(T):
    """Forget gate pinned to 1 and input gate to 0: the cell state is copied, and so is its gradient."""
    rng = np.random.default_rng(T)
    H = 4
    lstm = nn.LSTM(3, H, dtype=np.float64, rng=0)
    bias = lstm.bias_ih_l0.data.copy()
    bias[:H] = -50.0  # σ(-50) ≈ 2e-22: the input gate is shut
    bias[H:2 * H] = 50.0  # σ(50) rounds to exactly 1.0 in float64: the forget gate keeps everything
    lstm.bias_ih_l0.data = bias
    c0 = Tensor(rng.standard_normal((1, 2, H)), requires_grad=True)
    out, (h_n, c_n) = lstm(rng.standard_normal((T, 2, 3)), (Tensor(np.zeros((1, 2, H))), c0))
    trace = lstm.trace
    trace.C[0].retain_grad()
    trace.C[T].retain_grad()
    (c_n * rng.standard_normal(c_n.shape)).sum().backward()
    np.testing.assert_allclose(trace.C[T].data, trace.C[0].data, rtol=1e-12)
    np.testing.assert_allclose(trace.C[0].grad.data, trace.C[T].grad.data, rtol=1e-12)
    np.testing.assert_allclose(c0.grad.data[0], trace.C[T].grad.data, rtol=1e-12)


def test_forget_bias_shifts_only_the_forget_rows():
    plain, shifted = nn.LSTM(3, 4, num_layers=2, rng=7), nn.LSTM(3, 4, num_layers=2, forget_bias=1.5, rng=7)
    for k in range(2):
        diff = getattr(shifted, f"bias_ih_l{k}").data - getattr(plain, f"bias_ih_l{k}").data
        np.testing.assert_allclose(diff, np.r_[np.zeros(4), np.full(4, 1.5), np.zeros(8)], atol=1e-6)
        np.testing.assert_array_equal(getattr(shifted, f"bias_hh_l{k}").data, getattr(plain, f"bias_hh_l{k}").data)
    assert "forget_bias=1.5" in repr(shifted)
    with pytest.raises(ValueError, match="forget_bias"):
        nn.LSTM(3, 4, bias=False, forget_bias=1.0)
    with pytest.raises(ValueError, match="forget_bias"):
        nn.LSTMCell(3, 4, bias=False, forget_bias=1.0)


def test_initialisation_is_uniform_in_the_pytorch_bound_and_seeded():
    lstm = nn.LSTM(5, 16, num_layers=2, rng=0)
    for name, p in lstm.named_parameters():
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= 0.25, name  # 1/sqrt(16)
        assert np.abs(p.data).max() > 0.2, name  # and it fills the range
    again = nn.LSTM(5, 16, num_layers=2, rng=np.random.default_rng(0))
    for a, b in zip(lstm.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    nn.manual_seed(3)
    first = nn.RNN(2, 3).weight_hh_l0.data
    nn.manual_seed(3)
    np.testing.assert_array_equal(nn.RNN(2, 3).weight_hh_l0.data, first)
    assert not np.array_equal(nn.RNN(2, 3).weight_hh_l0.data, first)


# ---- traces and names


LSTM_STEP_NAMES = {"xW", "hW", "gates", "a_i", "a_f", "a_g", "a_o", "i", "f", "g", "o", "fC", "ig", "C", "tanhC", "h"}
RNN_STEP_NAMES = {"xW", "hW", "a", "h"}


@pytest.mark.parametrize("kind, step_names", [("LSTM", LSTM_STEP_NAMES), ("RNN", RNN_STEP_NAMES)])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_every_op_inside_a_step_is_named(kind, step_names, num_layers):
    unnamed_counts = []
    for T in (2, 5):
        layer = getattr(nn, kind)(3, 4, num_layers=num_layers, rng=0)
        x = Tensor(np.ones((T, 2, 3), np.float32), requires_grad=True)
        out, final = layer(x)
        nodes = graph_nodes(out, *(final if kind == "LSTM" else [final]))
        names = [n.name for n in nodes if n.name is not None]
        unnamed_counts.append(sum(n.name is None for n in nodes))
        pattern = re.compile(r"^(l(\d)\.)?(\w+)\[(\d+)\]$")
        by_step = {}
        for name in names:
            m = pattern.match(name)
            if m:
                assert (m.group(1) is not None) == (num_layers > 1), name
                by_step.setdefault((m.group(2), int(m.group(4))), set()).add(m.group(3))
        layers = [str(k) for k in range(num_layers)] if num_layers > 1 else [None]
        for k in layers:
            for t in range(1, T + 1):
                assert by_step[(k, t)] == step_names, (k, t)
    assert unnamed_counts[0] == unnamed_counts[1]  # no unnamed op per time step


def test_lstm_trace_holds_the_tensors_of_the_graph():
    T, B, H = 4, 2, 3
    lstm = nn.LSTM(2, H, num_layers=2, batch_first=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((B, T, 2))
    h0 = Tensor(np.zeros((2, B, H)), requires_grad=True)
    c0 = Tensor(np.zeros((2, B, H)), requires_grad=True)
    out, (h_n, c_n) = lstm(x, (h0, c0))
    assert len(lstm.traces) == 2 and lstm.trace is lstm.traces[1]
    for k, tr in enumerate(lstm.traces):
        assert tr.layer == k and tr.T == T
        assert len(tr.C) == len(tr.h) == len(tr.f) == T + 1
        assert tr.i[0] is None and tr.f[0] is None and tr.g[0] is None and tr.o[0] is None and tr.gates[0] is None
        assert tr.C[0].name == f"l{k}.C[0]" and tr.h[3].name == f"l{k}.h[3]" and tr.f[2].name == f"l{k}.f[2]"
        assert tr.gates[1].shape == (B, 4 * H) and tr.C[1].shape == (B, H)
        for t in range(1, T + 1):  # the recurrence, read back from the trace
            np.testing.assert_allclose(tr.C[t].data, tr.f[t].data * tr.C[t - 1].data + tr.i[t].data * tr.g[t].data)
            np.testing.assert_allclose(tr.h[t].data, tr.o[t].data * np.tanh(tr.C[t].data))
    np.testing.assert_array_equal(out.data[:, -1], lstm.trace.h[T].data)
    np.testing.assert_array_equal(c_n.data[0], lstm.traces[0].C[T].data)
    # the trace's tensors are the graph's: a hook on C[2] sees the gradient that flows through it
    seen = []
    lstm.traces[0].C[2].register_hook(lambda g: seen.append(g.data.copy()))
    lstm.traces[0].C[0].retain_grad()
    (out.sum() + c_n.sum()).backward()
    assert len(seen) == 1 and seen[0].shape == (B, H)
    np.testing.assert_array_equal(lstm.traces[0].C[0].grad.data, c0.grad.data[0])


def test_rnn_trace_and_a_new_forward_replaces_it():
    rnn = nn.RNN(2, 3, rng=0)
    rnn(np.ones((3, 1, 2), np.float32))
    first = rnn.trace
    assert first.T == 3 and first.a[0] is None and first.h[0].name == "h[0]" and first.a[2].name == "a[2]"
    np.testing.assert_allclose(first.h[2].data, np.tanh(first.a[2].data))
    assert not hasattr(first, "C")
    rnn(np.ones((5, 1, 2), np.float32))
    assert rnn.trace is not first and rnn.trace.T == 5 and rnn.traces == [rnn.trace]


def test_initial_state_zeros_when_omitted_and_forward_without_grad():
    lstm = nn.LSTM(2, 3, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 2)).astype(np.float32)
    zeros = np.zeros((1, 2, 3), np.float32)
    out, (h, c) = lstm(x)
    out2, (h2, c2) = lstm(x, (zeros, zeros))
    np.testing.assert_array_equal(out.data, out2.data)
    assert out.dtype == np.float32 and h.shape == c.shape == (1, 2, 3)
    with no_grad():
        out3, _ = lstm(x)
    assert not out3.requires_grad and lstm.trace.T == 4


def test_batch_first_is_a_transpose():
    lstm = nn.LSTM(2, 3, num_layers=2, dtype=np.float64, rng=0)
    twin = nn.LSTM(2, 3, num_layers=2, batch_first=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 2))
    out, (h, c) = lstm(x)
    out_bf, (h_bf, c_bf) = twin(x.transpose(1, 0, 2))
    np.testing.assert_allclose(out_bf.data, out.data.transpose(1, 0, 2))
    np.testing.assert_allclose(c_bf.data, c.data)


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_cells_equal_one_step_of_the_layer(kind):
    layer = getattr(nn, kind)(3, 4, dtype=np.float64, rng=0)
    cell = getattr(nn, kind + "Cell")(3, 4, dtype=np.float64, rng=1)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # weight_ih_l0 -> weight_ih
    x = np.random.default_rng(2).standard_normal((1, 2, 3))
    out, final = layer(x)
    step = cell(x[0])
    if kind == "LSTM":
        np.testing.assert_allclose(step[0].data, final[0].data[0])
        np.testing.assert_allclose(step[1].data, final[1].data[0])
    else:
        np.testing.assert_allclose(step.data, final.data[0])


# ---- errors name the layer and the shapes


@pytest.mark.parametrize("make, call, message", [
    (lambda: nn.LSTM(4, 8), lambda m: m(np.zeros((7, 3, 5))), r"LSTM\(4, 8\).*input_size=4.*\(7, 3, 5\)"),
    (lambda: nn.LSTM(4, 8, batch_first=True), lambda m: m(np.zeros((7, 3, 5))), r"\(batch, seq_len, input_size\).*\(7, 3, 5\)"),
    (lambda: nn.LSTM(4, 8), lambda m: m(np.zeros((7, 4))), r"LSTM.*\(7, 4\)"),
    (lambda: nn.LSTM(4, 8), lambda m: m(np.zeros((0, 3, 4))), r"non-empty.*\(0, 3, 4\)"),
    (lambda: nn.LSTM(4, 8, num_layers=2), lambda m: m(np.zeros((7, 3, 4)), (np.zeros((1, 3, 8)), np.zeros((2, 3, 8)))),
     r"initial h .*\(2, 3, 8\), got \(1, 3, 8\)"),
    (lambda: nn.LSTM(4, 8), lambda m: m(np.zeros((7, 3, 4)), (np.zeros((1, 3, 8)), np.zeros((1, 2, 8)))),
     r"initial C .*\(1, 3, 8\), got \(1, 2, 8\)"),
    (lambda: nn.RNN(4, 8), lambda m: m(np.zeros((7, 3, 5))), r"RNN\(4, 8\).*\(7, 3, 5\)"),
    (lambda: nn.RNN(4, 8), lambda m: m(np.zeros((7, 3, 4)), np.zeros((3, 8))), r"initial h .*\(1, 3, 8\), got \(3, 8\)"),
    (lambda: nn.LSTMCell(4, 8), lambda m: m(np.zeros((3, 5))), r"LSTMCell\(4, 8\).*\(3, 5\)"),
    (lambda: nn.LSTMCell(4, 8), lambda m: m(np.zeros((3, 4)), (np.zeros((3, 8)), np.zeros((2, 8)))), r"C .*\(3, 8\).*\(2, 8\)"),
    (lambda: nn.RNNCell(4, 8), lambda m: m(np.zeros((3, 4)), np.zeros((3, 7))), r"RNNCell.*\(3, 8\).*\(3, 7\)"),
])
def test_shape_errors_name_the_layer_and_the_shapes(make, call, message):
    with pytest.raises(ShapeError, match=message):
        call(make())


def test_bad_arguments():
    with pytest.raises(TypeError, match="pair"):
        nn.LSTM(2, 3)(np.zeros((1, 1, 2)), np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(2, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.RNN(2, 3, num_layers=0)


def test_lstm_learns_to_recall_the_first_input():
    """All the pieces together: LSTM + Linear + mse_loss + Adam + clipping learn a small memory task."""
    rng = np.random.default_rng(0)
    lstm, head = nn.LSTM(1, 8, forget_bias=1.0, rng=1), nn.Linear(8, 1, rng=2)
    params = [*lstm.parameters(), *head.parameters()]
    opt = nn.optim.Adam(params, lr=0.03)
    losses = []
    for _ in range(150):
        x = rng.uniform(-1, 1, (6, 16, 1)).astype(np.float32)
        _, (h_n, _) = lstm(x)
        loss = nn.functional.mse_loss(head(h_n[0]), x[0])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.1 * np.mean(losses[:10])
