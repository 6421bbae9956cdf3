"""RNN, LSTM and GRU layers built only from tinygrad_lite ops, with every time step reachable.

PyTorch's parameter names, shapes and gate order, so weights move both ways: layer k has
``weight_ih_l{k}`` (G*H, in), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}``
(G*H), G = 4 for the LSTM (rows in the order i, f, g, o), 3 for the GRU (r, z, n) and 1 for the
RNN; every one is drawn from U(-1/sqrt(H), 1/sqrt(H)).

How a layer runs (the fast way, and the backward comes for free from the ops):

* the input projection of all T steps is one matmul, ``xW = x @ W_ih.T + b_ih + b_hh`` (for the
  GRU without b_hh's n-part: the reset gate scales ``W_hn h + b_hn`` as a whole, so b_hn is added
  in every step);
* each step t takes its slice ``xW[t]`` (the engine sums all the slices' gradients into one
  buffer) and does one matmul ``h[t-1] @ W_hh.T`` for all gates, then slices the gates out of
  the (B, 4H) result as views.

Reaching the internals. After every forward, ``layer.traces`` holds one Trace per layer and
``layer.trace`` the last layer's. Every tensor made inside step t is named with the suffix
``[t]``, and with ``l{k}.`` in front when there are several layers:

* LSTM: ``xW[t]``, ``hW[t]`` (h[t-1] @ W_hh.T), ``gates[t]`` (their sum, (B, 4H)), the gate
  pre-activations ``a_i[t] a_f[t] a_g[t] a_o[t]`` (views of gates[t]), the gates ``i[t] f[t]
  g[t] o[t]``, ``fC[t]`` (f ⊙ C[t-1]), ``ig[t]`` (i ⊙ g), ``C[t]``, ``tanhC[t]`` and ``h[t]``;
* RNN: ``xW[t]``, ``hW[t]``, ``a[t]`` (the pre-activation) and ``h[t]``;
* GRU: ``xW[t]``, ``hW[t]`` (h[t-1] @ W_hh.T), their gate slices ``xW_r[t] xW_z[t] xW_n[t]``
  and ``hW_r[t] hW_z[t]``, ``hn[t]`` (W_hn h[t-1] + b_hn; with a bias its slice of hW is
  ``hW_n[t]``), the pre-activations ``a_r[t] a_z[t] a_n[t]``, the gates ``r[t] z[t]``,
  ``rhn[t]`` (r ⊙ hn), the candidate ``n[t]``, ``1-z[t]``, ``(1-z)n[t]``, ``zh[t]`` (z ⊙ h[t-1])
  and ``h[t]``;
* outside the steps: ``xW`` (the hoisted projection, (T, B, G*H); ``xW[t]`` is its numpy row
  t-1), the initial states ``h[0]`` and ``C[0]``, each layer's stacked outputs ``out``, and the
  results ``output``, ``h_n``, ``c_n``.

The initial state the caller passes is what the graph uses (its row k for layer k, named
``h[0]``/``C[0]`` and kept in the trace): to get dL/dC_0, pass ``c0`` with ``requires_grad=True``
(zeros are fine) and read ``c0.grad`` after backward, or call ``trace.C[0].retain_grad()``. When
the state is omitted the layer starts from zero constants, which have no gradient.

A trace keeps the last forward's tensors alive until the next forward (which drops them before
building its own graph).
"""

import numpy as np

from tinygrad_lite import ShapeError, Tensor, stack

from ._rng import generator, uniform
from .module import Module, Parameter, as_tensor, check_sizes

