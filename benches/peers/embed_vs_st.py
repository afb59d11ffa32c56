#!/usr/bin/env python3
"""papermap vs sentence-transformers: the same texts, the same weights, one run.

Texts are the papers of a digest path as papermap parses them, embedded with the `passage: `
prefix (recipe `summary` by default, the reference recipe). papermap runs through
`papermap embed` (its own timing, model load excluded); sentence-transformers loads the same
model directory (Transformer + mean Pooling + Normalize, exactly the reference pipeline) and
runs `encode(batch_size=32)` on all cores. Both report papers/s and tokens/s; the ratio is the
result, since the machine is shared. The vectors of both are compared too (min cosine).

Usage: benches/peers/embed_vs_st.py [--digests PATH] [--limit N] [--text summary|title+summary]
Needs: a venv with sentence-transformers (benches/peers/setup.sh makes one).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--digests", default=os.path.join(root, "..", "shared", "data", "archive"))
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced sample of N papers (0: all)")
    ap.add_argument("--text", default="summary", choices=["summary", "title+summary"])
    ap.add_argument("--papermap", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "papermap"))
    ap.add_argument("--model", default=os.path.join(
        os.environ.get("PAPERMAP_HOME", os.path.expanduser("~/.cache/papermap")),
        "models", "intfloat--multilingual-e5-small"))
    ap.add_argument("--engines", default="fast", help="papermap engines to run, comma-separated")
    args = ap.parse_args()

    out = subprocess.run([args.papermap, "papers", args.digests, "--json"], check=True,
                         capture_output=True, text=True).stdout
    papers = [json.loads(l) for l in out.splitlines() if l.strip()]
    papers = [p for p in papers if p["summary"]]
    if args.limit and args.limit < len(papers):
        step = len(papers) / args.limit
        papers = [papers[int(i * step)] for i in range(args.limit)]
    texts = [p["summary"] if args.text == "summary" else p["title"] + "\n" + p["summary"]
             for p in papers]
    print(f"{len(texts)} papers from {args.digests} (recipe {args.text}), "
          f"{os.cpu_count()} CPUs, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'all')}")

    rows = []
    tmp = tempfile.mkdtemp()
    inp = os.path.join(tmp, "texts.jsonl")
    with open(inp, "w") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    vecs = {}
    for engine in args.engines.split(","):
        npy = os.path.join(tmp, f"{engine}.npy")
        r = subprocess.run([args.papermap, "embed", "--input", inp, "--out", npy, "--model",
                            args.model, "--engine", engine], check=True, capture_output=True,
                           text=True)
        line = r.stdout.strip().splitlines()[-1]
        # "embedded N texts, T tokens, k truncated in S s: ..."
        n = int(line.split()[1]); tok = int(line.split()[3]); secs = float(line.split(" in ")[1].split("s")[0])
        rows.append((f"papermap ({engine})", n / secs, tok / secs, secs))
        vecs[engine] = np.load(npy)

    import torch
    from sentence_transformers import SentenceTransformer, models
    torch.set_num_threads(os.cpu_count())
    tr = models.Transformer(args.model, max_seq_length=512)
    st = SentenceTransformer(modules=[tr, models.Pooling(tr.get_word_embedding_dimension(), "mean"),
                                      models.Normalize()], device="cpu")
    inputs = ["passage: " + t for t in texts]
    tokens = sum(min(len(ids), 512) for ids in tr.tokenizer(inputs)["input_ids"])
    st.encode(inputs[:8], batch_size=32)  # warm-up, as papermap's model load is excluded too
    t0 = time.perf_counter()
    ref = st.encode(inputs, batch_size=32, convert_to_numpy=True)
    secs = time.perf_counter() - t0
    rows.append((f"sentence-transformers {__import__('sentence_transformers').__version__} "
                 f"(torch {torch.__version__}, batch 32)", len(texts) / secs, tokens / secs, secs))

    st_rate = rows[-1][1]
    print(f"\n| engine | papers/s | tokens/s | seconds | vs sentence-transformers |")
    print("|---|---:|---:|---:|---:|")
    for name, pps, tps, secs in rows:
        print(f"| {name} | {pps:.2f} | {tps:.0f} | {secs:.1f} | {pps / st_rate:.2f}x |")
    for engine, v in vecs.items():
        cos = np.sum(v * ref, axis=1)
        print(f"\npapermap ({engine}) vs sentence-transformers vectors: min cosine {cos.min():.6f}")


if __name__ == "__main__":
    sys.exit(main())
