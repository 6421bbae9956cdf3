"""RNN versus LSTM (and GRU): why the LSTM remembers. Trains them, measures, and writes a report.

    python examples/showcase.py                  # the default run, about two minutes on 2 idle cores
    python examples/showcase.py --quick          # a smoke run of the whole pipeline, seconds
    python examples/showcase.py --full           # longer sequences, more steps and seeds (an hour or more)
    python examples/showcase.py --out docs/report --seed 0 --jobs 2

It writes into the output folder (default out/showcase/): report.md with the tables and the
story, the pictures it links (PNG plots, SVG graphs) and results.json with every number.
Nothing in the report is typed by hand: each number, and each sentence that states a result,
comes from this run. Without the Graphviz program ``dot`` the report has every table and plot,
the graphs' DOT text instead of their pictures, and says how to install Graphviz.

The parts:
1. gradient flow: ||dL/dC_t|| (LSTM) and ||dL/dh_t|| (RNN, GRU) at every step of a 100-step
   sequence, measured on the real graph by nn.flow.gradient_flow, at initialisation and after training;
2. Jacobians through time (nn.flow.jacobian_norms) against the RNN's bounds and the LSTM's prod f;
3. the long-gap token task ("blue the sky is ... ? -> blue") at several gaps;
4. gate activity of the LSTM trained on it: which units keep the key, and what their gates do;
5. the adding problem at several lengths T;
6. exploding gradients: an RNN with W_hh scaled above spectral radius 1, with and without clipping;
7. a random-search baseline: guessing the same LSTM's weights;
and the time each part took. The training runs and searches are independent jobs, spread over
``--jobs`` worker processes. The code is the package examples/lstm_showcase/; this file is its command.
"""

import os
import pathlib
import sys

# Tiny matmuls run slower on two BLAS threads than on one (and the workers already use the
# cores): pin one thread per process before numpy loads. An explicit setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[1:1] = [str(ROOT)]  # run from a fresh clone without installing; examples/ is sys.path[0]

from lstm_showcase.main import main  # noqa: E402

if __name__ == "__main__":
    main()
