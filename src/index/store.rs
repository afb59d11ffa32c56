//! Reading the index: manifest, papers, vector chunks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_err, IndexError};
use crate::corpus::Paper;
use crate::embed::{Mode, ModelIdentity};

/// Version of the on-disk layout; bumped on incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// How a paper becomes the text that is embedded.
///
/// A paper can carry two texts: a digest's summary and its own abstract (see
/// [`Paper::abstract_text`]). Each recipe names the one it prefers and falls back to the other,
/// except `summary`, the reference recipe, which embeds the digest's summary or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TextRecipe {
    /// `passage: ` + title + `\n` + summary (default: titles carry the English terms); a paper
    /// no digest summarised gives its abstract instead.
    #[default]
    #[serde(rename = "title+summary")]
    TitleSummary,
    /// `passage: ` + summary — the reference recipe of the golden vectors; papers without a
    /// digest summary are not embedded.
    #[serde(rename = "summary")]
    Summary,
    /// `passage: ` + title + `\n` + abstract, for archives read in English; a paper without an
    /// abstract gives its digest summary instead.
    #[serde(rename = "title+abstract")]
    TitleAbstract,
}

impl TextRecipe {
    /// The embedded text of `paper`, without the `passage: ` prefix (the encoder adds it).
    pub fn text(self, paper: &Paper) -> String {
        match self {
            TextRecipe::TitleSummary => format!("{}\n{}", paper.title, paper.text()),
            TextRecipe::Summary => paper.summary.clone(),
            TextRecipe::TitleAbstract => {
                let body = match paper.abstract_text.as_deref() {
                    Some(a) if !a.is_empty() => a,
                    _ => &paper.summary,
                };
                format!("{}\n{body}", paper.title)
            }
        }
    }

    /// Whether the recipe embeds `paper` at all: it has the text the recipe reads.
    pub fn embeds(self, paper: &Paper) -> bool {
        match self {
            TextRecipe::Summary => paper.has_summary(),
            TextRecipe::TitleSummary | TextRecipe::TitleAbstract => paper.has_text(),
        }
    }

    /// Name as written in the manifest and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TextRecipe::TitleSummary => "title+summary",
            TextRecipe::Summary => "summary",
            TextRecipe::TitleAbstract => "title+abstract",
        }
    }
}

impl std::str::FromStr for TextRecipe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "title+summary" => Ok(TextRecipe::TitleSummary),
            "summary" => Ok(TextRecipe::Summary),
            "title+abstract" => Ok(TextRecipe::TitleAbstract),
            _ => Err(format!(
                "unknown text recipe {s:?}: use title+summary, title+abstract or summary"
            )),
        }
    }
}

/// A live chunk file, its row count and checksum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// File name under `vectors/`.
    pub file: String,
    /// Vectors in it, one per distinct embedded input (papers with the same input share one).
    pub rows: usize,
    /// CRC-32 of the whole file, checked on every read (absent in indexes written before
    /// checksums, which still load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

/// What a file derived from the whole index was computed from — the one freshness rule of
/// `topics.json`, `ann.json` and `lexical.bin`: the derived file is current when its stamp
/// equals [`Index::stamp`]. The stamp names content, not a commit: the papers file's checksum
/// covers every paper and its key (the hash of model and embedded input, so the vectors too),
/// beside the model, its numeric mode, the text recipe and the count; re-running `index` on
/// unchanged digests keeps derived files current, and no derived file hashes the vectors.
/// An index written before checksums is named by its generation instead. (Title query vectors
/// are not derived from the index but cached per title, as the index caches passages.) Its
/// fields carry `index_` names, so that it reads unambiguously inside the file it stamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Index generation, only for an index without a papers checksum.
    #[serde(
        rename = "index_generation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub generation: Option<u64>,
    /// Fingerprint of the model that made the vectors.
    pub model_fingerprint: String,
    /// Numeric mode of the vectors.
    #[serde(rename = "index_quant", default = "default_mode")]
    pub mode: Mode,
    /// What was embedded per paper.
    #[serde(rename = "index_text_recipe", default)]
    pub text_recipe: TextRecipe,
    /// Papers in the index ([`Index::len`]) when the file was derived.
    #[serde(rename = "index_papers", default)]
    pub papers: usize,
    /// CRC-32 of the papers file.
    #[serde(rename = "index_papers_crc32", default)]
    pub papers_crc32: Option<u32>,
}

fn default_mode() -> Mode {
    Mode::F32
}

/// What the index holds and how its vectors were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The model's Hub id, or its directory name for a local model; reports name the model by it.
    pub model_id: String,
    /// Model fingerprint (hash of config, tokenizer and weights).
    pub model_fingerprint: String,
    /// Vector dimension: values per vector in every chunk and in the matrix file.
    pub dim: usize,
    /// Pooling of token states (`mean`).
    pub pooling: String,
    /// Whether vectors are L2-normalised.
    pub normalized: bool,
    /// Prefix of indexed texts.
    pub passage_prefix: String,
    /// Prefix of search queries.
    pub query_prefix: String,
    /// Text recipe of the embedded inputs.
    pub text_recipe: TextRecipe,
    /// Numeric mode of the encoder; vectors of different modes are never mixed. Written as
    /// `quant`, the field's name since the first index.
    #[serde(rename = "quant")]
    pub mode: Mode,
    /// Generation counter, bumped by every writer.
    pub generation: u64,
    /// Live papers file, or empty before the first complete run.
    pub papers_file: String,
    /// Number of papers in it.
    pub papers: usize,
    /// The chunk files under `vectors/` holding this generation's vectors; others there are
    /// not read.
    pub chunks: Vec<ChunkRef>,
    /// CRC-32 of the papers file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub papers_crc32: Option<u32>,
    /// Where each paper's line starts in the papers file (`papers-N.rows`, `u64` little-endian,
    /// one more than there are papers), so a paper is read by row without parsing the others,
    /// followed by the CRC-32 of each [`PAPERS_BLOCK`] of the papers file (`u32`), so a row is
    /// verified without hashing the whole file. Absent in indexes written before it, which are
    /// read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<FileRef>,
    /// The vectors in paper order (`matrix-N.f32`, `f32` little-endian `[papers, dim]`), mapped
    /// at open instead of gathered from the chunks. Absent in indexes written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<FileRef>,
    /// CRC-32 of this manifest as written with this field absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<u32>,
}

