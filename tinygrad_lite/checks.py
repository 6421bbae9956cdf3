"""Shape, index and nesting checks in plain Python, made before numpy runs.

Each function answers a question about the arguments (do these shapes broadcast? does this
index fit?) without calling the numpy op it guards, so a misfit becomes the library's own
error naming the op and the shapes, never numpy's message re-raised after the fact. The
callers in ``surface.py`` raise; these return a shape, or a sentence saying what is wrong
(None when nothing is).
"""

import numpy as np

__all__ = ["broadcastable", "broadcast_shape", "reshape_problem", "index_problem", "nested_shape", "is_int"]


def is_int(value):
    """An int or numpy integer, not a bool (numpy refuses True as a size or an axis)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def broadcastable(sa, sb):
    """Do two shapes broadcast together? (numpy's rule; quick for a bias, whose shape is a suffix)"""
    extra = len(sa) - len(sb)
    if (sa[extra:] == sb) if extra >= 0 else (sb[-extra:] == sa):
        return True
    for m, n in zip(sa[::-1], sb[::-1]):
        if m != n and m != 1 and n != 1:
            return False
    return True


def broadcast_shape(*shapes):
    """numpy's broadcast of ``shapes``, or None when they do not broadcast together."""
    out = []
    for i in range(1, max(len(s) for s in shapes) + 1):
        n = 1
        for s in shapes:
            if len(s) >= i and s[-i] != 1:
                if n != 1 and s[-i] != n:
                    return None
                n = s[-i]
        out.append(n)
    return tuple(reversed(out))


def reshape_problem(size, shape):
    """Why ``shape`` (a tuple) cannot hold ``size`` elements, or None if it can."""
    bad = [n for n in shape if not is_int(n)]
    if bad:
        return f"sizes must be ints, got {bad[0]!r}"
    if sum(1 for n in shape if n == -1) > 1:
        return "at most one size may be -1"
    if any(n < -1 for n in shape):
        return "sizes must be >= 0 (or one -1)"
    known = 1
    for n in shape:
        if n != -1:
            known *= int(n)
    if -1 in shape:
        if known == 0 or size % known:
            return f"no size for -1 makes {size} elements"
    elif known != size:
        return f"that holds {known} elements"
    return None


def nested_shape(value):
    """The shape of nested lists/tuples of scalars (or of equal-shape arrays), None if ragged."""
    shape, level = [], [value]
    while isinstance(level[0], (list, tuple)):
        n = len(level[0])
        if any(not isinstance(v, (list, tuple)) or len(v) != n for v in level):
            return None
        shape.append(n)
        level = [item for v in level for item in v]
        if not level:
            return tuple(shape)
    if any(isinstance(v, (list, tuple)) for v in level):
        return None  # lists beside scalars at the same depth
    leaf_shapes = {np.shape(v) for v in level}
    if len(leaf_shapes) != 1:
        return None
    return tuple(shape) + leaf_shapes.pop()


def _slice_problem(s):
    for bound in (s.start, s.stop, s.step):
        if bound is not None and not isinstance(bound, (int, np.integer)):
            return f"slice bounds must be ints or None, got {type(bound).__name__} {bound!r}"
    if s.step == 0:
        return "a slice step cannot be zero"
    return None


def _axes_taken(part):
    """How many of the tensor's axes one part of an index consumes."""
    if part is None or part is Ellipsis or isinstance(part, (bool, np.bool_)):
        return 0
    if isinstance(part, np.ndarray) and part.dtype.kind == "b":
        return part.ndim
    return 1


def index_problem(shape, index):
    """Why ``index`` (ints, slices, None, Ellipsis, bools and int/bool arrays, as numpy takes
    them) does not fit an array of ``shape``, or None if it fits."""
    parts = index if isinstance(index, tuple) else (index,)
    if sum(1 for p in parts if p is Ellipsis) > 1:
        return "an index can hold only one Ellipsis (...)"
    taken = sum(_axes_taken(p) for p in parts)
    if taken > len(shape):
        return f"too many indices: {taken} axes indexed, the tensor has {len(shape)}"
    axis, advanced = 0, []  # advanced: the shapes of the array indices, which broadcast together
    for part in parts:
        if part is None:
            continue
        if isinstance(part, (bool, np.bool_)):  # a new axis of length 1 (True) or 0 (False)
            advanced.append((int(part),))
            continue
        if part is Ellipsis:
            axis += len(shape) - taken
            continue
        if isinstance(part, slice):
            problem = _slice_problem(part)
            if problem:
                return problem
        elif isinstance(part, np.ndarray) and part.dtype.kind == "b":
            covered = shape[axis:axis + part.ndim]
            if part.shape != covered:
                return f"a boolean mask of shape {part.shape} does not match the axes {covered} it covers"
            advanced.append((int(np.count_nonzero(part)),))
            axis += part.ndim
            continue
        elif isinstance(part, np.ndarray):
            n = shape[axis]
            if part.size and (part.min() < -n or part.max() >= n):
                return (f"index values from {part.min()} to {part.max()} do not fit axis {axis} of size {n}")
            advanced.append(part.shape)
        else:
            n = shape[axis]
            if not -n <= part < n:
                return f"index {part} does not fit axis {axis} of size {n}"
        axis += 1
    if len(advanced) > 1 and broadcast_shape(*advanced) is None:
        return f"the index arrays' shapes {advanced} do not broadcast together"
    return None
