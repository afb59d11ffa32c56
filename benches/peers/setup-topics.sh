#!/usr/bin/env bash
# Creates the venv of the topic benchmarks, cached outside the checkout: BERTopic 0.17 with
# kiwipiepy (a Korean tokenizer, with its model package) for benches/peers/topics_vs_bertopic.py,
# and scikit-learn for the map's trustworthiness (benches/peers/map_trustworthiness.py).
# Prints the venv's python.
set -euo pipefail
cache=${PAPERMAP_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/papermap}
venv=$cache/venv-topics
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "bertopic==0.17.*" kiwipiepy kiwipiepy-model scikit-learn numpy >&2
echo "$venv/bin/python"
