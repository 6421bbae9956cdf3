"""The replay half of compile (jit.py records): passes that plan a finished recording, and the
replay of its forward and backward on numpy arrays.

``plan`` works out, once per recording, what every replay reuses: which slots the forward can
drop when (liveness), which matmuls share a weight whose gradient one product gives, and which
slices cut one array into pieces whose gradients are joined instead of added into zeros. Each
pass is a function with its reason. ``replay`` runs the forward: each op's own ``forward`` on a
fresh node, no Tensor per intermediate; every output gets ONE graph node, ``CompiledStep``, whose
backward runs the recorded VJPs in reverse recorded order with the engine's un-broadcast, cast
and accumulation rules. Both directions run as Python generated from the plan (straight-line
code, one line per op), made at their first use.
"""

import gc

import numpy as np

from . import engine, guards
from .engine import is_grad_enabled
from .errors import uncompiled
from .ops import NUMPY, Function, GetItem, IndexGrad, MatMul, sum_to_shape

__all__ = ["plan", "replay", "CompiledStep", "YES", "NO"]


class _Flag:
    """Stands in for a node's parent: VJPs read only ``parents[i]._rg`` (to skip a gradient)."""

    __slots__ = ("_rg",)

    def __init__(self, rg):
        self._rg = rg


YES, NO = _Flag(True), _Flag(False)


# ---- planning: passes over a finished recording --------------------------------------------


def plan(program):
    """Everything a replay needs that follows from the recording alone, worked out once."""
    program.copies = _contiguous_weights(program)
    n = len(program.shapes)
    keep = set(range(program.n_inputs)) | set(program.external_slots) | set(program.outputs[1])
    program.frees = _forward_frees(program.steps, n, keep)
    program.batched = _batched_weight_gradients(program)
    program.tiled = _tiling_slices(program)
    program.backward_steps = tuple(step for step in reversed(program.steps) if step.differentiable)
    program.forwards = {}  # keep_nodes -> the generated forward, made at its first use
    program.reused = tuple(step for step in program.steps if step.differentiable and _reusable(step.cls))
    program.spare_nodes = []  # at most one set of cleared nodes, for the next forward with grad
    program.backward = None  # the generated backward, made at its first use


def _forward_frees(steps, n, keep):
    """Liveness: after each step, the slots no later step reads (and no output is): the replay
    drops them, so the forward holds only what backward saved, not every intermediate."""
    last = [-1] * n
    for i, step in enumerate(steps):
        for r in step.reads:
            last[r] = i
    frees = [[] for _ in steps]
    for slot, i in enumerate(last):
        if i >= 0 and slot not in keep:
            frees[i].append(slot)
    for i, step in enumerate(steps):  # a result nothing reads: drop it at once
        if last[step.out] < 0 and step.out not in keep:
            frees[i].append(step.out)
    return tuple(tuple(f) for f in frees)


def _batched_weight_gradients(program):
    """The weight of a recurrent step (``h @ W_hh.T``) is one slot that T matmuls read. Eager
    backward makes T small products ``h[t].T @ g[t]`` and adds them one by one; one product of
    the stacked rows, (H, T*B) @ (T*B, 4H), is the same sum in one BLAS call. Returns
    {weight slot: its matmul steps}; those steps' nodes then skip their weight gradient
    (``flags``), and the replay's backward collects (h[t], g[t]) for one MatMul VJP at the end."""
    users = {}
    for step in program.steps:
        if step.cls is MatMul and step.differentiable and step.needs[1]:
            x, w = step.reads[:2]
            if len(program.shapes[x]) == 2 and len(program.shapes[w]) == 2:
                users.setdefault(w, []).append(step)
    batched = {w: steps for w, steps in users.items() if len(steps) > 1}
    for w, steps in batched.items():
        for step in steps:
            step.flags, step.batched_weight = (step.flags[0], NO), w
    return batched


class _Contiguous:
    """The step _contiguous_weights adds: a C-contiguous copy (the array itself if it is one)."""

    __slots__ = ()

    def forward(self, x):
        return np.ascontiguousarray(x)


