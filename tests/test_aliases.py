"""The other spellings users of PyTorch, numpy and tinygrad type: the same ops, the same gradients."""

import numpy as np
import pytest
from hypothesis import given

import tinygrad_lite as tl
from tinygrad_lite import ShapeError, Tensor, gradcheck
from tinygrad_lite.testing import arrays, broadcastable_shapes, positive, shapes


@given(broadcastable_shapes(2).flatmap(lambda pair: arrays(pair[0]).flatmap(
    lambda a: arrays(pair[1], values=positive()).map(lambda b: (a, b)))))
def test_method_names_are_the_operators(pair):
    a, b = Tensor(pair[0]), Tensor(pair[1])
    for method, operator in [("add", a + b), ("sub", a - b), ("mul", a * b), ("div", a / b)]:
        np.testing.assert_array_equal(getattr(a, method)(b).numpy(), operator.numpy())
    np.testing.assert_array_equal(b.pow(a).numpy(), (b ** a).numpy())
    np.testing.assert_array_equal(a.clamp(-0.5, 0.5).numpy(), a.clip(-0.5, 0.5).numpy())


@given(arrays(shapes()))
def test_square_is_x_times_x_and_has_its_gradient(x):
    np.testing.assert_array_equal(tl.square(Tensor(x)).numpy(), x * x)
    gradcheck(lambda t: t.square(), [Tensor(x, requires_grad=True)])


@pytest.mark.parametrize("shapes_", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4))])
def test_dot_is_numpy_dot_for_one_and_two_axes(shapes_):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes_)
    np.testing.assert_allclose(Tensor(a).dot(Tensor(b)).numpy(), np.dot(a, b), rtol=1e-12)
    gradcheck(lambda x, y: tl.dot(x, y), [Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)])


def test_dot_of_stacks_names_the_shapes():
    with pytest.raises(ShapeError, match=r"dot: .*\(2, 3, 4\).*\(4, 5\).*matmul"):
        Tensor(np.ones((2, 3, 4))).dot(Tensor(np.ones((4, 5))))


def test_view_is_reshape_and_factories_are_on_tensor():
    x = Tensor(np.arange(6.0), requires_grad=True)
    x.view(2, 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(6))
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.ones((4,)).numpy().sum() == 4
    np.testing.assert_array_equal(Tensor.eye(3).numpy(), np.eye(3))
    assert Tensor.randn(5, rng=0).dtype == np.float64 and Tensor.arange(4).shape == (4,)
