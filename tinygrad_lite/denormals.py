"""set_flush_denormal: flush subnormal floats to zero, as ``torch.set_flush_denormal``.

A vanishing gradient does not stop at float32's smallest normal number (1.2e-38): it goes on
into the subnormals, and x86 processors compute with subnormal operands through a slow path,
50 to 100 times slower. A tanh RNN trained on a long sequence is the case: its gradients a
hundred steps back are subnormal, and then a (64, 32) @ (32, 32) product in backward takes
160 µs instead of 2 µs; such products were most of the time of the showcase's RNN jobs. The
numbers they carry are below any rounding of what they are added to.

The processor has a switch for this, in the MXCSR register: FTZ (results that would be
subnormal are 0) and DAZ (subnormal inputs are read as 0). numpy does not expose it; glibc's
``fegetenv``/``fesetenv`` carry MXCSR inside ``fenv_t``, which is how this sets it. It applies
to the calling thread only: numpy's elementwise ops and small matrix products run there, BLAS
worker threads of large products keep their own setting.
"""

import ctypes
import ctypes.util
import functools
import platform
import sys

__all__ = ["set_flush_denormal"]

_FTZ, _DAZ = 1 << 15, 1 << 6  # MXCSR's flush-to-zero and denormals-are-zero bits
_MXCSR_WORD = 7  # glibc's x86-64 fenv_t: 28 bytes of x87 environment, then the 32-bit MXCSR


def _libm():
    """glibc's libm on x86-64 Linux, the one layout of fenv_t this knows; None elsewhere."""
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return None
    return _glibc_libm()


@functools.cache
def _glibc_libm():
    """Found and loaded once: find_library and libc_ver read files (1.1 ms a call)."""
    name = ctypes.util.find_library("m")
    if name is None or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(name)


def set_flush_denormal(mode):
    """Flush subnormal floats to zero (``mode=True``) or compute with them exactly (``False``,
    the default) in the calling thread. Returns True when the processor and C library allow it
    (x86-64 Linux with glibc), False otherwise (then nothing changes), as PyTorch's does."""
    libm = _libm()
    if libm is None:
        return False
    env = (ctypes.c_uint32 * 8)()  # sizeof(fenv_t) is 32 on x86-64
    if libm.fegetenv(env) != 0:
        return False
    env[_MXCSR_WORD] = env[_MXCSR_WORD] | _FTZ | _DAZ if mode else env[_MXCSR_WORD] & ~(_FTZ | _DAZ)
    return libm.fesetenv(env) == 0
