//! The lexical side of an index kept on disk (`lexical.bin` in the index directory), so a
//! search does not tokenise every document again (0.5 s on the archive).
//!
//! The file is derived: written by `papermap index` (with the lexicon its model confirms, see
//! [`crate::text::Alignment::lexicon`]) or else by the first search after the index changed
//! (atomically, and only when the directory is writable), read when its stamp matches (see
//! [`stamp`]). It holds the postings and the lexicon learned from the index's papers, so the
//! lexicon is recomputed whenever the index changes. The file is mapped and a search reads
//! only its query terms' posting lists. Its small sections carry one CRC32, checked when the
//! file is opened, and each posting list its own, checked when read; anything wrong with it
//! means "build again" ([`with_repair`]), never an error.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::lexical::{tokenize, Bm25, ListView};
use crate::embed::kernels::mapped::Mapped;
use crate::embed::{EmbedError, Encoder};
use crate::index::Index;
use crate::text::Lexicon;

/// File name inside the index directory.
pub const FILE: &str = "lexical.bin";
const MAGIC: &[u8; 8] = b"PMLEX\x00\x00\x03";
/// Bytes of one term's entry in the dictionary: postings offset (u64), count, CRC32, and the
/// term's offset and length in the strings (u32 each).
const ENTRY: usize = 24;

// Layout: MAGIC, stamp (u32 length + bytes), documents n (u32), avgdl (f32), terms (u32),
// meta length (u64), postings length (u64); then the meta section: n document lengths (u32),
// the dictionary (terms × ENTRY, sorted by term bytes), the strings (u32 length + bytes) and
// the lexicon (u32 pairs, then length-prefixed strings); a CRC32 of everything so far; then
// the posting lists, (document, tf) as u32 pairs, each list checked by its entry's CRC32 when
// it is read. A search thus reads the small sections and the lists of its query's terms: at a
// million papers 4 MB of lengths and the dictionary instead of 775 MB of postings.

/// Stamp of what the stored statistics were built from: the index's stamp
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
    let stamp = stamp(index, encoder.is_some());
    // A read-only index still searches; it only rebuilds each time.
    let _ = crate::atomic::write_with(&path, |tmp| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp)?);
        encode_into(&bm25, &stamp, &mut w)
            .unwrap_or_else(|| Err(std::io::Error::other("statistics read from a file")))?;
        std::io::Write::flush(&mut w)
    });
    Ok(bm25)
}

/// Runs `f` on `stored`; if `f` read a posting list that failed its checksum, removes the file
/// and runs `f` again on statistics built anew, which are kept in `repaired` (and used
/// directly by later calls) and stored for the next search.
pub fn with_repair<T>(
    index: &Index,
    stored: &Bm25,
    repaired: &OnceLock<Bm25>,
    f: impl Fn(&Bm25) -> T,
) -> Result<T, EmbedError> {
    if let Some(b) = repaired.get() {
        return Ok(f(b));
    }
    let out = f(stored);
    if !stored.damaged() {
        return Ok(out);
    }
    let _ = std::fs::remove_file(index.dir().join(FILE));
    let fresh = load_or_build(index, None)?;
    Ok(f(repaired.get_or_init(|| fresh)))
}

