"""Writes N papers as Markdown digests by replicating the archive, for the 1M-paper GPU run.

    papermap papers ARCHIVE --json > papers.jsonl
    python3 benches/gpu/replicate.py papers.jsonl N OUTDIR

Copy r (0, 1, ...) of archive paper j keeps its title, date, votes and authors and gets
  - a distinct new-style arXiv id, 10YY.NNNNN with YY.NNNNN = r * len(archive) + j
    (ids of March 2010 onwards: none clashes with the archive's 2311-2502 ids);
  - " (rR)" after the last line of its summary, so that every copy's input differs and is
    embedded (papermap stores one vector per distinct input and would otherwise embed the
    archive once);
one file per copy, its entries under their `## Daily Papers (DATE)` headings in archive order.
Only papers with a summary are copied. Summary lines become plain bullets, which papermap reads
back as the same summary text (the digest format of the archive's first era).
"""
import json
import multiprocessing
import os
import sys


def write_copy(args):
    r, papers, n, out = args
    m = len(papers)
    parts = []
    date = None
    written = 0
    for j, p in enumerate(papers):
        serial = r * m + j
        if serial >= n:
            break
        pid = f"10{serial // 100000:02d}.{serial % 100000:05d}"
        if p.get("date") != date:
            date = p.get("date")
            parts.append(f"## Daily Papers ({date})\n\n" if date else "")
        title = p["title"].replace("\n", " ")
        lines = [l for l in p["summary"].split("\n") if l.strip()]
        lines[-1] = lines[-1] + f" (r{r})"
        entry = [f"### [{title}](https://arxiv.org/abs/{pid})", ""]
        if p.get("votes") is not None:
            entry += [f"Vote: {p['votes']}", ""]
        if p.get("authors"):
            entry += ["Authors: " + ", ".join(p["authors"]), ""]
        entry += [f"- {l}" for l in lines]
        parts.append("\n".join(entry) + "\n\n")
        written += 1
    with open(os.path.join(out, f"r{r:04d}.md"), "w", encoding="utf-8") as f:
        f.write("".join(parts))
    return written


def main(src, n, out):
    papers = []
    with open(src, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                if p.get("summary"):
                    papers.append(p)
    if not papers:
        sys.exit(f"{src}: no papers with a summary")
    os.makedirs(out, exist_ok=True)
    m = len(papers)
    copies = -(-n // m)
    # One process per copy at a time (a million papers is 1.5 GB of Markdown).
    with multiprocessing.Pool() as pool:
        written = sum(pool.map(write_copy, [(r, papers, n, out) for r in range(copies)]))
    print(f"wrote {written} papers ({copies} copies of {m}) into {out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
