"""SGD, Adam and clip_grad_norm_ without PyTorch: the update formulas, the rules around them.

(One test compares clip_grad_norm_'s non-finite cases with PyTorch's; it skips without torch.)
"""

import math

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


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("make, error, message", [
    (lambda p: nn.optim.SGD(p, lr=-1), ValueError, r"SGD: invalid learning rate: -1 "),
    (lambda p: nn.optim.SGD(p, lr=NAN), ValueError, "SGD: invalid learning rate: nan"),
    (lambda p: nn.optim.Adam(p, lr=NAN), ValueError, "Adam: invalid learning rate: nan"),
    (lambda p: nn.optim.Adam(p, lr=INF), ValueError, "Adam: invalid learning rate: inf"),
    (lambda p: nn.optim.Adam(p, lr=-1e-3), ValueError, "Adam: invalid learning rate"),
    (lambda p: nn.optim.SGD(p, lr="0.1"), TypeError, "SGD: the learning rate must be a real number, got str"),
    (lambda p: nn.optim.Adam(p, lr=None), TypeError, "Adam: the learning rate must be a real number"),
    (lambda p: nn.optim.SGD(p, lr=True), TypeError, "learning rate must be a real number, got bool"),
    (lambda p: nn.optim.SGD(p, lr=np.array([0.1])), TypeError, "learning rate must be a real number"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum=NAN), ValueError, "SGD: invalid momentum value: nan"),
    (lambda p: nn.optim.SGD(p, lr=0.1, weight_decay=-1), ValueError, "SGD: invalid weight_decay value: -1"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum=0.9, dampening=NAN), ValueError, "invalid dampening value"),
    (lambda p: nn.optim.Adam(p, eps=-1e-8), ValueError, "Adam: invalid epsilon value"),
    (lambda p: nn.optim.Adam(p, eps=NAN), ValueError, "Adam: invalid epsilon value: nan"),
    (lambda p: nn.optim.Adam(p, weight_decay=NAN), ValueError, "Adam: invalid weight_decay value: nan"),
    (lambda p: nn.optim.Adam(p, betas=(NAN, 0.9)), ValueError, "invalid beta parameter at index 0: nan"),
    (lambda p: nn.optim.Adam(p, betas=(0.9, -0.1)), ValueError, "invalid beta parameter at index 1"),
    (lambda p: nn.optim.Adam(p, betas=(0.9,)), TypeError, r"betas must be a pair \(beta1, beta2\)"),
    (lambda p: nn.optim.Adam(p, betas=0.9), TypeError, "betas must be a pair"),
])
def test_hyperparameters_are_checked_as_torch_does(make, error, message):
    with pytest.raises(error, match=message):
        make([nn.Parameter(np.ones(2))])


def test_a_schedule_cannot_set_a_bad_learning_rate():
    p = param_with_grad([1.0], [1.0])
    opt = nn.optim.SGD([p], lr=0.1)
    opt.lr = np.float32(0.5)  # numpy scalars are numbers; stored as a float, no dtype promotion
    assert opt.lr == 0.5 and type(opt.lr) is float
    with pytest.raises(ValueError, match="SGD: invalid learning rate: nan"):
        opt.lr = NAN
    opt.step()  # still the last good rate
    np.testing.assert_allclose(p.data, [0.5])


@pytest.mark.parametrize("make, message", [
    (lambda p: nn.optim.SGD(p, lr=-1), "learning rate"),
    (lambda p: nn.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: nn.optim.Adam(p, betas=(0.9, 1.0)), "beta parameter at index 1: 1.0"),
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


def test_clip_grad_norm_refuses_a_negative_or_nan_max_norm_and_changes_nothing():
    p = param_with_grad([0.0, 0.0], [3.0, 4.0])
    for bad in (-1.0, -1e-9, NAN):  # a negative max_norm used to flip every gradient's sign
        with pytest.raises(ValueError, match=r"clip_grad_norm_: max_norm must be >= 0.*got"):
            nn.utils.clip_grad_norm_([p], bad)
    for bad in ("1", None, [1.0]):
        with pytest.raises(TypeError, match="clip_grad_norm_: max_norm must be a real number"):
            nn.utils.clip_grad_norm_([p], bad)
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])
    assert nn.utils.clip_grad_norm_([p], INF) == 5.0  # inf only measures
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])
    nn.utils.clip_grad_norm_([p], 0)
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])