__all__ = ["Trace", "LSTMTrace", "RNNTrace", "GRUTrace", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


class StepNames:
    """The names of one kind of step's tensors, attached after the step ran (``attach``).

    ``names``: what the step function returns, in order. ``inside``: for some of them, the
    names of the unnamed parents inside their equation, found from the graph (``gates = xW +
    hW`` names its two parents "xW" and "hW"; None leaves a parent unnamed). A step's full
    names (``pre + name + [t]``: "l1.C[3]") are made once per (prefix, step) and cached:
    every forward names the same steps again.
    """

    def __init__(self, names, inside=()):
        self.names = names
        self.inside = tuple((names.index(of), parents) for of, parents in inside)
        self._made = {}

    def attach(self, values, pre="", t=None):
        """Name ``values`` (the step's results) as step ``t`` (None: a cell, no suffix); returns them."""
        full, inner = self._made.get((pre, t)) or self._make(pre, t)
        for tensor, name in zip(values, full):
            tensor.name = name
        for index, parent_names in inner:
            node = values[index]._ctx
            if node is not None:  # under no_grad there is no graph and nothing inside to name
                for parent, name in zip(node.parents, parent_names):
                    if name is not None:
                        parent.name = name
        return values

    def _make(self, pre, t):
        if len(self._made) > 100_000:  # many prefixes or very long sequences: start again
            self._made.clear()
        tag = "" if t is None else f"[{t}]"
        inner = tuple((index, tuple(None if p is None else pre + p + tag for p in parents))
                      for index, parents in self.inside)
        made = self._made[(pre, t)] = (tuple(pre + name + tag for name in self.names), inner)
        return made


# What each step returns, and the names of the unnamed tensors inside its equations:
# gates = xW + hW, C = fC + ig, h = o * tanhC, a = xW + hW; for the GRU a_r = xW_r + hW_r,
# a_n = xW_n + rhn, h = (1-z)n + zh, and with a bias hn = hW_n + b_hn.
LSTM_NAMES = StepNames(("gates", "a_i", "a_f", "a_g", "a_o", "i", "f", "g", "o", "C", "h"),
                       (("gates", ("xW", "hW")), ("C", ("fC", "ig")), ("h", (None, "tanhC"))))
RNN_NAMES = StepNames(("a", "h"), (("a", ("xW", "hW")),))
_GRU_STEP = ("xW", "hW", "a_r", "a_z", "hn", "r", "z", "a_n", "n", "1-z", "h")
_GRU_INSIDE = (("a_r", ("xW_r", "hW_r")), ("a_z", ("xW_z", "hW_z")), ("a_n", ("xW_n", "rhn")), ("h", ("(1-z)n", "zh")))
GRU_NAMES = StepNames(_GRU_STEP, _GRU_INSIDE)
GRU_NAMES_BIAS = StepNames(_GRU_STEP, _GRU_INSIDE + (("hn", ("hW_n", None)),))  # only with b_hn is hn a tensor of its own


class Trace:
    """The tensors one recurrent layer computed in the last forward pass, indexed by time step.

    Lists follow the math's time steps: ``h[t]`` for t = 1..T is the hidden state after step t
    and ``h[0]`` the initial state actually used in the graph. Per-step quantities that have no
    step 0 (gates, pre-activations) hold ``None`` at index 0. ``T`` is the number of steps and
    ``layer`` the layer's 0-based index. Each tensor also carries its ``.name`` (``"h[3]"``,
    ``"l1.C[3]"``), so hooks and ``retain_grad()`` can be attached after the forward.
    """

    fields = ("h",)
    step_names = ("h",)  # what the layer's step returns, in order (its StepNames' names)

    def __init__(self, layer, **initial):
        self.layer = layer
        for field in self.fields:
            setattr(self, field, [initial.get(field)])
        self._columns = [(self.step_names.index(field), getattr(self, field)) for field in self.fields]

    def append(self, step):
        """Add one time step's tensors (the tuple its step function returned) to every field."""
        for index, column in self._columns:
            column.append(step[index])

    @property
    def T(self):
        return len(self.h) - 1

    def __repr__(self):
        return f"{type(self).__name__}(layer={self.layer}, T={self.T}, fields={', '.join(self.fields)})"


class LSTMTrace(Trace):
    """An LSTM layer's Trace: ``C``, ``h`` (index 0 = initial state), gates ``i f g o`` and
    their (B, 4H) pre-activation ``gates`` (index 0 = None)."""

    fields = ("C", "h", "i", "f", "g", "o", "gates")
    step_names = LSTM_NAMES.names


class RNNTrace(Trace):
    """An RNN layer's Trace: ``h`` (index 0 = initial state) and the pre-activation ``a`` (index 0 = None)."""

    fields = ("h", "a")
    step_names = RNN_NAMES.names


class GRUTrace(Trace):
    """A GRU layer's Trace: ``h`` (index 0 = initial state), the gates ``r z``, the candidate ``n``,
    the pre-activations ``a_r a_z a_n`` and ``hn`` = W_hn h[t-1] + b_hn (index 0 = None)."""

    fields = ("h", "r", "z", "n", "a_r", "a_z", "a_n", "hn")
    step_names = GRU_NAMES.names


def _named(tensor, name):
    tensor.name = name
    return tensor


# ---------------------------------------------------------------------------------------------
# one time step: the lecture's equations, one statement each. The names that pictures and
# traces show are attached afterwards, in one place (StepNames.attach).


def lstm_step(xW, h_prev, C_prev, W_hh_T, H):
    """One LSTM step from the step's input projection xW = x W_ih^T + b; gate order i, f, g, o."""
    gates = xW + h_prev @ W_hh_T                      # every pre-activation at once, (B, 4H)
    a_i, a_f, a_g, a_o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    i = a_i.sigmoid()                                 # input gate: how much of the candidate to add
    f = a_f.sigmoid()                                 # forget gate: how much of C_prev to keep
    g = a_g.tanh()                                    # the candidate memory
    o = a_o.sigmoid()                                 # output gate: how much of the memory to show
    C = f * C_prev + i * g                            # f ⊙ C removes memory, i ⊙ g adds memory
    h = o * C.tanh()                                  # the short-term memory
    return gates, a_i, a_f, a_g, a_o, i, f, g, o, C, h


def rnn_step(xW, h_prev, W_hh_T, relu):
    """One Elman RNN step: h = act(x W_ih^T + b + h_prev W_hh^T)."""
    a = xW + h_prev @ W_hh_T
    h = a.relu() if relu else a.tanh()
    return a, h


def gru_step(xW, h_prev, W_hh_T, b_hn, H):
    """One GRU step from xW = x W_ih^T + b_ih + [b_hr b_hz 0]; gate order r, z, n; b_hn may be None."""
    hW = h_prev @ W_hh_T                              # every hidden projection at once, (B, 3H)
    a_r = xW[:, :H] + hW[:, :H]
    a_z = xW[:, H:2 * H] + hW[:, H:2 * H]
    r = a_r.sigmoid()                                 # reset gate: how much of h_prev the candidate sees
    z = a_z.sigmoid()                                 # update gate: how much of h_prev to keep
    hn = hW[:, 2 * H:] if b_hn is None else hW[:, 2 * H:] + b_hn  # W_hn h + b_hn, what r scales
    a_n = xW[:, 2 * H:] + r * hn
    n = a_n.tanh()                                    # the candidate state
    write = 1 - z
    h = write * n + z * h_prev                        # (1 - z) ⊙ n writes, z ⊙ h_prev keeps
    return xW, hW, a_r, a_z, hn, r, z, a_n, n, write, h


def _init_weights(module, rng, dtype, shapes):
    """Register PyTorch-style parameters (name -> shape) drawn from U(-1/sqrt(H), 1/sqrt(H))."""
    rng = generator(rng)
    bound = 1.0 / np.sqrt(module.hidden_size)
    for name, shape in shapes:
        setattr(module, name, Parameter(uniform(rng, bound, shape, dtype)))


def _add_forget_bias(module, names, forget_bias):
    """Add ``forget_bias`` to the forget-gate rows H:2H of each named bias_ih (Keras' unit_forget_bias)."""
    if not forget_bias:
        return
    if not module.bias:
        raise ValueError(f"{type(module).__name__}: forget_bias={forget_bias} needs bias=True")
    H = module.hidden_size
    for name in names:
        getattr(module, name).data[H:2 * H] += forget_bias  # a new parameter: no graph holds it yet


def _both_biases(b_ih, b_hh):
    """The biases that join the input projection: all of b_ih and b_hh (RNN, LSTM)."""
    return b_ih + b_hh


def _gru_input_biases(b_ih, b_hh):
    """b_ih and the r, z parts of b_hh: r scales W_hn h + b_hn as a whole, so b_hn stays in the step."""
    H = b_hh.shape[0] // 3
    return b_ih + b_hh * np.r_[np.ones(2 * H), np.zeros(H)].astype(b_hh.dtype)


def _unpack_state(module, state, names):
    """An LSTM's (h, c) state: the caller's pair, or (None, None) when it is omitted."""
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"{module!r}: the state must be a pair {names}, got {type(state).__name__}")
    return state


