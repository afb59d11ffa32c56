#!/usr/bin/env python3
"""scikit-learn's KMeans on a .npy of vectors: prints `sklearn SECONDS OBJECTIVE ITERATIONS`.

Called by `cargo bench --bench scale -- --sklearn PYTHON`. Same k and number of runs as papermap
(n_init), scikit-learn's defaults otherwise (greedy k-means++, Lloyd, tol 1e-4), all cores.
The objective is recomputed in float64 from the labels and centres, as papermap's is.
Usage: scale_sklearn.py VECTORS.npy K N_INIT
"""
import sys
import time

import numpy as np
from sklearn.cluster import KMeans

x = np.load(sys.argv[1])
k, n_init = int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
km = KMeans(n_clusters=k, n_init=n_init, random_state=0).fit(x)
secs = time.perf_counter() - t0
d = x.astype(np.float64) - km.cluster_centers_.astype(np.float64)[km.labels_]
print(f"sklearn {secs:.3f} {np.einsum('ij,ij->', d, d):.6e} {km.n_iter_}")
