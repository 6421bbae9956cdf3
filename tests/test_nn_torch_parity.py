"""nn against PyTorch in float64: same weights in, same outputs, states and gradients out.

Skipped as a whole when torch is not importable; the rest of the nn tests run without it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from tinygrad_lite import Tensor

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-8, 1e-12  # ATOL only covers entries that are zero up to rounding


def close(ours, theirs, what=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    ours = ours.data if isinstance(ours, Tensor) else ours
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


def to_numpy_state(torch_module):
    return {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}


def to_torch_state(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


def leaf(array):
    """The same float64 array as our leaf and as a torch leaf, both requiring grad."""
    return Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


@st.composite
def recurrent_configs(draw):
    return dict(num_layers=draw(st.integers(1, 3)), batch_first=draw(st.booleans()),
                with_state=draw(st.booleans()), bias=draw(st.booleans()), T=draw(st.integers(1, 20)),
                B=draw(st.integers(1, 3)), I=draw(st.integers(1, 4)), H=draw(st.integers(1, 4)),
                seed=draw(st.integers(0, 2**16)))


def run_both(kind, cfg, **extra):
    """Build the torch layer, load its weights into ours, run both on the same data and backward
    a random linear function of every output. Returns (ours, theirs) dicts of named arrays/tensors."""
    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    L, T, B, n_in, H = cfg["num_layers"], cfg["T"], cfg["B"], cfg["I"], cfg["H"]
    kwargs = dict(num_layers=L, bias=cfg["bias"], batch_first=cfg["batch_first"], **extra)
    theirs_layer = getattr(torch.nn, kind)(n_in, H, **kwargs).double()
    ours_layer = getattr(nn, kind)(n_in, H, dtype=np.float64, **kwargs)
    ours_layer.load_state_dict(to_numpy_state(theirs_layer))

    x_shape = (B, T, n_in) if cfg["batch_first"] else (T, B, n_in)
    x, tx = leaf(rng.standard_normal(x_shape))
    states = [leaf(rng.standard_normal((L, B, H))) for _ in range(2 if kind == "LSTM" else 1)]
    args, targs = [x], [tx]
    if cfg["with_state"]:
        ours_state, their_state = [s for s, _ in states], [t for _, t in states]
        args.append(tuple(ours_state) if kind == "LSTM" else ours_state[0])
        targs.append(tuple(their_state) if kind == "LSTM" else their_state[0])
    out, final = ours_layer(*args)
    tout, tfinal = theirs_layer(*targs)
    finals = list(final) if kind == "LSTM" else [final]
    tfinals = list(tfinal) if kind == "LSTM" else [tfinal]

    weights = [rng.standard_normal(o.shape) for o in [out, *finals]]
    loss = sum(((o * w).sum() for o, w in zip([out, *finals], weights)), Tensor(0.0))
    tloss = sum((o * torch.from_numpy(w)).sum() for o, w in zip([tout, *tfinals], weights))
    loss.backward()
    tloss.backward()

    ours = {"output": out, **{f"final{i}": f for i, f in enumerate(finals)}, "dx": x.grad}
    theirs = {"output": tout, **{f"final{i}": f for i, f in enumerate(tfinals)}, "dx": tx.grad}
    if cfg["with_state"]:
        for i, (s, ts) in enumerate(states):
            ours[f"dstate{i}"], theirs[f"dstate{i}"] = s.grad, ts.grad
    for (name, p), (tname, tp) in zip(ours_layer.named_parameters(), theirs_layer.named_parameters()):
        assert name == tname
        ours["d" + name], theirs["d" + name] = p.grad, tp.grad
    return ours, theirs


@given(recurrent_configs())
def test_lstm_matches_torch(cfg):
    assert_same(*run_both("LSTM", cfg))


@given(recurrent_configs(), st.sampled_from(["tanh", "relu"]))
def test_rnn_matches_torch(cfg, nonlinearity):
    assert_same(*run_both("RNN", cfg, nonlinearity=nonlinearity))


def assert_same(ours, theirs):
    """Every output and parameter gradient of ours equals torch's (the same keys on both sides)."""
    assert ours.keys() == theirs.keys()
    for key in ours:
        close(ours[key], theirs[key], key)


@given(st.integers(1, 5), st.integers(1, 5), st.booleans(), st.lists(st.integers(1, 3), max_size=2),
       st.integers(0, 2**16))
