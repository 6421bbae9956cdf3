"""tinygrad_lite.compile: replays give eager's outputs and gradients, and refuse what they cannot do."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
import tinygrad_lite as tl
from tinygrad_lite import Tensor, replay
from tinygrad_lite.jit import CompileError

SHAPES = [(2, 3), (1, 3), (2, 1), (3,), ()]
UNARY = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "sum0": lambda x: x.sum(axis=0, keepdims=True) if x.ndim == 2 else x.sum(),
    "row": lambda x: x[0:1] if x.ndim == 2 else x,
    "scale": lambda x: x * 0.5 + 1.0,
}
BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b}


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(b), 1e-300)
    return np.linalg.norm(a - b) / scale


def run_recipe(recipe, leaves, weight):
    nodes = list(leaves)
    for kind, name, i, j in recipe:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        nodes.append(UNARY[name](a) if kind == "u" else BINARY[name](a, b))
    # a matmul with an external weight: parameters are read by identity
    square = nodes[-1].reshape(1, -1) if nodes[-1].ndim else nodes[-1].reshape(1, 1)
    mixed = (square.sum(axis=1, keepdims=True) @ weight).tanh()
    loss = sum(n.sum() for n in nodes[len(leaves):]) + mixed.sum()
    return loss, nodes[-1]


recipes = st.lists(st.one_of(
    st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), st.integers(0, 20), st.integers(0, 20))),
    min_size=1, max_size=10)


@settings(max_examples=40, deadline=None)
@given(recipe=recipes, shapes=st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_random_graphs_match_eager(recipe, shapes, seed):
    rng = np.random.default_rng(seed)
    weight = Tensor(rng.standard_normal((1, 3)), requires_grad=True)
    fast = tl.compile(lambda *leaves: run_recipe(recipe, leaves, weight))
    for _ in range(3):
        values = [rng.standard_normal(s) for s in shapes]
        eager_leaves = [Tensor(v, requires_grad=True) for v in values]
        fast_leaves = [Tensor(v, requires_grad=True) for v in values]
        eager_loss, eager_last = run_recipe(recipe, eager_leaves, weight)
        eager_loss.backward()
        eager_wgrad, weight.grad = weight.grad.data.copy(), None
        loss, last = fast(*fast_leaves)
        loss.backward()
        assert relative(loss.data, eager_loss.data) <= 1e-12
        assert relative(last.data, eager_last.data) <= 1e-12
        for e, f in zip(eager_leaves, fast_leaves):
            assert (e.grad is None) == (f.grad is None)
            if e.grad is not None:
                assert relative(f.grad.data, e.grad.data) <= 1e-12
        assert relative(weight.grad.data, eager_wgrad) <= 1e-12
        weight.grad = None
        with tl.no_grad():  # an optimiser step on the external: the replay must read it anew
            weight.data = weight.data - 0.1
    assert fast.recordings == 1


def train_and_compare(make, x_shape, steps=3, state=False):
    eager_model, fast_model = make(), make()
    fast_model.load_state_dict(eager_model.state_dict())
    fast = tl.compile(fast_model)
    eager_opt = nn.optim.SGD(eager_model.parameters(), lr=0.05)
    fast_opt = nn.optim.SGD(fast_model.parameters(), lr=0.05)
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(steps):
        x = rng.standard_normal(x_shape)
        eager_out, _ = eager_model(Tensor(x))
        out, _ = fast(Tensor(x))
        worst = max(worst, relative(out.data, eager_out.data))
        (eager_out.tanh().sum()).backward()
        (out.tanh().sum()).backward()
        for (_, e), f in zip(eager_model.named_parameters(), fast_model.parameters()):
            worst = max(worst, relative(f.grad.data, e.grad.data))
        eager_opt.step()
        fast_opt.step()
        eager_opt.zero_grad()
        fast_opt.zero_grad()
    assert fast.recordings == 1
    return worst


@pytest.mark.parametrize("layer, kwargs", [
    (nn.LSTM, dict(num_layers=1)), (nn.LSTM, dict(num_layers=2, batch_first=True)),
    (nn.RNN, dict(num_layers=2)), (nn.RNN, dict(nonlinearity="relu")),
    (nn.GRU, dict(num_layers=1)), (nn.GRU, dict(num_layers=2, bias=False))])
def test_recurrent_layers_match_eager_over_sgd_steps(layer, kwargs):
    worst = train_and_compare(lambda: layer(3, 5, dtype=np.float64, **kwargs), (6, 2, 3))
    assert worst <= 1e-12


def test_a_value_read_into_python_warns_once_and_runs_eagerly():
    def step(x):
        y = x * 2
        if float(y.sum()) > 0:  # data-dependent: a replay would bake this branch in
            return y.tanh()
        return -y

    fast = tl.compile(step)
    with pytest.warns(RuntimeWarning, match=r"Tensor.__float__ at .*test_compile.py"):
        fast(Tensor(np.ones(3), requires_grad=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning, not one per call
        out = fast(Tensor(-np.ones(3), requires_grad=True))
    np.testing.assert_array_equal(out.data, 2 * np.ones(3))  # the other branch: eager ran


def test_a_comparison_inside_marks_the_trace_data_dependent():
    fast = tl.compile(lambda x: tl.where(x > 0, x, x * 0.1))
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        fast(Tensor(np.ones(3), requires_grad=True))
    out = fast(Tensor(-np.ones(3), requires_grad=True))
    np.testing.assert_allclose(out.data, -0.1 * np.ones(3))


def test_detach_inside_is_replayed():
    def step(x):
        h = (x * 2).tanh()
        return (h.detach() * x).sum()

    fast = tl.compile(step)
    for v in (1.0, -0.5, 2.0):
        e, f = Tensor(np.full(3, v), requires_grad=True), Tensor(np.full(3, v), requires_grad=True)
        step(e).backward()
        fast(f).backward()
        assert relative(f.grad.data, e.grad.data) <= 1e-12
    assert fast.recordings == 1


def test_anomaly_mode_create_graph_and_hooks_raise_clearly():
    fast = tl.compile(lambda x: (x * x).sum())
    x = Tensor(np.ones(3), requires_grad=True)
    fast(x)
    with tl.detect_anomaly(), pytest.raises(CompileError, match="uncompiled function"):
        fast(x)
    loss = fast(x)
    with pytest.raises(CompileError, match="create_graph"):
        loss.backward(create_graph=True)

    def hooked(x):
        y = x * 2
        y.retain_grad()
        return y.sum()
    with pytest.raises(CompileError, match="retain_grad"):
        tl.compile(hooked)(Tensor(np.ones(3), requires_grad=True))

    def inner_backward(x):
        loss = (x * 2).sum()
        loss.backward()
        return loss
    with pytest.raises(CompileError, match="backward"):
        tl.compile(inner_backward)(Tensor(np.ones(3), requires_grad=True))


def test_outputs_of_a_replay_are_not_overwritten_by_the_next_call():
    fast = tl.compile(lambda x: x.tanh() * 3)
    fast(Tensor(np.ones(2)))
    first = fast(Tensor(np.full(2, 0.5)))
    kept = first.data.copy()
    fast(Tensor(np.full(2, -2.0)))
    np.testing.assert_array_equal(first.data, kept)


def test_the_cache_is_bounded_and_keyed_by_signature():
    fast = tl.compile(lambda x, k: (x * k).sum(), cache_size=3)
    for n in range(1, 6):
        assert float(fast(Tensor(np.ones(n)), 2.0)) == 2.0 * n
    assert len(fast.cache) == 3
    assert fast.recordings == 5
    fast(Tensor(np.ones(5)), 2.0)  # still cached: replayed
    assert fast.recordings == 5
    assert float(fast(Tensor(np.ones(5)), 3.0)) == 15.0  # a new non-tensor value: a new recording
    assert fast.recordings == 6


def test_grad_mode_and_training_are_part_of_the_signature():
    model = nn.GRU(2, 3, dtype=np.float64)
    fast = tl.compile(model)
    x = Tensor(np.ones((2, 1, 2)))
    fast(x)
    with tl.no_grad():
        out, _ = fast(x)
    assert out.grad_fn is None
    model.eval()
    fast(x)
    assert fast.recordings == 3


def test_a_layers_trace_after_a_compiled_call_raises():
    lstm = nn.LSTM(2, 3, dtype=np.float64)
    fast = tl.compile(lstm)
    fast(Tensor(np.ones((2, 1, 2))))
    with pytest.raises(CompileError, match="trace"):
        _ = lstm.trace.h
    lstm(Tensor(np.ones((2, 1, 2))))  # the uncompiled layer makes a fresh trace
    assert lstm.trace.h[1].shape == (1, 3)


def test_a_model_with_a_stale_trace_can_be_copied_and_pickled():
    import copy
    import pickle
    model = nn.Sequential(nn.LSTM(2, 3, dtype=np.float64))
    fast = tl.compile(model)
    for _ in range(2):
        fast(Tensor(np.ones((2, 1, 2))))
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model)), copy.copy(model)):
        with pytest.raises(CompileError, match="trace"):  # as stale as the original's
            _ = twin[0].trace.h
        twin(Tensor(np.ones((2, 1, 2))))
        assert twin[0].trace.h[1].shape == (1, 3)


def test_a_number_of_another_type_is_another_signature():
    fast = tl.compile(lambda x, k: x * k)
    x = Tensor(np.arange(3))
    assert fast(x, 2).dtype == np.int64
    assert fast(x, 2.0).dtype == np.float64
    assert fast.recordings == 2


def test_a_second_backward_and_a_second_output_recompute_what_the_first_freed():
    eager = nn.LSTM(3, 4, dtype=np.float64)
    model = nn.LSTM(3, 4, dtype=np.float64)
    model.load_state_dict(eager.state_dict())
    fast = tl.compile(model)
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    fast(Tensor(x))  # the recording
    out, (h_n, c_n) = fast(Tensor(x))
    eager_out, (eager_h, eager_c) = eager(Tensor(x))
    program = next(iter(fast.cache.values()))
    assert set(program.batched) and all(len(steps) == 5 for steps in program.batched.values())
    # h_n and c_n are two outputs, two CompiledSteps in one backward: the second recomputes too
    for loss, eager_loss in ((out.sum(), eager_out.sum()), ((h_n * c_n).sum(), (eager_h * eager_c).sum())):
        loss.backward(retain_graph=True)  # the first takes the replay's nodes and frees them
        loss.backward()  # the second recomputes them from the arrays the replay read
        eager_loss.backward(retain_graph=True)  # eager shares one graph: keep it for the second loss
        eager_loss.backward(retain_graph=True)
    for e, f in zip(eager.parameters(), model.parameters()):
        assert relative(f.grad.data, e.grad.data) <= 1e-12


def test_a_tensor_copied_inside_marks_the_trace_data_dependent():
    fast = tl.compile(lambda x: Tensor(x) * 2)  # the copy would keep the recorded values
    with pytest.warns(RuntimeWarning, match="Tensor\\(tensor\\)"):
        fast(Tensor(np.ones(3)))
    np.testing.assert_array_equal(fast(Tensor(np.full(3, 5.0))).data, np.full(3, 10.0))
    assert Tensor.__init__.__name__ == "__init__"  # the recording put the constructor back


@pytest.mark.parametrize("layer", [nn.LSTM, nn.GRU, nn.RNN])
def test_a_program_generated_in_many_pieces_matches_eager(layer, monkeypatch):
    monkeypatch.setattr(replay, "_CHUNK", 3)  # every value crosses between pieces somewhere
    worst = train_and_compare(lambda: layer(3, 5, num_layers=2, dtype=np.float64), (6, 2, 3))
    assert worst <= 1e-12


class TokenClassifier(nn.Module):
    """Embedding -> LSTM -> Linear on the last step, trained with cross_entropy: both index by data."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4, dtype=np.float64, rng=0)
        self.lstm = nn.LSTM(4, 5, dtype=np.float64, rng=1)
        self.head = nn.Linear(5, 3, dtype=np.float64, rng=2)

    def forward(self, tokens, classes):
        out, _ = self.lstm(self.embed(tokens))
        return nn.functional.cross_entropy(self.head(out[-1]), classes)


