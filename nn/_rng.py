"""The random numbers of layer initialisation: one default generator, or one passed per layer."""

import numpy as np

_default = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator that layers use when no ``rng=`` is given (like ``torch.manual_seed``)."""
    global _default
    _default = np.random.default_rng(seed)


def generator(rng=None):
    """A numpy Generator from ``rng``: None (the default generator), a seed, or a Generator."""
    if rng is None:
        return _default
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def uniform(rng, bound, shape, dtype):
    """U(-bound, bound) of ``shape``, drawn in float64 and cast, so the draws do not depend on dtype."""
    return rng.uniform(-bound, bound, shape).astype(dtype)
