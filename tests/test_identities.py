"""Mathematical identities the ops must satisfy, on drawn inputs."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.testing import arrays, floats, shapes


@given(arrays(values=floats(-30, 30)))
def test_sigmoid_is_a_shifted_tanh(x):
    t = Tensor(x)
    np.testing.assert_allclose(t.sigmoid().numpy(), (1 + (t / 2).tanh().numpy()) / 2, rtol=1e-12, atol=1e-15)


@given(arrays(values=floats(-5, 5)))
def test_tanh_derivative_is_one_minus_tanh_squared(x):
    t = Tensor(x, requires_grad=True)
    y = t.tanh()
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 1 - y.numpy() ** 2, rtol=1e-12)


@given(arrays(values=floats(-5, 5)))
def test_sigmoid_derivative_is_s_times_one_minus_s(x):
    t = Tensor(x, requires_grad=True)
    s = t.sigmoid()
    s.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), s.numpy() * (1 - s.numpy()), rtol=1e-12)


@given(st.data())
def test_softmax_sums_to_one_and_matches_exp_log_softmax(data):
    x = data.draw(arrays(shapes(min_dims=1), values=floats(-1000, 1000)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    s = Tensor(x).softmax(axis).numpy()
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-12)
    log_s = Tensor(x).log_softmax(axis).numpy()
    assert np.all(np.isfinite(log_s))
    np.testing.assert_allclose(np.exp(log_s), s, rtol=1e-9, atol=1e-300)


@given(arrays(shapes(min_dims=1), values=st.sampled_from([-1000.0, 1000.0, 0.0, -999.5])))
def test_log_softmax_is_finite_at_1000(x):
    t = Tensor(x, requires_grad=True)
    out = t.log_softmax(-1)
    assert np.all(np.isfinite(out.numpy()))
    out.sum().backward()
    assert np.all(np.isfinite(t.grad.numpy()))


@given(arrays(shapes(min_dims=1), values=floats(-50, 50)))
def test_logsumexp_equals_log_of_sum_of_exp(x):
    # atol: near 0 the reference loses digits itself (log(exp(1e-6)) is off by 2e-16, 2e-10 relative)
    np.testing.assert_allclose(Tensor(x).logsumexp().item(), np.log(np.exp(x).sum()), rtol=1e-12, atol=1e-13)


@given(arrays(shapes(min_dims=2, max_dims=2)), st.data())
def test_split_unbind_and_stack_undo_each_other(x, data):
    t = Tensor(x, requires_grad=True)
    pieces = t.unbind(0)
    np.testing.assert_array_equal(tl.stack(pieces).numpy(), x)
    cuts = sorted(data.draw(st.lists(st.integers(0, x.shape[1]), max_size=3)))
    np.testing.assert_array_equal(tl.concatenate(t.split(cuts, axis=1), axis=1).numpy(), x)
    (tl.stack(pieces) * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full(x.shape, 2.0))