def test_embedding_and_cross_entropy_replay_with_each_batchs_indices():
    eager, fast_model = TokenClassifier(), TokenClassifier()
    fast = tl.compile(fast_model)
    opts = [nn.optim.Adam(m.parameters(), lr=0.05) for m in (eager, fast_model)]
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading the indices' values would warn and run eagerly
        for _ in range(4):
            tokens, classes = Tensor(rng.integers(0, 7, (6, 2))), Tensor(rng.integers(0, 3, 2))
            losses = [eager(tokens, classes), fast(tokens, classes)]
            assert relative(losses[1].data, losses[0].data) <= 1e-12
            for loss in losses:
                loss.backward()
            for (_, e), f in zip(eager.named_parameters(), fast_model.parameters()):
                assert relative(f.grad.data, e.grad.data) <= 1e-12
            for opt in opts:
                opt.step()
                opt.zero_grad()
    assert fast.recordings == 1
    with pytest.raises(IndexError, match=r"Embedding\(7, 4\).*\[0, 7\).*7"):  # bounds checked at replay
        fast(Tensor(np.full((6, 2), 7)), Tensor(np.zeros(2, np.int64)))
    with pytest.raises(IndexError, match=r"cross_entropy.*\[0, 3\)"):
        fast(Tensor(np.zeros((6, 2), np.int64)), Tensor(np.array([0, 3])))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), index_shape=st.sampled_from([(), (1,), (4,), (2, 3)]), seed=st.integers(0, 2**16))
