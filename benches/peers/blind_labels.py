#!/usr/bin/env python3
"""A blind reading of topic labels: papermap's and BERTopic's topics at one k, shuffled together.

`make` writes a sheet a reader grades without knowing which system made which topic: for each
topic, its label, its 10 keywords and the titles of the 5 papers nearest its centre (cosine to
the mean of its vectors, the same rule for both systems). The key (item -> system) goes to a
separate file the reader never sees. `score` reads the grades back and prints the table of the
docs/topics.md. The protocol is in benches/peers/BLIND_READING.md.

BERTopic runs as in topics_vs_bertopic.py (same vectors, KMeans with the same k, Kiwi nouns);
its label is its first three keywords, as BERTopic's own `topic_labels_` shows them.

Usage:
  blind_labels.py make --index DIR --k 20|auto --out benches/peers/blind/k20 [--papermap BIN]
  blind_labels.py score --key benches/peers/blind/k20.key.json GRADES.json [GRADES.json ...]
GRADES.json: {"grades": [{"item": 1, "label": 2, "keywords": 1, "papers": 2}, ...]}
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

from topics_vs_bertopic import fit_bertopic, top_words  # noqa: E402


def nearest(vectors, rows, n=5):
    """The `n` rows nearest (cosine) the mean of `rows`' vectors."""
    v = vectors[rows]
    c = v.mean(axis=0)
    c /= np.linalg.norm(c) or 1.0
    sims = v @ c
    return [rows[i] for i in np.argsort(-sims, kind="stable")[:n]]


def papermap_topics(binary, index, k, seed):
    out = subprocess.run([binary, "topics", "--index", index, "--k", str(k), "--seed", str(seed),
                          "--json", "--no-save", "--fresh", "--no-map"], check=True,
                         capture_output=True, text=True).stdout
    t = json.loads(out)
    return [(tp["label"], tp["keywords"][:10], None) for tp in t["topics"]], t


def bertopic_topics(docs, vectors, k, seed):
    model, assign, _ = fit_bertopic(docs, vectors, k, seed)
    out = []
    for t in sorted(model.get_topics()):
        if t == -1:
            continue
        words = top_words(model, t)
        rows = [i for i, a in enumerate(assign) if a == t]
        out.append((" · ".join(words[:3]), words, rows))
    return out


def make(args):
    tmp = tempfile.mkdtemp()
    stem = os.path.join(tmp, "export")
    subprocess.run([args.papermap, "export", "--index", args.index, "--out", stem], check=True,
                   capture_output=True)
    vectors = np.load(stem + ".npy")
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
    meta = [json.loads(line) for line in open(stem + ".jsonl", encoding="utf-8")]
    docs = [m["title"] + "\n" + m["summary"] for m in meta]
    ids = {m["arxiv_id"]: i for i, m in enumerate(meta)}

    pm, raw = papermap_topics(args.papermap, args.index, args.k, args.seed)
    k = len(pm)
    # Members of papermap's topics: the topic id of every paper row, by arXiv id.
    pos_of = {tp["id"]: pos for pos, tp in enumerate(raw["topics"])}
    members = [[] for _ in range(k)]
    for pid, tid in zip(raw["papers"], raw["assignment"]):
        if pid in ids and tid in pos_of:
            members[pos_of[tid]].append(ids[pid])
    items = []
    for pos, (label, kws, _) in enumerate(pm):
        items.append({"system": "papermap", "topic": pos, "label": label, "keywords": kws,
                      "rows": members[pos]})
    if not args.papermap_only:
        for pos, (label, kws, rows) in enumerate(bertopic_topics(docs, vectors, k, args.seed)):
            items.append({"system": "BERTopic", "topic": pos, "label": label, "keywords": kws,
                          "rows": rows})
    random.Random(args.shuffle_seed).shuffle(items)
    lines = [f"# Blind reading: {len(items)} topics of {len(docs)} papers (k = {k})", "",
             "Grade each topic 0-2 on label, keywords and papers (see the protocol).", ""]
    key = []
    for n, it in enumerate(items, 1):
        titles = [meta[r]["title"] for r in nearest(vectors, it["rows"])] if it["rows"] else []
        lines += [f"## {n}", "", f"label: {it['label']}", "",
                  "keywords: " + ", ".join(it["keywords"]), "", "papers nearest the centre:"]
        lines += [f"- {t}" for t in titles] + [""]
        key.append({"item": n, "system": it["system"], "topic": it["topic"],
                    "label": it["label"], "size": len(it["rows"])})
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".md", "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    with open(args.out + ".key.json", "w", encoding="utf-8") as f:
        json.dump({"k": k, "index": args.index, "items": key}, f, ensure_ascii=False, indent=1)
    print(f"wrote {args.out}.md ({len(items)} topics, k = {k}) and {args.out}.key.json")


def score(args):
    key = {it["item"]: it for it in json.load(open(args.key, encoding="utf-8"))["items"]}
    systems = sorted({it["system"] for it in key.values()})
    print(f"| reader | system | label 2 / 1 / 0 | label 2 share | label mean | keywords mean | "
          f"papers mean |")
    print("|---|---|---|---:|---:|---:|---:|")
    for path in args.grades:
        grades = json.load(open(path, encoding="utf-8"))["grades"]
        for s in systems:
            g = [x for x in grades if key[x["item"]]["system"] == s]
            lab = [x["label"] for x in g]
            counts = " / ".join(str(lab.count(v)) for v in (2, 1, 0))
            mean = lambda f: sum(x[f] for x in g) / max(len(g), 1)  # noqa: E731
            print(f"| {os.path.basename(path)} | {s} | {counts} | "
                  f"{100 * lab.count(2) / max(len(lab), 1):.0f} % | {mean('label'):.2f} | "
                  f"{mean('keywords'):.2f} | {mean('papers'):.2f} |")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--index", required=True)
    m.add_argument("--k", default="20")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--shuffle-seed", type=int, default=7)
    m.add_argument("--out", required=True)
    m.add_argument("--papermap-only", action="store_true")
    m.add_argument("--papermap", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "papermap"))
    s = sub.add_parser("score")
    s.add_argument("--key", required=True)
    s.add_argument("grades", nargs="+")
    args = ap.parse_args()
    return make(args) if args.cmd == "make" else score(args)


if __name__ == "__main__":
    sys.exit(main())
