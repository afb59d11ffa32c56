"""A reading of its own: the sheets of ../2026-12-08/, with each papermap topic labelled by its first
three keywords, joined as BERTopic's label is (BERTopic's items are unchanged). Whether our
keywords, which readers grade above BERTopic's, read better as labels than our labels do.

    python3 benches/peers/blind/2026-12-08-h/make.py
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "2026-12-08")

for pre in ["k20", "kauto"]:
    key = json.load(open(os.path.join(SRC, pre + ".key.json")))
    system = {it["item"]: it["system"] for it in key["items"]}
    md = open(os.path.join(SRC, pre + ".md")).read()
    parts = re.split(r"(\n## \d+\n)", md)
    out = [parts[0]]
    shown = {}
    for head, body in zip(parts[1::2], parts[2::2]):
        item = int(head.strip().lstrip("#").strip())
        if system[item] == "papermap":
            kws = re.search(r"^keywords: (.*)$", body, re.M).group(1).split(", ")
            shown[item] = " · ".join(kws[:3])
            body = re.sub(r"^label: .*$", "label: " + shown[item], body, count=1, flags=re.M)
        out += [head, body]
    open(os.path.join(HERE, pre + ".md"), "w").write("".join(out))
    for it in key["items"]:
        if it["system"] == "papermap":
            it["named"] = it["label"]
            it["label"] = shown[it["item"]]
    json.dump(key, open(os.path.join(HERE, pre + ".key.json"), "w"), ensure_ascii=False, indent=1)