def test_linear_matches_torch(n_in, n_out, bias, lead, seed):
    torch.manual_seed(seed)
    theirs = torch.nn.Linear(n_in, n_out, bias=bias).double()
    ours = nn.Linear(n_in, n_out, bias=bias, dtype=np.float64)
    ours.load_state_dict(to_numpy_state(theirs))
    rng = np.random.default_rng(seed)
    x, tx = leaf(rng.standard_normal((*lead, n_in)))
    w = rng.standard_normal((*lead, n_out))
    y, ty = ours(x), theirs(tx)
    close(y, ty)
    (y * w).sum().backward()
    (ty * torch.from_numpy(w)).sum().backward()
    close(x.grad, tx.grad)
    for (_, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


@pytest.mark.parametrize("kind", ["LSTMCell", "RNNCell"])
def test_cells_match_torch(kind):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, kind)(3, 4).double()
    ours = getattr(nn, kind)(3, 4, dtype=np.float64)
    ours.load_state_dict(to_numpy_state(theirs))
    x, tx = leaf(rng.standard_normal((2, 3)))
    h, th = leaf(rng.standard_normal((2, 4)))
    if kind == "LSTMCell":
        c, tc = leaf(rng.standard_normal((2, 4)))
        out, tout = ours(x, (h, c)), theirs(tx, (th, tc))
    else:
        out, tout = (ours(x, h),), (theirs(tx, th),)
    for o, to in zip(out, tout):
        close(o, to)
    sum((o * (k + 1)).sum() for k, o in enumerate(out)).backward()
    sum((o * (k + 1)).sum() for k, o in enumerate(tout)).backward()
    close(x.grad, tx.grad)
    close(h.grad, th.grad)
    for (_, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


@pytest.mark.parametrize("make", [
    lambda lib, **kw: lib.LSTM(3, 5, num_layers=2, **kw),
    lambda lib, **kw: lib.RNN(3, 5, num_layers=2, nonlinearity="relu", **kw),
    lambda lib, **kw: lib.Linear(3, 5, **kw),
])
def test_state_dict_moves_both_ways(make):
    ours = make(nn, rng=1)
    theirs = make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # same names, same order
    theirs.load_state_dict(to_torch_state(ours.state_dict()))  # ours -> torch
    back = make(nn, rng=2)
    back.load_state_dict(to_numpy_state(theirs))  # torch -> ours
    direct = make(nn, rng=3)
    direct.load_state_dict(theirs.state_dict())  # torch tensors convert with np.asarray as they are
    for (name, a), b, c in zip(ours.state_dict().items(), back.state_dict().values(), direct.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(a, c, err_msg=name)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    out, tout = back(x), theirs(torch.from_numpy(x))
    out, tout = (out[0], tout[0]) if isinstance(out, tuple) else (out, tout)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- optimisers: ten steps of the same small network, each library with its own gradients


def train_both(make_opt, make_topt, steps=10, seed=0):
    rng = np.random.default_rng(seed)
    w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    ours = [nn.Parameter(w1, dtype=np.float64), nn.Parameter(w2, dtype=np.float64)]
    theirs = [torch.tensor(w1, requires_grad=True), torch.tensor(w2, requires_grad=True)]
    opt, topt = make_opt(ours), make_topt(theirs)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        nn.functional.mse_loss((x @ ours[0].T).tanh() @ ours[1].T, y).backward()
        torch.nn.functional.mse_loss(torch.tanh(tx @ theirs[0].T) @ theirs[1].T, ty).backward()
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-13)


@settings(max_examples=10)
@given(lr=st.floats(1e-3, 0.5), momentum=st.sampled_from([0.0, 0.5, 0.9]), dampening=st.sampled_from([0.0, 0.3]),
       weight_decay=st.sampled_from([0.0, 0.01]), nesterov=st.booleans())
def test_sgd_takes_torchs_steps(lr, momentum, dampening, weight_decay, nesterov):
    nesterov = nesterov and momentum > 0
    dampening = 0.0 if nesterov else dampening
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    train_both(lambda ps: nn.optim.SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw))


@settings(max_examples=10)
@given(lr=st.floats(1e-4, 0.1), beta1=st.sampled_from([0.0, 0.3, 0.9]), beta2=st.sampled_from([0.9, 0.999]),
       eps=st.sampled_from([1e-8, 1e-3]), weight_decay=st.sampled_from([0.0, 0.01]))
def test_adam_takes_torchs_steps(lr, beta1, beta2, eps, weight_decay):
    kw = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    train_both(lambda ps: nn.optim.Adam(ps, **kw), lambda ps: torch.optim.Adam(ps, **kw))


@given(st.floats(0.01, 10.0), st.sampled_from([2.0, 1.0, float("inf")]), st.integers(0, 2**16))
def test_clip_grad_norm_matches_torch(max_norm, norm_type, seed):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s) for s in [(3, 2), (4,), ()]]
    ours = [nn.Parameter(np.zeros(g.shape)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ours, theirs, grads):
        p.grad, tp.grad = Tensor(g), torch.from_numpy(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad)


# ---- losses


@given(st.integers(1, 5), st.integers(1, 5), st.sampled_from(["mean", "sum", "none"]), st.integers(0, 2**16))
def test_losses_match_torch(n, c, reduction, seed):
    rng = np.random.default_rng(seed)
    F, TF = nn.functional, torch.nn.functional
    target = rng.integers(0, c, n)
    soft = rng.random((n, c))
    for fn, tfn, tgt, ttgt in [
        (F.cross_entropy, TF.cross_entropy, target, torch.from_numpy(target)),
        (F.mse_loss, TF.mse_loss, soft, torch.from_numpy(soft)),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, soft, torch.from_numpy(soft)),
    ]:
        x, tx = leaf(rng.standard_normal((n, c)) * 3)
        loss, tloss = fn(x, tgt, reduction=reduction), tfn(tx, ttgt, reduction=reduction)
        close(loss, tloss, fn.__name__)
        w = rng.standard_normal(loss.shape)
        (loss * w).sum().backward()
        (tloss * torch.from_numpy(w)).sum().backward()
        close(x.grad, tx.grad, fn.__name__)
