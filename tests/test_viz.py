"""Graph pictures: real renders of an MLP, an RNN and an LSTM, escaping of any name, life
without the Graphviz program, gradient colouring, and graphs too big to draw."""

import pathlib
import re
import runpy
import shutil
import subprocess
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import nn
from tinygrad_lite import Tensor, viz

SVG = "{http://www.w3.org/2000/svg}"
T, B, N_IN, H = 3, 2, 3, 4
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz program 'dot' is not installed")


def svg_of(roots, **options):
    root = ET.fromstring(viz.draw_graph(roots, **options).pipe(format="svg"))
    return root


def texts(svg):
    # Graphviz writes the second of two spaces as a no-break space so that SVG keeps both
    return [(t.text or "").replace("\xa0", " ") for t in svg.iter(SVG + "text")]


def groups(svg, kind):
    """{title: group element} of the SVG's nodes, edges or clusters (kind "node", "edge", "cluster")."""
    return {g.find(SVG + "title").text: g for g in svg.iter(SVG + "g") if g.get("class") == kind}


def cluster_blocks(dot):
    """{cluster name: the DOT text of its block}."""
    return dict(re.findall(r"subgraph (cluster_\w+) \{\n(.*?)\n\t\}", dot, re.S))


def mlp():
    fc1, fc2 = nn.Linear(N_IN, H, rng=0), nn.Linear(H, 1, rng=1)
    x = Tensor(np.ones((B, N_IN)), dtype=np.float32, name="x")
    y = fc2(fc1(x).tanh())
    loss = nn.functional.mse_loss(y, np.zeros((B, 1), np.float32))
    loss.name = "loss"
    return loss, {"fc1.weight": fc1.weight, "fc1.bias": fc1.bias, "fc2.weight": fc2.weight, "fc2.bias": fc2.bias}


def recurrent(layer, retain=True):
    """Loss at the last step of a T-step unroll; backward done, graph and every gradient kept."""
    x = Tensor(np.random.default_rng(0).standard_normal((T, B, N_IN)), dtype=np.float32, name="x")
    out, _ = layer(x)
    loss = (out[-1] ** 2).sum()
    loss.name = "loss"
    if retain:
        viz.retain_grads(loss)
    loss.backward(retain_graph=True)
    return loss


# ---- real renders -------------------------------------------------------------------------------

@needs_dot
def test_mlp_renders_with_parameters_inputs_and_output_styled():
    loss, params = mlp()
    viz.retain_grads(loss)
    loss.backward(retain_graph=True)
    svg = svg_of(loss, params=params)
    shown = texts(svg)
    for name in ("x", "loss", *params):
        assert name in shown
    nodes = groups(svg, "node")

    def node_with(text):
        [g] = [g for g in nodes.values() if text in texts(g)]
        return g

    fills = {name: node_with(name).find(SVG + "path").get("fill") for name in ("fc1.weight", "x", "loss")}
    assert fills["fc1.weight"] == "#d9f0d3"  # a parameter, recognised without importing nn
    assert fills["x"] == "#dbe9f6"  # an input
    assert len(node_with("loss").findall(SVG + "path")) == 2  # the output: a double border
    assert {"MatMul", "Tanh", "Add", "Transpose"} <= set(shown)  # the ops between the tensors
    assert sum(text.startswith("‖grad‖") for text in shown) >= len(params) + 4


