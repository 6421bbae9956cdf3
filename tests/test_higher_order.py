"""Second and higher derivatives: every op's VJP differentiated again (create_graph), checked
against finite differences of the first derivatives and against PyTorch's double backward."""

import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from op_catalog import CATALOG

import nn
import tinygrad_lite as tl
from tinygrad_lite import Tensor, functional, gradgradcheck

# a second-order check runs one first-order backward per perturbed input: fewer examples
SECOND_ORDER = settings(max_examples=min(settings.default.max_examples, 25))


def _ids(op):
    return op.name + ("" if op.torch is None or op.name != "GetItem" else "-array")


@pytest.mark.parametrize("op", CATALOG, ids=[_ids(op) for op in CATALOG])
@SECOND_ORDER
@given(data=st.data())
def test_gradgradcheck(op, data):
    arrays, options = op.draw(data)
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *xs: op.ours(*xs, **options), tensors, **(op.tolerances or {}))


COMPARABLE = [op for op in CATALOG if op.torch is not None]


@pytest.mark.parametrize("op", COMPARABLE, ids=[op.name for op in COMPARABLE])
@SECOND_ORDER
@given(data=st.data())
def test_double_backward_matches_pytorch(op, data):
    torch = pytest.importorskip("torch")
    arrays, options = op.draw(data)
    # torch masks the gradient of x ** y at y == 0 with a constant, so its derivative in y is 0
    # there; ours is the true one (gradgradcheck checks it against finite differences)
    assume(op.name != "Pow" or np.all(arrays[1] != 0))
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = op.ours(*ours, **options), op.torch(torch, *theirs, **options)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(out.shape)
    first = tl.grad(out, ours, grad_outputs=v.astype(out.dtype), create_graph=True, allow_unused=True)
    first_ref = torch.autograd.grad(ref, theirs, torch.tensor(v, dtype=ref.dtype), create_graph=True,
                                    allow_unused=True)
    weights = [rng.standard_normal(x.shape) for x in ours]
    live = [(g, w) for g, w in zip(first, weights) if g is not None and g.requires_grad]
    live_ref = [(g, w) for g, w in zip(first_ref, weights) if g is not None and g.requires_grad]
    if not live or not live_ref:
        return  # a linear op in every input: its second derivative is zero (and torch has no graph)
    second = tl.grad([g for g, _ in live], ours, grad_outputs=[w for _, w in live], allow_unused=True)
    second_ref = torch.autograd.grad([g for g, _ in live_ref], theirs,
                                     [torch.tensor(w, dtype=g.dtype) for g, w in live_ref], allow_unused=True)
    for mine, reference in zip(second, second_ref):
        expected = 0 if reference is None else reference.numpy()
        got = 0 if mine is None else mine.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-10)


# ---- closed forms to order 4 ------------------------------------------------------------------


def _derivatives(f, x, order):
    values, g = [], f(x).sum()
    for _ in range(order):
        (g,) = tl.grad(g, [x], create_graph=True)
        values.append(g.numpy().copy())
        g = g.sum()
    return values


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=6))
def test_tanh_derivatives_to_order_four(values):
    x = Tensor(np.array(values), requires_grad=True)
    t = np.tanh(x.numpy())
    d1 = 1 - t**2
    expected = [d1, -2 * t * d1, (6 * t**2 - 2) * d1, (16 * t - 24 * t**3) * d1]
    for got, want in zip(_derivatives(lambda x: x.tanh(), x, 4), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@given(st.lists(st.floats(-6, 6), min_size=1, max_size=6))
def test_sigmoid_derivatives_to_order_four(values):
    x = Tensor(np.array(values), requires_grad=True)
    s = 1 / (1 + np.exp(-x.numpy()))
    d1 = s * (1 - s)
    expected = [d1, d1 * (1 - 2 * s), d1 * (1 - 6 * s + 6 * s**2), d1 * (1 - 14 * s + 36 * s**2 - 24 * s**3)]
    for got, want in zip(_derivatives(lambda x: x.sigmoid(), x, 4), expected):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_backward_with_create_graph_makes_differentiable_grads():
    x = Tensor([0.5, -1.5], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    (g2,) = tl.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())


def test_the_old_gradient_keyword_keeps_working():
    x = Tensor([1.0, 2.0], requires_grad=True)
    g = tl.grad(x * 3, x, gradient=np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [3.0, 6.0])


# ---- through the layers -----------------------------------------------------------------------


def _torch_rnn_like(model, torch):
    kind = "LSTM" if isinstance(model, nn.LSTM) else "RNN"
    ref = getattr(torch.nn, kind)(model.input_size, model.hidden_size, dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    return ref


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_hessian_vector_product_through_recurrent_layers_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    nn.manual_seed(0)
    model = getattr(nn, kind)(3, 4, dtype=np.float64)
    ref = _torch_rnn_like(model, torch)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 3))
    names = [name for name, _ in model.named_parameters()]
    v = [rng.standard_normal(p.shape) for _, p in model.named_parameters()]

    def loss(*weights):
        out, _ = nn.utils.functional_call(model, dict(zip(names, weights)), (Tensor(x),))
        return (out * out).sum()

    _, hv = functional.hvp(loss, tuple(p for _, p in model.named_parameters()), tuple(Tensor(a) for a in v))

    def loss_ref(*weights):
        out, _ = torch.func.functional_call(ref, dict(zip(names, weights)), (torch.tensor(x),))
        return (out * out).sum()

    params_ref = tuple(p.detach() for _, p in ref.named_parameters())
    _, hv_ref = torch.autograd.functional.hvp(loss_ref, params_ref, tuple(torch.tensor(a) for a in v))
    for mine, theirs in zip(hv, hv_ref):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-8, atol=1e-10)


