"""Which vectors make topics whose papers read as one subject? k-means (k = 20, scikit-learn,
n_init 3, seed 0) on three sets of vectors of the archive's 4,342 papers, the five papers
nearest each centre shown by title, the 60 groups shuffled together (seed 5) into sheet.md;
key.json says which vectors made each group. Readers grade only the papers (2 / 1 / 0).

    papermap index ../shared/data/archive --quant q8 --index IDX
    papermap export --index IDX --out /tmp/exp          # title+summary vectors and metadata
    python -c "import json; [print(json.dumps(json.loads(l)['title'])) for l in open('/tmp/exp.jsonl')]" > /tmp/titles.jsonl
    papermap embed --input /tmp/titles.jsonl --out /tmp/titles.npy --quant q8
    python make.py /tmp/exp /tmp/titles.npy OUTDIR
"""
import json
import os
import random
import sys

import numpy as np
from sklearn.cluster import KMeans


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    stem, titles, out = sys.argv[1:4]
    meta = [json.loads(line) for line in open(stem + ".jsonl", encoding="utf-8")]
    ts, ti = unit(np.load(stem + ".npy")), unit(np.load(titles))
    variants = {"ts": ts, "title": ti, "mix": unit(ts + ti)}
    items = []
    for name, x in variants.items():
        km = KMeans(20, n_init=3, random_state=0).fit(x)
        for c in range(20):
            rows = np.where(km.labels_ == c)[0]
            centre = unit(x[rows].mean(0, keepdims=True))[0]
            near = rows[np.argsort(-(x[rows] @ centre), kind="stable")[:5]]
            items.append({"variant": name, "k": 20, "cluster": c, "size": len(rows),
                          "titles": [meta[r]["title"] for r in near]})
    random.Random(5).shuffle(items)
    lines = ["# Topics: do the five papers share one subject?", "",
             "For each group, grade the five papers: 2 = they share one subject (a reader could "
             "name it in a few words); 1 = loosely related; 0 = unrelated.", ""]
    for n, it in enumerate(items, 1):
        it["item"] = n
        lines += [f"## {n}", ""] + [f"- {t}" for t in it["titles"]] + [""]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sheet.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out, "key.json"), "w", encoding="utf-8") as f:
        json.dump(items, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