/// A file derived from the papers file and the chunks at a commit, with its length and CRC-32.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// File name in the index directory.
    pub file: String,
    /// Length in bytes, compared with the file's at open (rows file) and by `papermap check`.
    pub bytes: u64,
    /// CRC-32 of the whole file (verified by `papermap check`; the rows file also at open).
    pub crc32: u32,
}

impl Manifest {
    /// The manifest's JSON with its own checksum filled in.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut m = self.clone();
        m.checksum = None;
        let body = serde_json::to_vec_pretty(&m).unwrap_or_default();
        m.checksum = Some(crc32fast::hash(&body));
        serde_json::to_vec_pretty(&m).unwrap_or_default()
    }

    /// The identity of the stored vectors: model and numeric mode.
    pub fn identity(&self) -> ModelIdentity {
        ModelIdentity {
            id: self.model_id.clone(),
            fingerprint: self.model_fingerprint.clone(),
            mode: self.mode,
        }
    }

    /// The one rule for whether vectors of `identity` belong beside this manifest's: the same
    /// model and the same numeric mode. [`IndexError::NotComparable`] says what differs.
    pub fn accepts(&self, dir: &Path, identity: &ModelIdentity) -> Result<(), IndexError> {
        let stored = self.identity();
        let differs = stored.differences(identity);
        if differs.is_empty() {
            return Ok(());
        }
        Err(IndexError::NotComparable {
            dir: dir.to_path_buf(),
            stored: Box::new(stored),
            given: Box::new(identity.clone()),
            differs,
        })
    }

    /// Whether the stored checksum (if any) matches the contents.
    fn checksum_ok(&self) -> bool {
        let Some(want) = self.checksum else {
            return true;
        };
        let mut m = self.clone();
        m.checksum = None;
        serde_json::to_vec_pretty(&m).is_ok_and(|b| crc32fast::hash(&b) == want)
    }
}

/// A paper as stored: the corpus record plus the key of its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedPaper {
    /// The paper as the corpus gave it, deduplicated; its fields stand inline in each JSON line.
    #[serde(flatten)]
    pub paper: Paper,
    /// Hex SHA-256 of model fingerprint and embedded input.
    pub key: String,
}

/// An opened index: papers and their vectors, row `i` belonging to paper `i`.
///
/// An index with a rows file and a matrix ([`Manifest::rows`], [`Manifest::matrix`]) opens
/// without reading its papers: the vectors are mapped, a paper is parsed when a row is asked for
/// ([`Index::record`], [`Index::row_of`]), and all of them the first time [`Index::papers`] is
/// called. An older index is read whole at open, as before.
#[derive(Debug, Clone)]
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    papers: Papers,
    /// Row-major `[papers, dim]`.
    vectors: Vectors,
}

/// The papers of an index: parsed at open, or parsed by row from the mapped papers file.
#[derive(Debug, Clone)]
enum Papers {
    Loaded(Vec<IndexedPaper>),
    Lazy(std::sync::Arc<LazyPapers>),
}

/// Bytes of the papers file per checksum in the rows file: a row read verifies the blocks it
/// spans, a few microseconds, where hashing a million papers' 2.8 GB at open took 0.4 s and
/// brought every page of the file into memory.
pub(crate) const PAPERS_BLOCK: usize = 1 << 20;

/// Papers files up to this size are verified whole at open (a few milliseconds), so a damaged
/// one is refused before anything is read; larger ones block by block as rows are read.
const VERIFY_WHOLE_UP_TO: usize = 64 << 20;

/// A block not yet hashed, one whose CRC matched, one whose CRC did not.
const UNVERIFIED: u8 = 0;
const VERIFIED: u8 = 1;
const MISMATCH: u8 = 2;

/// A papers file mapped, with its rows' offsets and its blocks' checksums; every paper parsed
/// on first demand for all.
struct LazyPapers {
    path: PathBuf,
    text: crate::embed::kernels::mapped::Mapped,
    /// Start of each line, and the file's length last.
    offsets: Vec<u64>,
    /// CRC-32 of each [`PAPERS_BLOCK`] of `text`.
    block_crc: Vec<u32>,
    /// Each block's state: [`UNVERIFIED`], [`VERIFIED`] or [`MISMATCH`].
    block_state: Vec<std::sync::atomic::AtomicU8>,
    /// Each paper's id hash and row, sorted.
    ids: Vec<(u64, u32)>,
    all: std::sync::OnceLock<Vec<IndexedPaper>>,
    /// Every paper's date, read without parsing the rest of its line.
    dates: std::sync::OnceLock<Vec<Option<String>>>,
}

/// What a rows file holds: each line's start and the file's length, each block's CRC-32, and
/// each paper's id hash with its row, sorted.
pub(crate) struct RowsFile {
    pub offsets: Vec<u64>,
    pub block_crc: Vec<u32>,
    pub ids: Vec<(u64, u32)>,
}

/// A 64-bit hash of an id (two CRC-32s): stable across builds and platforms.
fn id_hash(id: &str) -> u64 {
    let mut h = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    h.update(id.as_bytes());
    (u64::from(crc32fast::hash(id.as_bytes())) << 32) | u64::from(h.finalize())
}

/// The id a stored line starts with (`{"arxiv_id":"ID",`: the writer puts it first).
fn line_id(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"{\"arxiv_id\":")?;
    serde_json::Deserializer::from_slice(rest)
        .into_iter::<String>()
        .next()?
        .ok()
}

