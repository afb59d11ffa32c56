//! Vectors of a paper's texts embedded apart from the index, cached in the index directory.
//!
//! The summary check compares every paper's title, embedded as a query (`query: ` + title),
//! with its summary embedded alone (`passage: ` + summary). Title → own-paper evaluation uses the
//! title queries too. Embedding 4,000 titles takes a minute and 4,000 summaries several, so both
//! are kept in files of the index directory ([`TITLE_QUERIES_FILE`], [`SUMMARY_PASSAGES_FILE`]),
//! keyed by the input key of each text: a paper added later costs only its own texts.

use std::collections::HashMap;
use std::path::Path;

use crate::embed::{Encoder, ModelIdentity, Prefix};
use crate::index::{Index, TextRecipe};
use crate::search::SearchError;

/// File in the index directory caching the title query vectors.
pub const TITLE_QUERIES_FILE: &str = "title-queries.safetensors";

/// File in the index directory caching the digest summaries' passage vectors (indexes whose
/// vectors are not the summaries': `title+summary`, and `title+abstract` where a digest
/// summarised a paper).
pub const SUMMARY_PASSAGES_FILE: &str = "summary-passages.safetensors";

/// Vectors of one text of every paper of an index, row `i` belonging to paper `i`.
#[derive(Debug, Clone, Default)]
pub struct TextVectors {
    /// Row-major `[papers, dim]`, L2-normalised.
    pub vectors: Vec<f32>,
    /// Texts embedded by this call.
    pub embedded: usize,
    /// Texts taken from the cache (or, for summaries, from the index itself).
    pub cached: usize,
    /// Why the cache could not be written, if it could not (the vectors are still good).
    pub cache_error: Option<String>,
}

/// Which text of each paper a cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `query: ` + title.
    TitleQuery,
    /// `passage: ` + the digest summary. A paper no digest summarised has nothing to check (its
    /// abstract is its own), so the index's vector stands for it: an arXiv snapshot is not
    /// embedded twice.
    SummaryPassage,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::TitleQuery => TITLE_QUERIES_FILE,
            Kind::SummaryPassage => SUMMARY_PASSAGES_FILE,
        }
    }

    fn prefix(self) -> Prefix {
        match self {
            Kind::TitleQuery => Prefix::Query,
            Kind::SummaryPassage => Prefix::Passage,
        }
    }

    /// The text of paper `row` to embed, or `None` where the index's own vector stands for it.
    fn text(self, index: &Index, row: usize) -> Option<String> {
        let p = index.paper(row);
        match self {
            Kind::TitleQuery => Some(p.title.clone()),
            Kind::SummaryPassage => p.has_summary().then(|| p.summary.clone()),
        }
    }
}

/// Cache key of a text: SHA-256 over model fingerprint, numeric mode and the exact input.
fn input_key(identity: &ModelIdentity, prefix: Prefix, text: &str) -> [u8; 32] {
    crate::text::input_key(
        &identity.fingerprint,
        identity.mode,
        &format!("{}{text}", prefix.as_str()),
    )
}

/// Reads the cache: key → vector, for this fingerprint and dimension only. A missing, stale or
/// unreadable cache is simply empty (it is rebuilt).
fn read_cache(path: &Path, fingerprint: &str, dim: usize) -> HashMap<[u8; 32], Vec<f32>> {
    let mut out = HashMap::new();
    let Ok(bytes) = std::fs::read(path) else {
        return out;
    };
    let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(&bytes) else {
        return out;
    };
    let fp_ok = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("model_fingerprint"))
        .is_some_and(|f| f == fingerprint);
    let Ok(st) = safetensors::SafeTensors::deserialize(&bytes) else {
        return out;
    };
    let (Ok(keys), Ok(vecs)) = (st.tensor("keys"), st.tensor("vectors")) else {
        return out;
    };
    let rows = keys.shape().first().copied().unwrap_or(0);
    if !fp_ok
        || keys.dtype() != safetensors::Dtype::U8
        || keys.shape() != [rows, 32]
        || vecs.dtype() != safetensors::Dtype::F32
        || vecs.shape() != [rows, dim]
    {
        return out;
    }
    let floats: Vec<f32> = vecs
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for (r, k) in keys.data().chunks_exact(32).enumerate() {
        let mut key = [0u8; 32];
        key.copy_from_slice(k);
        out.insert(key, floats[r * dim..(r + 1) * dim].to_vec());
    }
    out
}

