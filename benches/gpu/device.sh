#!/usr/bin/env bash
# On the GPU host, from the repository root, with .devcarry/ from benches/gpu/prepare.sh:
#   bash benches/gpu/device.sh [PAPERS] [BUDGET_S]
# Unpacks the binary and the pack, then runs benches/gpu/run.sh; its log goes to $OUT/run.log
# (the device tool brings $OUT back) and stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$PWD/benches/gpu/results/latest}
mkdir -p "$out"
bin=/tmp/papermap-gpu
mkdir -p "$bin"
python3 - .devcarry "$bin" <<'PY'
import lzma, shutil, sys, os
for name in ("papermap-cuda", "pack.bin", "large_index"):
    if not os.path.exists(f"{sys.argv[1]}/{name}.xz"):
        continue
    with lzma.open(f"{sys.argv[1]}/{name}.xz") as src, open(f"{sys.argv[2]}/{name}", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
for name in ("papermap-cuda", "large_index"):
    if os.path.exists(f"{sys.argv[2]}/{name}"):
        os.chmod(f"{sys.argv[2]}/{name}", 0o755)
PY
[[ -x $bin/large_index ]] && export SYNTH_BIN=$bin/large_index
bash benches/gpu/run.sh "$bin/papermap-cuda" "$bin/pack.bin" .devcarry/archive .devcarry/seeds.json \
  "$out" "${1:-1000000}" "${2:-480}" 2>&1 | tee "$out/run.log"