/// Splits a rows file ([`rows_file`]) for `papers` papers in a papers file of `text_len` bytes,
/// or says what is wrong with it.
pub(crate) fn split_rows(bytes: &[u8], papers: usize, text_len: usize) -> Result<RowsFile, String> {
    let blocks = text_len.div_ceil(PAPERS_BLOCK);
    let want = (papers + 1) * 8 + blocks * 4 + papers * 12;
    if bytes.len() != want {
        return Err(format!(
            "{} bytes where {papers} papers in a file of {text_len} bytes need {want}",
            bytes.len()
        ));
    }
    let (offsets, rest) = bytes.split_at((papers + 1) * 8);
    let (crcs, ids) = rest.split_at(blocks * 4);
    let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    let offsets: Vec<u64> = offsets.chunks_exact(8).map(u64_at).collect();
    let block_crc = crcs.chunks_exact(4).map(u32_at).collect();
    let ids: Vec<(u64, u32)> = ids
        .chunks_exact(12)
        .map(|e| (u64_at(&e[..8]), u32_at(&e[8..])))
        .collect();
    let sorted = offsets.first() == Some(&0) && offsets.windows(2).all(|w| w[0] < w[1]);
    if !sorted || offsets.last() != Some(&(text_len as u64)) {
        return Err(format!(
            "its {papers} offsets do not span a file of {text_len} bytes"
        ));
    }
    if !ids.windows(2).all(|w| w[0] <= w[1]) || ids.iter().any(|&(_, r)| r as usize >= papers) {
        return Err("its id table is not sorted by hash, or names a row past the end".into());
    }
    Ok(RowsFile {
        offsets,
        block_crc,
        ids,
    })
}

/// The rows file's bytes for a papers file `text`: each line's start and the file's length,
/// each block's CRC-32 (blocks hashed in parallel), and each line's id hash and row sorted by
/// hash (so `row_of` finds a paper without scanning the file).
pub(crate) fn rows_file(text: &[u8]) -> Vec<u8> {
    use rayon::prelude::*;
    let mut offsets: Vec<u64> = vec![0];
    offsets.extend(memchr::memchr_iter(b'\n', text).map(|i| i as u64 + 1));
    if text.last().is_some_and(|&b| b != b'\n') {
        offsets.push(text.len() as u64);
    }
    let ids: Vec<(u64, u32)> = offsets
        .par_windows(2)
        .enumerate()
        .map(|(row, w)| {
            let line = &text[w[0] as usize..w[1] as usize];
            (line_id(line).map_or(0, |id| id_hash(&id)), row as u32)
        })
        .collect();
    let crcs: Vec<u32> = text.par_chunks(PAPERS_BLOCK).map(crc32fast::hash).collect();
    encode_rows(offsets, crcs, ids)
}

/// The rows file's bytes (see [`rows_file`]); sorts `ids`.
fn encode_rows(offsets: Vec<u64>, crcs: Vec<u32>, mut ids: Vec<(u64, u32)>) -> Vec<u8> {
    use rayon::prelude::*;
    ids.par_sort_unstable();
    let mut out = Vec::with_capacity(offsets.len() * 20 + crcs.len() * 4);
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    for c in crcs {
        out.extend_from_slice(&c.to_le_bytes());
    }
    for (h, r) in ids {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&r.to_le_bytes());
    }
    out
}

/// A papers file's rows file made while the papers file is written, line by line, so that
/// neither is ever held or mapped whole: the same bytes as [`rows_file`] of the finished file.
#[derive(Debug)]
pub(crate) struct RowsBuilder {
    offsets: Vec<u64>,
    ids: Vec<(u64, u32)>,
    crcs: Vec<u32>,
    block: crc32fast::Hasher,
    in_block: usize,
    whole: crc32fast::Hasher,
}

impl RowsBuilder {
    pub(crate) fn new() -> Self {
        RowsBuilder {
            offsets: vec![0],
            ids: Vec::new(),
            crcs: Vec::new(),
            block: crc32fast::Hasher::new(),
            in_block: 0,
            whole: crc32fast::Hasher::new(),
        }
    }

    /// Lines pushed so far: the row the next [`RowsBuilder::push`] gets.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Each row's start, and the end of the last.
    pub(crate) fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// Adds a line (ending in `\n`) of the paper with id `id`.
    pub(crate) fn push(&mut self, line: &[u8], id: &str) {
        self.ids.push((id_hash(id), self.len() as u32));
        self.whole.update(line);
        let mut rest = line;
        while !rest.is_empty() {
            let take = (PAPERS_BLOCK - self.in_block).min(rest.len());
            self.block.update(&rest[..take]);
            self.in_block += take;
            rest = &rest[take..];
            if self.in_block == PAPERS_BLOCK {
                let full = std::mem::replace(&mut self.block, crc32fast::Hasher::new());
                self.crcs.push(full.finalize());
                self.in_block = 0;
            }
        }
        let end = self.offsets.last().copied().unwrap_or(0) + line.len() as u64;
        self.offsets.push(end);
    }

    /// The CRC-32 of the whole papers file, and its rows file's bytes.
    pub(crate) fn finish(mut self) -> (u32, Vec<u8>) {
        if self.in_block > 0 {
            self.crcs.push(self.block.finalize());
        }
        (
            self.whole.finalize(),
            encode_rows(self.offsets, self.crcs, self.ids),
        )
    }
}

impl std::fmt::Debug for LazyPapers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LazyPapers({}, {} rows)",
            self.path.display(),
            self.len()
        )
    }
}

