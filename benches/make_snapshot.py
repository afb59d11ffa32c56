"""Writes a synthetic arXiv metadata snapshot of N records for timing the readers: the
fixture's records (tests/data/archives/arxiv-snapshot.json, bad lines left out) repeated with
fresh new-style ids, so every record is unique and the file has the real one's shape (about
1 KB a record; the real snapshot is 2.7M records, 4.5 GB).

  python3 benches/make_snapshot.py 1000000 /tmp/snapshot.json [--gzip]
"""
import gzip
import json
import sys
from pathlib import Path

n, out = int(sys.argv[1]), Path(sys.argv[2])
fixture = Path(__file__).parent.parent / "tests/data/archives/arxiv-snapshot.json"
records = []
for line in fixture.read_text(encoding="utf-8").splitlines():
    try:
        r = json.loads(line)
    except json.JSONDecodeError:
        continue
    if isinstance(r.get("title"), str) and "id" in r and isinstance(r.get("versions"), list):
        records.append(r)
opener = gzip.open if "--gzip" in sys.argv else open
with opener(out, "wt", encoding="utf-8") as f:
    for i in range(n):
        r = dict(records[i % len(records)])
        yymm = 2001 + (i // 90_000) % 2400
        r["id"] = f"{yymm // 100 % 100:02d}{yymm % 12 + 1:02d}.{i % 90_000 + 10_000:05d}"
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"wrote {n} records to {out}")
