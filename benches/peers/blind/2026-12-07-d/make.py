"""Makes the sheet of the by-title reading (docs/topics.md, "Wrong summaries").

Two `papermap topics --json` runs on the archive's q8 index at the same k and seed, one with
`--no-summary-check` (every paper clustered by its vector: "vector") and one without (papers
whose summary the check flags are placed by their titles: "by-title"), shuffled together into
one sheet graded as BLIND_READING.md says. Usage:

    papermap topics --index IDX --k 20 --seed 0 --fresh --no-save --no-map --json \
        --no-summary-check > vector.json
    papermap topics --index IDX --k 20 --seed 0 --fresh --no-save --no-map --json > by-title.json
    papermap export --index IDX --out exp      # exp.jsonl: one paper per row, in index order
    python3 make.py vector.json by-title.json exp.jsonl
"""
import json, random, sys

def main(vector, by_title, papers):
    titles = [json.loads(l)["title"] for l in open(papers)]
    items = []
    for system, path in (("vector", vector), ("by-title", by_title)):
        for t in json.load(open(path))["topics"]:
            items.append({"system": system, "id": t["id"], "label": t["label"],
                          "keywords": t["keywords"][:10],
                          "papers": [titles[r] for r in t["representative"][:5]]})
    random.Random(17).shuffle(items)
    with open("k20.md", "w") as f:
        f.write(f"# Blind reading: {len(items)} topics of {len(titles)} papers (k = 20)\n\n")
        f.write("Grade each topic 0-2 on label, keywords and papers (see the protocol).\n")
        for i, it in enumerate(items, 1):
            f.write(f"\n## {i}\n\nlabel: {it['label']}\n\nkeywords: {', '.join(it['keywords'])}\n\n")
            f.write("papers nearest the centre:\n")
            for p in it["papers"]:
                f.write(f"- {p}\n")
    key = [{"item": i, "system": it["system"], "id": it["id"]} for i, it in enumerate(items, 1)]
    json.dump({"key": key}, open("k20.key.json", "w"), indent=1)

if __name__ == "__main__":
    main(*sys.argv[1:4])