impl LazyPapers {
    /// The papers file `text` at `path` with its rows file's content; no block verified yet.
    fn new(path: PathBuf, text: crate::embed::kernels::mapped::Mapped, rows: RowsFile) -> Self {
        let RowsFile {
            offsets,
            block_crc,
            ids,
        } = rows;
        LazyPapers {
            path,
            text,
            offsets,
            block_state: block_crc
                .iter()
                .map(|_| std::sync::atomic::AtomicU8::new(UNVERIFIED))
                .collect(),
            block_crc,
            ids,
            all: std::sync::OnceLock::new(),
            dates: std::sync::OnceLock::new(),
        }
    }

    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether block `b` matches its checksum (hashed on first demand).
    fn block_ok(&self, b: usize) -> bool {
        use std::sync::atomic::Ordering;
        let (Some(state), Some(&crc)) = (self.block_state.get(b), self.block_crc.get(b)) else {
            return false;
        };
        match state.load(Ordering::Relaxed) {
            VERIFIED => true,
            MISMATCH => false,
            _ => {
                let start = b * PAPERS_BLOCK;
                let end = (start + PAPERS_BLOCK).min(self.text.len());
                let ok = crc32fast::hash(&self.text[start..end]) == crc;
                state.store(if ok { VERIFIED } else { MISMATCH }, Ordering::Relaxed);
                ok
            }
        }
    }

    /// Hashes every block not yet verified (in parallel); the first that fails, if any.
    fn verify_all(&self) -> Option<usize> {
        use rayon::prelude::*;
        (0..self.block_crc.len())
            .into_par_iter()
            .map(|b| (b, self.block_ok(b)))
            .collect::<Vec<_>>()
            .into_iter()
            .find(|&(_, ok)| !ok)
            .map(|(b, _)| b)
    }

    /// Line `i`, once the blocks it spans are verified.
    fn line(&self, i: usize) -> Result<&[u8], String> {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        if let Some(bad) =
            (a / PAPERS_BLOCK..=(b.max(a + 1) - 1) / PAPERS_BLOCK).find(|&blk| !self.block_ok(blk))
        {
            return Err(format!(
                "checksum mismatch in bytes {}..{}",
                bad * PAPERS_BLOCK,
                ((bad + 1) * PAPERS_BLOCK).min(self.text.len())
            ));
        }
        let line = self.text.get(a..b).unwrap_or(&[]);
        Ok(line.strip_suffix(b"\n").unwrap_or(line))
    }

    /// Paper `i`; a line that fails its block's checksum or does not parse (the file was
    /// damaged after it was written, which `papermap check` reports) becomes a paper that says
    /// so instead of a panic.
    fn parse(&self, i: usize) -> IndexedPaper {
        match self.line(i) {
            Ok(line) => {
                serde_json::from_slice(line).unwrap_or_else(|e| damaged_record(&self.path, i, &e))
            }
            Err(what) => damaged_record(&self.path, i, &what),
        }
    }

    /// Every paper's date. The field follows `arxiv_id`, `title` and `url`, whose JSON strings
    /// cannot hold the bytes `,"date":` (a quote inside a string is escaped), so its first
    /// occurrence in a line is the field; a line where it is missing or does not parse is
    /// parsed whole. A million dates take a fraction of a second this way, against seconds and
    /// gigabytes for every paper.
    fn dates(&self) -> &[Option<String>] {
        self.dates.get_or_init(|| {
            use rayon::prelude::*;
            const FIELD: &[u8] = b",\"date\":";
            (0..self.len())
                .into_par_iter()
                .map(|i| {
                    let quick = self.line(i).ok().and_then(|line| {
                        let at = line.windows(FIELD.len()).position(|w| w == FIELD)?;
                        let mut de =
                            serde_json::Deserializer::from_slice(&line[at + FIELD.len()..]);
                        <Option<String> as serde::Deserialize>::deserialize(&mut de).ok()
                    });
                    quick.unwrap_or_else(|| self.parse(i).paper.date)
                })
                .collect()
        })
    }

    fn all(&self) -> &[IndexedPaper] {
        self.all.get_or_init(|| {
            use rayon::prelude::*;
            self.verify_all();
            (0..self.len())
                .into_par_iter()
                .map(|i| self.parse(i))
                .collect()
        })
    }

    /// The row whose paper has id `id`: found by its hash in the id table, and confirmed by its
    /// line starting with `{"arxiv_id":"ID",` (the field comes first), without parsing a line.
    fn row_of(&self, id: &str) -> Option<usize> {
        let mut needle = b"{\"arxiv_id\":".to_vec();
        needle.extend(serde_json::to_vec(id).ok()?);
        needle.push(b',');
        let h = id_hash(id);
        let first = self.ids.partition_point(|&(x, _)| x < h);
        self.ids[first..]
            .iter()
            .take_while(|&&(x, _)| x == h)
            .map(|&(_, r)| r as usize)
            .find(|&r| {
                let (a, b) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
                self.text.get(a..b).is_some_and(|l| l.starts_with(&needle))
            })
    }
}

/// The paper shown for a stored line that no longer parses.
fn damaged_record(path: &Path, i: usize, e: &dyn std::fmt::Display) -> IndexedPaper {
    let mut paper = blank_paper();
    paper.arxiv_id = format!("damaged-line-{}", i + 1);
    paper.title = format!(
        "(damaged record: {} line {}: {e}; run papermap check)",
        path.display(),
        i + 1
    );
    IndexedPaper {
        paper,
        key: String::new(),
    }
}

fn blank_paper() -> Paper {
    Paper {
        arxiv_id: String::new(),
        title: String::new(),
        url: String::new(),
        date: None,
        dates: Vec::new(),
        votes: None,
        authors: Vec::new(),
        thumbnail: None,
        whats_new: None,
        technical_details: None,
        performance_highlights: None,
        summary: String::new(),
        abstract_text: None,
        categories: Vec::new(),
        source: crate::corpus::SourceLoc {
            file: PathBuf::new(),
            line: 0,
        },
    }
}

/// Vectors held in memory, or mapped from the matrix file.
#[derive(Debug, Clone)]
enum Vectors {
    Owned(Vec<f32>),
    Mapped(crate::embed::kernels::mapped::Mapped),
}