def _contiguous_weights(program):
    """A matrix that many matmuls multiply by, on the right (a recurrent layer's ``W_hh.T``), is
    a transposed view, and OpenBLAS multiplies by one 1.3-2.5 times slower than by a C-contiguous
    copy ((16, 64) @ (64, 256) float32: 10.7 against 4.35 µs, 1 thread). So the replay copies it
    once, in a step added after the one that made it, and those matmuls multiply by the copy;
    their nodes keep the view, because backward's ``g @ y.T`` is fast on the view (its transpose
    is the weight itself, contiguous) and slow on the copy. Returns {slot: slot of its copy};
    the matmuls read (x, y, copy of y)."""
    from .jit import _Step  # jit imports this module to plan its recordings

    readers = {}
    for step in program.steps:
        if step.cls is MatMul and len(program.shapes[step.reads[1]]) == 2:
            readers.setdefault(step.reads[1], []).append(step)
    copies = {}
    for y, matmuls in readers.items():
        if len(matmuls) < 2:
            continue
        copy = copies[y] = len(program.shapes)
        program.shapes.append(program.shapes[y])
        program.dtypes.append(program.dtypes[y])
        program.slot_rg.append(False)
        made = next((i + 1 for i, step in enumerate(program.steps) if step.out == y), 0)
        program.steps.insert(made, _Step(_Contiguous, (y,), (), copy, (False,), False))
        for step in matmuls:
            step.reads = (*step.reads, copy)
    return copies


def _tiling_slices(program):
    """``xW[t]`` for every t, or ``gates[:, 0:H] ... gates[:, 3H:4H]``: slices that cut one slot
    into pieces along one axis. Eager backward zero-fills a buffer of the slot's shape and adds
    every piece's gradient into it; here the pieces' gradients are joined once (np.stack for
    ints, np.concatenate for slices: exact, no addition). Returns {slot: (axis, stacked, [steps
    in piece order])}; those steps get ``piece = (slot, position)``."""
    readers = {}
    for step in program.steps:
        if step.cls is GetItem and step.differentiable and step.needs[0]:
            cut = _cut(step.args[0], program.shapes[step.reads[0]])
            if cut is not None:
                readers.setdefault(step.reads[0], []).append((cut, step))
    tiled = {}
    for slot, cuts in readers.items():
        cuts.sort(key=lambda c: c[0][1])
        axis, stacked = cuts[0][0][0], cuts[0][0][3]
        edge = 0
        for (a, start, stop, is_int), _ in cuts:
            if a != axis or is_int != stacked or start != edge:
                break
            edge = stop
        else:
            if edge == program.shapes[slot][axis] and len(cuts) > 1:
                tiled[slot] = (axis, stacked, [step for _, step in cuts])
                for position, (_, step) in enumerate(cuts):
                    step.piece = (slot, position)
    return tiled


def _cut(index, shape):
    """(axis, start, stop, is_int) when ``index`` is leading full slices and then one int or
    one step-1 slice; None otherwise."""
    parts = index if type(index) is tuple else (index,)
    if not parts or len(parts) > len(shape):
        return None
    *lead, last = parts
    if any(p != slice(None) for p in lead):
        return None
    axis, n = len(lead), shape[len(lead)]
    if type(last) is int:
        i = last + n if last < 0 else last
        return axis, i, i + 1, True
    if type(last) is slice and last.step in (None, 1):
        start, stop, _ = last.indices(n)
        return (axis, start, stop, False) if start < stop else None
    return None


# ---- replay ---------------------------------------------------------------------------------


# ops per generated function: compiling one function of the long LSTM's 16,000 ops held about
# 700 MiB while Python compiled it; in pieces of this size the peak is what one piece needs
_CHUNK = 200


def _forward(program, sources, keep_nodes):
    """Run every recorded op on the source arrays (inputs, then externals); return the outputs'
    arrays and, for backward, the nodes by the slot they made (None without grad)."""
    pieces = program.forwards.get(keep_nodes)
    if pieces is None:
        pieces = program.forwards[keep_nodes] = _generate_forward(program, keep_nodes)
    values = [None] * len(program.shapes)
    for s, array in zip(program.source_slots, sources):
        values[s] = array
    paused = _pause_collector()
    try:
        nodes = _take_nodes(program) if keep_nodes else None
        for piece in pieces:
            piece(values, nodes[0] if nodes else None)
    finally:
        if paused:
            gc.enable()
    return [values[s] for s in program.outputs[1]], nodes


