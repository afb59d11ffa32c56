//! The title query vectors of an index, cached in the index directory.
//!
//! Every paper's title, embedded as a query (`query: ` + title), drives title → own-paper
//! evaluation and the summary check; embedding 4,000 titles takes a minute, so they are kept in
//! [`TITLE_QUERIES_FILE`], keyed by the input key of each title.

use std::collections::HashMap;
use std::path::Path;

use crate::embed::{Encoder, ModelIdentity, Prefix};
use crate::index::Index;
use crate::search::SearchError;

/// File in the index directory caching the title query vectors.
pub const TITLE_QUERIES_FILE: &str = "title-queries.safetensors";

/// Title query vectors for every paper of an index, row `i` belonging to paper `i`.
#[derive(Debug, Clone, Default)]
pub struct TitleQueries {
    /// Row-major `[papers, dim]`, L2-normalised.
    pub vectors: Vec<f32>,
    /// Titles embedded by this call.
    pub embedded: usize,
    /// Titles taken from the cache.
    pub cached: usize,
    /// Why the cache could not be written, if it could not (the vectors are still good).
    pub cache_error: Option<String>,
}

/// Cache key of a title query: SHA-256 over model fingerprint, numeric mode and the exact input.
fn query_key(identity: &ModelIdentity, title: &str) -> [u8; 32] {
    crate::text::input_key(
        &identity.fingerprint,
        identity.mode,
        &format!("{}{title}", Prefix::Query.as_str()),
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
        ("prefix", Prefix::Query.as_str().to_string()),
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
    let m = &index.manifest();
    let cache = read_cache(
        &index.dir().join(TITLE_QUERIES_FILE),
        &m.model_fingerprint,
        m.dim,
    );
    let identity = m.identity();
    let mut out = Vec::with_capacity(index.len() * m.dim);
    for p in index.papers() {
        out.extend_from_slice(cache.get(&query_key(&identity, &p.paper.title))?);
    }
    Some(out)
}

/// Title query vectors (`query: ` + title) of every paper: cached ones are reused, the rest are
/// embedded with `encoder` (refused unless the index accepts its vectors) and the cache in the
/// index directory is rewritten. `progress(done, total)` follows the embedding of the missing
/// titles.
pub fn title_queries(
    index: &Index,
    encoder: &Encoder,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TitleQueries, SearchError> {
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
    let path = index.dir().join(TITLE_QUERIES_FILE);
    let mut cache = read_cache(&path, &m.model_fingerprint, dim);
    let keys: Vec<[u8; 32]> = index
        .papers()
        .iter()
        .map(|p| query_key(encoder.identity(), &p.paper.title))
        .collect();
    let mut missing: Vec<usize> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        if !cache.contains_key(k) && queued.insert(*k) {
            missing.push(i);
        }
    }
    let mut out = TitleQueries::default();
    if !missing.is_empty() {
        let titles: Vec<String> = missing
            .iter()
            .map(|&i| index.paper(i).title.clone())
            .collect();
        let total = titles.len();
        let emb = encoder.embed(&titles, Prefix::Query, &mut |d, _| progress(d, total))?;
        for (r, &i) in missing.iter().enumerate() {
            cache.insert(keys[i], emb.row(r).to_vec());
        }
        out.embedded = missing.len();
    }
    out.vectors = Vec::with_capacity(index.len() * dim);
    for k in &keys {
        let v = cache.get(k).ok_or_else(|| SearchError::Cache {
            path: path.clone(),
            msg: "title vector missing after embedding".into(),
        })?;
        out.vectors.extend_from_slice(v);
    }
    out.cached = index.len() - out.embedded.min(index.len());
    if out.embedded > 0 {
        // Only this index's titles are kept, deduplicated, in paper order.
        let mut seen = std::collections::HashSet::new();
        let (mut ks, mut vs) = (Vec::new(), Vec::new());
        for (i, k) in keys.iter().enumerate() {
            if seen.insert(*k) {
                ks.push(*k);
                vs.extend_from_slice(&out.vectors[i * dim..(i + 1) * dim]);
            }
        }
        if let Err(e) = write_cache(&path, index, &ks, &vs) {
            out.cache_error = Some(e.to_string());
        }
    }
    Ok(out)
}