impl Vectors {
    fn as_slice(&self) -> &[f32] {
        match self {
            Vectors::Owned(v) => v,
            // Open checked the length and alignment (a mapping is page-aligned).
            Vectors::Mapped(m) => bytemuck::try_cast_slice(&m[..]).unwrap_or(&[]),
        }
    }
}

pub(crate) const MANIFEST: &str = "manifest.json";
/// A rebuild's manifest until the rebuild is whole: its chunk commits go here, so that
/// `manifest.json` keeps naming the previous generation, which stays the answer meanwhile.
pub(crate) const STAGING: &str = "manifest.rebuild.json";
pub(crate) const VECTORS_DIR: &str = "vectors";

/// Reads the manifest, or `None` when the directory has none yet. A manifest that does not
/// parse or whose checksum fails is [`IndexError::Damaged`].
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, IndexError> {
    read_manifest_file(dir, MANIFEST)
}

/// [`read_manifest`] of the manifest file `name` (the live one, or a rebuild's staging one).
pub(crate) fn read_manifest_file(dir: &Path, name: &str) -> Result<Option<Manifest>, IndexError> {
    let path = dir.join(name);
    let bytes = match read_regular(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let damaged = |what: String| IndexError::Damaged {
        path: path.clone(),
        what,
    };
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| damaged(format!("line {}: {e}", e.line())))?;
    if !m.checksum_ok() {
        return Err(damaged("checksum mismatch".into()));
    }
    if m.format_version != FORMAT_VERSION {
        return Err(IndexError::Incompatible {
            dir: dir.to_path_buf(),
            field: "format_version",
            stored: m.format_version.to_string(),
            wanted: FORMAT_VERSION.to_string(),
        });
    }
    Ok(Some(m))
}

/// Reads a file the index owns; anything but a regular file (a FIFO, a directory) is refused
/// instead of blocking or failing later.
pub(crate) fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    std::fs::read(path)
}

/// What a chunk says about itself (safetensors metadata), so a manifest can be rebuilt from the
/// chunks that verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChunkMeta {
    /// Model fingerprint of the vectors.
    pub(crate) model_fingerprint: String,
    /// Numeric mode (written as `quant`).
    #[serde(rename = "quant")]
    pub(crate) mode: Mode,
    /// Values per vector as the chunk records it; read with another `dim`, the chunk is damaged.
    pub(crate) dim: usize,
    /// CRC-32 of the keys' bytes followed by the vectors' bytes.
    pub(crate) data_crc32: u32,
}

/// A chunk read and verified: keys, vectors (`keys.len() * dim`), its own metadata if any.
pub(crate) struct Chunk {
    pub(crate) keys: Vec<[u8; 32]>,
    pub(crate) vectors: Vec<f32>,
    pub(crate) meta: Option<ChunkMeta>,
}

/// How far an L2-normalised vector's squared norm may stray from 1 (f32 rounding is ~1e-6).
const NORM_TOLERANCE: f32 = 1e-3;

/// Reads and verifies one chunk: the file's CRC when the manifest recorded one, its own data
/// CRC, the tensor layout, and every vector finite and of unit norm. Any failure is
/// [`IndexError::Damaged`] naming the file.
pub(crate) fn read_chunk(path: &Path, dim: usize, crc32: Option<u32>) -> Result<Chunk, IndexError> {
    let bytes = match read_regular(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(IndexError::Damaged {
                path: path.to_path_buf(),
                what: "missing".into(),
            })
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    let damaged = |what: String| IndexError::Damaged {
        path: path.to_path_buf(),
        what,
    };
    if let Some(want) = crc32 {
        let got = crc32fast::hash(&bytes);
        if got != want {
            return Err(damaged(format!(
                "checksum mismatch (crc32 {got:08x}, manifest says {want:08x})"
            )));
        }
    }
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| damaged(e.to_string()))?;
    let meta: Option<ChunkMeta> = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("papermap"))
        .map(|j| serde_json::from_str(j).map_err(|e| damaged(format!("metadata: {e}"))))
        .transpose()?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| damaged(e.to_string()))?;
    let keys = st.tensor("keys").map_err(|e| damaged(e.to_string()))?;
    let vecs = st.tensor("vectors").map_err(|e| damaged(e.to_string()))?;
    let rows = keys.shape().first().copied().unwrap_or(0);
    if keys.dtype() != safetensors::Dtype::U8
        || keys.shape() != [rows, 32]
        || vecs.dtype() != safetensors::Dtype::F32
        || vecs.shape() != [rows, dim]
    {
        return Err(damaged(format!(
            "expected keys u8 [n, 32] and vectors f32 [n, {dim}], found {:?} {:?} / {:?} {:?}",
            keys.dtype(),
            keys.shape(),
            vecs.dtype(),
            vecs.shape()
        )));
    }
    if let Some(m) = &meta {
        let mut h = crc32fast::Hasher::new();
        h.update(keys.data());
        h.update(vecs.data());
        if h.finalize() != m.data_crc32 || m.dim != dim {
            return Err(damaged("data does not match its own checksum".into()));
        }
    }
    let keys: Vec<[u8; 32]> = keys
        .data()
        .chunks_exact(32)
        .map(|c| {
            let mut k = [0u8; 32];
            k.copy_from_slice(c);
            k
        })
        .collect();
    let vectors: Vec<f32> = vecs
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for (r, v) in vectors.chunks_exact(dim.max(1)).enumerate() {
        let n: f32 = v.iter().map(|x| x * x).sum();
        if !n.is_finite() || (n - 1.0).abs() > NORM_TOLERANCE {
            return Err(damaged(format!(
                "vector {r} is not a unit vector (squared norm {n})"
            )));
        }
    }
    Ok(Chunk {
        keys,
        vectors,
        meta,
    })
}

