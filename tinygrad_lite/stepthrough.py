"""Backward, step by step: a page that replays the order in which a real backward took the nodes.

    from tinygrad_lite import stepthrough
    stepthrough.save(loss, "backward.html")      # runs loss.backward(retain_graph=True) once, recording it
    # open backward.html in a browser: buttons, a slider and the arrow keys step through it;
    # backward.html#step=3 opens at step 3

    rec = stepthrough.record(loss)               # or: record first, look at the steps, then write
    [step.label for step in rec.steps]           # the order backward took the tensors
    stepthrough.write(rec, "backward.html")

How the order is recorded: the engine calls an observer, ``engine._checks``, for every node its
backward takes (``reached(t, g)``: t and its complete gradient g, leaves included) and after each
node's vector-Jacobian product (``backward(t, g, grads)``). ``record`` puts a recorder there for
one ``backward()`` and takes it away afterwards, so the steps are the engine's own order, not a
walk recomputed here. Anomaly mode uses the same slot: recording inside ``detect_anomaly()`` is
refused. The slot is global, so a backward that another thread runs meanwhile would be recorded too.

The page is one self-contained HTML file (no server, no network): one SVG that Graphviz renders
from ``viz``'s DOT, whose nodes a small inline script highlights, and the steps as JSON. Each
step marks the tensor (and its op) that backward takes, shows the gradient it receives (norm,
shape, the first values) and the inputs the op's VJP hands a gradient to. Like ``loss.backward()``,
recording adds the gradients into the leaves' ``.grad``; the graph is kept to draw it.
"""

import html
import json
import pathlib
import re
from dataclasses import dataclass, field

import numpy as np

from . import engine, viz
from .engine import Tensor

__all__ = ["Step", "Recording", "record", "page", "write", "save"]

_SHOWN_VALUES = 4  # the first entries of each gradient the page prints


@dataclass
class Step:
    """One node that backward took: the tensor, and the complete gradient it received."""

    index: int           # 1-based, in the order backward took the nodes
    label: str           # the tensor's name, or what made it
    op: str | None       # the op whose VJP ran at this step; None for a leaf
    shape: tuple
    dtype: str
    norm: float | None   # ‖gradient‖ (float64), None when no gradient reached the tensor
    values: list         # its first entries (flattened), as floats
    node: str | None     # the DOT node that draws the tensor (None: not in the picture)
    op_node: str | None  # the DOT node of its op
    sends: list = field(default_factory=list)  # [(label, node)] of the inputs its VJP gave a gradient

    @property
    def grad_text(self):
        """What the page shows of the gradient: its norm, shape, dtype and first values."""
        shape = "scalar" if not self.shape else "×".join(map(str, self.shape))
        if self.norm is None:
            return f"no gradient reaches it ({shape} {self.dtype})"
        size = int(np.prod(self.shape)) if self.shape else 1
        values = ", ".join(f"{v:.4g}" for v in self.values) + (", …" if size > len(self.values) else "")
        return f"‖grad‖ {self.norm:.4g} · {shape} {self.dtype} · [{values}]"


@dataclass
class Recording:
    """The steps of one recorded backward, and the graph to draw them on."""

    root: Tensor
    steps: list
    view: str
    max_nodes: int | None
    params: dict | None = None  # {name: tensor} naming tensors that have no name of their own


class _Recorder:
    """The engine's observer during one backward: one Step per node it takes."""

    def __init__(self, nodes, names):
        self.nodes = nodes  # id(tensor) -> (tensor node, op node), from viz.node_ids
        self.names = names  # id(tensor) -> a name from params=
        self.steps = []

    def op(self, fn, inputs, args, t):  # only compile's recorder needs every op
        pass

    def forward(self, t):  # no op is recorded during a plain backward; leave any that is alone
        return t

    def reached(self, t, g):
        tensor_node, op_node = self.nodes.get(id(t), (None, None))
        grad = None if g is None else np.asarray(g, dtype=np.float64)
        self.steps.append(Step(
            index=len(self.steps) + 1, label=self.label(t), op=None if t.grad_fn is None else t.grad_fn.name,
            shape=tuple(t.shape), dtype=str(t.dtype),
            norm=None if grad is None else float(np.linalg.norm(grad)),
            values=[] if grad is None else [float(v) for v in grad.ravel()[:_SHOWN_VALUES]],
            node=tensor_node, op_node=op_node if t.grad_fn is not None else None))

    def backward(self, t, g, grads):
        step = self.steps[-1]  # the engine calls this right after reached(t, ...) for the same t
        for parent, pg in zip(t.grad_fn.parents, grads):
            if parent.requires_grad and pg is not None:
                step.sends.append((self.label(parent), self.nodes.get(id(parent), (None, None))[0]))

    def label(self, t):
        name = t.name if t.name else self.names.get(id(t))
        if name:
            return viz._display(name)  # as the picture shows it: non-printable characters escaped
        if t.grad_fn is None:
            return "an unnamed leaf"
        return f"the result of {t.grad_fn.name}"