/// The stored statistics, when the file's header and meta section are whole and `current`
/// accepts its stamp; the posting lists stay in the mapped file.
fn read(path: &Path, current: impl Fn(&[u8]) -> bool) -> Option<Bm25> {
    let file = std::fs::File::open(path).ok()?;
    let map = crate::embed::kernels::mapped::map(&file).ok()?;
    let mut r = Reader { b: &map[..], at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let stamp_len = r.u32()? as usize;
    if !current(r.take(stamp_len)?) {
        return None;
    }
    let n = r.u32()? as usize;
    let avgdl = f32::from_le_bytes(r.take(4)?.try_into().ok()?);
    let terms = r.u32()? as usize;
    let meta_len = usize::try_from(r.u64()?).ok()?;
    let postings_len = usize::try_from(r.u64()?).ok()?;
    let meta_start = r.at;
    let meta = r.take(meta_len)?;
    let crc = r.u32()?;
    let postings_start = r.at;
    if r.left() != postings_len
        || crc32fast::hash(&map[..meta_start + meta_len]) != crc
        || postings_len % 8 != 0
    {
        return None;
    }
    let mut m = Reader { b: meta, at: 0 };
    let doc_len: Vec<u32> = m
        .take(n.checked_mul(4)?)?
        .chunks_exact(4)
        .map(|c| le_u32(c, 0))
        .collect();
    let dict_start = meta_start + m.at;
    let dict = m.take(terms.checked_mul(ENTRY)?)?;
    let strings_len = m.u32()? as usize;
    let strings_start = meta_start + m.at;
    m.take(strings_len)?;
    let pairs = m.u32()? as usize;
    let mut lexicon = Vec::with_capacity(pairs.min(m.left() / 8));
    for _ in 0..pairs {
        lexicon.push((m.str()?, m.str()?));
    }
    if m.left() != 0 {
        return None;
    }
    // Every entry points inside its sections, so a lookup never reads out of the file.
    for e in dict.chunks_exact(ENTRY) {
        let e = Entry::parse(e);
        let list_end = e.offset.checked_add(e.count.checked_mul(8)?)?;
        if list_end > postings_len || e.term_end()? > strings_len {
            return None;
        }
    }
    let stored = StoredPostings {
        map,
        dict: dict_start..dict_start + terms * ENTRY,
        strings: strings_start..strings_start + strings_len,
        postings: postings_start,
        docs: n as u32,
        damaged: Arc::new(AtomicBool::new(false)),
        checked: Arc::default(),
    };
    Some(Bm25::from_stored(
        stored,
        doc_len,
        avgdl,
        Lexicon::from_pairs(lexicon),
    ))
}

/// A term's [`ENTRY`] bytes in the dictionary: where its posting list lies and how long it
/// is, the list's CRC32, and where the term's bytes are in the strings.
struct Entry {
    offset: usize,
    count: usize,
    crc: u32,
    term_at: usize,
    term_len: usize,
}

impl Entry {
    fn parse(e: &[u8]) -> Entry {
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&e[..8]);
        Entry {
            offset: u64::from_le_bytes(offset) as usize,
            count: le_u32(e, 8) as usize,
            crc: le_u32(e, 12),
            term_at: le_u32(e, 16) as usize,
            term_len: le_u32(e, 20) as usize,
        }
    }

    fn term_end(&self) -> Option<usize> {
        self.term_at.checked_add(self.term_len)
    }
}

/// A list's place in the file: its offset, length and CRC32.
type ListKey = (usize, usize, u32);

/// Posting lists left in the mapped `lexical.bin`, found by binary search in its sorted
/// dictionary and checked by CRC32 when read.
#[derive(Clone)]
pub(crate) struct StoredPostings {
    map: Mapped,
    dict: Range<usize>,
    strings: Range<usize>,
    /// Where the posting lists begin.
    postings: usize,
    docs: u32,
    /// Set when a list failed its checksum.
    damaged: Arc<AtomicBool>,
    /// The lists that passed their checks, by (offset, length, CRC32), with their largest
    /// term frequency. The
    /// file is mapped and never changes under the map (it is replaced by a rename), so a list
    /// is checked once: a query's common words have lists of half a million pairs, and
    /// checking them at every search took a tenth of BM25's time at a million papers.
    checked: Arc<Mutex<HashMap<ListKey, u32>>>,
}

impl std::fmt::Debug for StoredPostings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPostings")
            .field("terms", &(self.dict.len() / ENTRY))
            .field("damaged", &self.damaged())
            .finish()
    }
}

impl StoredPostings {
    /// The dictionary entry of `token`.
    fn entry(&self, token: &str) -> Option<Entry> {
        let dict = &self.map[self.dict.clone()];
        let strings = &self.map[self.strings.clone()];
        let term = |i: usize| {
            let e = Entry::parse(&dict[i * ENTRY..(i + 1) * ENTRY]);
            let t = &strings[e.term_at..e.term_at + e.term_len];
            (e, t)
        };
        let (mut lo, mut hi) = (0, dict.len() / ENTRY);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (e, t) = term(mid);
            match t.cmp(token.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(e),
            }
        }
        None
    }

    /// Documents holding `token`, from its dictionary entry alone (the list is not read or
    /// checked); 0 for a term not in the file.
    pub(crate) fn df(&self, token: &str) -> usize {
        self.entry(token).map_or(0, |e| e.count)
    }

    /// `token`'s list as it lies in the file and its largest term frequency; empty, and the
    /// postings marked damaged, when the list fails its checksum or names a document past
    /// the end (checked on its first read).
    pub(crate) fn view(&self, token: &str) -> (ListView<'_>, u32) {
        let empty = (ListView::Bytes(&[]), 0);
        let Some(e) = self.entry(token) else {
            return empty;
        };
        let start = self.postings + e.offset;
        let bytes = &self.map[start..start + e.count * 8];
        let key = (e.offset, e.count, e.crc);
        let known = self.checked.lock().ok().and_then(|c| c.get(&key).copied());
        let most = match known {
            Some(most) => most,
            None => {
                let pairs = || bytes.chunks_exact(8).map(|c| (le_u32(c, 0), le_u32(c, 4)));
                if crc32fast::hash(bytes) != e.crc || pairs().any(|(d, _)| d >= self.docs) {
                    self.damaged.store(true, Ordering::Relaxed);
                    return empty;
                }
                let most = pairs().map(|(_, tf)| tf).max().unwrap_or(0);
                if let Ok(mut c) = self.checked.lock() {
                    c.insert(key, most);
                }
                most
            }
        };
        (ListView::Bytes(bytes), most)
    }

    /// True once a list failed its checksum.
    pub(crate) fn damaged(&self) -> bool {
        self.damaged.load(Ordering::Relaxed)
    }
}

