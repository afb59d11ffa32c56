"""Writes the archive fixtures of tests/archives.rs from the public schemas of each format.

arXiv's metadata snapshot (Kaggle, `arxiv-metadata-oai-snapshot.json`), Hugging Face's
`/api/daily_papers` answers, and tables (CSV, JSON Lines, Parquet) cannot be downloaded here, so
their records are written from the fields those schemas document, with the odd cases a real
file has: line-wrapped LaTeX, old-style ids, versions, invalid lines, missing and mistyped
fields, files cut short. Ids and titles are real papers of the Daily Papers seeds and archive
(`papermap papers --json` output on stdin), so a digest and an archive name the same papers;
abstracts are written here. Run from this directory:
  papermap papers ../../../../shared/data/seeds --json > /tmp/seeds.jsonl
  papermap papers ../../../../shared/data/archive --json | python3 make_fixtures.py /tmp/seeds.jsonl
"""
import gzip
import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

OUT = Path(__file__).parent
rng = random.Random(7)
seeds = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
seed_ids = {p["arxiv_id"] for p in seeds}
archive = [p for p in map(json.loads, sys.stdin) if p["arxiv_id"] not in seed_ids]
rng.shuffle(archive)

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def rfc2822(date, hour=17):
    y, m, d = (int(x) for x in date.split("-"))
    return f"{DAYS[(d + m) % 7]}, {d} {MONTHS[m - 1]} {y} {hour:02d}:{rng.randrange(60):02d}:12 GMT"