/// Hex encoding of a key.
pub(crate) fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The vectors of `papers` in their order, gathered from the manifest's chunks by key (papers
/// with identical inputs share one vector). Every chunk is verified as it is read.
pub(crate) fn gather_vectors(
    dir: &Path,
    manifest: &Manifest,
    papers: &[IndexedPaper],
) -> Result<Vec<f32>, IndexError> {
    let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(papers.len());
    for (i, p) in papers.iter().enumerate() {
        by_key.entry(p.key.as_str()).or_insert(i);
    }
    let dim = manifest.dim;
    let mut vectors = vec![0f32; papers.len() * dim];
    let mut filled = vec![false; papers.len()];
    for c in &manifest.chunks {
        let chunk = read_chunk(&dir.join(VECTORS_DIR).join(&c.file), dim, c.crc32)?;
        for (r, k) in chunk.keys.iter().enumerate() {
            if let Some(&i) = by_key.get(hex(k).as_str()) {
                vectors[i * dim..(i + 1) * dim]
                    .copy_from_slice(&chunk.vectors[r * dim..(r + 1) * dim]);
                filled[i] = true;
            }
        }
    }
    for i in 0..papers.len() {
        if !filled[i] {
            let j = by_key[papers[i].key.as_str()];
            if !filled[j] {
                return Err(IndexError::Damaged {
                    path: dir.join(&manifest.papers_file),
                    what: format!(
                        "line {}: no stored vector for paper {}",
                        i + 1,
                        papers[i].paper.arxiv_id
                    ),
                });
            }
            vectors.copy_within(j * dim..(j + 1) * dim, i * dim);
        }
    }
    Ok(vectors)
}

/// Maps the papers file and reads its rows file, checking the rows file's CRC and that its
/// rows span the papers file exactly; a papers file up to [`VERIFY_WHOLE_UP_TO`] is verified
/// whole, a larger one block by block as it is read. Nothing is parsed.
fn open_rows(dir: &Path, manifest: &Manifest, rows: &FileRef) -> Result<LazyPapers, IndexError> {
    let path = dir.join(&manifest.papers_file);
    let rows_path = dir.join(&rows.file);
    let bytes = read_regular(&rows_path).map_err(io_err(&rows_path))?;
    let damaged = |path: &Path, what: String| IndexError::Damaged {
        path: path.to_path_buf(),
        what,
    };
    if crc32fast::hash(&bytes) != rows.crc32 || bytes.len() as u64 != rows.bytes {
        return Err(damaged(&rows_path, "checksum mismatch".into()));
    }
    let file = std::fs::File::open(&path).map_err(io_err(&path))?;
    let text = crate::embed::kernels::mapped::map(&file).map_err(io_err(&path))?;
    let rows =
        split_rows(&bytes, manifest.papers, text.len()).map_err(|w| damaged(&rows_path, w))?;
    let papers = LazyPapers::new(path, text, rows);
    if papers.text.len() <= VERIFY_WHOLE_UP_TO && papers.verify_all().is_some() {
        return Err(damaged(&papers.path, "checksum mismatch".into()));
    }
    Ok(papers)
}

/// Maps the matrix file, checking its length and CRC (the unit norms are `papermap check`'s: the
/// writer gathered the vectors from chunks that were verified one by one).
fn open_matrix(
    dir: &Path,
    manifest: &Manifest,
    matrix: &FileRef,
) -> Result<crate::embed::kernels::mapped::Mapped, IndexError> {
    let path = dir.join(&matrix.file);
    let file = std::fs::File::open(&path).map_err(io_err(&path))?;
    let map = crate::embed::kernels::mapped::map(&file).map_err(io_err(&path))?;
    let want = manifest.papers * manifest.dim * 4;
    if map.len() != want || bytemuck::try_cast_slice::<u8, f32>(&map[..]).is_err() {
        return Err(IndexError::Damaged {
            path,
            what: format!("{} bytes, {want} expected", map.len()),
        });
    }
    if parallel_crc32(&map) != matrix.crc32 {
        return Err(IndexError::Damaged {
            path,
            what: "checksum mismatch".into(),
        });
    }
    Ok(map)
}

/// CRC-32 of `bytes`, blocks hashed in parallel and combined: a million papers' files (4.4 GB)
/// are verified at memory speed instead of one core's.
pub(crate) fn parallel_crc32(bytes: &[u8]) -> u32 {
    use rayon::prelude::*;
    let parts: Vec<crc32fast::Hasher> = bytes
        .par_chunks(16 << 20)
        .map(|block| {
            let mut h = crc32fast::Hasher::new();
            h.update(block);
            h
        })
        .collect();
    let mut whole = crc32fast::Hasher::new();
    for part in &parts {
        whole.combine(part);
    }
    whole.finalize()
}

impl Index {
    /// Opens the index in `dir` as its manifest last committed it, verifying every file.
    ///
    /// A writer may commit between our reading the manifest and the files it names; they then
    /// stay one generation longer (see the writer's garbage collection), and a file that is gone
    /// all the same sends us back to the newer manifest.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        let mut attempts = 0;
        loop {
            let generation = read_manifest(dir)?.map(|m| m.generation);
            match Index::open_once(dir) {
                Err(e) if attempts < 5 && e.is_missing_file() => {
                    attempts += 1;
                    if read_manifest(dir)?.map(|m| m.generation) == generation {
                        return Err(e);
                    }
                }
                r => return r,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<Index, IndexError> {
        let manifest = read_manifest(dir)?.ok_or_else(|| IndexError::Missing(dir.to_path_buf()))?;
        if manifest.papers_file.is_empty() {
            return Err(IndexError::Partial {
                dir: dir.to_path_buf(),
                chunks: manifest.chunks.len(),
            });
        }
        // Read by row only when every file it reads has a checksum to verify.
        if let (Some(rows), Some(matrix), Some(_)) =
            (&manifest.rows, &manifest.matrix, manifest.papers_crc32)
        {
            let papers = open_rows(dir, &manifest, rows)?;
            let vectors = open_matrix(dir, &manifest, matrix)?;
            return Ok(Index {
                dir: dir.to_path_buf(),
                manifest,
                papers: Papers::Lazy(std::sync::Arc::new(papers)),
                vectors: Vectors::Mapped(vectors),
            });
        }
        let papers = read_papers(
            &dir.join(&manifest.papers_file),
            manifest.papers_crc32,
            Some(manifest.papers),
        )?;
        let vectors = gather_vectors(dir, &manifest, &papers)?;
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            papers: Papers::Loaded(papers),
            vectors: Vectors::Owned(vectors),
        })
    }

