"""set_flush_denormal: subnormal floats become 0 while it is on, and stay exact once it is off."""

import platform
import sys

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor

SMALLEST_NORMAL = np.finfo(np.float32).tiny
SUPPORTED = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


@pytest.fixture
def restored():
    yield
    tl.set_flush_denormal(False)


def _subnormal_square():
    x = np.array([1e-20, 3.0], np.float32)
    return x * x  # 1e-40 is subnormal in float32


@pytest.mark.skipif(not SUPPORTED, reason="flushing is implemented for x86-64 Linux with glibc")
def test_flushing_turns_subnormal_results_and_inputs_into_zero_and_back(restored):
    assert 0 < _subnormal_square()[0] < SMALLEST_NORMAL  # exact by default
    assert tl.set_flush_denormal(True) is True
    assert _subnormal_square()[0] == 0  # a subnormal result is flushed (FTZ)
    subnormal = np.frombuffer(np.uint32(1).tobytes(), np.float32)  # the smallest one, made bitwise
    assert (subnormal * np.float32(1e30))[0] == 0  # a subnormal input reads as zero (DAZ)
    assert _subnormal_square()[1] == 9.0  # normal numbers are untouched
    assert tl.set_flush_denormal(False) is True
    assert 0 < _subnormal_square()[0] < SMALLEST_NORMAL
    assert (subnormal * np.float32(1e30))[0] > 0


def _vanishing_gradient():
    """d y / d x for y = x * 1e-3 * ... (14 factors): 1e-42, subnormal in float32."""
    x = Tensor(np.array([1.0], np.float32), requires_grad=True)
    y = x
    for _ in range(14):
        y = y * Tensor(np.array([1e-3], np.float32))
    y.sum().backward()
    return x.grad.data[0]


@pytest.mark.skipif(not SUPPORTED, reason="flushing is implemented for x86-64 Linux with glibc")
def test_a_vanishing_gradient_reaches_zero_instead_of_the_subnormals(restored):
    assert 0 < _vanishing_gradient() < SMALLEST_NORMAL
    tl.set_flush_denormal(True)
    assert _vanishing_gradient() == 0


def test_unsupported_platforms_say_so_and_change_nothing(monkeypatch):
    from tinygrad_lite import denormals
    monkeypatch.setattr(denormals.platform, "machine", lambda: "riscv64")
    assert tl.set_flush_denormal(True) is False
    assert 0 < _subnormal_square()[0] < SMALLEST_NORMAL