# ---------------------------------------------------------------------------------------------
# multi-layer sequence models


class _Recurrent(Module):
    gate_count = 1
    input_biases = staticmethod(_both_biases)

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dtype, rng):
        super().__init__()
        check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        G, H = self.gate_count, hidden_size
        shapes = []
        for k in range(num_layers):
            shapes += [(f"weight_ih_l{k}", (G * H, input_size if k == 0 else H)),
                       (f"weight_hh_l{k}", (G * H, H))]
            if bias:
                shapes += [(f"bias_ih_l{k}", (G * H,)), (f"bias_hh_l{k}", (G * H,))]
        _init_weights(self, rng, dtype, shapes)
        self.traces = []
        self.trace = None

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        return text

    def _sequence(self, x):
        """The input as a (T, B, input_size) tensor, after checking its shape."""
        x = as_tensor(x, self)
        if x.ndim != 3 or x.shape[2] != self.input_size or 0 in x.shape:
            layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
            raise ShapeError(f"{self!r}: expected input of shape {layout} with input_size={self.input_size} "
                             f"and non-empty axes, got shape {x.shape}")
        return x.swapaxes(0, 1) if self.batch_first else x

    def _initial(self, state, what, B, dtype):
        """Per layer, the initial ``what`` state: row k of the caller's (L, B, H) tensor, or zeros."""
        L, H = self.num_layers, self.hidden_size
        prefix = [f"l{k}." if L > 1 else "" for k in range(L)]
        if state is None:
            return [Tensor(np.zeros((B, H), dtype), name=f"{prefix[k]}{what}[0]") for k in range(L)]
        state = as_tensor(state, self)
        if state.shape != (L, B, H):
            raise ShapeError(f"{self!r}: expected the initial {what} of shape (num_layers, batch, hidden_size) "
                             f"= {(L, B, H)}, got {state.shape}")
        return [_named(state[k], f"{prefix[k]}{what}[0]") for k in range(L)]

    def _projection(self, k, x, pre):
        """xW for every step of layer k at once: (T, B, in) -> (T, B, G*H), one matmul."""
        T, B, n = x.shape
        flat = x.reshape(T * B, n)
        if not flat.requires_grad:  # a constant input keeps its name in pictures
            flat.name = x.name
        xw = flat @ getattr(self, f"weight_ih_l{k}").T
        if self.bias:
            # add the two small bias vectors first: one pass over the (T*B, G*H) projection, not two
            xw = xw + self.input_biases(getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}"))
        return _named(xw.reshape(T, B, self.gate_count * self.hidden_size), pre + "xW")

    def _run(self, x, initial_states):
        """Run every layer, keep their traces; ``initial_states`` holds per layer the Trace's step-0 tensors."""
        self.traces, self.trace = [], None  # let the previous forward's graph go before building this one
        traces = []
        for k in range(self.num_layers):
            pre = f"l{k}." if self.num_layers > 1 else ""
            trace = self._layer(k, self._projection(k, x, pre), initial_states[k], pre)
            x = _named(stack(trace.h[1:]), pre + "out")
            traces.append(trace)
        self.traces, self.trace = traces, traces[-1]
        output = x.swapaxes(0, 1) if self.batch_first else x
        return _named(output, "output")