def test_clip_grad_norm_types_and_a_clear_error_for_non_tensors():
    p = param_with_grad([0.0, 0.0], [3.0, 4.0])
    assert nn.utils.clip_grad_norm_([p], INF, norm_type=1) == 7.0
    assert nn.utils.clip_grad_norm_([p], INF, norm_type="inf") == 4.0  # torch's spelling
    assert nn.utils.clip_grad_norm_([p], INF, norm_type=3) == pytest.approx((27 + 64) ** (1 / 3))
    for bad in (0, 0.5, -1, -INF, NAN):
        with pytest.raises(ValueError, match="norm_type must be >= 1 or inf"):
            nn.utils.clip_grad_norm_([p], 1.0, norm_type=bad)
    with pytest.raises(TypeError, match="norm_type must be a number or 'inf', got str 'fro'"):
        nn.utils.clip_grad_norm_([p], 1.0, norm_type="fro")
    with pytest.raises(TypeError, match="parameters must be Tensors, got ndarray at position 1"):
        nn.utils.clip_grad_norm_([p, np.ones(2)], 1.0)
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])


@pytest.mark.parametrize("bad", [NAN, INF])
def test_clip_grad_norm_error_if_nonfinite_names_the_parameter(bad):
    a, b = param_with_grad([0.0], [1.0]), param_with_grad([0.0, 0.0], [bad, 4.0])
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 .* is (nan|inf).*parameter 1, shape \(2,\)"):
        nn.utils.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(a.grad.data, [1.0])  # nothing scaled before the error
    with pytest.raises(RuntimeError, match="order inf"):
        nn.utils.clip_grad_norm_([a, b], 1.0, norm_type=INF, error_if_nonfinite=True)


def test_clip_grad_norm_scales_by_a_nonfinite_norm_as_torch():
    a, b = param_with_grad([0.0], [1.0]), param_with_grad([0.0, 0.0], [NAN, 4.0])
    assert math.isnan(nn.utils.clip_grad_norm_([a, b], 1.0))
    assert np.isnan(a.grad.data).all() and np.isnan(b.grad.data).all()  # not a finite 4.0 left unclipped
    a, b = param_with_grad([0.0], [1.0]), param_with_grad([0.0, 0.0], [INF, 4.0])
    assert nn.utils.clip_grad_norm_([a, b], 1.0) == INF
    np.testing.assert_array_equal(a.grad.data, [0.0])
    np.testing.assert_array_equal(b.grad.data, [NAN, 0.0])  # inf * 0


@pytest.mark.parametrize("grads, max_norm, norm_type", [
    ([[1.0], [NAN, 4.0]], 1.0, 2.0),
    ([[1.0], [INF, 4.0]], 1.0, 2.0),
    ([[1.0], [-INF, 4.0]], 1.0, INF),
    ([[1e200], [1e200, 1.0]], 1.0, 2.0),  # finite gradients whose norm overflows
    ([[3.0], [0.0, 4.0]], INF, 2.0),
    ([[3.0], [0.0, 4.0]], 0.0, 1.0),
])
def test_clip_grad_norm_matches_torch_on_edge_cases(grads, max_norm, norm_type):
    torch = pytest.importorskip("torch")
    ours = [param_with_grad(np.zeros(len(g)), g) for g in grads]
    theirs = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g, dtype=torch.float64)
    with np.errstate(over="ignore"):
        total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type).item()
    np.testing.assert_equal(total, expected)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)
