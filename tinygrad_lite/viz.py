"""Pictures of the computation graph: the same graph that backward walks, drawn with Graphviz.

    from tinygrad_lite import viz
    viz.retain_grads(loss)               # keep every intermediate gradient (before backward)
    loss.backward(retain_graph=True)     # keep the graph itself, to draw it afterwards
    viz.draw_graph(loss)                 # a graphviz.Digraph; Jupyter shows it inline
    viz.save(loss, "lstm.svg", view="cells")
    text = viz.to_dot(loss)              # DOT text, needs no Graphviz at all

What a picture shows:

* one box per tensor (its name, shape, dtype; optionally value statistics and the norm of its
  ``.grad``) and one ellipse per op (``Mul``, ``MatMul``…), drawn in the forward direction.
  Inputs that require grad are blue, parameters green (an ``nn.Parameter`` is recognised by its
  class name, so this module never imports ``nn``), outputs orange with a double border,
  constants dashed.
* time steps: a tensor named ``…[t]`` with t >= 1, optionally behind a layer prefix ``l{k}.``
  (``C[3]``, ``l1.h[2]``: the recurrent layers' convention, index 0 being the initial state),
  belongs to step t; an unnamed tensor belongs to a step when everything that consumes it does.
  Each step is one cluster in the op view (``view="ops"``), one node in the cell view
  (``view="cells"``): there an edge leaves a step from a field that names the tensor it
  carries, with its gradient norm (``C[2]``, ``h[2]``), and parameters, constants and what is
  computed from them alone are left out.
* gradients (after ``backward``): an edge's colour and width follow log10 of the gradient norm
  of the tensor it touches (the input of an op for edges into an op, its result for edges out),
  scaled over the range of norms in the picture and shown in the legend; ``grad_range=(lo, hi)``
  fixes that range instead, so that two pictures' colours can be compared
  (``shared_grad_range(loss_a, loss_b)`` gives the range of both).

Every user-given text is escaped: characters that are not printable are shown as Python
escapes (``\\n``, ``\\x07``, ``\\u200b``), the rest literally, and no name can change the
structure of the DOT.
"""

import math
import pathlib
import re
import warnings
from collections import Counter

import graphviz
import numpy as np

from .engine import Tensor, walk

__all__ = ["draw_graph", "to_dot", "save", "retain_grads", "shared_grad_range", "node_ids", "GraphvizNotFound"]

INSTALL_HINT = ("Install the Graphviz programs: Debian/Ubuntu: sudo apt-get install graphviz; "
                "macOS: brew install graphviz; conda: conda install -c conda-forge graphviz "
                "(pip install graphviz installs only the Python bindings).")

_STEP = re.compile(r"(?:l([0-9]+)\.)?(.*)\[([0-9]+)\]", re.S)  # "C[3]", "l1.h[2]": layer, base, step

_GRAPH = "tinygrad_lite"
_HEADER = [  # ordering=out keeps dot's crossing minimisation from taking minutes over long unrolls
    '\tgraph [ordering=out rankdir={rankdir} fontname=Helvetica fontsize=11 nodesep=0.15 ranksep=0.3]\n',
    '\tnode [shape=box style="rounded,filled" fillcolor=white fontname=Helvetica fontsize=10 '
    'margin="0.06,0.03" height=0.3]\n',
    '\tedge [color="#666666" arrowsize=0.6]\n',
]
_STYLE = {  # node attributes by kind of tensor
    "output": 'fillcolor="#fdd49e" peripheries=2',
    "param": 'fillcolor="#d9f0d3" color="#1b7837" penwidth=1.5',
    "input": 'fillcolor="#dbe9f6" color="#2166ac"',
    "const": 'style="rounded,dashed" fontcolor="#666666" color="#999999"',
    "tensor": "",
}
_OP_STYLE = 'shape=ellipse style=filled fillcolor="#eeeeee" color="#aaaaaa" fontsize=8 height=0.2 margin=0'
_NO_GRAD_EDGE = 'color="#cccccc" penwidth=0.6'
_RAMP = ((0xc6, 0xdb, 0xef), (0xfd, 0x8d, 0x3c), (0xa5, 0x0f, 0x15))  # pale blue, orange, dark red
_PEN = (0.6, 5.0)  # edge widths for the weakest and the strongest gradient


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """The Graphviz ``dot`` program is missing; the message says how to install it."""

    def __init__(self):
        RuntimeError.__init__(
            self, "cannot render the graph: the Graphviz program 'dot' is not installed or not on "
            "PATH (the DOT text itself needs no Graphviz: viz.to_dot(...) or digraph.source). "
            + INSTALL_HINT)