def test_a_training_step_with_a_gradient_penalty():
    nn.manual_seed(0)
    net = nn.Linear(3, 1, dtype=np.float64)
    x = Tensor(np.random.default_rng(0).standard_normal((8, 3)), requires_grad=True)
    out = net(x).tanh()
    (dx,) = tl.grad(out.sum(), [x], create_graph=True)
    penalty = ((dx * dx).sum(axis=1) - 1) ** 2
    loss = out.mean() + 0.1 * penalty.mean()
    loss.backward()
    w = net.weight

    def loss_of(weight):
        o = (x.detach() @ weight.T + net.bias.detach()).tanh()
        d = (1 - o * o) @ weight  # the input gradient of tanh(x W^T + b), written out
        return o.mean() + 0.1 * ((((d * d).sum(axis=1)) - 1) ** 2).mean()

    assert tl.gradcheck(loss_of, [Tensor(w.numpy(), requires_grad=True)])
    weight = Tensor(w.numpy(), requires_grad=True)
    (expected,) = tl.grad(loss_of(weight), [weight])
    np.testing.assert_allclose(w.grad.numpy(), expected.numpy(), rtol=1e-10)
    opt = nn.optim.SGD(net.parameters(), lr=0.1)
    before = w.numpy().copy()
    opt.step()
    np.testing.assert_allclose(w.numpy(), before - 0.1 * expected.numpy(), rtol=1e-12)


def test_a_maml_inner_step_through_functional_call():
    nn.manual_seed(0)
    net = nn.Linear(2, 1, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.standard_normal((6, 2))), Tensor(rng.standard_normal((6, 1)))
    params = dict(net.named_parameters())

    def outer_loss(weight, bias):
        inner = nn.functional.mse_loss(nn.utils.functional_call(net, {"weight": weight, "bias": bias}, (x,)), y)
        gw, gb = tl.grad(inner, [weight, bias], create_graph=True)
        fast = {"weight": weight - 0.5 * gw, "bias": bias - 0.5 * gb}
        return nn.functional.mse_loss(nn.utils.functional_call(net, fast, (x * 2,)), y)

    outer_loss(params["weight"], params["bias"]).backward()
    assert net.weight.grad is not None and net.bias.grad is not None
    assert net.weight is params["weight"] and net.bias is params["bias"]  # functional_call put them back
    weight = Tensor(net.weight.numpy(), requires_grad=True)
    bias = Tensor(net.bias.numpy(), requires_grad=True)
    assert tl.gradcheck(outer_loss, [weight, bias])
    (gw, gb) = tl.grad(outer_loss(weight, bias), [weight, bias])
    np.testing.assert_allclose(net.weight.grad.numpy(), gw.numpy(), rtol=1e-12)
    np.testing.assert_allclose(net.bias.grad.numpy(), gb.numpy(), rtol=1e-12)


# ---- hooks, retain_grad, freeing -----------------------------------------------------------------


def test_hooks_and_retain_grad_under_create_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.requires_grad) or g * x)  # a hook that returns a graph
    (h * 3).sum().backward(create_graph=True)
    assert seen == [False]  # the seed is a constant: d(3h)/dh = 3 has no graph
    np.testing.assert_allclose(h.grad.numpy(), 3 * x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * 3 * x.numpy())
    assert x.grad.requires_grad
    (g2,) = tl.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(g2.numpy(), 12 * x.numpy())


def test_graphs_made_with_create_graph_are_freed():
    import weakref

    x = Tensor(np.ones(3), requires_grad=True)
    y = (x.tanh() * x).sum()
    (g,) = tl.grad(y, [x], create_graph=True)
    probe = weakref.ref(g.grad_fn.parents[0])  # a tensor inside the gradient's own graph
    (g2,) = tl.grad(g.sum(), [x])
    del g, y
    gc.disable()
    try:
        assert probe() is None  # freed by reference counting alone: no cycles
    finally:
        gc.enable()
    lstm = nn.LSTM(3, 4, dtype=np.float64)
    inputs = Tensor(np.random.default_rng(0).standard_normal((4, 2, 3)))

    def step():
        out, _ = lstm(inputs)
        weights = list(lstm.parameters())
        grads = tl.grad((out * out).sum(), weights, create_graph=True)
        sum(((g * g).sum() for g in grads), Tensor(0.0)).backward()
        for p in weights:
            p.grad = None

    for _ in range(20):
        step()
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(1000 // 10):  # 100 steps of a 4-step LSTM: every op's double backward
        step()
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    assert growth <= 1 << 20, f"{growth} bytes kept after 100 create_graph steps"
