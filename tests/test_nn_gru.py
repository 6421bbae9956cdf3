"""GRU and GRUCell: PyTorch parity in float64, gradients, weights both ways, the trace and its
names, pictures, gradient flow, and errors."""

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from layer_helpers import call_with, check, float64_params, graph_nodes

import nn
from tinygrad_lite import ShapeError, Tensor, no_grad, viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz program 'dot' is not installed")


# ---- against torch.nn.GRU / torch.nn.GRUCell, float64, rtol 1e-8 (skipped without torch)


try:  # the LSTM's and RNN's parity helpers (run_both, close, ...), when torch is there
    import test_nn_torch_parity as parity
except pytest.skip.Exception:
    parity = None
needs_torch = pytest.mark.skipif(parity is None, reason="torch is not installed")


@needs_torch
@given(st.data())
def test_gru_matches_torch(data):
    """Outputs, h_n, the gradients of x, h0 and every parameter, on drawn sizes, layers, bias, batch_first, h0."""
    parity.assert_same(*parity.run_both("GRU", data.draw(parity.recurrent_configs())))


@needs_torch
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_gru_cell_matches_torch(n_in, H, B, bias, with_state, seed):
    torch, close, leaf = parity.torch, parity.close, parity.leaf
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    theirs = torch.nn.GRUCell(n_in, H, bias=bias).double()
    ours = nn.GRUCell(n_in, H, bias=bias, dtype=np.float64)
    ours.load_state_dict(parity.to_numpy_state(theirs))
    x, tx = leaf(rng.standard_normal((B, n_in)))
    h, th = leaf(rng.standard_normal((B, H)))
    out, tout = (ours(x, h), theirs(tx, th)) if with_state else (ours(x), theirs(tx))
    close(out, tout, "h")
    w = rng.standard_normal(out.shape)
    (out * w).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    close(x.grad, tx.grad, "dx")
    if with_state:
        close(h.grad, th.grad, "dh")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        close(p.grad, tp.grad, name)