class Drawing(graphviz.Digraph):
    """A graphviz.Digraph whose rendering says how to install Graphviz when it is missing."""

    def pipe(self, *args, **kwargs):  # also what Jupyter's display calls
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None

    def render(self, *args, **kwargs):  # also what view() calls
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None


def draw_graph(roots, *, view="ops", values=False, grads=None, params=None, max_nodes=2000,
               rankdir="TB", title=None, grad_range=None):
    """The graph behind ``roots`` (a Tensor or a list of them) as a ``graphviz.Digraph``.

    view       "ops": every tensor and op, steps in clusters; "cells": one node per time step.
    values     show value statistics (the value of a one-element tensor, else min/mean/max).
    grads      show gradient norms and colour the edges by them; None: when any tensor has a grad.
    params     {name: tensor}, e.g. dict(model.named_parameters()), names tensors that have none.
    max_nodes  the most tensors to draw, nearest the outputs first (None: no limit); a cut
               graph says so in the picture and in a warning.
    rankdir    Graphviz's direction: "TB" (time runs down the page) or "LR" (to the right).
    title      a caption above the legend.
    grad_range (lo, hi): the gradient norms that get the palest and the darkest colour, norms
               outside it the end colours; None: the range of the norms in this picture.
               Give two pictures the same range (``shared_grad_range``) to compare their colours.

    Building it needs no Graphviz program; rendering (``.pipe()``, ``.render()``, ``save()``,
    Jupyter's display) does, and says how to install it when it is missing.
    """
    body = _body(roots, view, values, grads, params, max_nodes, rankdir, title, grad_range)
    return Drawing(_GRAPH, body=body)


def to_dot(roots, **options):
    """The DOT text of ``draw_graph(roots, **options)``; works without any Graphviz program."""
    return draw_graph(roots, **options).source


def save(roots, path, format=None, **options):
    """Render the graph to ``path`` (format from its suffix: .svg, .png, .pdf…); returns the path.

    Takes the options of ``draw_graph``. Writes only that file (no DOT file beside it).
    """
    path = pathlib.Path(path)
    format = format or path.suffix.lstrip(".").lower()
    if not format:
        raise ValueError(f"save: cannot tell the format of {str(path)!r}; give it a suffix such as "
                         ".svg, or pass format=")
    path.write_bytes(draw_graph(roots, **options).pipe(format=format))
    return path


def shared_grad_range(*graphs):
    """(lo, hi): the smallest and largest positive finite gradient norm over the tensors behind
    every one of ``graphs`` (each a Tensor or a list of them), for ``draw_graph(grad_range=...)``.

    These are the norms each picture would scale over by itself, so one range covers them all.
    """
    norms = []
    for roots in graphs:
        for t in walk(_as_roots(roots, "shared_grad_range"), constants=True, op="shared_grad_range")[0]:
            if t.grad is not None:
                norms.append(_grad_norm(t))
    norms = [n for n in norms if 0 < n < math.inf]
    if not norms:
        raise ValueError("shared_grad_range: no tensor behind these graphs has a positive finite gradient; "
                         "run backward first (with viz.retain_grads(root) before it for the intermediates)")
    return min(norms), max(norms)


