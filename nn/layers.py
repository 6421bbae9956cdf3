"""Linear and Embedding, with PyTorch's parameter names, shapes and initialisation."""

import numpy as np

from tinygrad_lite import ShapeError, Tensor
from tinygrad_lite.surface import index_by, numeric_array

from ._rng import generator, uniform
from .module import Module, Parameter, as_tensor, check_sizes

__all__ = ["Linear", "Embedding"]


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), both U(-1/sqrt(in), 1/sqrt(in)).

    x may have any number of leading axes: (..., in_features) -> (..., out_features).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        rng = generator(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(uniform(rng, bound, (out_features, in_features), dtype))
        self.bias = Parameter(uniform(rng, bound, (out_features,), dtype)) if bias else None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x):
        x = as_tensor(x, self)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(f"{self!r}: expected input of shape (..., {self.in_features}), got {x.shape}")
        lead = x.shape[:-1]
        if len(lead) > 1:  # one 2-D matmul is faster, forward and backward, than a batched one
            x = x.reshape(-1, self.in_features)
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(lead + (self.out_features,)) if len(lead) > 1 else y


class Embedding(Module):
    """A lookup table: ``emb(indices)`` is ``weight[indices]``, weight (num_embeddings, embedding_dim) ~ N(0, 1).

    ``indices`` is an integer array or Tensor of any shape; the result has shape
    ``indices.shape + (embedding_dim,)``. Repeated indices sum their gradients.
    """

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float32, rng=None):
        super().__init__()
        check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(generator(rng).standard_normal((num_embeddings, embedding_dim)).astype(dtype))

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, indices):
        idx = indices if isinstance(indices, Tensor) else Tensor(numeric_array(indices, self))
        if idx.dtype.kind not in "iu":
            raise TypeError(f"{self!r}: indices must be integers, got dtype {idx.dtype} of shape {idx.shape}")
        # an op that reads the indices' values when it runs, bounds [0, n) included: a compiled
        # step replays with every batch's tokens
        return index_by(self.weight, idx, negative=False, what=repr(self))