/// The file's bytes for built statistics (`None` for statistics read from a file).
#[cfg(test)]
fn encode(b: &Bm25, stamp: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    encode_into(b, stamp, &mut out)?.ok()?;
    Some(out)
}

/// Writes the file for built statistics to `w` (`None` for statistics read from a file). The
/// posting lists are written from the map as they are, a list at a time, after the section that
/// indexes them (whose checksums take a first pass over each list): a million papers' lists
/// are gigabytes, and were held twice more as bytes.
fn encode_into(b: &Bm25, stamp: &[u8], w: &mut impl std::io::Write) -> Option<std::io::Result<()>> {
    let (postings, doc_len, avgdl, lexicon) = b.parts()?;
    let mut terms: Vec<(&String, &Vec<(u32, u32)>)> = postings.iter().collect();
    terms.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let list_bytes = |list: &[(u32, u32)], out: &mut Vec<u8>| {
        out.clear();
        for &(d, tf) in list {
            put_u32(out, d);
            put_u32(out, tf);
        }
    };
    let mut meta = Vec::with_capacity(doc_len.len() * 4 + terms.len() * (ENTRY + 12));
    for &l in doc_len {
        put_u32(&mut meta, l);
    }
    let mut buf = Vec::new();
    let mut offset = 0u64;
    let mut strings = Vec::new();
    for (term, list) in &terms {
        list_bytes(list, &mut buf);
        meta.extend_from_slice(&offset.to_le_bytes());
        put_u32(&mut meta, list.len() as u32);
        put_u32(&mut meta, crc32fast::hash(&buf));
        put_u32(&mut meta, strings.len() as u32);
        put_u32(&mut meta, term.len() as u32);
        strings.extend_from_slice(term.as_bytes());
        offset += buf.len() as u64;
    }
    put_u32(&mut meta, strings.len() as u32);
    meta.extend_from_slice(&strings);
    drop(strings);
    let pairs = lexicon.pairs();
    put_u32(&mut meta, pairs.len() as u32);
    for (a, b) in pairs {
        put_str(&mut meta, a);
        put_str(&mut meta, b);
    }
    let mut head = Vec::with_capacity(64 + stamp.len() + meta.len());
    head.extend_from_slice(MAGIC);
    put_u32(&mut head, stamp.len() as u32);
    head.extend_from_slice(stamp);
    put_u32(&mut head, doc_len.len() as u32);
    head.extend_from_slice(&avgdl.to_le_bytes());
    put_u32(&mut head, terms.len() as u32);
    head.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    head.extend_from_slice(&offset.to_le_bytes());
    head.extend_from_slice(&meta);
    drop(meta);
    let crc = crc32fast::hash(&head);
    put_u32(&mut head, crc);
    let written = (|| {
        w.write_all(&head)?;
        for (_, list) in &terms {
            list_bytes(list, &mut buf);
            w.write_all(&buf)?;
        }
        Ok(())
    })();
    Some(written)
}

/// The little-endian `u32` at byte `i` of `b` (the caller has checked the length).
fn le_u32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
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
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
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
        let bytes = encode(&b, b"stamp").expect("built statistics encode");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, &bytes).unwrap();
        let back = read(&path, |s| s == b"stamp").expect("reads back");
        assert!(back.parts().is_none() && encode(&back, b"stamp").is_none());
        let (postings, lens, avgdl, lexicon) = b.parts().expect("built");
        assert!(!postings.is_empty());
        for (term, list) in postings {
            assert_eq!(back.idf(term), b.idf(term), "{term}");
            assert_eq!(back.list(term).as_ref(), list.as_slice(), "{term}");
        }
        assert_eq!(back.idf("absent"), 0.0);
        assert_eq!(back.len(), lens.len());
        assert!(avgdl > 0.0);
        assert_eq!(back.lexicon().pairs(), lexicon.pairs());
        for q in ["멀티모달 models", "확산 비디오", "nothing"] {
            assert_eq!(
                format!("{:?}", back.search(q, 3, None)),
                format!("{:?}", b.search(q, 3, None))
            );
        }
        assert!(!back.damaged());
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
        // A flipped bit in the last posting list opens, and is caught when that list is read.
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let back = read(&path, |s| s == b"stamp").expect("meta is whole");
        let damaged = postings.keys().filter(|t| back.list(t).is_empty()).count();
        assert_eq!(damaged, 1);
        assert!(back.damaged());
    }
}