def record(root, gradient=None, *, view="ops", max_nodes=2000, params=None):
    """Run ``root.backward(gradient, retain_graph=True)`` once and record the order it takes the nodes.

    view, max_nodes  the picture the steps will be shown on (as in ``viz.draw_graph``).
    params           {name: tensor}, e.g. dict(model.named_parameters()): names for the steps and the picture.
    Returns a Recording. Refused while ``detect_anomaly()`` (or another recorder) is on.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"stepthrough.record: give the Tensor to run backward from, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError(f"stepthrough.record: the tensor of shape {root.shape} does not require grad, so "
                           "backward has nothing to visit (was it computed under no_grad?)")
    previous = engine._checks
    if previous is not None:
        raise RuntimeError("stepthrough.record: the engine's observer is already in use (inside "
                           "detect_anomaly(), or another recording); record outside it")
    nodes = viz.node_ids(root, view=view, max_nodes=max_nodes)
    recorder = _Recorder(nodes, {id(t): name for name, t in (params or {}).items()})
    engine._checks = recorder
    try:
        root.backward(gradient, retain_graph=True)
    finally:
        engine._checks = previous
    return Recording(root, recorder.steps, view, max_nodes, params)


def page(recording, *, title=None, **options):
    """The HTML text of the step-through page of a Recording.

    options  more ``viz.draw_graph`` options (values, rankdir, grads, grad_range; params
             defaults to the recording's); gradients are not drawn unless grads=True: the page
             shows each step's own.
    """
    for taken in ("view", "max_nodes"):
        if taken in options:
            raise TypeError(f"stepthrough.page: {taken} is the recording's ({taken}= of record())")
    options.setdefault("grads", False)
    options.setdefault("params", recording.params)
    drawing = viz.draw_graph(recording.root, view=recording.view, max_nodes=recording.max_nodes, **options)
    svg = drawing.pipe(format="svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML
    steps = [{"label": s.label, "op": s.op, "grad": s.grad_text, "node": s.node, "op_node": s.op_node,
              "sends": [label for label, _ in s.sends], "send_nodes": [n for _, n in s.sends if n]}
             for s in recording.steps]
    data = json.dumps(steps, ensure_ascii=False).replace("<", "\\u003c")  # no "</script>" inside
    parts = {"title": html.escape(title or "Backward, step by step"), "count": str(len(steps)),
             "svg": svg, "steps": data, "script": _SCRIPT}
    # one pass over the template: text put in (a tensor named "{steps}") is never replaced again
    return re.sub(r"\{(title|count|svg|steps|script)\}", lambda m: parts[m[1]], _PAGE)


def write(recording, path, **options):
    """Write ``page(recording, **options)`` to ``path``; returns the path."""
    path = pathlib.Path(path)
    path.write_text(page(recording, **options), encoding="utf-8")
    return path


def save(root, path, gradient=None, *, view="ops", max_nodes=2000, params=None, **options):
    """Record ``root.backward(gradient)`` and write its step-through page to ``path``; returns the Recording.

    Takes the options of ``record`` and ``page``.
    """
    recording = record(root, gradient, view=view, max_nodes=max_nodes, params=params)
    write(recording, path, **options)
    return recording


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body { font-family: Helvetica, Arial, sans-serif; margin: 0; display: flex; height: 100vh; overflow: hidden; }
  #side { width: 340px; min-width: 340px; padding: 14px; box-sizing: border-box;
          height: 100vh; overflow-y: auto; background: #fafafa; border-right: 1px solid #ddd; }
  #side h1 { font-size: 17px; margin: 0 0 6px; }
  #side p { font-size: 12px; color: #555; margin: 4px 0 10px; }
  #controls button { font-size: 14px; padding: 3px 8px; }
  #slider { width: 100%; margin: 10px 0 4px; }
  #counter { font-size: 13px; color: #333; }
  .field { margin-top: 12px; font-size: 13px; }
  .field b { display: block; font-size: 11px; color: #777; text-transform: uppercase; letter-spacing: 0.04em; }
  #step-label { font-size: 16px; font-weight: bold; color: #b3005e; }
  #step-grad { font-family: Menlo, Consolas, monospace; font-size: 12px; word-break: break-word; }
  #order { margin: 4px 0; padding-left: 26px; font-size: 12px; }
  #order li { cursor: pointer; }
  #order li.current { font-weight: bold; color: #b3005e; }
  #graph { flex: 1; height: 100vh; padding: 10px; box-sizing: border-box; overflow: auto; }
  .node.done polygon, .node.done ellipse, .node.done path { fill: #e5f5e0; }
  .node.receives polygon, .node.receives ellipse, .node.receives path { stroke: #2b8cbe; stroke-width: 3px; }
  .node.current polygon, .node.current ellipse, .node.current path { fill: #fde0ef; stroke: #b3005e; stroke-width: 4px; }
</style>
</head>
<body>
<div id="side">
  <h1>{title}</h1>
  <p>The order in which a real <code>backward()</code> took the nodes, recorded by the engine's observer
     ({count} steps). Pink: the tensor whose complete gradient arrived (and the op whose VJP runs);
     green: taken before; blue outline: the inputs this VJP hands a gradient to.</p>
  <div id="controls">
    <button id="first" title="first step">|&#x25C0;</button>
    <button id="prev" title="previous step (left arrow)">&#x25C0; back</button>
    <button id="next" title="next step (right arrow)">next &#x25B6;</button>
    <button id="last" title="last step">&#x25B6;|</button>
  </div>
  <input id="slider" type="range" min="1" max="{count}" value="1" aria-label="step">
  <div id="counter">step <span id="step-number">1</span> of {count}</div>
  <div class="field"><b>tensor</b><span id="step-label"></span></div>
  <div class="field"><b>op (its VJP runs now)</b><span id="step-op"></span></div>
  <div class="field"><b>gradient it receives</b><span id="step-grad"></span></div>
  <div class="field"><b>hands a gradient to</b><span id="step-sends"></span></div>
  <div class="field"><b>the order backward took</b><ol id="order"></ol></div>
</div>
<div id="graph">
{svg}
</div>
<script type="application/json" id="steps">{steps}</script>
<script>
{script}
</script>
</body>
</html>
"""

_SCRIPT = """(function () {
  "use strict";
  var steps = JSON.parse(document.getElementById("steps").textContent);
  var nodes = {};  // the DOT node name (the SVG group's title) -> its group
  document.querySelectorAll("#graph g.node").forEach(function (g) {
    nodes[g.querySelector("title").textContent] = g;
  });
  var slider = document.getElementById("slider");
  var order = document.getElementById("order");
  var graph = document.getElementById("graph");
  var current = 0;
  steps.forEach(function (s, i) {
    var li = document.createElement("li");
    li.textContent = s.label;
    li.onclick = function () { show(i + 1); };
    order.appendChild(li);
  });

  function mark(name, cls) { if (name && nodes[name]) nodes[name].classList.add(cls); }
  function text(id, value) { document.getElementById(id).textContent = value; }

  function show(n) {
    n = Math.max(1, Math.min(steps.length, Math.floor(Number(n)) || 1));
    current = n;
    Object.keys(nodes).forEach(function (k) { nodes[k].classList.remove("current", "done", "receives"); });
    for (var i = 0; i < n - 1; i++) { mark(steps[i].node, "done"); mark(steps[i].op_node, "done"); }
    var s = steps[n - 1];
    s.send_nodes.forEach(function (name) { mark(name, "receives"); });
    mark(s.node, "current");
    mark(s.op_node, "current");
    text("step-number", n);
    text("step-label", s.label + (s.node ? "" : " (not in the picture)"));
    text("step-op", s.op === null ? "none: a leaf, its gradient is complete" : s.op);
    text("step-grad", s.grad);
    text("step-sends", s.sends.length ? s.sends.join(", ") : "nothing");
    slider.value = n;
    for (var j = 0; j < order.children.length; j++) order.children[j].classList.toggle("current", j === n - 1);
    if (s.node && nodes[s.node]) reveal(nodes[s.node]);
    if (location.hash !== "#step=" + n) {
      try { history.replaceState(null, "", "#step=" + n); } catch (e) { /* some file: pages refuse */ }
    }
  }

  function reveal(g) {  // scroll the picture (not the page) until the node is in view, centred
    var box = graph.getBoundingClientRect(), r = g.getBoundingClientRect();
    if (r.top < box.top || r.bottom > box.bottom) graph.scrollTop += (r.top + r.bottom - box.top - box.bottom) / 2;
    if (r.left < box.left || r.right > box.right) graph.scrollLeft += (r.left + r.right - box.left - box.right) / 2;
  }

  function fromHash() {
    var m = /^#step=(\\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : 1;
  }

  document.getElementById("first").onclick = function () { show(1); };
  document.getElementById("prev").onclick = function () { show(current - 1); };
  document.getElementById("next").onclick = function () { show(current + 1); };
  document.getElementById("last").onclick = function () { show(steps.length); };
  slider.oninput = function () { show(slider.value); };
  window.addEventListener("hashchange", function () { show(fromHash()); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") show(current + 1);
    if (e.key === "ArrowLeft") show(current - 1);
  });
  show(fromHash());
})();"""
