#!/usr/bin/env bash
# The main job on the shipped sample: provisions the model if needed, then indexes the three
# sample digests into ./papermap-index.
set -euo pipefail
cd "$(dirname "$0")/.."
models/provision.sh
cargo build --release --quiet --bin papermap
bin="${CARGO_TARGET_DIR:-target}/release/papermap"
"$bin" index data/sample --index papermap-index "$@"
