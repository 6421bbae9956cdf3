"""A state machine that grows random graphs, with reused nodes and diamonds, and checks backward
(and compile's replay against eager on the same graphs).

Every node is stored twice: as the live tensor and as a recipe (op and parent indices), so the
same function of the leaves can be re-evaluated on perturbed leaves for finite differences.
Shapes come from a family that broadcasts with itself: (2, 3), (1, 3), (2, 1), (3,), ().
"""

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import tinygrad_lite as tl
from tinygrad_lite import Tensor, gradcheck
from tinygrad_lite.gradcheck import _numerical  # the finite differences gradcheck uses
from tinygrad_lite.testing import arrays, floats

SHAPES = [(2, 3), (1, 3), (2, 1), (3,), ()]

UNARY = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "neg": lambda x: -x,
    "half": lambda x: x * 0.5,
    "softmax": lambda x: x.softmax(-1) if x.ndim else x,
    "sum0": lambda x: x.sum(axis=0, keepdims=True) if x.ndim == 2 else x.sum(),
    "mean": lambda x: x.mean(),
    "row": lambda x: x[0:1] if x.ndim == 2 else x,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
}


class RandomGraphs(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.leaves = []  # float64 Tensors that require grad
        self.recipes = []  # ("leaf", i) or (op name, parent node indices)
        self.nodes = []  # the live tensors, one per recipe

    def _add(self, recipe, tensor):
        self.recipes.append(recipe)
        self.nodes.append(tensor)

    @initialize(values=arrays(st.sampled_from(SHAPES), values=floats(-2, 2)))
    def first_leaf(self, values):
        self.new_leaf(values)

    @precondition(lambda self: len(self.leaves) < 4)
    @rule(values=arrays(st.sampled_from(SHAPES), values=floats(-2, 2)))
    def new_leaf(self, values):
        self.leaves.append(Tensor(values, requires_grad=True))
        self._add(("leaf", len(self.leaves) - 1), self.leaves[-1])

    @precondition(lambda self: len(self.nodes) < 14)
    @rule(op=st.sampled_from(sorted(UNARY)), data=st.data())
    def unary(self, op, data):
        i = data.draw(st.integers(0, len(self.nodes) - 1))
        self._add((op, (i,)), UNARY[op](self.nodes[i]))

    @precondition(lambda self: len(self.nodes) < 14)
    @rule(op=st.sampled_from(sorted(BINARY)), data=st.data())
    def binary(self, op, data):
        # the same index twice is allowed: x * x, and diamonds through shared ancestors
        i, j = (data.draw(st.integers(0, len(self.nodes) - 1)) for _ in range(2))
        self._add((op, (i, j)), BINARY[op](self.nodes[i], self.nodes[j]))

    def evaluate(self, leaves, upto):
        """Rebuild nodes 0..upto from the recipes on the given leaves."""
        values = []
        for kind, args in self.recipes[: upto + 1]:
            if kind == "leaf":
                values.append(leaves[args])
            elif kind in UNARY:
                values.append(UNARY[kind](values[args[0]]))
            else:
                values.append(BINARY[kind](values[args[0]], values[args[1]]))
        return values[upto]

    @rule(data=st.data())
    def backward_on_the_live_graph(self, data):
        """backward(retain_graph=True) on a random node; the leaves' .grad match finite differences."""
        root = data.draw(st.integers(0, len(self.nodes) - 1))
        weights = np.linspace(-1, 1, self.nodes[root].size).reshape(self.nodes[root].shape)
        loss = (self.nodes[root] * weights).sum()
        for leaf in self.leaves:
            leaf.grad = None
        if not loss.requires_grad:
            return
        loss.backward(retain_graph=True)
        expected = self._numerical_gradients(lambda leaves: (self.evaluate(leaves, root) * weights).sum())
        for leaf, numeric in zip(self.leaves, expected):
            analytic = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)

    @rule(data=st.data())
    def gradcheck_a_node(self, data):
        """The full Jacobian of a random node with respect to every leaf."""
        root = data.draw(st.integers(0, len(self.nodes) - 1))
        assert gradcheck(lambda *leaves: self.evaluate(leaves, root), self.leaves)

    @rule(data=st.data())
    def compiled_replay_matches_eager(self, data):
        """A random node's function under compile: recorded on the leaves, replayed on moved ones;
        the replay's value and gradients are eager's on the same moved leaves."""
        root = data.draw(st.integers(0, len(self.nodes) - 1))
        weights = np.linspace(-1, 1, self.nodes[root].size).reshape(self.nodes[root].shape)

        def loss_of(*leaves):
            return (self.evaluate(list(leaves), root) * weights).sum()

        fast = tl.compile(loss_of)
        fast(*self.leaves)  # the recording
        shift = data.draw(floats(-0.5, 0.5))
        moved = [Tensor(leaf.numpy() + shift, requires_grad=True) for leaf in self.leaves]
        eager_moved = [Tensor(leaf.numpy() + shift, requires_grad=True) for leaf in self.leaves]
        replayed, eager = fast(*moved), loss_of(*eager_moved)
        assert fast.recordings == 1
        np.testing.assert_allclose(replayed.numpy(), eager.numpy(), rtol=1e-12, atol=1e-300)
        if eager.requires_grad:
            replayed.backward()
            eager.backward()
            for got, want in zip(moved, eager_moved):
                if want.grad is None:
                    assert got.grad is None
                else:
                    np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-12, atol=1e-15)

    @invariant()
    def live_values_match_the_recipes(self):
        if self.nodes:
            with tl.no_grad():
                rebuilt = self.evaluate(self.leaves, len(self.nodes) - 1)
            np.testing.assert_allclose(rebuilt.numpy(), self.nodes[-1].numpy(), rtol=1e-12)

    def _numerical_gradients(self, scalar_fn, eps=1e-6):
        """Central differences of scalar_fn(leaves) for every leaf: gradcheck's own, one output row."""
        n = len(self.leaves)
        jacobian = _numerical(lambda *leaves: scalar_fn(list(leaves)), self.leaves, range(n), eps, [1])[0]
        return [rows.reshape(leaf.shape) for rows, leaf in zip(jacobian, self.leaves)]

RandomGraphs.TestCase.settings = settings(
    settings.default, max_examples=max(50, settings.default.max_examples), stateful_step_count=20
)
test_random_graphs = RandomGraphs.TestCase
