#!/usr/bin/env bash
# The main job on the shipped sample: provisions the model if needed, indexes the three sample
# digests into ./papermap-index, computes topics and writes the report into ./report
# (report.html, report.md, map.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
models/provision.sh
cargo build --release --quiet --bin papermap
bin="${CARGO_TARGET_DIR:-target}/release/papermap"
"$bin" index data/sample --index papermap-index "$@"
"$bin" topics --index papermap-index --k auto --k-range 4..10
"$bin" report --index papermap-index --out report
echo "open report/report.html"
