#!/usr/bin/env python3
"""papermap topics vs BERTopic on the same vectors and the same k: one table, both systems.

Both cluster the vectors papermap exported from one index (so the embedding is not what is
compared): BERTopic 0.17 with `KMeans(n_clusters=k, n_init=3)` as its clustering model, no
dimensionality reduction (an identity step, so KMeans sees the same 384-d vectors), and a
CountVectorizer whose tokenizer is Kiwi (kiwipiepy) nouns plus English words, as Korean users
configure it; papermap `topics --k k` on the index itself. For each system:

- diversity: unique words among all topics' top 10 / (10 k);
- NPMI coherence of each topic's top 10 over the archive's documents (title + summary), where a
  keyword counts as present when its text occurs in the document (case-insensitive): fair to
  multi-word and mixed-script keywords, the same rule for both systems; pairs that never
  co-occur count as -1;
- label overlap: words of a label (its first three keywords) that appear in another label;
- run time of the topic stage (BERTopic's fit_transform; papermap's topics command, model
  loading for keyword vectors included).

The labels of both systems are printed side by side.

Usage: benches/peers/topics_vs_bertopic.py --index DIR [--k 20] [--papermap BIN] [--papermap-only]
(`--papermap-only` skips BERTopic, to re-measure papermap after a change; numpy is then enough.)
Needs: the venv of benches/peers/setup-topics.sh (bertopic, kiwipiepy, scikit-learn, numpy).
"""
import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def npmi(topics, docs):
    """Mean NPMI over topics of the pairs of each topic's words, documents as the window."""
    low = [d.lower() for d in docs]
    n = len(low)
    present = {}
    for w in {w for t in topics for w in t}:
        key = w.lower()
        present[w] = np.fromiter((key in d for d in low), dtype=bool, count=n)
    per_topic = []
    for words in topics:
        scores = []
        for a, b in itertools.combinations(words, 2):
            pa, pb = present[a].mean(), present[b].mean()
            pab = (present[a] & present[b]).mean()
            if pab == 0 or pa == 0 or pb == 0:
                scores.append(-1.0)
            elif pab == 1:
                scores.append(1.0)
            else:
                scores.append(math.log(pab / (pa * pb)) / -math.log(pab))
        per_topic.append(float(np.mean(scores)) if scores else 0.0)
    return float(np.mean(per_topic)), per_topic


def diversity(topics):
    words = [w.lower() for t in topics for w in t]
    return len(set(words)) / max(len(words), 1)


def label_overlap(labels):
    """Label words (lower-cased) that appear in more than one label."""
    seen = {}
    for i, lab in enumerate(labels):
        for w in {w.lower() for w in lab}:
            seen.setdefault(w, set()).add(i)
    return sorted(w for w, s in seen.items() if len(s) > 1)


def kiwi_tokenizer():
    from kiwipiepy import Kiwi
    import re
    kiwi = Kiwi()
    english = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")

    def tokenize(text):
        out = []
        for tok in kiwi.tokenize(text):
            if tok.tag in ("NNG", "NNP") and len(tok.form) > 1:
                out.append(tok.form)
            elif tok.tag == "SL":
                out.extend(m.lower() for m in english.findall(tok.form) if len(m) > 1)
        return out

    return tokenize


def fit_bertopic(docs, vectors, k, seed):
    """BERTopic as compared here, fitted: the model, each document's topic, and the fit's time."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(tokenizer=kiwi_tokenizer(), lowercase=False, token_pattern=None,
                                 min_df=2)
    model = BERTopic(umap_model=BaseDimensionalityReduction(),
                     hdbscan_model=KMeans(n_clusters=k, n_init=3, random_state=seed),
                     vectorizer_model=vectorizer, top_n_words=10, calculate_probabilities=False)
    t0 = time.perf_counter()
    assign, _ = model.fit_transform(docs, embeddings=vectors)
    return model, assign, time.perf_counter() - t0


def top_words(model, t):
    """Topic `t`'s 10 keywords, best first."""
    return [w for w, _ in model.get_topic(t)][:10]


def run_bertopic(docs, vectors, k, seed):
    model, _, secs = fit_bertopic(docs, vectors, k, seed)
    topics = [top_words(model, t) for t in sorted(model.get_topics()) if t != -1]
    return topics, secs


def run_papermap(binary, index, k, seed):
    t0 = time.perf_counter()
    # --fresh: no saved topics to inherit labels from; --no-map: BERTopic's fit draws no map.
    out = subprocess.run([binary, "topics", "--index", index, "--k", str(k), "--seed", str(seed),
                          "--json", "--no-save", "--fresh", "--no-map"], check=True,
                         capture_output=True, text=True).stdout
    secs = time.perf_counter() - t0
    t = json.loads(out)
    topics = [tp["keywords"][:10] for tp in t["topics"]]
    labels = [tp["label"] for tp in t["topics"]]
    return topics, labels, secs, t.get("timing", {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--papermap", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "papermap"))
    ap.add_argument("--papermap-only", action="store_true",
                    help="skip BERTopic (its row does not change with papermap's code)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    stem = os.path.join(tmp, "export")
    subprocess.run([args.papermap, "export", "--index", args.index, "--out", stem], check=True,
                   capture_output=True)
    vectors = np.load(stem + ".npy")
    meta = [json.loads(l) for l in open(stem + ".jsonl", encoding="utf-8")]
    docs = [m["title"] + "\n" + m["summary"] for m in meta]
    print(f"{len(docs)} papers, {vectors.shape[1]}-d vectors from {args.index}; k = {args.k}")

    pm_topics, pm_labels, pm_secs, pm_timing = run_papermap(args.papermap, args.index, args.k,
                                                            args.seed)
    pm_label_words = [[w.strip() for w in lab.split("·")] for lab in pm_labels]
    systems = [("papermap", pm_topics, pm_label_words, pm_secs)]
    if args.papermap_only:
        bt_topics, bt_label_words = [], []
    else:
        bt_topics, bt_secs = run_bertopic(docs, vectors, args.k, args.seed)
        bt_label_words = [t[:3] for t in bt_topics]
        systems.insert(0, ("BERTopic 0.17 + KMeans + Kiwi", bt_topics, bt_label_words, bt_secs))

    rows = []
    for name, topics, labels, secs in systems:
        coherence, _ = npmi(topics, docs)
        rows.append((name, diversity(topics), coherence, label_overlap(labels), secs))
    print("\n| system | diversity | NPMI | label words shared | topic stage |")
    print("|---|---:|---:|---|---:|")
    for name, div, coh, shared, secs in rows:
        print(f"| {name} | {div:.3f} | {coh:.3f} | {len(shared)} ({', '.join(shared)}) | "
              f"{secs:.1f} s |")
    if len(rows) == 2:
        bt, pm = rows
        print(f"\nNPMI ratio papermap / BERTopic: {pm[2] / bt[2]:.2f}x" if bt[2] > 0 else "")
    if pm_timing:
        print(f"papermap timing (s): {json.dumps(pm_timing)}")
    print("\n| # | BERTopic | papermap |")
    print("|---:|---|---|")
    for i in range(max(len(bt_topics), len(pm_labels))):
        b = " · ".join(bt_label_words[i]) if i < len(bt_label_words) else ""
        p = pm_labels[i] if i < len(pm_labels) else ""
        print(f"| {i} | {b} | {p} |")


if __name__ == "__main__":
    sys.exit(main())