def test_indexing_by_a_tensor_replays_with_each_calls_values(n, index_shape, seed):
    rng = np.random.default_rng(seed)
    weight = Tensor(rng.standard_normal((n, 3)), requires_grad=True)
    def f(x, index, classes):
        rows = (x[index] * weight[index]).tanh()  # repeats add their gradients
        picked = nn.functional.cross_entropy(rows.reshape(-1, 3), classes, reduction="sum")
        return picked + rows.sum()
    fast = tl.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a value read into Python would warn and run eagerly
        for _ in range(3):
            x = rng.standard_normal((n, 3))
            index = rng.integers(-n, n, index_shape)
            classes = rng.integers(0, 3, int(np.prod(index_shape, dtype=int)))
            grads = []
            for g in (f, fast):
                leaf = Tensor(x, requires_grad=True)
                loss = g(leaf, Tensor(index), Tensor(classes))
                loss.backward()
                grads.append((loss.data, leaf.grad.data, weight.grad.data.copy()))
                weight.grad = None
            for e, c in zip(*grads):
                assert relative(c, e) <= 1e-12
    assert fast.recordings == 1


@settings(max_examples=30, deadline=None)
@given(pieces=st.integers(2, 4), axis=st.integers(0, 1), by_int=st.booleans(),
       used=st.lists(st.booleans(), min_size=4, max_size=4), twice=st.booleans(), seed=st.integers(0, 2**16))