/// Writes the cache atomically.
fn write_cache(
    path: &Path,
    kind: Kind,
    index: &Index,
    keys: &[[u8; 32]],
    vectors: &[f32],
) -> Result<(), SearchError> {
    let dim = index.dim();
    let err = |msg: String| SearchError::Cache {
        path: path.to_path_buf(),
        msg,
    };
    let key_bytes: Vec<u8> = keys.iter().flatten().copied().collect();
    let vec_bytes: Vec<u8> = vectors.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = |dtype, shape, data| {
        safetensors::tensor::TensorView::new(dtype, shape, data).map_err(|e| err(e.to_string()))
    };
    let tensors = vec![
        (
            "keys",
            view(safetensors::Dtype::U8, vec![keys.len(), 32], &key_bytes)?,
        ),
        (
            "vectors",
            view(safetensors::Dtype::F32, vec![keys.len(), dim], &vec_bytes)?,
        ),
    ];
    let meta: HashMap<String, String> = [
        (
            "model_fingerprint",
            index.manifest().model_fingerprint.clone(),
        ),
        ("generation", index.manifest().generation.to_string()),
        ("prefix", kind.prefix().as_str().to_string()),
        ("quant", index.manifest().mode.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bytes = safetensors::serialize(tensors, Some(meta)).map_err(|e| err(e.to_string()))?;
    crate::atomic::write(path, &bytes).map_err(|e| err(e.to_string()))
}

/// The cached title query vectors of every paper, or `None` when some title is not cached for
/// the index's model (then [`title_queries`] with the model fills the gap).
pub fn cached_title_queries(index: &Index) -> Option<Vec<f32>> {
    cached(index, Kind::TitleQuery)
}

/// Title query vectors (`query: ` + title) of every paper: cached ones are reused, the rest are
/// embedded with `encoder` (refused unless the index accepts its vectors) and the cache in the
/// index directory is rewritten. `progress(done, total)` follows the embedding of the missing
/// titles, from `(0, total)` as it begins.
pub fn title_queries(
    index: &Index,
    encoder: &Encoder,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TextVectors, SearchError> {
    fill(index, Kind::TitleQuery, encoder, progress)
}

/// Whether the index's own vectors are its summary vectors (`--text summary`), so that the
/// summary check needs no second embedding.
pub fn summaries_are_the_index(index: &Index) -> bool {
    index.manifest().text_recipe == TextRecipe::Summary
}

/// The cached summary passage vectors of every paper, or `None` when some summary is not cached
/// for the index's model. Only for indexes whose vectors embed more than the summary (see
/// [`summaries_are_the_index`]).
pub fn cached_summary_passages(index: &Index) -> Option<Vec<f32>> {
    cached(index, Kind::SummaryPassage)
}

/// Summary passage vectors (`passage: ` + digest summary) of every paper, as [`title_queries`]
/// gets the titles'. A paper no digest summarised keeps its index vector.
pub fn summary_passages(
    index: &Index,
    encoder: &Encoder,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TextVectors, SearchError> {
    fill(index, Kind::SummaryPassage, encoder, progress)
}

/// The cache key of every paper's text, `None` where the index's vector stands for it.
fn keys(index: &Index, kind: Kind, identity: &ModelIdentity) -> Vec<Option<([u8; 32], String)>> {
    (0..index.len())
        .map(|i| {
            kind.text(index, i)
                .map(|t| (input_key(identity, kind.prefix(), &t), t))
        })
        .collect()
}

fn cached(index: &Index, kind: Kind) -> Option<Vec<f32>> {
    let m = &index.manifest();
    let cache = read_cache(&index.dir().join(kind.file()), &m.model_fingerprint, m.dim);
    let mut out = Vec::with_capacity(index.len() * m.dim);
    for (i, k) in keys(index, kind, &m.identity()).iter().enumerate() {
        match k {
            Some((k, _)) => out.extend_from_slice(cache.get(k)?),
            None => out.extend_from_slice(index.vector(i)),
        }
    }
    Some(out)
}

fn fill(
    index: &Index,
    kind: Kind,
    encoder: &Encoder,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TextVectors, SearchError> {
    index.accepts(encoder.identity())?;
    let m = &index.manifest();
    let dim = m.dim;
    if encoder.dim != dim {
        return Err(crate::vectors::VectorError::Mismatch {
            what: "model dimension vs index dimension",
            expected: dim,
            found: encoder.dim,
        }
        .into());
    }
    let path = index.dir().join(kind.file());
    let mut cache = read_cache(&path, &m.model_fingerprint, dim);
    let mut keys = keys(index, kind, encoder.identity());
    let mut missing: Vec<usize> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        if let Some((k, _)) = k {
            if !cache.contains_key(k) && queued.insert(*k) {
                missing.push(i);
            }
        }
    }
    let mut out = TextVectors::default();
    if !missing.is_empty() {
        let texts: Vec<String> = missing
            .iter()
            .filter_map(|&i| keys[i].as_mut().map(|(_, t)| std::mem::take(t)))
            .collect();
        let total = texts.len();
        progress(0, total);
        let emb = encoder.embed(&texts, kind.prefix(), &mut |d, _| progress(d, total))?;
        for (r, &i) in missing.iter().enumerate() {
            if let Some((k, _)) = &keys[i] {
                cache.insert(*k, emb.row(r).to_vec());
            }
        }
        out.embedded = missing.len();
    }
    out.vectors = Vec::with_capacity(index.len() * dim);
    for (i, k) in keys.iter().enumerate() {
        match k {
            Some((k, _)) => {
                let v = cache.get(k).ok_or_else(|| SearchError::Cache {
                    path: path.clone(),
                    msg: "vector missing after embedding".into(),
                })?;
                out.vectors.extend_from_slice(v);
            }
            None => out.vectors.extend_from_slice(index.vector(i)),
        }
    }
    out.cached = index.len() - out.embedded.min(index.len());
    if out.embedded > 0 {
        // Only this index's texts are kept, deduplicated, in paper order.
        let mut seen = std::collections::HashSet::new();
        let (mut ks, mut vs) = (Vec::new(), Vec::new());
        for (i, k) in keys.iter().enumerate() {
            if let Some((k, _)) = k {
                if seen.insert(*k) {
                    ks.push(*k);
                    vs.extend_from_slice(&out.vectors[i * dim..(i + 1) * dim]);
                }
            }
        }
        if let Err(e) = write_cache(&path, kind, index, &ks, &vs) {
            out.cache_error = Some(e.to_string());
        }
    }
    Ok(out)
}
