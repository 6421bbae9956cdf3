"""SGD, Adam and clip_grad_norm_ without PyTorch: the update formulas, the rules around them."""

import numpy as np
import pytest

import nn
from tinygrad_lite import Tensor


def param_with_grad(values, grad):
    p = nn.Parameter(np.array(values, dtype=np.float64))
    p.grad = Tensor(np.array(grad, dtype=np.float64))
    return p


def test_sgd_momentum_and_weight_decay_by_hand():
    p = param_with_grad([1.0, -2.0], [0.5, 0.5])
    opt = nn.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step()  # g = 0.5 + 0.1 p; buffer = g
    g1 = np.array([0.6, 0.3])
    np.testing.assert_allclose(p.data, [1.0, -2.0] - 0.1 * g1)
    before = p.data.copy()
    opt.step()  # buffer = 0.9 buffer + g
    g2 = 0.5 + 0.1 * before
    np.testing.assert_allclose(p.data, before - 0.1 * (0.9 * g1 + g2))


def test_adam_first_step_moves_each_coordinate_by_lr():
    p = param_with_grad([1.0, 1.0, 1.0], [1e-3, -4.0, 250.0])
    nn.optim.Adam([p], lr=0.01).step()  # bias correction makes m/sqrt(v) = sign(g) on step one
    np.testing.assert_allclose(p.data, [0.99, 1.01, 0.99], rtol=1e-6)


def test_optimisers_keep_float32_and_skip_missing_gradients():
    a, b = nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(2, np.float32))
    a.grad = Tensor(np.ones(2, np.float32))
    for opt in (nn.optim.SGD([a, b], lr=0.1, momentum=0.5), nn.optim.Adam([a, b], lr=0.1)):
        opt.step()
        assert a.dtype == np.float32 and a.grad is not None
        np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None


def test_step_while_a_graph_still_holds_the_parameters():
    lin = nn.Linear(2, 1, rng=0)
    x = Tensor(np.ones((1, 2), np.float32), requires_grad=True)
    loss = lin(x).sum()
    loss.backward(retain_graph=True)  # the graph stays alive, the parameter arrays stay read-only
    old = lin.weight.data
    nn.optim.Adam(lin.parameters(), lr=0.1).step()
    assert not np.array_equal(lin.weight.data, old)
    loss.backward()  # the retained graph still sees the arrays it was built with
    np.testing.assert_array_equal(x.grad.data, 2 * old)  # dL/dx = W, the old W both times


def test_training_a_linear_model_reduces_the_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    for make in (lambda ps: nn.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: nn.optim.Adam(ps, lr=0.05)):
        model = nn.Linear(3, 1, rng=1)
        opt = make(model.parameters())
        losses = []
        for _ in range(100):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 1e-3 * losses[0]


@pytest.mark.parametrize("make, message", [
    (lambda p: nn.optim.SGD(p, lr=-1), "learning rate"),
    (lambda p: nn.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: nn.optim.Adam(p, betas=(0.9, 1.0)), "betas"),
    (lambda p: nn.optim.Adam(p + p), "more than once"),
    (lambda p: nn.optim.Adam([]), "empty"),
    (lambda p: nn.optim.Adam([Tensor(np.ones(2))]), "requires grad"),
])
def test_optimiser_argument_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make([nn.Parameter(np.ones(2))])


def test_clip_grad_norm_scales_together_and_returns_the_norm():
    a, b, c = param_with_grad([0.0], [3.0]), param_with_grad([0.0, 0.0], [0.0, 4.0]), nn.Parameter([1.0])
    total = nn.utils.clip_grad_norm_([a, b, c], max_norm=1.0)
    assert isinstance(total, float) and total == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3.0 * coef])
    np.testing.assert_allclose(b.grad.data, [0.0, 4.0 * coef])
    assert c.grad is None
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad.data, [3.0 * coef])  # below the limit: unchanged
    assert nn.utils.clip_grad_norm_(a, max_norm=1.0, norm_type=float("inf")) == pytest.approx(3.0 * coef)
    assert nn.utils.clip_grad_norm_([c], 1.0) == 0.0