class RNN(_Recurrent):
    """Elman RNN, h[t] = act(x[t] @ W_ih.T + b_ih + h[t-1] @ W_hh.T + b_hh), act = tanh or relu.

    ``out, h_n = rnn(x, h0=None)``: x is (T, B, input_size), or (B, T, input_size) with
    ``batch_first``; h0 and h_n are (num_layers, B, hidden_size); out holds the last layer's h
    of every step. After the call, ``rnn.traces`` / ``rnn.trace`` hold RNNTraces (see module doc).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dtype, rng)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")

    def forward(self, x, h0=None):
        x = self._sequence(x)
        dtype = self.weight_ih_l0.dtype
        h = self._initial(h0, "h", x.shape[1], dtype)
        output = self._run(x, [{"h": h_k} for h_k in h])
        return output, _named(stack([tr.h[-1] for tr in self.traces]), "h_n")

    def _layer(self, k, xw, initial, pre):
        trace = RNNTrace(k, **initial)
        w_hh_t = getattr(self, f"weight_hh_l{k}").T
        relu = self.nonlinearity == "relu"
        h = trace.h[0]
        for t in range(1, xw.shape[0] + 1):
            step = RNN_NAMES.attach(rnn_step(xw[t - 1], h, w_hh_t, relu), pre, t)
            trace.append(step)
            h = step[-1]
        return trace


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter and Schmidhuber 1997, with the forget gate of Gers et al.).

    ``out, (h_n, c_n) = lstm(x, (h0, c0))``, the state optional (zeros when omitted): x is
    (T, B, input_size), or (B, T, input_size) with ``batch_first``; h0, c0, h_n, c_n are
    (num_layers, B, hidden_size). Per step, with σ the sigmoid::

        i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)   where [a_i a_f a_g a_o] = x W_ih^T + b_ih + h W_hh^T + b_hh
        C[t] = f ⊙ C[t-1] + i ⊙ g ;  h[t] = o ⊙ tanh(C[t])

    ``forget_bias`` (default 0.0, PyTorch's init) is added to the forget-gate rows of every
    ``bias_ih_l{k}`` at initialisation (Keras' unit_forget_bias; Jozefowicz et al. 2015 use 1.0):
    a forget gate that starts near 1 keeps C and its gradient alive over long gaps. It needs
    ``bias=True``. After the call, ``lstm.traces`` / ``lstm.trace`` hold LSTMTraces (module doc).
    """

    gate_count = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 forget_bias=0.0, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dtype, rng)
        _add_forget_bias(self, [f"bias_ih_l{k}" for k in range(num_layers)], forget_bias)
        self.forget_bias = forget_bias

    def extra_repr(self):
        text = super().extra_repr()
        return text + (f", forget_bias={self.forget_bias}" if self.forget_bias else "")

    def forward(self, x, state=None):
        x = self._sequence(x)
        h0, c0 = _unpack_state(self, state, "(h0, c0)")
        B, dtype = x.shape[1], self.weight_ih_l0.dtype
        initial = [{"h": h, "C": c} for h, c in zip(self._initial(h0, "h", B, dtype),
                                                    self._initial(c0, "C", B, dtype))]
        output = self._run(x, initial)
        h_n = _named(stack([tr.h[-1] for tr in self.traces]), "h_n")
        c_n = _named(stack([tr.C[-1] for tr in self.traces]), "c_n")
        return output, (h_n, c_n)

    def _layer(self, k, xw, initial, pre):
        trace = LSTMTrace(k, **initial)
        w_hh_t = getattr(self, f"weight_hh_l{k}").T
        H = self.hidden_size
        h, c = trace.h[0], trace.C[0]
        for t in range(1, xw.shape[0] + 1):
            step = LSTM_NAMES.attach(lstm_step(xw[t - 1], h, c, w_hh_t, H), pre, t)
            trace.append(step)
            c, h = step[-2:]
        return trace


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014), in PyTorch's form and layout (rows r, z, n).

    ``out, h_n = gru(x, h0=None)``, shapes as RNN. Per step, with σ the sigmoid::

        r = σ(W_ir x + b_ir + W_hr h + b_hr) ;  z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) ;  h[t] = (1 - z) ⊙ n + z ⊙ h[t-1]

    The update gate z is the GRU's memory path: dh[t]/dh[t-1] contains diag(z). After the call,
    ``gru.traces`` / ``gru.trace`` hold GRUTraces (see module doc).
    """

    gate_count = 3
    input_biases = staticmethod(_gru_input_biases)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dtype, rng)

    def forward(self, x, h0=None):
        x = self._sequence(x)
        h = self._initial(h0, "h", x.shape[1], self.weight_ih_l0.dtype)
        output = self._run(x, [{"h": h_k} for h_k in h])
        return output, _named(stack([tr.h[-1] for tr in self.traces]), "h_n")

    def _layer(self, k, xw, initial, pre):
        trace = GRUTrace(k, **initial)
        w_hh_t = getattr(self, f"weight_hh_l{k}").T
        H = self.hidden_size
        b_hn = _named(getattr(self, f"bias_hh_l{k}")[2 * H:], pre + "b_hn") if self.bias else None
        names = GRU_NAMES_BIAS if self.bias else GRU_NAMES
        h = trace.h[0]
        for t in range(1, xw.shape[0] + 1):
            step = names.attach(gru_step(xw[t - 1], h, w_hh_t, b_hn, H), pre, t)
            trace.append(step)
            h = step[-1]
        return trace


# ---------------------------------------------------------------------------------------------
# single steps


class _Cell(Module):
    gate_count = 1
    input_biases = staticmethod(_both_biases)

    def __init__(self, input_size, hidden_size, bias, dtype, rng):
        super().__init__()
        check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        G = self.gate_count
        shapes = [("weight_ih", (G * hidden_size, input_size)), ("weight_hh", (G * hidden_size, hidden_size))]
        if bias:
            shapes += [("bias_ih", (G * hidden_size,)), ("bias_hh", (G * hidden_size,))]
        _init_weights(self, rng, dtype, shapes)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _input(self, x):
        """x @ W_ih.T (+ biases) for a (B, input_size) input."""
        x = as_tensor(x, self)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ShapeError(f"{self!r}: expected input of shape (batch, input_size={self.input_size}), "
                             f"got {x.shape}")
        xw = x @ self.weight_ih.T
        if self.bias:
            xw = xw + self.input_biases(self.bias_ih, self.bias_hh)
        return _named(xw, "xW")

    def _state(self, state, what, B):
        if state is None:
            return Tensor(np.zeros((B, self.hidden_size), self.weight_ih.dtype), name=what + "[0]")
        state = as_tensor(state, self)
        if state.shape != (B, self.hidden_size):
            raise ShapeError(f"{self!r}: expected {what} of shape (batch, hidden_size) = "
                             f"{(B, self.hidden_size)}, got {state.shape}")
        return state


class RNNCell(_Cell):
    """One RNN step: ``h = cell(x, h=None)``, x (B, input_size), h (B, hidden_size)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype, rng)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")

    def forward(self, x, h=None):
        xw = self._input(x)
        h = self._state(h, "h", xw.shape[0])
        step = rnn_step(xw, h, self.weight_hh.T, self.nonlinearity == "relu")
        return RNN_NAMES.attach(step)[-1]