@pytest.mark.parametrize("make", [
    lambda lib, **kw: lib.GRU(3, 5, num_layers=2, **kw),
    lambda lib, **kw: lib.GRU(3, 5, bias=False, batch_first=True, **kw),
    lambda lib, **kw: lib.GRUCell(3, 5, **kw),
])
@needs_torch
def test_state_dict_moves_both_ways(make):
    torch = parity.torch
    ours = make(nn, rng=1)
    theirs = make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # same names, same order
    for name, value in theirs.state_dict().items():
        assert ours.state_dict()[name].shape == tuple(value.shape), name
    theirs.load_state_dict(parity.to_torch_state(ours.state_dict()))  # ours -> torch
    back = make(nn, rng=2)
    back.load_state_dict(parity.to_numpy_state(theirs))  # torch -> ours
    for (name, a), b in zip(ours.state_dict().items(), back.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    shape = (2, 3) if isinstance(ours, nn.GRUCell) else (4, 2, 3)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out, tout = back(x), theirs(torch.from_numpy(x))
    out, tout = (out[0], tout[0]) if isinstance(out, tuple) else (out, tout)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- gradients


@pytest.mark.parametrize("batch_first", [False, True])
def test_gru_gradcheck(batch_first):
    rng = np.random.default_rng(0)
    gru = nn.GRU(2, 3, num_layers=2, batch_first=batch_first, dtype=np.float64, rng=1)
    x = Tensor(rng.standard_normal((2, 4, 2) if batch_first else (4, 2, 2)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert check(lambda x, h0, *ps: call_with(gru, ps, x, h0), [x, h0, *float64_params(gru)])


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_gradcheck(bias):
    cell = nn.GRUCell(2, 3, bias=bias, dtype=np.float64, rng=0)
    rng = np.random.default_rng(0)
    x, h = (Tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 2), (2, 3)])
    assert check(lambda x, h, *ps: call_with(cell, ps, x, h), [x, h, *float64_params(cell)])


@pytest.mark.parametrize("T", [1, 20, 200])
def test_update_gate_at_one_copies_the_state_and_its_gradient(T):
    """z pinned to 1: h[t] = z ⊙ h[t-1] exactly, so h_T = h_0 and dL/dh_0 = dL/dh_T."""
    rng = np.random.default_rng(T)
    H = 4
    gru = nn.GRU(3, H, dtype=np.float64, rng=0)
    bias = gru.bias_ih_l0.data.copy()
    bias[H:2 * H] = 50.0  # σ(50) rounds to exactly 1.0 in float64
    gru.bias_ih_l0.data = bias
    h0 = Tensor(rng.standard_normal((1, 2, H)), requires_grad=True)
    out, h_n = gru(rng.standard_normal((T, 2, 3)), h0)
    gru.trace.h[T].retain_grad()
    (h_n * rng.standard_normal(h_n.shape)).sum().backward()
    np.testing.assert_array_equal(h_n.data, h0.data)
    np.testing.assert_allclose(h0.grad.data[0], gru.trace.h[T].grad.data, rtol=1e-12)


# ---- the trace and the names


GRU_NAMES = {"xW", "hW", "xW_r", "xW_z", "xW_n", "hW_r", "hW_z", "hn", "a_r", "a_z", "a_n", "r", "z", "rhn", "n",
             "1-z", "(1-z)n", "zh", "h"}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_every_op_inside_a_step_is_named(num_layers, bias):
    step_names = GRU_NAMES | ({"hW_n"} if bias else set())  # with a bias, hn = hW_n + b_hn
    pattern = re.compile(r"^(l(\d)\.)?(.+)\[(\d+)\]$")
    unnamed_counts = []
    for T in (2, 5):
        gru = nn.GRU(3, 4, num_layers=num_layers, bias=bias, rng=0)
        out, h_n = gru(Tensor(np.ones((T, 2, 3), np.float32), requires_grad=True))
        nodes = graph_nodes(out, h_n)
        unnamed_counts.append(sum(n.name is None for n in nodes))
        by_step = {}
        for node in nodes:
            m = pattern.match(node.name or "")
            if m:
                assert (m.group(1) is not None) == (num_layers > 1), node.name
                by_step.setdefault((m.group(2), int(m.group(4))), set()).add(m.group(3))
        layers = [str(k) for k in range(num_layers)] if num_layers > 1 else [None]
        assert {(k, t): step_names for k in layers for t in range(1, T + 1)} == by_step
    assert unnamed_counts[0] == unnamed_counts[1]  # no unnamed op per time step


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_trace_holds_the_tensors_of_the_graph():
    T, B, H = 4, 2, 3
    gru = nn.GRU(2, H, num_layers=2, batch_first=True, dtype=np.float64, rng=0)
    h0 = Tensor(np.random.default_rng(1).standard_normal((2, B, H)), requires_grad=True)
    out, h_n = gru(np.random.default_rng(0).standard_normal((B, T, 2)), h0)
    assert len(gru.traces) == 2 and gru.trace is gru.traces[1]
    for k, tr in enumerate(gru.traces):
        assert tr.layer == k and tr.T == T and len(tr.h) == len(tr.z) == len(tr.hn) == T + 1
        assert all(getattr(tr, field)[0] is None for field in GRUTRACE_STEP_FIELDS)
        assert tr.h[0].name == f"l{k}.h[0]" and tr.z[2].name == f"l{k}.z[2]" and tr.hn[1].name == f"l{k}.hn[1]"
        b_hh = getattr(gru, f"bias_hh_l{k}").data
        w_hh = getattr(gru, f"weight_hh_l{k}").data
        for t in range(1, T + 1):  # the equations, read back from the trace
            h_prev = tr.h[t - 1].data
            np.testing.assert_allclose(tr.hn[t].data, h_prev @ w_hh[2 * H:].T + b_hh[2 * H:])
            np.testing.assert_allclose(tr.r[t].data, sigmoid(tr.a_r[t].data))
            np.testing.assert_allclose(tr.z[t].data, sigmoid(tr.a_z[t].data))
            np.testing.assert_allclose(tr.n[t].data, np.tanh(tr.a_n[t].data))
            np.testing.assert_allclose(tr.h[t].data, (1 - tr.z[t].data) * tr.n[t].data + tr.z[t].data * h_prev)
    np.testing.assert_array_equal(out.data[:, -1], gru.trace.h[T].data)
    np.testing.assert_array_equal(h_n.data[0], gru.traces[0].h[T].data)
    seen = []  # the trace's tensors are the graph's: a hook on z[2] sees the gradient through it
    gru.traces[0].z[2].register_hook(lambda g: seen.append(g.data.copy()))
    gru.traces[0].h[0].retain_grad()
    (out.sum() + h_n.sum()).backward()
    assert len(seen) == 1 and seen[0].shape == (B, H)
    np.testing.assert_array_equal(gru.traces[0].h[0].grad.data, h0.grad.data[0])


GRUTRACE_STEP_FIELDS = [f for f in nn.GRUTrace.fields if f != "h"]


def test_cell_equals_one_step_of_the_layer_and_forward_without_grad():
    gru = nn.GRU(3, 4, dtype=np.float64, rng=0)
    cell = nn.GRUCell(3, 4, dtype=np.float64, rng=1)
    cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items()})  # weight_ih_l0 -> weight_ih
    x = np.random.default_rng(2).standard_normal((1, 2, 3))
    _, h_n = gru(x)
    np.testing.assert_allclose(cell(x[0]).data, h_n.data[0])
    with no_grad():
        out, _ = gru(x)
    assert not out.requires_grad and gru.trace.T == 1 and gru.trace.z[1].name == "z[1]"
    assert repr(nn.GRU(2, 3, num_layers=2, bias=False)) == "GRU(2, 3, num_layers=2, bias=False)"


