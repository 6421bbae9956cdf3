"""The RNN-versus-LSTM showcase behind ``python examples/showcase.py``, one role per module.

settings          what a run trains and measures (three sizes) and the names of the models
tasks             the token task and the adding problem, their models and the training loop
explode           exploding gradients: an RNN with W_hh scaled above radius 1, trained with and without clipping
random_search     the random-search baseline: guessing every weight of the same LSTM
jobs              the training runs (and the searches) as jobs on worker processes, and the progress display
results           the jobs' results per task, model and size; results.json
measurements      gradient flow at initialisation and after training; the graphs to draw
jacobians         Jacobians through time against their bounds (nn.flow.jacobian_norms)
gates             gate activity of the trained LSTM: the key units, their gates, ablation, heat maps
graphs            the unrolled graphs as Graphviz pictures (their DOT text when Graphviz is missing)
plots             the PNG plots
formatting        how the report writes numbers and tables
report            report.md: the header, the gradient flow, the two tasks and the settings, one function per section
mechanism_report  report.md's sections on the mechanism and the time per part, one function per section
provenance        the git commit of the code that ran
main              the command line, and the order in which a run does all of the above
"""
