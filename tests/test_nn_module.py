"""Module: registration, names, modes, dtype, repr, state_dict and the all-or-nothing load."""

import numpy as np
import pytest

import nn
import tinygrad_lite as tl
from tinygrad_lite import Tensor


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3, rng=0)
        self.lstm = nn.LSTM(3, 4, rng=1)
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.heads = nn.ModuleList([nn.Linear(4, 2, rng=2), nn.Linear(4, 1, bias=False, rng=3)])
        self.not_a_parameter = Tensor(np.ones(2), requires_grad=True)


# as PyTorch: a module's own parameters first, then each sub-module's, in assignment order
NET_NAMES = ["scale", "embed.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
             "heads.0.weight", "heads.0.bias", "heads.1.weight"]


def test_registration_order_and_dotted_names():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == NET_NAMES
    assert list(net.state_dict()) == NET_NAMES
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Embedding", "LSTM", "ModuleList", "Linear", "Linear"]
    assert len(net.heads) == 2 and net.heads[1].bias is None


def test_shared_parameter_is_listed_once_and_reassignment_rules():
    a, b = nn.Linear(2, 2, rng=0), nn.Linear(2, 2, rng=1)
    b.weight = a.weight  # tied weights
    model = nn.Sequential(a, b)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    a.bias = None
    assert [n for n, _ in a.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="Linear.weight is a parameter"):
        a.weight = Tensor(np.ones((2, 2)))
    del b.bias
    assert [n for n, _ in model.named_parameters()] == ["0.weight"]


def test_sequential_and_call():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=1))
    x = np.ones((5, 3), np.float32)
    y = model(x)
    np.testing.assert_allclose(y.data, model[1](model[0](x)).data)
    assert y.shape == (5, 2) and y.dtype == np.float32


def test_zero_grad_train_eval():
    net = Net()
    out, _ = net.lstm(net.embed(np.array([[1, 2], [3, 4]])))
    out.sum().backward()
    assert net.lstm.weight_hh_l0.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.eval() is net and not any(m.training for m in net.modules())
    assert all(m.training for m in net.train().modules())


def test_to_double_and_float_keep_the_parameter_objects():
    net = Net()
    params = list(net.parameters())
    net.lstm(np.ones((2, 1, 3), np.float32))[0].sum().backward()
    net.double()
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.lstm.weight_ih_l0.grad.dtype == np.float64
    with tl.no_grad():  # a live graph would forbid the cast below (see the next test)
        out, (h, c) = net.lstm(np.ones((2, 1, 3)))
    assert out.dtype == h.dtype == c.dtype == np.float64
    assert all(p.dtype == np.float32 for p in net.float().parameters())
    with pytest.raises(TypeError, match="float"):
        net.to(np.int32)


def test_casting_parameters_while_a_graph_uses_them_is_a_clear_error():
    lstm = nn.LSTM(3, 4)
    out, _ = lstm(np.ones((2, 1, 3), np.float32))
    with pytest.raises(RuntimeError, match=r"Tensor.data: tensor of shape \(16, 3\).*used by a graph"):
        lstm.double()
    out.sum().backward()  # the graph is gone: now the cast is fine
    assert lstm.double().weight_ih_l0.dtype == np.float64


def test_repr_reads_like_pytorch():
    text = repr(Net())
    assert "(lstm): LSTM(3, 4)" in text
    assert "(0): Linear(in_features=4, out_features=2, bias=True)" in text
    assert "(embed): Embedding(5, 3)" in text
    assert repr(nn.RNN(2, 3, num_layers=2, nonlinearity="relu", batch_first=True)) == \
        "RNN(2, 3, num_layers=2, batch_first=True, nonlinearity='relu')"
    assert repr(nn.Parameter([1.0])).startswith("Parameter(")


def test_state_dict_is_a_copy():
    net = Net()
    state = net.state_dict()
    state["scale"][0] = 42.0
    assert net.scale.data[0] == 1.0


def test_load_state_dict_takes_arrays_and_tensors_into_the_parameter_dtype():
    net, other = Net(), Net().double()
    state = {k: (Tensor(v) if i % 2 else v) for i, (k, v) in enumerate(other.state_dict().items())}
    result = net.load_state_dict(state)
    assert result == nn.LoadResult([], [])
    for (name, p), q in zip(net.named_parameters(), other.parameters()):
        assert p.dtype == np.float32, name
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, err_msg=name)


def test_failed_load_names_every_bad_key_and_changes_nothing():
    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    ids = [id(p.data) for p in net.parameters()]
    state = {k: v + 1 for k, v in net.state_dict().items()}
    del state["lstm.bias_hh_l0"]  # missing
    state["lstm.weight_ih_l1"] = np.zeros((16, 4), np.float32)  # unexpected
    state["heads.0.weight"] = np.zeros((2, 5), np.float32)  # wrong shape
    state["scale"] = np.ones(1, np.int64)  # not float
    with pytest.raises(nn.StateDictError) as err:
        net.load_state_dict(state)
    message = str(err.value)
    for key in ["lstm.bias_hh_l0", "lstm.weight_ih_l1", "heads.0.weight", "scale"]:
        assert repr(key) in message
    assert "(2, 5)" in message and "(2, 4)" in message and "int64" in message
    assert [id(p.data) for p in net.parameters()] == ids
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_load_reports_missing_and_unexpected_but_still_checks_shapes():
    lin = nn.Linear(2, 3, rng=0)
    result = lin.load_state_dict({"weight": np.zeros((3, 2)), "extra": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(lin.weight.data, 0)
    with pytest.raises(nn.StateDictError, match="'weight'"):
        lin.load_state_dict({"weight": np.zeros((2, 3))}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        lin.load_state_dict([np.zeros((3, 2))])


def test_load_works_while_a_graph_holds_the_parameters():
    lin = nn.Linear(2, 1, rng=0)
    y = lin(np.ones((1, 2), np.float32))  # the graph makes the weight array read-only
    lin.load_state_dict({"weight": np.full((1, 2), 2.0), "bias": np.zeros(1)})
    assert lin(np.ones((1, 2), np.float32)).item() == 4.0
    y.backward()  # the old graph still backpropagates with the arrays it saw
    np.testing.assert_array_equal(lin.weight.grad.data, [[1.0, 1.0]])


def test_subclass_must_call_init_first():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()
