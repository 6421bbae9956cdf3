"""nn: layers, losses, optimisers and weight files on top of tinygrad_lite, with PyTorch's names.

    import nn
    nn.manual_seed(0)
    lstm = nn.LSTM(4, 32, num_layers=2, batch_first=True, forget_bias=1.0)
    head = nn.Linear(32, 1)
    opt = nn.optim.Adam([*lstm.parameters(), *head.parameters()], lr=3e-3)
    out, (h_n, c_n) = lstm(x)                 # x: (B, T, 4)
    loss = nn.functional.mse_loss(head(h_n[-1]), y)
    opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(lstm.parameters(), 1.0); opt.step()
    lstm.trace.C[t], lstm.trace.h[t], lstm.trace.f[t]  # every step's tensors (see nn.recurrent)
    nn.save(lstm, "lstm.npz"); lstm.load_state_dict(nn.load("lstm.npz"))

Every layer takes ``dtype=`` (default float32) and ``rng=`` (a numpy Generator or a seed; the
default generator is seeded by ``nn.manual_seed``).
"""

from . import functional, optim, utils
from ._rng import manual_seed
from .flow import FlowResult, JacobianNorms, gradient_flow, jacobian_norms
from .layers import Embedding, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import LoadResult, Module, ModuleList, Parameter, Sequential, StateDictError
from .recurrent import GRU, LSTM, RNN, GRUCell, GRUTrace, LSTMCell, LSTMTrace, RNNCell, RNNTrace, Trace
from .serialization import SerializationError, load, save

__all__ = ["functional", "optim", "utils", "manual_seed", "Embedding", "Linear", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "MSELoss", "LoadResult", "Module", "ModuleList", "Parameter", "Sequential",
           "StateDictError", "LSTM", "RNN", "GRU", "LSTMCell", "LSTMTrace", "RNNCell", "RNNTrace", "GRUCell",
           "GRUTrace", "Trace", "SerializationError", "load", "save", "FlowResult", "gradient_flow",
           "JacobianNorms", "jacobian_norms"]
