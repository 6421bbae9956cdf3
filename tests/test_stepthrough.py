"""The step-through page of backward: the recorded order is the engine's own, the gradients are the
real ones, and a real headless Chromium shows step N as the recording says.

The browser tests need Debian's ``chromium``; without it they skip, unless
TINYGRAD_LITE_REQUIRE_CHROMIUM=1 (set by .ci/run, which installs it) turns the skip into a failure.
The browser's screenshot of the page is written to out/stepthrough.png.
"""

import html
import json
import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

import nn
from tinygrad_lite import Tensor, detect_anomaly, engine, stepthrough, viz

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "out" / "stepthrough.png"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz program 'dot' is not installed")


def small_graph():
    """loss = sum(tanh(a * b + a)): a is used twice, so backward must wait for both of its consumers."""
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="a")
    b = Tensor([0.5, -1.0, 2.0], requires_grad=True, name="b")
    c = a * b
    c.name = "c"
    d = (c + a).tanh()
    d.name = "d"
    loss = d.sum()
    loss.name = "loss"
    return loss, [a, b, c, d]


def rnn_graph():
    """A 3-step RNN with a loss at the end: a few dozen nodes, named and unnamed, leaves and ops."""
    rnn = nn.RNN(2, 3, dtype=np.float64, rng=0)
    x = Tensor(np.random.default_rng(1).standard_normal((3, 1, 2)), name="x")
    out, _ = rnn(x)
    loss = (out[-1] ** 2).sum()
    loss.name = "loss"
    return loss, rnn


def every_tensor(root):
    return engine.walk([root])[0]


# ---- the recording ------------------------------------------------------------------------------

def test_the_steps_are_the_order_in_which_the_engine_ran_each_tensors_hooks():
    loss, rnn = rnn_graph()
    witnessed = []  # a second witness of the engine's order: hooks run as backward takes each tensor
    for t in every_tensor(loss):
        t.register_hook(lambda g, t=t: witnessed.append(id(t)))
    labels = {id(t): t for t in every_tensor(loss)}
    rec = stepthrough.record(loss, params=dict(rnn.named_parameters()))
    assert len(rec.steps) == len(witnessed) == len(labels) > 20
    assert [s.index for s in rec.steps] == list(range(1, len(rec.steps) + 1))
    ids = viz.node_ids(loss)
    assert [s.node for s in rec.steps] == [ids[i][0] for i in witnessed]
    assert rec.steps[0].label == "loss" and rec.steps[0].op == "Sum"
    assert {"weight_hh_l0", "weight_ih_l0", "h[1]", "a[3]"} <= {s.label for s in rec.steps}  # params= names too


def test_each_step_shows_the_complete_gradient_the_tensor_received():
    loss, tensors = small_graph()
    a, b, c, d = tensors
    for t in (c, d):
        t.retain_grad()
    rec = stepthrough.record(loss)
    by_label = {s.label: s for s in rec.steps}
    for t in tensors:
        step = by_label[t.name]
        assert step.norm == pytest.approx(np.linalg.norm(t.grad.data), rel=1e-12)
        assert step.values == pytest.approx(t.grad.data.ravel()[:4].tolist(), rel=1e-12)
        assert step.shape == (3,) and step.dtype == "float64"
    assert by_label["a"].op is None and by_label["c"].op == "Mul"
    assert sorted(label for label, _ in by_label["c"].sends) == ["a", "b"]
    order = [s.label for s in rec.steps]
    # a feeds both Mul and Add: taken once, after both have handed in their part of its gradient
    assert order.count("a") == 1 and order.index("a") > order.index("c") > order.index("the result of Add")
    assert by_label["a"].grad_text.startswith(f"‖grad‖ {np.linalg.norm(a.grad.data):.4g} · 3 float64 · [")


def test_in_the_cell_view_a_step_highlights_its_time_steps_node():
    loss, rnn = rnn_graph()
    rec = stepthrough.record(loss, view="cells", params=dict(rnn.named_parameters()))
    by_label = {s.label: s for s in rec.steps}
    assert [by_label[f"h[{t}]"].node for t in (1, 2, 3)] == ["c1", "c2", "c3"]
    assert by_label["a[2]"].node == by_label["a[2]"].op_node == "c2"
    assert by_label["weight_hh_l0"].node is None  # parameters are left out of the cell view


def test_recording_is_a_real_backward_that_keeps_the_graph():
    loss, (a, b, *_) = small_graph()
    rec = stepthrough.record(loss)
    first = a.grad.data.copy()
    assert engine._checks is None
    stepthrough.record(loss)  # the graph was kept: a second backward accumulates, as backward does
    np.testing.assert_allclose(a.grad.data, 2 * first)
    assert rec.root is loss and len(rec.steps) == 6


