#!/usr/bin/env bash
# Make sure the Graphviz `dot` program is on PATH: the python package `graphviz` only calls it.
set -euo pipefail
command -v dot >/dev/null 2>&1 && exit 0

echo "Graphviz 'dot' is missing; installing it." >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q graphviz >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q graphviz >/dev/null; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get install -y -q graphviz >/dev/null 2>&1 || { sudo apt-get update -q >/dev/null && sudo apt-get install -y -q graphviz >/dev/null; }
elif command -v brew >/dev/null 2>&1; then
    brew install graphviz
else
    cat >&2 <<'MSG'
Cannot install Graphviz without root. Ask for it, or install it in user space, then rerun:
  Debian/Ubuntu (as root):  apt-get install graphviz
  macOS:                    brew install graphviz
  conda (no root needed):   conda install -c conda-forge graphviz
MSG
    exit 1
fi
command -v dot >/dev/null 2>&1 && echo "Graphviz installed: $(dot -V 2>&1)" >&2
