"""Writes tests/data/archive-summary-vectors.safetensors from an archive index.

The summary check's labelled test (tests/search.rs) needs every archive paper's summary vector
and title query vector; embedding them takes half an hour on two cores, so they are stored
(f16, 6.7 MB). Build the inputs with

    papermap index ../shared/data/archive --index DIR --text summary
    papermap eval titles --index DIR          # caches the title query vectors

then run `python3 tests/data/make_summary_vectors.py DIR` (needs numpy).
"""
import hashlib, json, struct, sys
import numpy as np

def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": np.float32, "U8": np.uint8}[v["dtype"]]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"])
    return out

def main(idx):
    m = json.load(open(f"{idx}/manifest.json"))
    papers = [json.loads(l) for l in open(f"{idx}/{m['papers_file']}")]
    docs = {}
    for c in m["chunks"]:
        t = read_st(f"{idx}/vectors/{c['file']}")
        for k, v in zip(t["keys"], t["vectors"]):
            docs[bytes(k).hex()] = v
    tq = read_st(f"{idx}/title-queries.safetensors")
    titles = {bytes(k).hex(): v for k, v in zip(tq["keys"], tq["vectors"])}
    def title_key(t):
        s = m["model_fingerprint"] + "\0" + m["quant"] + "\0" + "query: " + t
        return hashlib.sha256(s.encode()).hexdigest()
    D = np.stack([docs[p["key"]] for p in papers]).astype(np.float16)
    T = np.stack([titles[title_key(p["title"])] for p in papers]).astype(np.float16)
    meta = {"ids": json.dumps([p["arxiv_id"] for p in papers]),
            "dates": json.dumps([p["date"] for p in papers]),
            "model_fingerprint": m["model_fingerprint"], "text_recipe": m["text_recipe"]}
    tensors = [("summaries", D), ("titles", T)]
    header, off = {"__metadata__": meta}, 0
    for name, a in tensors:
        header[name] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open("tests/data/archive-summary-vectors.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
        for _, a in tensors:
            f.write(a.tobytes())

if __name__ == "__main__":
    main(sys.argv[1])