@needs_dot
def test_lstm_renders_every_named_state_in_one_cluster_per_step():
    loss = recurrent(nn.LSTM(N_IN, H, rng=0))
    svg = svg_of(loss)
    shown = set(texts(svg))
    for t in range(T + 1):
        assert {f"C[{t}]", f"h[{t}]"} <= shown
    for t in range(1, T + 1):
        assert {f"{gate}[{t}]" for gate in ("i", "f", "g", "o", "fC", "tanhC")} <= shown
    clusters = groups(svg, "cluster")
    assert sorted(clusters) == [f"cluster_c{t}" for t in range(1, T + 1)]
    for t in range(1, T + 1):
        assert texts(clusters[f"cluster_c{t}"]) == [f"step {t}"]
    blocks = cluster_blocks(viz.to_dot(loss))
    for t in range(1, T + 1):  # each step's tensors are in its block, and only there
        for name, block in blocks.items():
            assert (f"f[{t}]" in block) == (name == f"cluster_c{t}")
    nodes = groups(svg, "node")
    for g in nodes.values():  # after backward every tensor that requires grad shows its gradient
        lines = texts(g)
        if lines[0] in {f"C[{t}]" for t in range(1, T + 1)} | {f"h[{t}]" for t in range(1, T + 1)}:
            assert re.fullmatch(r"‖grad‖ \d\.\d\de[+-]\d\d", lines[-1])


def passed_between_steps(dot):
    """{(step node, tensor name, step node)} of the cell view: edges leave a step by the port of
    the tensor they carry."""
    ports = dict(re.findall(r'PORT="(t\d+)" BGCOLOR="white">([^<]*)<', dot))
    return {(tail, ports[port], head) for tail, port, head in re.findall(r"\t(c\w+):(t\d+) -> (c\w+) ", dot)}


@needs_dot
def test_rnn_op_view_and_cell_view():
    loss = recurrent(nn.RNN(N_IN, H, rng=0))
    ops = svg_of(loss)
    assert {f"a[{t}]" for t in range(1, T + 1)} | {f"h[{t}]" for t in range(T + 1)} <= set(texts(ops))
    assert len(groups(ops, "cluster")) == T
    cells = svg_of(loss, view="cells")
    nodes = groups(cells, "node")
    assert {f"c{t}" for t in range(1, T + 1)} <= set(nodes)
    step2 = texts(nodes["c2"])
    assert step2[0] == "step 2" and step2[-2:] == ["h[2]", step2[-1]] and step2[-1].startswith("‖grad‖")
    assert len(groups(cells, "cluster")) == 0
    assert "h[0]" in texts(cells)  # the initial state stays a tensor of its own
    assert not any("weight" in text for text in texts(cells))  # parameters feed every step: left out
    assert passed_between_steps(viz.to_dot(loss, view="cells")) == {("c1", "h[1]", "c2"), ("c2", "h[2]", "c3")}


def test_lstm_cell_view_passes_C_and_h_between_steps():
    loss = recurrent(nn.LSTM(N_IN, H, rng=0))
    dot = viz.to_dot(loss, view="cells")
    assert passed_between_steps(dot) == {(f"c{t}", f"{s}[{t}]", f"c{t + 1}") for t in range(1, T) for s in "Ch"}
    assert "subgraph cluster" not in dot


def test_layers_have_their_own_clusters():
    loss = recurrent(nn.LSTM(N_IN, H, num_layers=2, rng=0))
    dot = viz.to_dot(loss)
    assert sorted(cluster_blocks(dot)) == sorted(f"cluster_c{k}_{t}" for k in (0, 1) for t in range(1, T + 1))
    assert "label=<l1 · step 2>" in dot
    assert "l1.C[2]" in cluster_blocks(dot)["cluster_c1_2"]


# ---- gradients on a log scale -------------------------------------------------------------------

def chain_with_known_gradients():
    a = Tensor([1.0], requires_grad=True, name="a")
    b = a * 10.0
    b.name = "b"
    c = b * 10.0
    c.name = "c"
    viz.retain_grads(c)
    c.backward(retain_graph=True)  # grads: c 1, b 10, a 100
    return c


