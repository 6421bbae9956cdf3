# The two commands of the README:
#   make showcase   trains RNN and LSTM side by side and writes the report to out/showcase/
#   make test       runs the whole test suite
# Both create .venv (a virtual environment with this project and its dependencies) and install
# the system Graphviz where it is missing. PYTHON picks the interpreter (3.10 or newer).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SHOWCASE_ARGS ?=

.PHONY: showcase test setup graphviz lint bench compare report pictures

showcase: $(VENV)/.installed
	@bash scripts/ensure_graphviz.sh || echo "continuing without Graphviz: the report says how to install it" >&2
	$(PY) examples/showcase.py $(SHOWCASE_ARGS)

test: setup
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(PY) -m pytest -q

setup: $(VENV)/.installed graphviz

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev,examples]"
	touch $@

graphviz:
	@bash scripts/ensure_graphviz.sh

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) benchmarks/run.py

compare: setup  ## eager speed of the work tree (or OTHER=commit) against BASE=commit
	@test -n "$(BASE)" || { echo "usage: make compare BASE=<commit> [OTHER=<commit>] [COMPARE_ARGS='--runs 9']"; exit 2; }
	$(PY) benchmarks/compare.py $(BASE) $(OTHER) $(COMPARE_ARGS)

report: $(VENV)/.installed  ## regenerate the committed report of a default run
	@bash scripts/ensure_graphviz.sh || echo "continuing without Graphviz: the report says how to install it" >&2
	$(PY) examples/showcase.py --out docs/report

pictures: setup  ## redraw the graph pictures in docs/
	$(PY) examples/draw_graph.py docs