def node_ids(roots, *, view="ops", max_nodes=2000):
    """{id(tensor): (node of the tensor, node of its op)}: the DOT node names that
    ``draw_graph(roots, view=view, max_nodes=max_nodes)`` gives each tensor it draws.

    In the op view "t{i}" and "o{i}" (a leaf has no op node), in the cell view a step's tensors
    share its node "c{t}"; tensors the picture leaves out have no entry. The SVG that Graphviz
    renders names each node by a ``<title>`` of that text.
    """
    _check_view(view, "node_ids")
    tensors, _ = walk(_as_roots(roots, "node_ids"), constants=True, limit=max_nodes, op="node_ids")
    tensors, step = _forward_order(tensors)
    return _units(tensors, step, view == "cells")


def retain_grads(roots):
    """Call ``retain_grad()`` on every non-leaf tensor behind ``roots``; use it before backward.

    Leaves keep their ``.grad`` anyway; intermediates only when asked, and a picture drawn after
    ``backward(retain_graph=True)`` then shows the gradient at every tensor.
    """
    for t in walk(_as_roots(roots, "retain_grads"), op="retain_grads")[0]:
        if t.grad_fn is not None:
            t.retain_grad()


# ---------------------------------------------------------------------------------------------
# roots


def _as_roots(roots, op):
    roots = [roots] if isinstance(roots, Tensor) else list(roots)
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError(f"{op}: give a Tensor or a non-empty list of Tensors")
    return list({id(r): r for r in roots}.values())


def _forward_order(tensors):
    """The drawn tensors in forward order (inputs first), and each tensor's time step or None.

    Kahn's algorithm from the outputs over the walk's consumer counts, as the engine's backward, so
    that an unnamed tensor (other than an input or parameter) can join a step when all its
    consumers are in that step.
    """
    drawn = {id(t) for t in tensors}
    consumers = {id(t): t._deps for t in tensors}  # counted by the walk, among the drawn tensors
    step, shared = {}, {}
    ready = [t for t in tensors if consumers[id(t)] == 0]
    backwards = []
    while ready:
        t = ready.pop()
        backwards.append(t)
        key = _step_of(t.name)
        if key is None and t.name is None and not (t.grad_fn is None and t.requires_grad):
            key = shared.get(id(t))
        step[id(t)] = key
        if t.grad_fn is not None:
            for p in t.grad_fn.parents:
                if id(p) in drawn:
                    before = shared.get(id(p), key)
                    shared[id(p)] = key if before == key else None
                    consumers[id(p)] -= 1
                    if consumers[id(p)] == 0:
                        ready.append(p)
    return backwards[::-1], step


def _step_of(name):
    """(layer, step) for a name such as "C[3]" or "l1.h[2]"; None for step 0 and other names."""
    if not name:
        return None
    m = _STEP.fullmatch(name)
    if m is None or int(m[3]) == 0:
        return None
    return (int(m[1]) if m[1] else None, int(m[3]))


# ---------------------------------------------------------------------------------------------
# the picture


def _check_view(view, op):
    if view not in ("ops", "cells"):
        raise ValueError(f"{op}: view must be 'ops' or 'cells', got {view!r}")


def _check_range(grad_range):
    """The (lo, hi) of a fixed colour scale: two positive finite numbers, lo <= hi."""
    try:
        lo, hi = (float(v) for v in grad_range)
    except (TypeError, ValueError):
        raise ValueError(f"draw_graph: grad_range must be a pair (lo, hi) of gradient norms, got {grad_range!r}") from None
    if not (0 < lo <= hi < math.inf):
        raise ValueError(f"draw_graph: grad_range needs 0 < lo <= hi < inf (norms on a log scale), got ({lo}, {hi})")
    return lo, hi


def _grad_norm(t):
    return float(np.linalg.norm(np.asarray(t.grad.data, dtype=np.float64)))