def test_slices_that_tile_a_tensor_join_their_gradients_as_eager_adds_them(pieces, axis, by_int, used, twice, seed):
    # The replay joins the pieces' gradients instead of adding them into zeros: with every piece
    # used (its written-in concatenate) and with some unused (zeros in their place).
    rng = np.random.default_rng(seed)
    width = 1 if by_int else 2
    shape = (pieces * width, 3) if axis == 0 else (3, pieces * width)
    def f(x):
        y = x.tanh()  # an intermediate, so its gradient is joined inside the program
        cut = [y[i] if axis == 0 else y[:, i] for i in range(pieces)] if by_int else \
              [y[2 * i:2 * i + 2] if axis == 0 else y[:, 2 * i:2 * i + 2] for i in range(pieces)]
        loss = (y * 0.5).sum() if twice else 0.0  # a second path into y: the joined gradient is added
        for i, piece in enumerate(cut):
            if used[i]:
                loss = loss + (piece.sigmoid() * (i + 1)).sum()
        return loss + 0.0 * x.sum()
    fast = tl.compile(f)
    for _ in range(2):
        x = rng.standard_normal(shape)
        grads = []
        for g in (f, fast):
            leaf = Tensor(x, requires_grad=True)
            loss = g(leaf)
            loss.backward()
            grads.append((loss.data, leaf.grad.data))
        for e, c in zip(*grads):
            assert relative(c, e) <= 1e-12
    assert fast.recordings == 1


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(["transposed", "input", "strided"]), uses=st.integers(2, 4), lead=st.sampled_from([(), (2,)]),
       also_summed=st.booleans(), seed=st.integers(0, 2**16))