    /// An index held in memory (tests, tools): `vectors` is row-major `[papers, manifest.dim]`.
    pub fn from_parts(
        dir: PathBuf,
        manifest: Manifest,
        papers: Vec<IndexedPaper>,
        vectors: Vec<f32>,
    ) -> Result<Index, IndexError> {
        if manifest.dim == 0 || vectors.len() != papers.len() * manifest.dim {
            return Err(IndexError::Damaged {
                path: dir,
                what: format!(
                    "{} vector values for {} papers of dimension {}",
                    vectors.len(),
                    papers.len(),
                    manifest.dim
                ),
            });
        }
        Ok(Index {
            dir,
            manifest,
            papers: Papers::Loaded(papers),
            vectors: Vectors::Owned(vectors),
        })
    }

    /// The directory the index was opened from, as the caller gave it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest it was opened from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether vectors of `identity` (an encoder's, see [`crate::embed::Encoder::identity`])
    /// are comparable with the stored ones: the one check every query and update passes.
    pub fn accepts(&self, identity: &ModelIdentity) -> Result<(), IndexError> {
        self.manifest.accepts(&self.dir, identity)
    }

    /// The stamp of files derived from this index (see [`Stamp`]).
    pub fn stamp(&self) -> Stamp {
        let m = &self.manifest;
        Stamp {
            generation: m.papers_crc32.is_none().then_some(m.generation),
            model_fingerprint: m.model_fingerprint.clone(),
            mode: m.mode,
            text_recipe: m.text_recipe,
            papers: self.len(),
            papers_crc32: m.papers_crc32,
        }
    }

    /// Vector dimension from the manifest: values per row of [`Index::vectors`].
    pub fn dim(&self) -> usize {
        self.manifest.dim
    }

    /// Papers in corpus order, row `i` of the vectors belonging to paper `i` (all of them parsed
    /// on the first call, for an index opened by row).
    pub fn papers(&self) -> &[IndexedPaper] {
        match &self.papers {
            Papers::Loaded(p) => p,
            Papers::Lazy(l) => l.all(),
        }
    }

    /// Every paper's date (`None` where it has none), in row order; an index opened by row reads
    /// them without parsing its papers.
    pub fn dates(&self) -> std::borrow::Cow<'_, [Option<String>]> {
        match &self.papers {
            Papers::Lazy(l) if l.all.get().is_none() => std::borrow::Cow::Borrowed(l.dates()),
            _ => std::borrow::Cow::Owned(
                self.papers().iter().map(|p| p.paper.date.clone()).collect(),
            ),
        }
    }

    /// Paper `i` as the corpus gave it; for an index opened by row, the first call parses every
    /// paper (see [`Index::record`] for one alone).
    pub fn paper(&self, i: usize) -> &crate::corpus::Paper {
        &self.papers()[i].paper
    }

    /// Record `i` without parsing the others: the way to show a few papers of a large index.
    pub fn record(&self, i: usize) -> std::borrow::Cow<'_, IndexedPaper> {
        match &self.papers {
            Papers::Loaded(p) => std::borrow::Cow::Borrowed(&p[i]),
            Papers::Lazy(l) => match l.all.get() {
                Some(all) => std::borrow::Cow::Borrowed(&all[i]),
                None => std::borrow::Cow::Owned(l.parse(i)),
            },
        }
    }

    /// The row of the paper with arXiv id `id`, without parsing the papers of an index opened
    /// by row.
    pub fn row_of(&self, id: &str) -> Option<usize> {
        match &self.papers {
            Papers::Lazy(l) if l.all.get().is_none() => l.row_of(id),
            _ => self.papers().iter().position(|p| p.paper.arxiv_id == id),
        }
    }

    /// Whether the papers are read by row (the index has a rows file and a matrix).
    pub fn is_lazy(&self) -> bool {
        matches!(self.papers, Papers::Lazy(_))
    }

    /// All vectors, row-major `[papers, dim]`.
    pub fn vectors(&self) -> &[f32] {
        self.vectors.as_slice()
    }

    /// All vectors as an ndarray matrix `[papers, dim]`, the type they cross module seams in.
    pub fn rows(&self) -> ndarray::ArrayView2<'_, f32> {
        ndarray::ArrayView2::from_shape((self.len(), self.manifest.dim), self.vectors())
            .expect("open and from_parts check papers × dim")
    }

    /// Number of papers, and of vector rows; known without parsing for an index opened by row.
    pub fn len(&self) -> usize {
        match &self.papers {
            Papers::Loaded(p) => p.len(),
            Papers::Lazy(l) => l.len(),
        }
    }

    /// True when the index holds no papers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector of paper `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        let d = self.manifest.dim;
        &self.vectors()[i * d..(i + 1) * d]
    }
}