def _take_nodes(program):
    """The node objects of a forward with grad, one per differentiable op: the set an earlier
    replay's backward handed back (``program.spare_nodes``), or new ones. Making 16,000 nodes
    per long LSTM step cost their allocation and, once the forward was done, one collection
    that walked them all (4.3 ms a step); reused, they cost neither. Backward clears each
    node's saved arrays once its VJP ran (or once it is clear that none will), so a spare set
    holds no arrays. Returns (the list the replay fills and backward empties, the set)."""
    spares = program.spare_nodes
    try:
        made = spares.pop()  # list.pop is atomic: two threads never take the same set
    except IndexError:
        made = [None] * len(program.shapes)
        for step in program.reused:
            made[step.out] = node = step.cls()
            node.parents = step.flags
    return list(made), made


def _give_back(program, made):
    if not program.spare_nodes:
        program.spare_nodes.append(made)


def _reusable(cls):
    """Whether a node of ``cls`` can be made once and reused: all it saves is in slots, which
    backward can clear (an op with a ``__dict__``, such as a user's Function, is made anew)."""
    return all("__slots__" in c.__dict__ for c in cls.__mro__ if c is not object)


def _saved_slots(cls):
    """The slots an op's forward fills for its backward (Function's own are not among them)."""
    return tuple(name for c in cls.__mro__ if c is not Function and c is not object
                 for name in c.__dict__.get("__slots__", ()))


def _pause_collector():
    """Turn Python's cycle collector off while a replay runs (the caller turns it back on when
    this returns True). A forward makes one node object per op, and every 700 of them start a
    collection that walks all young objects: 27 collections per long LSTM step (16,000 ops),
    8-13 ms of its 110. The replay's own code makes no reference cycles, so pausing loses no
    garbage; backward frees the nodes again, so the count is back near where it was."""
    if not gc.isenabled():
        return False
    gc.disable()
    return True