class LSTMCell(_Cell):
    """One LSTM step: ``h, c = cell(x, (h, c))``, the state optional (zeros); shapes as RNNCell.

    Same equations, parameter names (without ``_l{k}``) and ``forget_bias`` as LSTM; the
    tensors it makes are named ``xW``, ``gates``, ``i``, ``f``, ``g``, ``o``, ``C``, ``h``, ...
    """

    gate_count = 4

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, bias, dtype, rng)
        _add_forget_bias(self, ["bias_ih"], forget_bias)
        self.forget_bias = forget_bias

    def forward(self, x, state=None):
        xw = self._input(x)
        h, c = _unpack_state(self, state, "(h, c)")
        B = xw.shape[0]
        step = lstm_step(xw, self._state(h, "h", B), self._state(c, "C", B), self.weight_hh.T, self.hidden_size)
        *_, c, h = LSTM_NAMES.attach(step)
        return h, c


class GRUCell(_Cell):
    """One GRU step: ``h = cell(x, h=None)``, shapes as RNNCell; the equations and names of GRU
    (parameters without ``_l{k}``, tensors ``xW``, ``r``, ``z``, ``n``, ``hn``, ``h``, ...)."""

    gate_count = 3
    input_biases = staticmethod(_gru_input_biases)

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, bias, dtype, rng)

    def forward(self, x, h=None):
        xw = self._input(x)
        h = self._state(h, "h", xw.shape[0])
        H = self.hidden_size
        b_hn = _named(self.bias_hh[2 * H:], "b_hn") if self.bias else None
        step = gru_step(xw, h, self.weight_hh.T, b_hn, H)
        return (GRU_NAMES_BIAS if self.bias else GRU_NAMES).attach(step)[-1]