def test_edge_colour_and_width_follow_log_grad_norm():
    dot = viz.to_dot(chain_with_known_gradients())
    widths = {}
    for tail, head, attrs in re.findall(r"\t(\w+) -> (\w+) \[(.*)\]", dot):
        widths[tail, head] = float(re.search(r"penwidth=([\d.]+)", attrs)[1])
    ids = {name: re.search(rf"\t(t\d+) \[label=<<B>{name}</B>", dot)[1] for name in "abc"}
    op = {name: "o" + ids[name][1:] for name in "bc"}
    # the edge out of a into its op carries |grad a| = 100, the top of the range; c's gradient 1
    # is the bottom; b's 10 sits halfway on the log scale
    assert widths[ids["a"], op["b"]] == 5.0
    assert widths[op["c"], ids["c"]] == 0.6
    assert widths[ids["b"], op["c"]] == widths[op["b"], ids["b"]] == 2.8
    assert "1.0e+00" in dot and "1.0e+02" in dot  # the legend gives the range
    assert "‖grad‖ 1.00e+02" in dot


def test_without_gradients_no_legend_and_plain_edges():
    a = Tensor([1.0, 2.0], requires_grad=True)
    dot = viz.to_dot((a * a).sum())
    assert "‖grad‖" not in dot and "penwidth" not in dot
    grads_off = viz.to_dot(chain_with_known_gradients(), grads=False)
    assert "‖grad‖" not in grads_off


def test_retain_grads_is_what_shows_intermediate_gradients():
    def build():
        x = Tensor([0.5, -0.5], requires_grad=True, name="x")
        y = x.tanh()
        y.name = "y"
        return x, y, (y * y).sum()

    x, y, loss = build()
    loss.backward(retain_graph=True)
    assert y.grad is None and x.grad is not None
    assert len(re.findall("‖grad‖ [0-9]", viz.to_dot(loss))) == 1  # the leaf only
    x, y, loss = build()
    viz.retain_grads(loss)
    loss.backward(retain_graph=True)
    assert y.grad is not None
    assert len(re.findall("‖grad‖ [0-9]", viz.to_dot(loss))) == 4  # x, y, y*y and the loss


def test_a_freed_graph_is_a_clear_error():
    loss = recurrent(nn.RNN(N_IN, H, rng=0), retain=False)
    loss.backward()  # frees the graph
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True.*retain_grads"):
        viz.draw_graph(loss)


def test_values_option_shows_statistics():
    x = Tensor([[1.0, 2.0], [3.0, 6.0]], requires_grad=True, name="x")
    s = x.sum()
    dot = viz.to_dot(s, values=True)
    assert "min 1 mean 3 max 6" in dot and "= 12" in dot
    assert "mean" not in viz.to_dot(s)


# ---- safe labels ----------------------------------------------------------------------------------

NASTY = st.sampled_from(list('"<>&{}[]\\;=-/\n\t\r\x00\x07 ') + ["\\N", "\\G", "&amp;", "<B>", "]]>", "\u200b",
                                                                    "\u202e", "é", "漢", "😀", "\ud800", "\ufffe"])
NAMES = st.lists(NASTY | st.characters(), min_size=1, max_size=12).map("".join)


