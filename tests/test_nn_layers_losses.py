"""Linear, Embedding and the losses: values, gradients (hypothesis + gradcheck), stability, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from layer_helpers import call_with, float64_params

import nn
from tinygrad_lite import ShapeError, Tensor, gradcheck
from tinygrad_lite.ops import IndexGrad
from tinygrad_lite.ops.base import _rows_pay
from tinygrad_lite.testing import floats, tensors

F = nn.functional


def logits_and_targets(max_n=4, max_c=4):
    """(logits (N, C) float64 tensor, integer targets (N,) in [0, C))."""
    return st.tuples(st.integers(1, max_n), st.integers(1, max_c)).flatmap(lambda nc: st.tuples(
        tensors(shape=nc), hnp.arrays(np.int64, (nc[0],), elements=st.integers(0, nc[1] - 1))))


@given(logits_and_targets(), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_value_and_gradcheck(drawn, reduction):
    logits, target = drawn
    x = logits.data
    expected = np.log(np.exp(x).sum(-1)) - x[np.arange(len(target)), target]
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    np.testing.assert_allclose(F.cross_entropy(logits, target, reduction).data, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, target, reduction), [logits])


@given(hnp.array_shapes(max_dims=3, max_side=4).flatmap(lambda s: st.tuples(tensors(shape=s), tensors(shape=s))),
       st.sampled_from(["mean", "sum", "none"]))
def test_mse_loss_value_and_gradcheck(pair, reduction):
    x, y = pair
    expected = (x.data - y.data) ** 2
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    np.testing.assert_allclose(F.mse_loss(x, y, reduction).data, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction), [x, y])


@given(hnp.array_shapes(max_dims=2, max_side=4).flatmap(lambda s: st.tuples(
    tensors(shape=s, values=floats(-8, 8)), hnp.arrays(np.float64, s, elements=st.floats(0, 1)))))
def test_bce_with_logits_value_and_gradcheck(pair):
    x, y = pair
    s = 1 / (1 + np.exp(-x.data))
    expected = -(y * np.log(s) + (1 - y) * np.log(1 - s)).mean()
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y).data, expected, rtol=1e-9)
    assert gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, y), [x])


def test_losses_are_stable_for_huge_logits():
    x = Tensor(np.array([1000.0, -1000.0, 0.0, 1000.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 0.0, np.log(2), 1000.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0, -0.5, 1.0])  # σ(x) - y, also at the kink x = 0
    z = Tensor(np.array([[1000.0, -1000.0, 0.0]]), requires_grad=True)
    ce = F.cross_entropy(z, [1])
    np.testing.assert_allclose(ce.data, 2000.0)
    ce.backward()
    np.testing.assert_allclose(z.grad.data, [[1.0, -1.0, 0.0]])


def test_losses_keep_float32():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    assert F.mse_loss(x, np.zeros((2, 3))).dtype == np.float32
    assert F.cross_entropy(x, np.array([0, 2])).dtype == np.float32
    assert F.binary_cross_entropy_with_logits(x, np.zeros((2, 3), np.float32)).dtype == np.float32


def test_loss_modules_wrap_the_functions():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert nn.CrossEntropyLoss()(x, [0, 1]).item() == F.cross_entropy(x, [0, 1]).item()
    assert nn.MSELoss(reduction="sum")(x, np.zeros((2, 3))).item() == 55.0
    assert nn.BCEWithLogitsLoss(reduction="none")(x, np.ones((2, 3))).shape == (2, 3)
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.mse_loss(Tensor(np.ones((4, 1))), np.ones(4)), ShapeError, r"\(4, 1\).*\(4,\)"),
    (lambda: F.cross_entropy(Tensor(np.ones((4, 3))), np.ones((4, 3), int)), ShapeError, r"logits \(4, 3\).*target \(4, 3\)"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.array([0.0, 1.0])), TypeError, "integer"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 3])), IndexError, r"\[0, 3\)"),
    (lambda: F.binary_cross_entropy_with_logits(Tensor(np.ones(3)), np.ones(2)), ShapeError, r"\(3,\).*\(2,\)"),
    (lambda: F.mse_loss(Tensor(np.ones(3)), np.ones(3), reduction="avg"), ValueError, "reduction"),
])
def test_loss_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- Linear and Embedding


@given(st.integers(1, 3), st.integers(1, 3), st.lists(st.integers(1, 3), max_size=2), st.booleans())
def test_linear_gradcheck(n_in, n_out, lead, bias):
    lin = nn.Linear(n_in, n_out, bias=bias, dtype=np.float64, rng=0)
    x = Tensor(np.random.default_rng(0).standard_normal((*lead, n_in)), requires_grad=True)
    y = lin(x)
    assert y.shape == (*lead, n_out)
    np.testing.assert_allclose(y.data, x.data @ lin.weight.data.T + (lin.bias.data if bias else 0))
    assert gradcheck(lambda x, *ps: call_with(lin, ps, x), [x, *float64_params(lin)])  # through the layer
    assert gradcheck(lin, [x])


@given(st.integers(1, 5), st.integers(1, 3),
       hnp.array_shapes(min_dims=0, max_dims=2, max_side=4), st.integers(0, 2**16))
def test_embedding_lookup_and_gradcheck(num, dim, shape, seed):
    emb = nn.Embedding(num, dim, dtype=np.float64, rng=seed)
    idx = np.random.default_rng(seed).integers(0, num, shape)  # repeats are likely: gradients must add up
    out = emb(idx)
    assert out.shape == (*shape, dim)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    assert gradcheck(lambda w: call_with(emb, [w], idx), float64_params(emb))  # through the layer
    (out * 2.0).sum().backward()
    counts = np.bincount(idx.ravel(), minlength=num)
    np.testing.assert_allclose(emb.weight.grad.data, 2.0 * counts[:, None] * np.ones(dim))


@given(st.integers(1, 40), st.lists(st.integers(1, 5), min_size=0, max_size=2), st.integers(256, 2000),
       st.booleans(), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_many_repeated_lookups_add_their_gradients_as_np_add_at(rows, row_shape, lookups, negative, dtype, seed):
    """Enough lookups take the sorted path (_add_rows) when the rows are short; whichever path
    runs, the sums are np.add.at's, repeats and negative indices (-1 is the last row) included."""
    rng = np.random.default_rng(seed)
    index = rng.integers(-rows if negative else 0, rows, (lookups // 8 + 1, 8))
    g = rng.standard_normal((*index.shape, *row_shape)).astype(dtype)
    expected = np.zeros((rows, *row_shape), dtype)
    np.add.at(expected, index, g)
    got = IndexGrad(index, g, False).add_into(np.zeros((rows, *row_shape), dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


def test_an_embedding_of_a_whole_batch_sums_each_rows_gradient():
    """The token task's lookup: 102 x 64 tokens into 25 rows, the sorted path's case."""
    emb = nn.Embedding(25, 16, dtype=np.float64, rng=0)
    idx = np.random.default_rng(1).integers(0, 25, (102, 64))
    assert _rows_pay(idx, emb.weight.data)
    g = np.random.default_rng(2).standard_normal((102, 64, 16))
    (emb(idx) * Tensor(g)).sum().backward()
    expected = np.zeros((25, 16))
    np.add.at(expected, idx, g)
    np.testing.assert_allclose(emb.weight.grad.data, expected, rtol=1e-12, atol=1e-12)


def test_linear_and_embedding_errors_and_defaults():
    lin = nn.Linear(4, 3)
    assert lin.weight.dtype == np.float32 and lin(np.ones((2, 4), np.float32)).dtype == np.float32
    with pytest.raises(ShapeError, match=r"Linear\(in_features=4, out_features=3, bias=True\).*\(\.\.\., 4\).*\(2, 5\)"):
        lin(np.ones((2, 5)))
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(4, 0)
    emb = nn.Embedding(3, 2)
    with pytest.raises(IndexError, match=r"Embedding\(3, 2\).*\[0, 3\).*-1 to 3"):
        emb(np.array([0, 3, -1]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([0.0, 1.0]))
    assert emb(Tensor(np.array([[2, 0]]))).shape == (1, 2, 2)
