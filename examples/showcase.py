"""Provisional showcase (replaced by the RNN-versus-LSTM report): gradients through a tanh chain."""

import numpy as np

from tinygrad_lite import Tensor, gradcheck


def main():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((8, 8)) / np.sqrt(8), requires_grad=True)
    h = Tensor(rng.standard_normal((1, 8)), requires_grad=True)
    states = [h]
    for _ in range(50):
        states.append((states[-1] @ w).tanh())
        states[-1].retain_grad()
    states[-1].sum().backward()
    for t in (50, 40, 30, 20, 10, 1):
        print(f"||dL/dh_{t}|| = {np.linalg.norm(states[t].grad.numpy()):.3e}")
    print("gradcheck:", gradcheck(lambda x: (x @ w.detach()).tanh(), [Tensor(rng.standard_normal((2, 8)), requires_grad=True)]))


if __name__ == "__main__":
    main()