def test_refused_inside_anomaly_mode_and_the_slot_is_restored_after_a_failure():
    loss, _ = small_graph()
    with detect_anomaly():
        with pytest.raises(RuntimeError, match="observer is already in use.*detect_anomaly"):
            stepthrough.record(loss)
    boom = Tensor([1.0], requires_grad=True)
    out = boom * 2.0

    def fail(g):
        raise ValueError("a failing hook")

    out.register_hook(fail)
    with pytest.raises(ValueError, match="a failing hook"):
        stepthrough.record(out.sum())
    assert engine._checks is None


def test_bad_roots_are_clear_errors():
    with pytest.raises(TypeError, match="stepthrough.record: give the Tensor"):
        stepthrough.record(np.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\) does not require grad"):
        stepthrough.record(Tensor([1.0, 2.0, 3.0]) * 2)


@needs_dot
def test_the_page_is_self_contained_with_one_svg_and_no_escape_for_names(tmp_path):
    a = Tensor([1.0, 2.0], requires_grad=True, name="</script><b>x")
    loss = (a * a).sum()
    loss.name = "{steps}"
    rec = stepthrough.save(loss, tmp_path / "page.html", title="<i>title</i>")
    text = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert text.count("<svg") == 1 and text.count("</script>") == 2
    assert "<i>title</i>" not in text and "&lt;i&gt;title&lt;/i&gt;" in text
    # no file or address outside the page: only the SVG's namespace names mention http
    assert not re.search(r'(src|href)="(?!#)', text)
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    labels = ["{steps}", "the result of Mul", "</script><b>x"]
    assert [s.label for s in rec.steps] == labels
    data = re.search(r'<script type="application/json" id="steps">(.*?)</script>', text, re.S)[1]
    assert [s["label"] for s in json.loads(data)] == labels  # the names arrive intact, as data
    with pytest.raises(TypeError, match="view is the recording's"):
        stepthrough.page(rec, view="cells")


# ---- in a real browser --------------------------------------------------------------------------

def chromium():
    """The Chromium program, or skip (fail when TINYGRAD_LITE_REQUIRE_CHROMIUM=1)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no Chromium installed (Debian: apt-get install chromium); the step-through page is untested"
        if os.environ.get("TINYGRAD_LITE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"TINYGRAD_LITE_REQUIRE_CHROMIUM=1 but {reason}")
        pytest.skip(reason)
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz program 'dot' is not installed: the page's SVG cannot be rendered")
    return found


def run_chromium(program, profile, url, *args):
    command = [program, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args, url]
    result = subprocess.run(command, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return result.stdout.decode("utf-8")


def shown_step(dom):
    """What the page shows: the titles of the highlighted nodes, and the panel's texts."""
    current = {html.unescape(title) for cls, title in
               re.findall(r'<g id="node\d+" class="([^"]*)">\s*<title>([^<]*)</title>', dom) if "current" in cls.split()}
    panel = {name: html.unescape(text) for name, text in re.findall(r'<span id="step-(\w+)">([^<]*)</span>', dom)}
    return current, panel


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    loss, rnn = rnn_graph()
    path = tmp_path_factory.mktemp("page") / "backward.html"
    return stepthrough.save(loss, path, title="a 3-step RNN", params=dict(rnn.named_parameters())), path


def test_chromium_shows_the_recorded_step_named_in_the_url(page, tmp_path):
    program = chromium()
    rec, path = page
    last = len(rec.steps)
    for asked, expected in ((3, 3), (last, last), (10_000, last)):  # a step past the end shows the last
        dom = run_chromium(program, tmp_path / f"profile{asked}", f"{path.as_uri()}#step={asked}", "--dump-dom")
        step = rec.steps[expected - 1]
        current, panel = shown_step(dom)
        assert current == {n for n in (step.node, step.op_node) if n}, f"step {asked}"
        assert panel["number"] == str(expected)
        assert panel["grad"] == step.grad_text
        assert panel["label"] == step.label
        assert panel["op"] == (step.op or "none: a leaf, its gradient is complete")
    assert rec.steps[2].grad_text != rec.steps[-1].grad_text  # the two steps checked differ


def test_chromium_screenshot_of_the_page(page, tmp_path):
    program = chromium()
    rec, path = page
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    run_chromium(program, tmp_path / "profile", f"{path.as_uri()}#step=5",
                 f"--screenshot={SCREENSHOT}", "--window-size=1280,900")
    image = pytest.importorskip("matplotlib.image").imread(SCREENSHOT)
    assert image.shape[:2] == (900, 1280)
    pink = np.all(np.abs(image[..., :3] - np.array([0xb3, 0x00, 0x5e]) / 255) < 0.03, axis=-1)
    assert pink.sum() > 200  # the highlighted node's border and the step's label