def test_a_matrix_many_matmuls_multiply_by_is_copied_and_gradients_stay_eagers(kind, uses, lead, also_summed, seed):
    # The replay multiplies by a contiguous copy of a right operand that several matmuls share
    # (W.T of a recurrent layer, an input, a strided slice), while the nodes keep the original.
    rng = np.random.default_rng(seed)
    weight = Tensor(rng.standard_normal((3, 3)), requires_grad=True)

    def f(h, w_in):
        w = {"transposed": weight.T, "input": w_in, "strided": w_in[:, ::2]}[kind]
        loss = 0.0
        for _ in range(uses):
            h = (h @ w).tanh()
            loss = loss + (h * h).sum()
        return loss + (w.sum() if also_summed else 0.0)
    fast = tl.compile(f)
    w_shape = (3, 6) if kind == "strided" else (3, 3)
    for _ in range(3):
        h, w_in = rng.standard_normal((*lead, 2, 3)), rng.standard_normal(w_shape)
        results = []
        for g in (f, fast):
            leaves = Tensor(h, requires_grad=True), Tensor(w_in, requires_grad=True)
            loss = g(*leaves)
            loss.backward()
            results.append([loss.data, *(getattr(t.grad, "data", 0.0) for t in (*leaves, weight))])
            weight.grad = None
        for e, c in zip(*results):
            assert relative(c, e) <= 1e-12
        with tl.no_grad():  # an optimiser step: the copy is made anew at every replay
            weight.data = weight.data * 0.9
    (program,) = fast.cache.values()
    assert len(program.copies) == 1


def test_a_replay_pauses_the_cycle_collector_and_restores_it():
    import gc

    lstm = nn.LSTM(3, 4)
    fast = tl.compile(lambda x: lstm(x)[0].sum())
    x = Tensor(np.ones((200, 2, 3)))
    fast(x).backward()  # the recording, eager
    fast(x).backward()  # the first replay, which generates the code
    started = []
    gc.collect()
    gc.callbacks.append(lambda phase, info: started.append(phase) if phase == "start" else None)
    try:
        fast(x).backward()  # 3,200 nodes: four collections or more if the collector ran
    finally:
        gc.callbacks.pop()
    assert len(started) <= 1  # one may start once the forward is done and its nodes are alive
    assert gc.isenabled()
    gc.disable()
    try:
        fast(x).backward()
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