def _generate_forward(program, keep_nodes):
    """The forward as straight-line Python, one line per op: ``v7 = n.forward(v3, v5)`` on local
    variables, so a replay pays no loop, list or branch per op (on the small LSTM step those cost
    more than the ops' own work). Made in pieces of _CHUNK ops: a piece takes the values earlier
    pieces made from the list ``V`` and leaves there what later ones read. The source is kept as
    ``program.forward_source``: print it to read what a replay runs."""
    n = len(program.shapes)
    made_in = [-1] * n  # the piece that makes each slot (-1: a source)
    last_read = [-1] * n
    for i, step in enumerate(program.steps):
        made_in[step.out] = i // _CHUNK
        for r in step.reads:
            last_read[r] = i
    outputs = set(program.outputs[1])
    names = {"ndarray": np.ndarray, "asarray": np.asarray}
    sources, pieces = [], []
    for c in range(0, max(len(program.steps), 1), _CHUNK):
        steps = program.steps[c:c + _CHUNK]
        lines = [f"def forward_{c // _CHUNK}(V, N):"]
        taken = sorted({r for step in steps for r in step.reads if made_in[r] < c // _CHUNK})
        for r in taken:  # made earlier; V lets go of it here when this piece reads it last
            last = last_read[r] < c + _CHUNK and r not in outputs and made_in[r] >= 0
            lines.append(f"    v{r} = V[{r}]" + (f"; V[{r}] = None" if last else ""))
        for k, step in enumerate(steps, start=c):
            lines += _forward_lines(program, k, step, keep_nodes, names)
        kept = [step.out for step in steps if step.out in outputs or last_read[step.out] >= c + _CHUNK]
        lines += [f"    V[{s}] = v{s}" for s in kept]
        lines.append("    return")
        sources.append("\n".join(lines) + "\n")
        exec(compile(sources[-1], f"<compiled forward, ops {c} on>", "exec"), names)
        pieces.append(names[f"forward_{c // _CHUNK}"])
    if keep_nodes:
        program.forward_source = "\n".join(sources)
    return pieces


def _forward_lines(program, k, step, keep_nodes, names):
    out = step.out
    reads = ", ".join(f"v{r}" for r in step.reads)
    if step.cls is None:
        lines = [f"    v{out} = {reads}  # detach: the same array"]
    else:
        names[f"C{k}"], names[f"A{k}"], names[f"P{k}"] = step.cls, step.args, step.flags
        args = f", *A{k}" if step.args else ""
        lines = [f"    n = C{k}(); v{out} = n.forward({reads}{args})  # {step.cls.__name__}"]
        if step.cls is MatMul and len(step.reads) == 3:  # by the copy; the node keeps the view
            x, y, copy = step.reads
            lines = [f"    n = C{k}(); v{out} = n.forward(v{x}, v{copy}); n.y = v{y}  # MatMul"]
        if program.shapes[out] == ():  # numpy hands back a scalar for a 0-d result
            lines.append(f"    v{out} = v{out} if type(v{out}) is ndarray else asarray(v{out})")
        if keep_nodes and step.differentiable and _reusable(step.cls):  # made beforehand: _take_nodes
            lines[0] = lines[0].replace(f"n = C{k}()", f"n = N[{out}]", 1)
        elif keep_nodes and step.differentiable:
            lines.append(f"    n.parents = P{k}; N[{out}] = n")
    if program.frees[k]:
        lines.append("    del " + ", ".join(f"v{slot}" for slot in program.frees[k]))
    return lines


class CompiledStep(Function):
    """One node for one output of a replay: its backward replays the recorded VJPs.

    The outputs of one replay share its nodes (``shared``, a one-item list). The first backward
    takes them and frees each node's saved arrays as soon as its VJP ran, as eager backward does;
    a second backward (retain_graph, or another output) recomputes them from ``sources``, the
    arrays the replay read: the same numbers, paid for only when used."""

    __slots__ = ("program", "shared", "sources", "root")

    def backward(self, g, F=NUMPY):
        if F is not NUMPY:
            raise uncompiled("create_graph=True")
        program = self.program
        nodes, made = self.shared.pop() if self.shared else _forward(program, self.sources, True)[1]
        if program.backward is None:
            program.backward = _generate_backward(program)
        grads = [None] * len(program.shapes)
        grads[self.root] = g
        paused = _pause_collector()
        try:
            program.backward(grads, [False] * len(grads), nodes, program)
        finally:
            if paused:
                gc.enable()
        _give_back(program, made)  # every node was cleared on the way (not reached if it raised)
        return tuple(grads[s] for s in program.source_slots)


def _generate_backward(program):
    """The backward as straight-line Python, as the forward: for every differentiable op in
    reverse recorded order, its VJP on its gradient (when one reached it) and the accumulation of
    what it returns, the engine's rules with the decisions the plan made written in: which inputs
    need a gradient, which slices are joined (``T["Q<slot>"]``), which weights are batched
    (``T["R<slot>"]``, ``T["B<slot>"]``: the matmul nodes and their gradients). ``G`` holds the
    gradients by slot, ``O`` whether each is ours to add into, ``N`` the nodes. In pieces of _CHUNK ops; the source is kept as
    ``program.backward_source``. Returns the function that runs all pieces."""
    names = {"ndarray": np.ndarray, "add": _add, "collected": _collected, "concatenate": np.concatenate}
    set_aside = [f"Q{slot}" for slot in program.tiled] + [f"{x}{w}" for w in program.batched for x in "RB"]
    sources, pieces = [], []
    steps = program.backward_steps
    for c in range(0, len(steps), _CHUNK):
        lines = [f"def backward_{c // _CHUNK}(G, O, N, T, program):", "    S, D = program.shapes, program.dtypes"]
        lines += [f"    {name} = T[{name!r}]" for name in set_aside]
        for step in steps[c:c + _CHUNK]:
            lines += _backward_lines(program, step)
        lines.append("    return")
        sources.append("\n".join(lines) + "\n")
        exec(compile(sources[-1], f"<compiled backward, ops {c} on>", "exec"), names)
        pieces.append(names[f"backward_{c // _CHUNK}"])
    program.backward_source = "\n".join(sources)

    def backward(grads, owned, nodes, program):
        kept = {f"Q{slot}": [None] * len(tiles) for slot, (_, _, tiles) in program.tiled.items()}
        kept.update({f"{x}{w}": [] for w in program.batched for x in "RB"})
        for piece in pieces:
            piece(grads, owned, nodes, kept, program)
        for slot in program.source_slots:  # inputs and externals: their set-aside gradients
            _collected(slot, kept, grads, owned, program)

    return backward


def _collected(slot, kept, grads, owned, program):
    """What the plan set aside for ``slot`` (batched rows, joined slices), added now it is all in."""
    if slot in program.batched and kept[f"R{slot}"]:
        _flush(kept[f"R{slot}"], kept[f"B{slot}"], slot, grads, owned, program, kept)
        kept[f"R{slot}"].clear()  # in place: the generated code holds these lists too
        kept[f"B{slot}"].clear()
    if slot in program.tiled:
        _join(kept[f"Q{slot}"], slot, grads, owned, program, kept)
        kept[f"Q{slot}"][:] = [None] * len(kept[f"Q{slot}"])


def _backward_lines(program, step):
    out = step.out
    lines = []
    if out in program.tiled and out not in program.batched and not program.tiled[out][1]:
        lines += _join_lines(program, out)
    elif out in program.batched or out in program.tiled:  # all of its gradient is in: add it
        lines.append(f"    collected({out}, T, G, O, program)")
    saved = _saved_slots(step.cls) if _reusable(step.cls) else ()
    forget = f"n.{' = n.'.join(saved)} = None" if saved else "pass"  # the node may be reused
    let_go = f"n = N[{out}]; N[{out}] = None; {forget}" if saved else f"N[{out}] = None"
    lines += [f"    g = G[{out}]  # {step.cls.__name__}", "    if g is None:",  # no gradient reached it
              f"        {let_go}", "    else:", f"        G[{out}] = None"]
    if step.piece is not None:
        return lines + [f"        {let_go}; Q{step.piece[0]}[{step.piece[1]}] = g"]
    results = ", ".join(f"r{i}" if needs else "_" for i, needs in enumerate(step.needs))
    lines.append(f"        n = N[{out}]; N[{out}] = None; {results}, = n.backward(g)")
    if saved and step.batched_weight is None:  # a batched matmul's x and y: _flush reads, then clears them
        lines.append(f"        {forget}")
    for i, (slot, needs) in enumerate(zip(step.reads, step.needs)):
        if needs:
            lines += [f"        if r{i} is not None:", *_accumulate_lines(slot, f"r{i}", "            ")]
    if step.batched_weight is not None:
        w = step.batched_weight
        lines.append(f"        R{w}.append(n); B{w}.append(g)")
    return lines


def _join_lines(program, slot):
    """The join of a slot cut by slices, written in for its common case, every piece with a
    gradient (an LSTM step's four gates): one np.concatenate, without _join's calls, which cost
    more than the concatenate itself on small gates. Anything else goes through ``collected``."""
    axis, _, steps = program.tiled[slot]
    q = f"Q{slot}"
    every_piece = " and ".join(f"{q}[{i}] is not None" for i in range(len(steps)))
    return [f"    if {every_piece}:",
            f"        j = concatenate({q}, {axis}); {q}[:] = {(None,) * len(steps)}",
            *_accumulate_lines(slot, "j", "        "),
            "    else:",
            f"        collected({slot}, T, G, O, program)"]


def _accumulate_lines(slot, name, indent):
    """Add the gradient ``name`` into ``slot``: the first one as it is when it already has the
    slot's type, shape and dtype (no call), anything else through ``_add``, the engine's rules."""
    return [f"{indent}if G[{slot}] is None and type({name}) is ndarray and {name}.shape == S[{slot}] "
            f"and {name}.dtype is D[{slot}]:",
            f"{indent}    G[{slot}] = {name}  # the first gradient of the slot, as it is",
            f"{indent}else:",
            f"{indent}    add(G, O, {slot}, {name}, program)"]


def _flush(matmuls, row_grads, w, grads, owned, program, kept):
    """The weight gradient of batched matmuls: MatMul's own VJP on the stacked rows (every one
    of ``matmuls`` read the same weight, its ``y``), in recorded order."""
    node = MatMul()
    node.x, node.y, node.parents = np.concatenate([m.x for m in reversed(matmuls)]), matmuls[0].y, (NO, YES)
    for m in matmuls:  # read: the node may be reused by the next replay (_take_nodes)
        m.x = m.y = None
    rows = row_grads[::-1]
    if len({r.shape for r in rows}) == 1:  # equal blocks: stacked, perhaps shared with a join
        rows = _stacked(rows, kept)
        rows = rows.reshape(-1, rows.shape[-1])
    else:
        rows = np.concatenate(rows)
    _add(grads, owned, w, node.backward(rows)[1], program)


def _join(got, slot, grads, owned, program, kept):
    """The gradient of a slot cut into pieces: the pieces' gradients side by side (zeros where
    a piece got none)."""
    if all(g is None for g in got):
        return
    axis, stacked, steps = program.tiled[slot]
    dtype = program.dtypes[slot]
    got = [np.zeros(program.shapes[step.out], dtype) if g is None else g for g, step in zip(got, steps)]
    if stacked:
        joined = _stacked(got, kept) if axis == 0 else np.stack(got, axis)
    else:
        joined = np.concatenate(got, axis)
    if joined.dtype != dtype:
        joined = joined.astype(dtype)
    _add(grads, owned, slot, joined, program)


def _stacked(arrays, kept):
    """``np.stack(arrays)``, made once per backward for the same arrays: a recurrent step's gate
    gradient is the gradient of both its slice ``xW[t]`` and its matmul ``h @ W_hh.T``, so the
    join of xW's slices and the batched weight gradient would each copy the same T arrays (16 MB
    on the long benchmark). The first consumer's arrays are kept beside the result until a second
    consumer hands in the same arrays (compared by identity) and takes it. Neither writes into the
    result (``_add`` does not own it)."""
    last = kept.get("stacked")
    if last is not None and len(last[0]) == len(arrays) and all(a is b for a, b in zip(last[0], arrays)):
        del kept["stacked"]
        return last[1]
    result = np.stack(arrays)
    kept["stacked"] = (arrays, result)
    return result


def _add(grads, owned, slot, pg, program):
    """The engine's accumulation rules (engine._propagate), on slots instead of tensors."""
    shape, dtype = program.shapes[slot], program.dtypes[slot]
    cur = grads[slot]
    if type(pg) is IndexGrad:  # slices of one tensor add into one zero-filled buffer
        if cur is None:
            cur = np.zeros(shape, dtype)
        elif not owned[slot]:
            cur = np.array(cur)
        owned[slot] = True
        grads[slot] = pg.add_into(cur)
        return
    if pg.shape != shape:
        pg = sum_to_shape(pg, shape)
    if pg.dtype != dtype:
        pg = pg.astype(dtype)
    if cur is None:
        grads[slot] = pg
    elif owned[slot]:
        cur += pg
    else:
        cur = cur + pg
        grads[slot] = cur if type(cur) is np.ndarray else np.asarray(cur)
        owned[slot] = True


def replay(program, inputs):
    """Run ``program`` on ``inputs`` (and its externals' current arrays): the output tensors, in
    the order of ``program.outputs``, each with one CompiledStep node when it needs a gradient."""
    sources = [*inputs, *program.externals]
    arrays = [t._data for t in sources]  # current values: an optimiser's update is seen
    grad_on = is_grad_enabled()
    values, nodes = _forward(program, arrays, grad_on)
    by_slot = dict(zip(program.source_slots, sources))
    out_slots = program.outputs[1]
    parents = tuple(sources)
    shared = [nodes]
    frozen = False
    outs = []
    for s, value in zip(out_slots, values):
        if s in by_slot:  # fn returned an input or an external itself
            outs.append(by_slot[s])
        elif grad_on and program.slot_rg[s]:
            node = CompiledStep()
            node.program, node.shared, node.sources, node.root = program, shared, arrays, s
            node.parents = parents
            outs.append(engine._node(value, node))
            if not frozen:  # as eager does: leaves a graph read stay read-only until backward
                for p in parents:
                    if p._ctx is None and p._frozen is False:
                        guards.freeze(p)
                frozen = True
        else:
            outs.append(engine._node(value, None))
    return outs