def wrap(text, width=70):
    """arXiv's abstracts: a leading two spaces, hard-wrapped lines, a trailing newline."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "  " + "\n".join(lines) + "\n"


def abstract_of(p):
    t = p["title"]
    return (f"We study {t.lower()}. Our method improves over strong baselines by "
            f"$\\mathcal{{O}}(\\sqrt{{n}})$ on standard benchmarks, and we release code. "
            f"Experiments on {rng.choice(['ImageNet', 'GSM8K', 'MMLU', 'COCO'])} show gains of "
            f"{rng.randrange(2, 30)}\\% over prior work.")


def parsed(name):
    parts = name.split()
    return [parts[-1], " ".join(parts[:-1]), ""] if len(parts) > 1 else [name, "", ""]


def arxiv_record(p, date, cats):
    authors = p["authors"][:6] or ["Anonymous"]
    return {
        "id": p["arxiv_id"],
        "submitter": authors[0],
        "authors": ", ".join(authors[:-1]) + (" and " if len(authors) > 1 else "") + authors[-1],
        "title": wrap(p["title"], 60).strip(),
        "comments": "12 pages, 4 figures",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": cats,
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
        "abstract": wrap(abstract_of(p)),
        "versions": [{"version": "v1", "created": rfc2822(date)},
                     {"version": "v2", "created": rfc2822(date, 9)}],
        "update_date": date,
        "authors_parsed": [parsed(a) for a in authors],
    }


def day_before(date):
    y, m, d = (int(x) for x in date.split("-"))
    return f"{y:04d}-{m:02d}-{max(1, d - 2):02d}"


CATS = ["cs.CL cs.AI", "cs.CV", "cs.LG stat.ML", "cs.CL", "cs.RO cs.AI", "cs.CV cs.LG"]

# arXiv snapshot: 200 archive papers, the 20 first seeds, 30 old-style ids, and the odd lines.
lines = []
for i, p in enumerate(archive[:200] + seeds[:20]):
    lines.append(json.dumps(arxiv_record(p, day_before(p["date"]), CATS[i % len(CATS)])))
for i in range(30):
    arch = ["hep-th", "math.AG", "cond-mat.str-el", "astro-ph"][i % 4]
    y = 1992 + i // 3
    ident = f"{arch}/{y % 100:02d}{(i % 12) + 1:02d}{i:03d}"
    rec = arxiv_record({"arxiv_id": ident, "title": f"On the {['duality', 'moduli', 'spectrum'][i % 3]} "
                        f"of case {i}", "authors": ["A. Physicist", "B. Mathematician"]},
                       f"{y}-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}", arch)
    lines.append(json.dumps(rec, ensure_ascii=False))
odd = [
    '{"id": "2401.00001", "title": "A record cut mid-line',  # invalid JSON
    json.dumps({"title": "No id here", "abstract": "x", "versions": []}),  # missing id
    json.dumps({"id": "2401.00002", "abstract": "no title", "versions": []}),  # missing title
    json.dumps({"id": "2401.00003", "title": 42, "abstract": "x", "versions": []}),  # wrong type
    json.dumps({"id": "2401.00004", "title": "Versions as text", "abstract": "x",
                "versions": "v1"}),  # wrong type
    "",  # blank line
    json.dumps({"id": "2401.00005v3", "title": "Spectral  methods\n  for\tgraphs",
                "abstract": "  We prove $\\lambda_2 > 0$\n  for connected graphs.\n",
                "authors": "Émilie Durand and Jürgen Groß", "authors_parsed": [],
                "categories": "math.CO cs.DM",
                "versions": [{"version": "v1", "created": "Tue, 2 Jan 2024 10:00:00 GMT"}],
                "update_date": "2024-01-09"}, ensure_ascii=False),
    json.dumps({"id": "2401.00006", "title": "No versions, only an update date",
                "abstract": "Dated by update_date.", "categories": "cs.LG",
                "update_date": "2024-01-05"}),
]
lines[40:40] = odd[:4]
lines[120:120] = odd[4:]
# A CRLF line, as a file that passed through Windows has.
lines[10] = lines[10] + "\r"
text = "\n".join(lines) + "\n"
(OUT / "arxiv-snapshot.json").write_text(text, encoding="utf-8")
raw = text.encode()
(OUT / "arxiv-snapshot.json.gz").write_bytes(gzip.compress(raw, mtime=0))
(OUT / "arxiv-snapshot.json.zst").write_bytes(zstandard.ZstdCompressor(level=10).compress(raw))
gz = gzip.compress(raw, mtime=0)
(OUT / "arxiv-cut.json.gz").write_bytes(gz[: len(gz) // 2])


# Hugging Face Daily Papers: one day as the API answers it (pretty-printed), many days in one
# object, and JSON Lines.
def hf_entry(p, day):
    pid = p["arxiv_id"]
    return {
        "paper": {
            "id": pid,
            "authors": [{"_id": f"{rng.getrandbits(48):012x}", "name": a, "hidden": False}
                        for a in p["authors"][:5]],
            "publishedAt": f"{day_before(day)}T17:59:48.000Z",
            "title": p["title"],
            "summary": abstract_of(p).replace("\\%", "%"),
            "upvotes": p.get("votes") or 0,
            "discussionId": f"{rng.getrandbits(48):012x}",
        },
        "publishedAt": f"{day}T01:23:45.678Z",
        "title": p["title"],
        "summary": abstract_of(p),
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{pid}.png",
        "numComments": rng.randrange(5),
        "submittedBy": {"_id": "x", "avatarUrl": "https://example.org/a.png",
                        "fullname": "AK", "name": "akhaliq", "type": "user"},
        "isAuthorParticipating": False,
    }


day = seeds[0]["date"]
one_day = [hf_entry(p, day) for p in seeds if p["date"] == day]
one_day.append({"publishedAt": f"{day}T00:00:00.000Z", "title": "no paper object"})
one_day.append({"paper": {"title": "No id", "summary": "x"}, "publishedAt": f"{day}T00:00:00Z"})
bad = hf_entry(archive[300], day)
bad["paper"]["upvotes"] = "many"
one_day.append(bad)
(OUT / "hf-daily").mkdir(exist_ok=True)
(OUT / "hf-daily" / f"{day}.json").write_text(json.dumps(one_day, indent=2, ensure_ascii=False))
many = {}
for i, p in enumerate(archive[320:380]):
    d = f"2024-03-{(i % 3) + 4:02d}"
    many.setdefault(d, []).append(hf_entry(p, d))
(OUT / "hf-daily-many.json").write_text(json.dumps(many, indent=1, ensure_ascii=False))
with open(OUT / "hf-daily.jsonl", "w", encoding="utf-8") as f:
    for p in archive[380:420]:
        f.write(json.dumps(hf_entry(p, "2024-04-02"), ensure_ascii=False) + "\n")
    f.write('{"paper": {"id": "2404.99999", "title": "authors as text", "authors": "A, B"}}\n')
    f.write("not json at all\n")

# Tables: CSV (other column names, quoted commas and newlines), JSON Lines, Parquet.
import csv

rows = archive[420:520]
with open(OUT / "table.csv", "w", newline="", encoding="utf-8-sig") as f:
    w = csv.writer(f)
    w.writerow(["paper_id", "title", "abstract", "published", "authors", "upvotes", "url"])
    for i, p in enumerate(rows):
        abstract = abstract_of(p) + ("\nA second line, with, commas." if i % 10 == 0 else "")
        w.writerow([f"arXiv:{p['arxiv_id']}v1", p["title"], abstract, p["date"],
                    "; ".join(p["authors"][:4]), p.get("votes") or "",
                    f"https://arxiv.org/abs/{p['arxiv_id']}"])
    w.writerow(["2405.00001", "", "a row without a title", "2024-05-01", "", "", ""])
    w.writerow(["2405.00002", "A row with a bad date", "text", "May 1st", "", "3", ""])
    w.writerow(["2405.00003", "A row with bad votes", "text", "2024-05-02", "", "-4", ""])
with open(OUT / "table.jsonl", "w", encoding="utf-8") as f:
    for p in archive[520:580]:
        f.write(json.dumps({"id": p["arxiv_id"], "title": p["title"], "text": abstract_of(p),
                            "date": f"{p['date']}T08:00:00Z", "authors": p["authors"][:3],
                            "votes": p.get("votes")}, ensure_ascii=False) + "\n")
    f.write(json.dumps(["an", "array"]) + "\n")
    f.write(json.dumps({"id": "2406.00001", "title": None, "text": "null title"}) + "\n")
    f.write(json.dumps({"id": "2406.00002", "title": "Votes as text", "votes": "x"}) + "\n")
prows = archive[580:680]
import datetime as dt

table = pa.table({
    "id": [p["arxiv_id"] for p in prows] + [None],
    "title": [p["title"] for p in prows] + ["A row without an id"],
    "abstract": [abstract_of(p) for p in prows] + ["x"],
    "date": [dt.date.fromisoformat(p["date"]) for p in prows] + [None],
    "authors": [p["authors"][:4] for p in prows] + [[]],
    "votes": [p.get("votes") for p in prows] + [None],
    "categories": [CATS[i % len(CATS)] for i in range(len(prows))] + [None],
})
pq.write_table(table, OUT / "table.parquet", compression="snappy", row_group_size=40)
blob = (OUT / "table.parquet").read_bytes()
(OUT / "table-cut.parquet").write_bytes(blob[: len(blob) * 2 // 3])
print(f"{len(lines)} snapshot lines, {len(one_day)} + {sum(map(len, many.values()))} + 42 feed "
      f"entries, {len(rows) + 3} csv rows, 63 jsonl records, {len(prows) + 1} parquet rows")