# ---- pictures and gradient flow


def drawn_loss(layer, T=3):
    x = Tensor(np.random.default_rng(0).standard_normal((T, 2, 3)), dtype=np.float32, name="x")
    out, _ = layer(x)
    loss = (out[-1] ** 2).sum()
    loss.name = "loss"
    viz.retain_grads(loss)
    loss.backward(retain_graph=True)
    return loss


SVG = "{http://www.w3.org/2000/svg}"


def svg_groups(loss, kind, **options):
    """{title: texts} of the rendered SVG's nodes or clusters."""
    svg = ET.fromstring(viz.draw_graph(loss, **options).pipe(format="svg"))
    return {g.find(SVG + "title").text: [(t.text or "") for t in g.iter(SVG + "text")]
            for g in svg.iter(SVG + "g") if g.get("class") == kind}


@needs_dot
def test_op_view_has_one_cluster_per_step_holding_its_gates():
    T = 3
    loss = drawn_loss(nn.GRU(3, 4, rng=0), T)
    clusters = svg_groups(loss, "cluster")
    assert sorted(clusters) == [f"cluster_c{t}" for t in range(1, T + 1)]
    shown = {text for texts in svg_groups(loss, "node").values() for text in texts}
    for t in range(1, T + 1):
        assert {f"{name}[{t}]" for name in ("r", "z", "n", "hn", "h", "1-z", "(1-z)n", "zh")} <= shown
    assert "h[0]" in shown and "b_hn" in shown


@needs_dot
def test_cell_view_passes_h_between_steps():
    T = 4
    loss = drawn_loss(nn.GRU(3, 4, num_layers=2, rng=0), T)
    nodes = svg_groups(loss, "node", view="cells")
    for k in (0, 1):
        for t in range(1, T + 1):
            texts = nodes[f"c{k}_{t}"]
            assert texts[0] == f"l{k} · step {t}" and f"l{k}.h[{t}]" in texts
    assert not svg_groups(loss, "cluster", view="cells")
    assert not any("weight" in text for texts in nodes.values() for text in texts)


class Readout(nn.Module):
    """A GRU and a linear readout of its last state: a model that holds one recurrent layer."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(2, 5, dtype=np.float64, rng=0)
        self.head = nn.Linear(5, 1, dtype=np.float64, rng=1)

    def forward(self, x):
        return self.head(self.gru(x)[1][0])


def test_gradient_flow_measures_the_gru_along_h():
    rng = np.random.default_rng(0)
    model = Readout()
    gru = model.gru
    x, y = rng.standard_normal((12, 3, 2)), rng.standard_normal((3, 1))
    flow = nn.gradient_flow(model, x, lambda out: nn.functional.mse_loss(out, y))
    assert flow.C is None and flow.T == 12 and np.isnan(flow.h[0])
    # the same numbers as a plain backward with the trace's h[t] retained
    loss = nn.functional.mse_loss(model(x), y)
    for h in gru.trace.h[1:]:
        h.retain_grad()
    loss.backward()
    expected = [np.linalg.norm(h.grad.data) for h in gru.trace.h[1:]]
    np.testing.assert_allclose(flow.h[1:], expected, rtol=1e-12)
    assert flow.state() is flow.h and flow.ratio() == pytest.approx(expected[0] / expected[-1])
    with pytest.raises(ValueError, match="no cell state C"):
        flow.state("C")


# ---- errors name the layer and the shapes


@pytest.mark.parametrize("make, call, message", [
    (lambda: nn.GRU(4, 8), lambda m: m(np.zeros((7, 3, 5))), r"GRU\(4, 8\).*input_size=4.*\(7, 3, 5\)"),
    (lambda: nn.GRU(4, 8, num_layers=2), lambda m: m(np.zeros((7, 3, 4)), np.zeros((1, 3, 8))),
     r"initial h .*\(2, 3, 8\), got \(1, 3, 8\)"),
    (lambda: nn.GRUCell(4, 8), lambda m: m(np.zeros((3, 5))), r"GRUCell\(4, 8\).*\(3, 5\)"),
    (lambda: nn.GRUCell(4, 8), lambda m: m(np.zeros((3, 4)), np.zeros((3, 7))), r"GRUCell.*\(3, 8\).*\(3, 7\)"),
])
def test_shape_errors_name_the_layer_and_the_shapes(make, call, message):
    with pytest.raises(ShapeError, match=message):
        call(make())


def test_bad_sizes():
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(2, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(2, 3, num_layers=0)
