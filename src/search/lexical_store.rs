//! The lexical side of an index kept on disk (`lexical.bin` in the index directory), so a
//! search does not tokenise every document again (0.5 s on the archive).
//!
//! The file is derived: written by `papermap index` (with the lexicon its model confirms, see
//! [`crate::text::Alignment::lexicon`]) or else by the first search after the index changed
//! (atomically, and only when the directory is writable), read when its stamp matches (see
//! [`stamp`]). It holds the postings and the lexicon learned from the index's papers, so the
//! lexicon is recomputed whenever the index changes. The whole file carries a CRC32; anything
//! wrong with it means "build again", never an error.

use std::collections::HashMap;
use std::path::Path;

use super::lexical::{tokenize, Bm25};
use crate::embed::{EmbedError, Encoder};
use crate::index::Index;
use crate::text::Lexicon;

/// File name inside the index directory.
pub const FILE: &str = "lexical.bin";
const MAGIC: &[u8; 8] = b"PMLEX\x00\x00\x02";

/// What the stored statistics were built from: the index's stamp
/// ([`crate::index::Stamp`]), a probe of the analyser (the tokens of a fixed sentence, so a
/// changed tokenizer invalidates the file without anyone remembering to), the lexicon rule's
/// version and whether the model `checked` the lexicon.
fn stamp(index: &Index, checked: bool) -> Vec<u8> {
    let probe = tokenize(
        "GPT-4o를 활용한 Llama-3.1 기반의 멀티모달 모델(Multimodal Models)에서는 qwen2.5-vl 확산 모델이",
    )
    .join("\u{1}");
    let mut s = serde_json::to_vec(&index.stamp()).unwrap_or_default();
    s.extend_from_slice(&crc32fast::hash(probe.as_bytes()).to_le_bytes());
    s.extend_from_slice(&LEXICON_VERSION.to_le_bytes());
    s.push(u8::from(checked));
    s
}

/// Bumped when the lexicon's learning rule changes (the probe cannot see it).
const LEXICON_VERSION: u32 = 4;

/// The index's BM25: read from `lexical.bin` when it is current, else built and (best effort)
/// stored for the next search.
///
/// Given `encoder` (the index's model), the lexicon is one whose alignment candidates the
/// model's word vectors were put to: a stored lexicon learned without them is relearned.
/// Without one, a stored lexicon of either kind serves, and a missing one is learned from the
/// alignment alone (and replaced by the next call that brings the model: `papermap index` does).
pub fn load_or_build(index: &Index, encoder: Option<&Encoder>) -> Result<Bm25, EmbedError> {
    let path = index.dir().join(FILE);
    let (checked, unchecked) = (stamp(index, true), stamp(index, false));
    let current = |s: &[u8]| s == checked || (encoder.is_none() && s == unchecked);
    if let Some(b) = read(&path, current).filter(|b| b.len() == index.len()) {
        return Ok(b);
    }
    let bm25 = Bm25::from_index(index, encoder)?;
    // A read-only index still searches; it only rebuilds each time.
    let _ = crate::atomic::write(&path, &encode(&bm25, &stamp(index, encoder.is_some())));
    Ok(bm25)
}

/// The stored statistics, when the file is whole and `current` accepts its stamp.
fn read(path: &Path, current: impl Fn(&[u8]) -> bool) -> Option<Bm25> {
    let bytes = std::fs::read(path).ok()?;
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    let mut r = Reader { b: body, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let stamp_len = r.u32()? as usize;
    if !current(r.take(stamp_len)?) {
        return None;
    }
    decode(&mut r)
}

fn encode(b: &Bm25, stamp: &[u8]) -> Vec<u8> {
    let (postings, doc_len, avgdl, lexicon) = b.parts();
    let mut w = Vec::with_capacity(16 * 1024 * 1024);
    w.extend_from_slice(MAGIC);
    put_u32(&mut w, stamp.len() as u32);
    w.extend_from_slice(stamp);
    put_u32(&mut w, doc_len.len() as u32);
    for &l in doc_len {
        put_u32(&mut w, l);
    }
    w.extend_from_slice(&avgdl.to_le_bytes());
    put_u32(&mut w, postings.len() as u32);
    for (term, list) in postings {
        put_str(&mut w, term);
        put_u32(&mut w, list.len() as u32);
        for &(d, tf) in list {
            put_u32(&mut w, d);
            put_u32(&mut w, tf);
        }
    }
    let pairs = lexicon.pairs();
    put_u32(&mut w, pairs.len() as u32);
    for (a, b) in pairs {
        put_str(&mut w, a);
        put_str(&mut w, b);
    }
    let crc = crc32fast::hash(&w);
    w.extend_from_slice(&crc.to_le_bytes());
    w
}

fn decode(r: &mut Reader<'_>) -> Option<Bm25> {
    let n = r.u32()? as usize;
    let mut doc_len = Vec::with_capacity(n.min(r.left() / 4));
    for _ in 0..n {
        doc_len.push(r.u32()?);
    }
    let avgdl = f32::from_le_bytes(r.take(4)?.try_into().ok()?);
    let terms = r.u32()? as usize;
    let mut postings = HashMap::with_capacity(terms.min(r.left() / 8));
    for _ in 0..terms {
        let term = r.str()?;
        let len = r.u32()? as usize;
        let mut list = Vec::with_capacity(len.min(r.left() / 8));
        for _ in 0..len {
            let d = r.u32()?;
            if d as usize >= n {
                return None;
            }
            list.push((d, r.u32()?));
        }
        postings.insert(term, list);
    }
    let m = r.u32()? as usize;
    let mut pairs = Vec::with_capacity(m.min(r.left() / 8));
    for _ in 0..m {
        pairs.push((r.str()?, r.str()?));
    }
    (r.left() == 0).then(|| Bm25::from_parts(postings, doc_len, avgdl, Lexicon::from_pairs(pairs)))
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u32(w, s.len() as u32);
    w.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.at
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let docs = [
            "GPT-4o를 활용한 멀티모달 모델(Multimodal Models)",
            "확산 모델로 비디오 생성",
            "",
        ];
        let b = Bm25::new(&docs);
        let bytes = encode(&b, b"stamp");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, &bytes).unwrap();
        let back = read(&path, |s| s == b"stamp").expect("reads back");
        let sorted = |b: &Bm25| {
            let (p, l, a, m) = b.parts();
            let mut p: Vec<_> = p.iter().collect();
            p.sort();
            format!("{p:?} {l:?} {a} {:?}", m.pairs())
        };
        assert_eq!(sorted(&back), sorted(&b));
        assert!(!b.parts().0.is_empty());
        assert!(
            read(&path, |s| s == b"other").is_none(),
            "a stale stamp is not read"
        );
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(
            read(&path, |s| s == b"stamp").is_none(),
            "a flipped bit is not read"
        );
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            read(&path, |s| s == b"stamp").is_none(),
            "a truncated file is not read"
        );
    }
}
