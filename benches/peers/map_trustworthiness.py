#!/usr/bin/env python3
"""How well the topics' 2-D map keeps neighbourhoods: scikit-learn's trustworthiness of the
stored t-SNE layout (topics.json) against a 2-D PCA of the same vectors, on an index's papers.

Trustworthiness (Venna & Kaski) is 1 when every paper's nearest neighbours on the map are among
its nearest neighbours in the 384-d space, and falls as the map brings strangers together.

Usage: benches/peers/map_trustworthiness.py --index DIR [--neighbours 10] [--papermap BIN]
Needs: the venv of benches/peers/setup-topics.sh (scikit-learn, numpy); `papermap topics` run
on the index first (it stores the map).
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--neighbours", type=int, default=10)
    ap.add_argument("--papermap", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "papermap"))
    args = ap.parse_args()
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness

    stem = os.path.join(tempfile.mkdtemp(), "export")
    subprocess.run([args.papermap, "export", "--index", args.index, "--out", stem], check=True,
                   capture_output=True)
    x = np.load(stem + ".npy")
    topics = json.load(open(os.path.join(args.index, "topics.json"), encoding="utf-8"))
    layout = topics.get("map")
    if not layout or len(layout["xy"]) != len(x):
        sys.exit("no map in topics.json for these papers: run `papermap topics` first")
    tsne = np.asarray(layout["xy"], dtype=np.float64)
    t0 = time.perf_counter()
    pca = PCA(n_components=2, random_state=0).fit_transform(x)
    pca_s = time.perf_counter() - t0
    k = args.neighbours
    print(f"{len(x)} papers, {x.shape[1]}-d; trustworthiness with {k} neighbours")
    print(f"map: {layout['method']}")
    print("\n| layout | trustworthiness |")
    print("|---|---:|")
    print(f"| PCA (2 components, scikit-learn, {pca_s:.2f} s) | {trustworthiness(x, pca, n_neighbors=k):.4f} |")
    print(f"| papermap t-SNE | {trustworthiness(x, tsne, n_neighbors=k):.4f} |")


if __name__ == "__main__":
    sys.exit(main())
