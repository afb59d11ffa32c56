#!/usr/bin/env python3
"""k-means objective and time: papermap against scikit-learn, on the same vectors.

The issue's bar: for k = 20 on the archive vectors, papermap's k-means objective (sum of squared
distances of papers to their topic centroid) is within 1 % of scikit-learn's
``KMeans(n_clusters=20, n_init=10, random_state=0)``.

Both objectives are recomputed here in float64 from each side's labels and centroids, so they
are measured the same way (scikit-learn's own ``inertia_`` is printed too). Times are wall-clock
seconds in this one run, on the same machine: scikit-learn's ``fit`` and papermap's k-means
stage (``timing.fit_s`` of ``papermap topics --json``), plus papermap's whole command.

Setup (once): python3 -m venv ~/.cache/papermap/venv-sk &&
              ~/.cache/papermap/venv-sk/bin/pip install scikit-learn numpy
Run:          ~/.cache/papermap/venv-sk/bin/python benches/kmeans_sklearn.py --index DIR
              [--npy FILE] [--k 20] [--runs 3] [--seed 0] [--papermap BIN]
Without --npy the vectors are exported from the index first (papermap export --format npy).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans


def default_binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path(__file__).resolve().parent.parent / "target")
    return str(Path(target) / "release" / "papermap")


def objective(x: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> float:
    """Sum of squared distances of rows to their assigned centroid, in float64."""
    d = x.astype(np.float64) - centroids.astype(np.float64)[labels]
    return float(np.einsum("ij,ij->", d, d))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True, help="papermap index directory")
    ap.add_argument("--npy", help="vectors exported from that index (default: export them now)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3, help="papermap --runs")
    ap.add_argument("--seed", type=int, default=0, help="papermap --seed")
    ap.add_argument("--n-init", type=int, default=10, help="scikit-learn n_init")
    ap.add_argument("--random-state", type=int, default=0, help="scikit-learn random_state")
    ap.add_argument("--papermap", default=default_binary(), help="papermap binary")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        npy = args.npy
        if npy is None:
            out = Path(tmp) / "vectors"
            subprocess.run(
                [args.papermap, "export", "--format", "npy", "--index", args.index, "--out", str(out)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            npy = str(out) + ".npy"
        x = np.load(npy)
    if x.ndim != 2 or x.shape[0] == 0:
        sys.exit(f"{npy}: expected a non-empty [papers, dim] matrix, found shape {x.shape}")
    n, dim = x.shape
    print(f"vectors: {n} x {dim} {x.dtype} from {npy if args.npy else args.index}; k = {args.k}")
    print(
        f"threads: {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
        f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', '-')}"
    )

    t0 = time.perf_counter()
    km = KMeans(n_clusters=args.k, n_init=args.n_init, random_state=args.random_state).fit(x)
    sk_time = time.perf_counter() - t0
    sk_obj = objective(x, km.labels_, km.cluster_centers_)

    cmd = [
        args.papermap, "topics", "--index", args.index, "--k", str(args.k), "--runs", str(args.runs),
        "--seed", str(args.seed), "--json", "--no-save", "--no-model",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    pm_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    topics = json.loads(proc.stdout)
    if len(topics["assignment"]) != n:
        sys.exit(f"papermap clustered {len(topics['assignment'])} papers, the .npy has {n}: not the same index")
    pos = {t["id"]: i for i, t in enumerate(topics["topics"])}
    pm_labels = np.array([pos[a] for a in topics["assignment"]])
    pm_centroids = np.array([t["centroid"] for t in topics["topics"]], dtype=np.float32)
    pm_obj = objective(x, pm_labels, pm_centroids)
    pm_fit = topics["timing"]["fit_s"]

    ratio = pm_obj / sk_obj
    print()
    print(f"{'':<34}{'objective':>14}{'time (s)':>11}")
    print(f"{'scikit-learn KMeans n_init=' + str(args.n_init):<34}{sk_obj:>14.4f}{sk_time:>11.3f}")
    print(f"{'  (its inertia_)':<34}{km.inertia_:>14.4f}")
    print(f"{'papermap topics --runs ' + str(args.runs) + ' (k-means)':<34}{pm_obj:>14.4f}{pm_fit:>11.3f}")
    print(f"{'  (its reported objective)':<34}{topics['objective']:>14.4f}")
    print(f"{'papermap topics, whole command':<34}{'':>14}{pm_wall:>11.3f}")
    print()
    print(f"objective ratio papermap / scikit-learn = {ratio:.5f} ({(ratio - 1) * 100:+.3f} %)")
    print(f"time ratio papermap / scikit-learn = {pm_fit / sk_time:.3f} (k-means stage)")
    ok = ratio <= 1.01
    print(f"within 1 %: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
