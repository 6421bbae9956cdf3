"""gradcheck itself: it passes correct gradients and catches a wrong one, naming the worst entry."""

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import GradcheckError, Tensor, gradcheck, ops
from tinygrad_lite.tensor import _unary


class WrongSquare(ops.Function):
    """x², with a derivative that is off by 1% for entries above 1."""

    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (g * 2 * self.x * np.where(self.x > 1, 1.01, 1.0),)


def test_gradcheck_passes_a_correct_gradient_and_returns_true():
    x = Tensor(np.linspace(-2, 2, 6).reshape(2, 3), requires_grad=True)
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    assert gradcheck(lambda x, w: (x @ w).tanh(), [x, w]) is True


def test_gradcheck_catches_a_wrong_gradient_and_names_the_worst_entry():
    x = Tensor([0.5, 1.5, 3.0], requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: _unary(WrongSquare, x), [x])
    message = str(info.value)
    assert "input 0" in message and "d out(2,) / d in(2,)" in message  # x = 3 is the worst entry
    assert "analytical 6.06" in message and "numerical 6" in message
    assert gradcheck(lambda x: _unary(WrongSquare, x), [x], raise_exception=False) is False


def test_gradcheck_warns_for_float32_inputs():
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float32"):
        gradcheck(lambda x: x * 2, [x], eps=1e-2, atol=1e-3)


def test_gradcheck_passes_non_tensor_arguments_through_and_handles_several_outputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])  # no requires_grad: not checked
    assert gradcheck(lambda x, c, k: (x * c * k, (x**2).sum()), [x, c, 2.0])


def test_gradcheck_leaves_grads_and_data_untouched():
    x = Tensor([1.0, 2.0], requires_grad=True)
    gradcheck(lambda x: x.exp(), [x])
    assert x.grad is None
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2, [Tensor([1.0])])


def test_gradcheck_detects_a_missing_gradient_path():
    """An op that silently drops its gradient (detach inside fn) is caught."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: x * x.detach(), [x])
    assert gradcheck(lambda x: tl.where(np.array([True, False]), x, x * 3), [x])
