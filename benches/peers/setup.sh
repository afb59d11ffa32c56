#!/usr/bin/env bash
# Creates the Python environment the peer benchmarks run in (sentence-transformers, PyTorch CPU,
# scikit-learn), cached outside the checkout.
set -euo pipefail
venv=${PAPERMAP_HOME:-$HOME/.cache/papermap}/venv-bench
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet sentence-transformers scikit-learn numpy
echo "$venv/bin/python"