/// Reads a papers file, verifying its checksum and record count when known, and naming the line
/// of any malformed record (invalid UTF-8 included).
pub(crate) fn read_papers(
    path: &Path,
    crc32: Option<u32>,
    count: Option<usize>,
) -> Result<Vec<IndexedPaper>, IndexError> {
    let bytes = read_regular(path).map_err(io_err(path))?;
    let damaged = |what: String| IndexError::Damaged {
        path: path.to_path_buf(),
        what,
    };
    if let Some(want) = crc32 {
        if crc32fast::hash(&bytes) != want {
            return Err(damaged("checksum mismatch".into()));
        }
    }
    // Lines parse in parallel (a million papers is gigabytes of JSON); the first bad line in
    // file order is the one reported.
    use rayon::prelude::*;
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let parsed: Vec<Result<Option<IndexedPaper>, String>> = lines
        .par_iter()
        .enumerate()
        .map(|(n, line)| {
            let line = std::str::from_utf8(line)
                .map_err(|e| format!("line {}: invalid UTF-8: {e}", n + 1))?;
            if line.trim().is_empty() {
                return Ok(None);
            }
            serde_json::from_str(line)
                .map(Some)
                .map_err(|e| format!("line {}: {e}", n + 1))
        })
        .collect();
    let mut out = Vec::with_capacity(parsed.len());
    for p in parsed {
        if let Some(p) = p.map_err(damaged)? {
            out.push(p);
        }
    }
    if let Some(want) = count {
        if out.len() != want {
            return Err(damaged(format!(
                "{} papers, the manifest says {want}",
                out.len()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A papers file of `n` records spanning several blocks, and its rows file.
    fn papers_file(n: usize) -> (Vec<u8>, Vec<u8>) {
        written((0..n).map(|i| {
            let mut paper = blank_paper();
            paper.arxiv_id = format!("2401.{i:05}");
            paper.title = format!("Paper {i} {}", "word ".repeat(i % 50));
            paper
        }))
    }

    /// `papers` as a papers file, and its rows file.
    fn written(papers: impl Iterator<Item = crate::corpus::Paper>) -> (Vec<u8>, Vec<u8>) {
        let mut text = Vec::new();
        for paper in papers {
            let record = IndexedPaper {
                paper,
                key: "00".repeat(32),
            };
            text.extend(serde_json::to_vec(&record).expect("json"));
            text.push(b'\n');
        }
        let rows = rows_file(&text);
        (text, rows)
    }

    fn lazy(dir: &Path, text: &[u8], rows: &[u8], n: usize) -> LazyPapers {
        let path = dir.join("papers.jsonl");
        std::fs::write(&path, text).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let map = crate::embed::kernels::mapped::map(&file).expect("map");
        LazyPapers::new(path, map, split_rows(rows, n, text.len()).expect("rows"))
    }

    #[test]
    fn rows_built_while_writing_match_rows_of_the_finished_file() {
        let (text, rows) = papers_file(9_000);
        let mut b = RowsBuilder::new();
        for line in text.split_inclusive(|&c| c == b'\n') {
            let id = line_id(line).expect("id first");
            b.push(line, &id);
        }
        assert_eq!(b.len(), 9_000);
        let (crc, built) = b.finish();
        assert_eq!(crc, crc32fast::hash(&text));
        assert_eq!(built, rows);
    }

    #[test]
    fn a_damaged_block_marks_only_its_rows() {
        let n = 12_000;
        let (mut text, rows) = papers_file(n);
        assert!(text.len() > 2 * PAPERS_BLOCK, "{} bytes", text.len());
        let dir = tempfile::tempdir().expect("tmp");
        let whole = lazy(dir.path(), &text, &rows, n);
        assert_eq!(whole.verify_all(), None);
        assert_eq!(
            whole.parse(n - 1).paper.arxiv_id,
            format!("2401.{:05}", n - 1)
        );
        for i in [0, 7, 5000, n - 1] {
            assert_eq!(whole.row_of(&format!("2401.{i:05}")), Some(i));
        }
        assert_eq!(whole.row_of("2401.99999"), None);
        // A byte flipped in the second block: rows there say so, the others read as written.
        let at = PAPERS_BLOCK + 100;
        text[at] ^= 0x20;
        let damaged = lazy(dir.path(), &text, &rows, n);
        let row = whole.offsets.partition_point(|&o| o as usize <= at) - 1;
        assert!(damaged.parse(row).paper.title.contains("checksum mismatch"));
        assert_eq!(damaged.parse(0).paper.arxiv_id, "2401.00000");
        assert_eq!(damaged.verify_all(), Some(1));
        let all = damaged.all();
        let marked = all
            .iter()
            .filter(|p| p.paper.arxiv_id.starts_with("damaged-line-"));
        assert!(marked.count() > 1000);
        // Rows files that do not fit the papers file are refused.
        assert!(split_rows(&rows, n + 1, text.len()).is_err());
        assert!(split_rows(&rows[..rows.len() - 12], n, text.len()).is_err());
        assert!(split_rows(&rows, n, text.len() + 1).is_err());
    }
    #[test]
    fn dates_are_read_without_parsing_papers_and_match_a_full_parse() {
        let titles = [
            r#"A title that quotes ,"date":"1999-01-01" in it"#,
            "No date",
            "Plain",
            r#"Ends with a backslash \"#,
        ];
        let (text, rows) = written(titles.iter().enumerate().map(|(i, title)| {
            let mut paper = blank_paper();
            paper.arxiv_id = format!("2401.{i:05}");
            paper.title = title.to_string();
            paper.url = r#"https://example.org/?q=,"date":"x""#.to_string();
            paper.date = (i != 1).then(|| format!("2024-0{}-0{}", i + 1, i + 2));
            paper
        }));
        let dir = tempfile::tempdir().expect("tmp");
        let l = lazy(dir.path(), &text, &rows, titles.len());
        let quick = l.dates().to_vec();
        assert!(l.all.get().is_none(), "no paper was parsed whole");
        let parsed: Vec<Option<String>> = l.all().iter().map(|p| p.paper.date.clone()).collect();
        assert_eq!(quick, parsed);
        assert_eq!(quick[0].as_deref(), Some("2024-01-02"));
        assert_eq!(quick[1], None);
    }
}
