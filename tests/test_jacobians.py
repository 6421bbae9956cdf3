"""nn.flow.jacobian_norms: the RNN's ||dh_T/dh_t|| against the bounds of Pascanu et al. (2013),
the LSTM's cell path against the product of its forget gates, and every measured Jacobian
against torch's, rebuilt by restarting the recurrence at step t."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from tinygrad_lite import Tensor, no_grad

REL = 1e-9  # the measured norm and the bound are the same number at t = T - 1, up to rounding


def spectral_radius_scaled(layer, radius):
    """Scale W_hh of every layer so that its largest |eigenvalue| is ``radius``."""
    for k in range(layer.num_layers):
        w = getattr(layer, f"weight_hh_l{k}")
        w.data = w.data * (radius / max(np.abs(np.linalg.eigvals(w.data)).max(), 1e-12))


@st.composite
def rnn_cases(draw):
    H, B, T = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 30))
    rnn = nn.RNN(draw(st.integers(1, 3)), H, nonlinearity=draw(st.sampled_from(["tanh", "relu"])),
                 dtype=np.float64, rng=draw(st.integers(0, 2**16)))
    spectral_radius_scaled(rnn, draw(st.floats(0.1, 4.0)))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((T, B, rnn.input_size))
    return rnn, x * draw(st.sampled_from([0.1, 1.0, 3.0]))


@given(rnn_cases())
def test_rnn_norm_never_exceeds_the_trajectory_product(case):
    rnn, x = case
    J = nn.jacobian_norms(rnn, x)
    T = x.shape[0]
    assert J.h.shape == J.trajectory_bound.shape == (T + 1, x.shape[1]) and J.coarse_bound.shape == (T + 1,)
    assert np.isnan(J.h[0]).all()  # the layer started from constant zeros
    measured, bound = J.h[1:], J.trajectory_bound[1:]
    assert np.all(measured <= bound * (1 + REL)), np.max(measured / bound)
    assert np.all(J.trajectory_bound <= J.coarse_bound[:, None] * (1 + REL))
    np.testing.assert_allclose(J.h[T], 1.0, rtol=1e-12)  # dh_T/dh_T = I
    if T > 1:  # one step: the Jacobian is diag(act'(a_T)) W_hh itself, so the bound is reached
        np.testing.assert_allclose(J.h[T - 1], J.trajectory_bound[T - 1], rtol=REL)


@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 30), st.sampled_from([0.0, 1.0, 3.0]),
       st.integers(0, 2**16))
def test_lstm_cell_path_is_the_largest_forget_product(H, B, T, forget_bias, seed):
    lstm = nn.LSTM(2, H, forget_bias=forget_bias, dtype=np.float64, rng=seed)
    x = np.random.default_rng(seed).standard_normal((T, B, 2))
    J = nn.jacobian_norms(lstm, x)
    assert J.h is None and J.C.shape == J.C_cell.shape == J.f_product.shape == (T + 1, B)
    f = np.stack([ft.data for ft in lstm.trace.f[1:]])  # (T, B, H), straight from the trace
    largest = np.array([np.prod(f[t:], axis=0).max(axis=-1) for t in range(T + 1)])  # ∏_{s>t} f_s
    np.testing.assert_allclose(J.f_product, largest, rtol=1e-12, atol=0)
    np.testing.assert_allclose(J.C_cell, J.f_product, rtol=1e-10, atol=0)
    np.testing.assert_allclose(J.C_cell.max(axis=1), largest.max(axis=1), rtol=1e-10, atol=0)  # over sequences
    np.testing.assert_allclose(J.C[T], 1.0, rtol=1e-12)


# ---- every measured Jacobian equals torch's (an independent engine, restarted at step t)


def torch_twin(layer):
    import torch
    twin = getattr(torch.nn, type(layer).__name__)(layer.input_size, layer.hidden_size, **(
        {"nonlinearity": layer.nonlinearity} if isinstance(layer, nn.RNN) else {})).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return twin


def torch_norms(layer, x, state_at):
    """||d state_T[b] / d state_t[b]||_2 with torch: run from step t's state on x[t:], take the Jacobian."""
    import torch
    twin, x = torch_twin(layer), torch.from_numpy(x)
    T, B = x.shape[:2]
    norms = np.ones((T + 1, B))
    for t in range(1, T):
        def last_state(state, t=t):
            if isinstance(layer, nn.LSTM):  # the full path: h_t = o_t ⊙ tanh(C_t) moves with C_t
                o_t = torch.tensor(layer.trace.o[t].data)
                return twin(x[t:], ((o_t * torch.tanh(state))[None], state[None]))[1][1][0]
            return twin(x[t:], state[None])[1][0]
        jac = torch.autograd.functional.jacobian(last_state, torch.tensor(state_at(t)))  # (B, H, B, H)
        norms[t] = [np.linalg.norm(jac[b, :, b, :].numpy(), 2) for b in range(B)]
    return norms


@pytest.mark.parametrize("kind, field", [("RNN", "h"), ("GRU", "h"), ("LSTM", "C")])
def test_measured_norms_equal_torchs(kind, field):
    pytest.importorskip("torch")
    layer = getattr(nn, kind)(3, 5, dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((8, 2, 3))
    J = nn.jacobian_norms(layer, x)
    expected = torch_norms(layer, x, lambda t: getattr(layer.trace, field)[t].data)
    np.testing.assert_allclose(getattr(J, field)[1:], expected[1:], rtol=1e-8)


# ---- how the measurement is reached


class TokenModel(nn.Module):
    def __init__(self, recurrent):
        super().__init__()
        self.embed = nn.Embedding(5, 3, dtype=np.float64, rng=0)
        self.recurrent = recurrent

    def forward(self, tokens):
        return self.recurrent(self.embed(tokens))


def test_a_model_holding_one_layer_and_the_initial_state():
    gru = nn.GRU(3, 4, num_layers=2, dtype=np.float64, rng=1)
    tokens = np.random.default_rng(0).integers(0, 5, (6, 2))
    with no_grad():  # the measurement needs a graph: it records one whatever the caller's mode
        J = nn.jacobian_norms(TokenModel(gru), tokens)
    assert J.layer == 1 and J.T == 6 and J.trajectory_bound is None and J.C is None
    lower = nn.jacobian_norms(TokenModel(gru), tokens, layer=0)
    assert lower.layer == 0 and not np.allclose(lower.h[1:], J.h[1:])
    h0 = Tensor(np.zeros((2, 2, 4)), requires_grad=True)  # an initial state that requires grad is measured
    with_h0 = nn.jacobian_norms(lambda x: gru(x, h0), np.random.default_rng(0).standard_normal((6, 2, 3)),
                                recurrent=gru)
    assert np.isfinite(with_h0.h).all() and np.isnan(J.h[0]).all()


def test_errors_say_what_is_missing():
    with pytest.raises(ValueError, match="jacobian_norms: the model holds no nn.RNN or nn.LSTM or nn.GRU"):
        nn.jacobian_norms(nn.Linear(2, 2), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="jacobian_norms: recurrent must be"):
        nn.jacobian_norms(nn.Linear(2, 2), np.zeros((1, 2)), recurrent=nn.Linear(2, 2))
    frozen = nn.RNN(2, 3)
    for p in frozen.parameters():
        p.requires_grad = False
    with pytest.raises(RuntimeError, match="do not require grad"):
        nn.jacobian_norms(frozen, np.zeros((4, 1, 2)))
