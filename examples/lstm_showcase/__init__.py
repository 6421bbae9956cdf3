"""The RNN-versus-LSTM showcase behind ``python examples/showcase.py``, one role per module.

settings      what a run trains and measures (three sizes) and the names of the models
tasks         the token task and the adding problem, their models and the training loop
jobs          the training runs as jobs on worker processes, and the progress display
results       the jobs' results per task, model and size; results.json
measurements  gradient flow at initialisation and after training; the graphs to draw
graphs        the unrolled graphs as Graphviz pictures (their DOT text when Graphviz is missing)
plots         the PNG plots
report        report.md, one function per section
provenance    the git commit of the code that ran
main          the command line, and the order in which a run does all of the above
"""