def _body(roots, view, values, grads, params, max_nodes, rankdir, title, grad_range):
    """The lines of the DOT graph's body."""
    _check_view(view, "draw_graph")
    fixed = None if grad_range is None else _check_range(grad_range)
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if max_nodes is not None and (type(max_nodes) is not int or max_nodes < 1):
        raise ValueError(f"draw_graph: max_nodes must be a positive int or None, got {max_nodes!r}")
    roots = _as_roots(roots, "draw_graph")
    tensors, cut = walk(roots, constants=True, limit=max_nodes, op="draw_graph")
    tensors, step = _forward_order(tensors)
    cells = view == "cells"
    units = _units(tensors, step, cells)

    norms = {}
    if grads is not False:
        for t in tensors:
            if t.grad is not None:
                norms[id(t)] = _grad_norm(t)
    scale = _LogScale(norms.values(), fixed) if norms else None

    edges, leaving = _edges(tensors, step, units, cells, norms, scale)
    body = [line.format(rankdir=rankdir) for line in _HEADER]
    body += _node_lines(tensors, step, units, cells, values, norms,
                        {id(t): n for n, t in (params or {}).items()}, {id(r) for r in roots})
    if cells:
        body += _cell_nodes(tensors, step, leaving, norms)
    body += edges
    caption = _caption(title, scale, cut, max_nodes)
    if caption:
        body.append(f"\tgraph [label=<{caption}> labelloc=b labeljust=l]\n")
    if cut:
        warnings.warn(_cut_message(max_nodes), stacklevel=3)
    return body


def _units(tensors, step, cells):
    """id(tensor) -> (the node that draws it, the node that draws its op).

    Those are its own nodes ``t{i}`` and ``o{i}``, or in the cell view its step's node; tensors
    the cell view hides have no entry.
    """
    hidden = _computed_from_constants(tensors) if cells else ()
    units = {}
    for i, t in enumerate(tensors):
        key = step[id(t)]
        if cells and key is not None:
            units[id(t)] = (_cell_id(key),) * 2
        elif id(t) not in hidden:
            units[id(t)] = (f"t{i}", f"o{i}")
    return units


def _node_lines(tensors, step, units, cells, values, norms, names, outputs):
    groups = {}  # step (None: outside every step) -> node lines
    for t in tensors:
        key, unit = step[id(t)], units.get(id(t))
        if unit is None or cells and key is not None:
            continue
        kind = _kind(t, outputs)
        label = _tensor_label(t, names.get(id(t)), kind, values, norms.get(id(t)))
        lines = groups.setdefault(key, [])
        lines.append(f"\t{unit[0]} [label=<{label}> {_STYLE[kind]}]\n")
        if t.grad_fn is not None:
            lines.append(f"\t{unit[1]} [label=<{_escape(t.grad_fn.name)}> {_OP_STYLE}]\n")
    body = groups.pop(None, [])
    for key in sorted(groups, key=_sort_key):
        body.append(f"\tsubgraph cluster_{_cell_id(key)} {{\n"
                    f'\t\tlabel=<{_step_title(key)}> labeljust=l fontsize=10 style="rounded,filled" '
                    f'fillcolor="#f7f7f7" color="#bbbbbb"\n')
        body += ["\t" + line for line in groups[key]]
        body.append("\t}\n")
    return body


def _edges(tensors, step, units, cells, norms, scale):
    """The edge lines: every input -> op and op -> result link, between the nodes (units) that
    draw them; and, in the cell view, per step node the tensors that leave it (each gets a port
    there, so that the edges of C[t] and h[t] can be told apart without edge labels, which
    make Graphviz's layout of a long unroll take minutes)."""
    links = []  # (tail unit, head unit, the tensor passed, the tensor made at the head)
    for t in tensors:
        if t.grad_fn is not None and id(t) in units:
            t_unit, op_unit = units[id(t)]
            links += [(units[id(p)][0], op_unit, p, t) for p in t.grad_fn.parents if id(p) in units]
            links.append((op_unit, t_unit, t, t))
    links = [link for link in links if link[0] != link[1]]
    if cells:  # one edge per tensor passed between two units
        links = list({(tail, head, id(x)): (tail, head, x, t) for tail, head, x, t in links}.values())
    # In the cell view a tensor that feeds several steps (xW) and the edges out of the steps
    # (every h into the stacked output) would pull all steps together: dot then takes minutes
    # over a 100-step unroll instead of a second. So the first do not rank the steps, and the
    # others only put what follows below the steps.
    feeds = Counter(id(x) for _, _, x, t in links if cells and step[id(x)] is None and step[id(t)] is not None)

    style = {tid: _edge_style(n, scale) for tid, n in norms.items()}
    plain = _NO_GRAD_EDGE if scale else ""
    index = {id(t): i for i, t in enumerate(tensors)}
    lines, leaving = [], {}
    for tail, head, x, t in links:
        attrs = style.get(id(x), plain)
        if cells and step[id(x)] is not None:  # x is hidden in its step's node: leave by its port
            port = f"t{index[id(x)]}"
            leaving.setdefault(tail, {})[id(x)] = (x, port)
            tail = f"{tail}:{port}"
            if step[id(t)] is None:
                attrs += " weight=0"
        elif feeds[id(x)] > 1:
            attrs += " constraint=false"
        lines.append(f"\t{tail} -> {head} [{attrs.strip()}]\n")
    return lines, leaving