def shown_as(name):
    """The documented display rule: printable characters literally, others as Python escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


@needs_dot
@settings(max_examples=25)
@given(NAMES)
@example("]")  # Graphviz 2.43 rejected a label that is a lone bracket until we wrote it as an entity
def test_any_name_renders_literally_and_cannot_change_the_structure(name):
    x = Tensor([1.0, 2.0], requires_grad=True, name=name)
    y = x.tanh()
    y.name = name + "[1]"  # also a step cluster, and a cell-view edge label
    z = y * 2.0
    z.name = name + "[2]"
    loss = z.sum()
    viz.retain_grads(loss)
    loss.backward(retain_graph=True)
    for view, nodes, edges in (("ops", 8, 7), ("cells", 5, 4)):  # cells: x, two steps, op, loss
        dot = viz.to_dot(loss, view=view, params={name: x}, title=name)
        result = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True)
        assert result.returncode == 0, result.stderr.decode()
        assert not result.stderr, result.stderr.decode()
        svg = ET.fromstring(result.stdout)
        shown = texts(svg)
        assert shown_as(name) in shown  # the leaf's label and the title
        assert shown_as(name + "[1]") in shown  # a tensor node, or the port it leaves step 1 by
        assert len(groups(svg, "node")) == nodes and len(groups(svg, "edge")) == edges
        assert len(groups(svg, "cluster")) == (2 if view == "ops" else 0)


def test_display_rule_examples():
    x = Tensor([1.0], requires_grad=True, name='tab\there "q" <b> & \\N\nnext\x07')
    dot = viz.to_dot(x * 2)
    assert '<B>tab\\\\there &quot;q&quot; &lt;b&gt; &amp; \\\\N\\\\nnext\\\\x07</B>' in dot
    assert "\n" not in dot.split("<B>")[1].split("</B>")[0]


# ---- no Graphviz program --------------------------------------------------------------------------

def test_dot_text_without_graphviz_and_render_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no 'dot' anywhere
    loss, params = mlp()
    dot = viz.to_dot(loss, params=params)
    assert dot.startswith("digraph tinygrad_lite {") and "fc1.weight" in dot
    drawing = viz.draw_graph(loss, params=params)
    assert isinstance(drawing, graphviz.Digraph) and drawing.source == dot
    for render in (lambda: drawing.pipe(format="svg"), lambda: viz.save(loss, tmp_path / "g.svg"),
                   lambda: drawing._repr_mimebundle_()):
        with pytest.raises(graphviz.ExecutableNotFound) as info:
            render()
        message = str(info.value)
        assert isinstance(info.value, viz.GraphvizNotFound)
        for hint in ("apt-get install graphviz", "brew install graphviz", "conda install -c conda-forge graphviz"):
            assert hint in message
    assert not (tmp_path / "g.svg").exists()


@needs_dot
def test_save_writes_only_the_picture(tmp_path):
    loss, _ = mlp()
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF"}
    for fmt, start in magic.items():
        path = viz.save(loss, tmp_path / f"mlp.{fmt}")
        assert path.read_bytes().startswith(start)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.pdf", "mlp.png", "mlp.svg"]
    with pytest.raises(ValueError, match="suffix"):
        viz.save(loss, tmp_path / "mlp")


@needs_dot
def test_the_example_writes_its_pictures(tmp_path):
    example = runpy.run_path(str(pathlib.Path(__file__).parent.parent / "examples" / "draw_graph.py"))
    example["main"](tmp_path)
    names = ["graph_lstm.svg", "graph_lstm_cells.svg", "graph_mlp.svg", "graph_rnn.svg", "graph_rnn_cells.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    lstm = texts(ET.parse(tmp_path / "graph_lstm.svg").getroot())
    assert {"C[0]", "C[3]", "f[2]", "weight_hh_l0"} <= set(lstm)


# ---- big graphs -----------------------------------------------------------------------------------

def chain(n):
    x = Tensor([1.0], requires_grad=True, name="x")
    for _ in range(n):
        x = x * 1.0
    return x


def test_a_10000_node_chain_is_cut_at_the_limit_with_a_message():
    end = chain(10_000)
    with pytest.warns(UserWarning, match="max_nodes=2000"):
        dot = viz.to_dot(end)
    assert len(re.findall(r"\tt\d+ \[label=", dot)) == 2000
    assert "graph cut: drew the 2000 tensors nearest the output" in dot


def test_a_10000_node_chain_is_drawn_whole_without_recursion():
    end = chain(10_000)
    viz.retain_grads(end)
    end.backward(retain_graph=True)
    dot = viz.to_dot(end, max_nodes=None)
    # 10,001 tensors, the 10,000 scalar constants among them; one op per product
    assert len(re.findall(r"\tt\d+ \[label=", dot)) == 20_001
    assert len(re.findall(r"\to\d+ \[label=<Mul>", dot)) == 10_000
    assert "x</B>" in dot


def test_bad_options_are_errors():
    x = Tensor([1.0], requires_grad=True)
    for options, match in (({"view": "steps"}, "view"), ({"max_nodes": 0}, "max_nodes"),
                           ({"rankdir": "up"}, "rankdir")):
        with pytest.raises(ValueError, match=match):
            viz.to_dot(x * 2, **options)
    with pytest.raises(TypeError, match="Tensor"):
        viz.to_dot([x, "y"])


# ---- one colour scale for several pictures ------------------------------------------------------

def scaled_chain(factor):
    """a -> b = a * factor -> c = b * factor, after backward from c: ‖grad‖ of c 1, b factor, a factor²."""
    a = Tensor([1.0], requires_grad=True, name="a")
    b = a * factor
    b.name = "b"
    c = b * factor
    c.name = "c"
    viz.retain_grads(c)
    c.backward(retain_graph=True)
    return c


def strokes_by_tail(svg):
    """{name of the tensor an edge leaves: (stroke colour, stroke width)} of a rendered chain,
    for the edges that leave a tensor node (into the op that consumes it)."""
    names = {title: texts(g)[0] for title, g in groups(svg, "node").items() if title.startswith("t")}
    strokes = {}
    for title, g in groups(svg, "edge").items():
        tail = title.split("->")[0]
        if tail in names:
            path = g.find(SVG + "path")
            strokes[names[tail]] = (path.get("stroke"), float(path.get("stroke-width", 1)))
    return strokes


@needs_dot
def test_a_shared_grad_range_gives_equal_norms_equal_colours_in_two_pictures():
    small, large = scaled_chain(10.0), scaled_chain(100.0)  # ‖grad a‖ 100 and 10,000
    assert viz.shared_grad_range(small, large) == (1.0, 1e4)
    own = strokes_by_tail(svg_of(small)), strokes_by_tail(svg_of(large))
    assert own[0]["a"] == own[1]["a"]  # each on its own scale: 100 and 10,000 look alike
    shared = [svg_of(c, grad_range=viz.shared_grad_range(small, large)) for c in (small, large)]
    a_small, b_large = strokes_by_tail(shared[0])["a"], strokes_by_tail(shared[1])["b"]
    assert a_small == b_large == ("#fd8d3c", 2.8)  # both 100: halfway up the log range 1 .. 10,000
    assert strokes_by_tail(shared[1])["a"] == ("#a50f15", 5.0)  # 10,000: the top
    for svg in shared:  # one legend for both, saying the range was given
        shown = texts(svg)
        assert {"1.0e+00", "1.0e+04"} <= set(shown)
        assert any("over the given grad_range" in text for text in shown)


def test_grad_range_clamps_norms_outside_it_to_its_end_colours():
    dot = viz.to_dot(scaled_chain(10.0), grad_range=(5.0, 50.0))  # norms 1, 10, 100
    widths = [float(w) for w in re.findall(r"penwidth=([\d.]+)", dot)]
    assert min(widths) == 0.6 and max(widths) == 5.0
    assert "5.0e+00" in dot and "5.0e+01" in dot and "1.0e+02" not in dot


def test_bad_grad_ranges_and_no_gradients_are_clear_errors():
    x = Tensor([1.0], requires_grad=True)
    for bad in ((0.0, 1.0), (2.0, 1.0), (1.0, float("inf")), (1.0,), 5.0, ("low", "high")):
        with pytest.raises(ValueError, match="grad_range"):
            viz.to_dot(x * 2, grad_range=bad)
    with pytest.raises(ValueError, match="run backward first"):
        viz.shared_grad_range(x * 2)


@needs_dot
def test_node_ids_name_the_nodes_of_the_rendered_picture():
    loss, params = mlp()
    ids = viz.node_ids(loss)
    nodes = groups(svg_of(loss, params=params), "node")
    for name, tensor in {"loss": loss, **params}.items():
        tensor_node, op_node = ids[id(tensor)]
        assert name in texts(nodes[tensor_node])
        assert (op_node in nodes) == (tensor.grad_fn is not None)
    cells = viz.node_ids(recurrent(nn.LSTM(N_IN, H, rng=0)), view="cells")
    assert {tensor_node for tensor_node, _ in cells.values()} >= {f"c{t}" for t in range(1, T + 1)}