def _computed_from_constants(tensors):
    """Parameters, constants, and tensors computed from them alone (hidden in the cell view)."""
    drawn = {id(t) for t in tensors}
    hidden = set()
    for t in tensors:  # forward order: parents first
        ctx = t.grad_fn
        if ctx is None:
            if _kind(t, ()) in ("param", "const"):
                hidden.add(id(t))
        else:
            parents = [p for p in ctx.parents if id(p) in drawn]
            if parents and all(id(p) in hidden for p in parents):
                hidden.add(id(t))
    return hidden


def _cell_nodes(tensors, step, leaving, norms):
    """One node per time step: its title, the named tensors it holds, and a port for each
    tensor that leaves it (``leaving``: per step node, id -> (tensor, port name), from _edges)."""
    held = {}
    for t in tensors:
        key = step[id(t)]
        if key is not None and t.name:
            base = _STEP.fullmatch(t.name)[2] if _step_of(t.name) == key else t.name
            held.setdefault(key, []).append(_escape(_display(base)))
    lines = []
    for key in sorted(held, key=_sort_key):
        ports = []
        for tid, (x, port) in leaving.get(_cell_id(key), {}).items():
            text = _escape(_display(x.name)) if x.name else f"{'×'.join(map(str, x.shape))} {x.dtype}"
            if tid in norms:
                text += f"<BR/>{_format_norm(norms[tid])}"
            ports.append(f'<TD PORT="{port}" BGCOLOR="white">{text}</TD>')
        span = max(1, len(ports))
        rows = [f'<TR><TD COLSPAN="{span}"><B>{_step_title(key)}</B></TD></TR>',
                f'<TR><TD COLSPAN="{span}"><FONT POINT-SIZE="8">{" ".join(held[key])}</FONT></TD></TR>']
        if ports:
            rows.append("<TR>" + "".join(ports) + "</TR>")
        lines.append(f'\t{_cell_id(key)} [shape=plain label=<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="2" '
                     f'CELLPADDING="2" STYLE="ROUNDED" BGCOLOR="#f7f7f7">{"".join(rows)}</TABLE>>]\n')
    return lines


def _cell_id(key):
    return f"c{key[1]}" if key[0] is None else f"c{key[0]}_{key[1]}"


def _step_title(key):
    return f"step {key[1]}" if key[0] is None else f"l{key[0]} · step {key[1]}"


def _sort_key(key):
    return (-1 if key[0] is None else key[0], key[1])


def _kind(t, outputs):
    if id(t) in outputs:
        return "output"
    if t.grad_fn is not None:
        return "tensor"
    if type(t).__name__ == "Parameter":  # nn.Parameter, without importing nn
        return "param"
    return "input" if t.requires_grad or t.name is not None else "const"


def _tensor_label(t, fallback_name, kind, values, norm):
    rows = []
    name = t.name if t.name is not None else fallback_name
    if name:
        rows.append(f"<B>{_escape(_display(name))}</B>")
    shape = "scalar" if t.ndim == 0 else "×".join(map(str, t.shape))
    rows.append(f"{shape} {t.dtype}")
    if values or (kind == "const" and t.size == 1):
        rows.append(_escape(_stats(t.data)))
    if norm is not None:
        rows.append(_format_norm(norm))
    return "<BR/>".join(rows)


def _stats(a):
    if a.size == 0:
        return "empty"
    if a.size == 1:
        return f"= {a.item():.4g}"
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    text = "no finite values" if finite.size == 0 else (
        f"min {finite.min():.3g} mean {finite.mean():.3g} max {finite.max():.3g}")
    if finite.size < a.size:
        text += f" ({a.size - finite.size} non-finite)"
    return text


def _format_norm(norm):
    return f"‖grad‖ {norm:.2e}" if norm else "‖grad‖ 0"


def _edge_style(norm, scale):
    if not 0 < norm < math.inf:
        return _NO_GRAD_EDGE
    frac = scale.frac(norm)
    return f'color="{_ramp(frac)}" penwidth={_PEN[0] + frac * (_PEN[1] - _PEN[0]):.2f}'


class _LogScale:
    """Maps a gradient norm to [0, 1] by log10, over the positive finite norms present or over
    a fixed range (lo, hi) of norms; norms outside the range get its ends."""

    def __init__(self, norms, fixed=None):
        self.fixed = fixed is not None
        if fixed is not None:
            self.lo, self.hi = math.log10(fixed[0]), math.log10(fixed[1])
            return
        logs = [math.log10(n) for n in norms if 0 < n < math.inf]
        self.lo, self.hi = (min(logs), max(logs)) if logs else (0.0, 0.0)

    def frac(self, norm):
        if self.hi - self.lo < 1e-12:
            return 1.0
        return min(1.0, max(0.0, (math.log10(norm) - self.lo) / (self.hi - self.lo)))


def _ramp(frac):
    """Colour of a gradient strength in [0, 1]: pale blue, orange, dark red."""
    pos = frac * (len(_RAMP) - 1)
    i = min(int(pos), len(_RAMP) - 2)
    w = pos - i
    rgb = (round(a + w * (b - a)) for a, b in zip(_RAMP[i], _RAMP[i + 1]))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _caption(title, scale, cut, max_nodes):
    rows = []
    if title:
        rows.append(f"<B>{_escape(_display(title))}</B>")
    if cut:
        rows.append(f'<FONT COLOR="#b2182b">{_escape(_cut_message(max_nodes))}</FONT>')
    if scale is not None:
        over = "log scale over the given grad_range" if scale.fixed else "log scale"
        rows.append(f"edge colour and width: ‖grad‖ of the tensor the edge touches, {over};")
        rows.append("grey: no gradient kept (call viz.retain_grads(root) before backward)")
        cells = []
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            value = 10 ** (scale.lo + frac * (scale.hi - scale.lo))
            ink = "white" if frac > 0.6 else "black"
            cells.append(f'<TD BGCOLOR="{_ramp(frac)}" WIDTH="56"><FONT COLOR="{ink}">{value:.1e}</FONT></TD>')
        rows.append('<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2"><TR>' + "".join(cells) + "</TR></TABLE>")
    if not rows:
        return ""
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(f'<TR><TD ALIGN="LEFT">{row}</TD></TR>' for row in rows) + "</TABLE>")


def _cut_message(max_nodes):
    return (f"graph cut: drew the {max_nodes} tensors nearest the output (max_nodes={max_nodes}); "
            "pass a larger max_nodes, or None for all (view='cells' keeps a long unroll readable)")


# ---------------------------------------------------------------------------------------------
# safe text


def _display(text):
    """The text as shown: printable characters literally, the others as Python escapes."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\\": "\\\\"})


def _escape(text):
    """Text for an HTML-like DOT label. Graphviz expands \\N, \\G… even there, so backslashes
    are doubled; the entities keep any name from closing the label. Graphviz 2.43 also rejects
    a text made of "]" alone (found by hypothesis), so such a text is written as entities."""
    if text and not text.strip("]"):
        return "&#93;" * len(text)
    return text.translate(_HTML)
