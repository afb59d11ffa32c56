//! Search over an index: exact cosine top-k, BM25 over the paper text, and their fusion.
//!
//! - [`dense`] — exact top-k by cosine as a blocked matrix product (memory `O(N·d)`, never `N×N`).
//! - [`lexical`] — a tokenizer for Korean text with English terms, and BM25 over it.
//! - [`hybrid`] — the dense and lexical rankings fused by their normalised scores.
//! - [`eval`] — title → own-paper retrieval quality, the title query cache, and the summary check
//!   that flags papers whose summary does not describe them.
//!
//! Rankings work on vectors that are already embedded: the caller turns query text into a vector
//! (with the `query: ` prefix) and passes it in. The model is used here only to learn the search
//! lexicon when no current one is stored ([`Searcher::new`] with an encoder: its word vectors
//! confirm the translations); without one, the stored lexicon or the glossary serves.

pub mod eval;
pub mod hybrid;
pub mod lexical;
pub mod lexical_store;
mod lexical_top;

use std::path::PathBuf;

use std::borrow::Cow;

use serde::Serialize;

use crate::embed::Encoder;
use crate::index::Index;
#[cfg(feature = "ann")]
pub use crate::vectors::ann;
pub use crate::vectors::{dense, device_topk, Hit, VectorBackend, VectorError};

pub use dense::{related_all, top_k};

pub use eval::{evaluate_titles, Metrics};
pub use hybrid::{fuse, DENSE_WEIGHT, FUSION_DEPTH};
pub use lexical::{tokenize, Bm25};

/// Errors of searching, looking papers up and evaluating.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index has no papers to search.
    #[error("the index holds no papers (every digest entry lacked a summary?); nothing to search")]
    EmptyIndex,
    /// A search asked for no results (`k` = 0), found by the CLI or by a vector layer.
    #[error("-k must be at least 1")]
    ZeroK,
    /// The query text is empty or only whitespace.
    #[error("the query is empty (only spaces): give some words to search for")]
    EmptyQuery,
    /// No paper has this id, and no title contains these words.
    #[error("no paper {query:?} in the index ({papers} papers): give an arXiv id (e.g. 2407.17398) or words of its title")]
    UnknownPaper {
        /// What was asked for.
        query: String,
        /// Papers in the index.
        papers: usize,
    },
    /// Several titles contain the words; the candidates are listed.
    #[error("{query:?} matches {} papers, give the arXiv id of one:\n{}", candidates.len(), candidates.join("\n"))]
    Ambiguous {
        /// What was asked for.
        query: String,
        /// `id  title` lines of the matching papers (at most 20).
        candidates: Vec<String>,
    },
    /// A dense or hybrid search was asked for without a query vector.
    #[error("mode {0} needs the query embedded by the model")]
    NeedsVector(Mode),
    /// A queries or judgments file is unreadable or has a malformed line.
    #[error("{}:{line}", path.display())]
    Judgments {
        /// The queries or judgments file, as given.
        path: PathBuf,
        /// 1-based line, 0 for the whole file.
        line: usize,
        /// The I/O error of reading the file, or the JSON error of the line.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The title query cache could not be written or is malformed.
    #[error("{path}: {msg}")]
    Cache {
        /// `title-queries.safetensors` in the index directory.
        path: PathBuf,
        /// The serialising or writing error, or a title left without a vector after embedding.
        msg: String,
    },
    /// The model failed: embedding the titles as queries, or words for the learned lexicon.
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    /// Reading the index failed.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// Vector work failed: shapes that disagree, the HNSW graph, a device product.
    #[error(transparent)]
    Vectors(VectorError),
}

/// A zero `k` is the same usage error whichever layer finds it; the rest are vector errors.
impl From<VectorError> for SearchError {
    fn from(e: VectorError) -> Self {
        match e {
            VectorError::ZeroK => SearchError::ZeroK,
            other => SearchError::Vectors(other),
        }
    }
}

/// A hit as people and programs read it: rank, score and the paper's id, title, date and link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRecord<'a> {
    /// 1-based rank.
    pub rank: usize,
    /// Score of the mode that ranked it.
    pub score: f32,
    /// arXiv id without its version, or the link itself for a paper not on arXiv.
    pub arxiv_id: Cow<'a, str>,
    /// Title exactly as written, LaTeX included.
    pub title: Cow<'a, str>,
    /// Date of first appearance (`YYYY-MM-DD`); `None` when no date is known.
    pub date: Option<Cow<'a, str>>,
    /// The paper's link: a digest heading's target, or one made from an archive record.
    pub url: Cow<'a, str>,
}

impl<'a> HitRecord<'a> {
    /// The record of `hit`, ranked `rank` (1-based); only its row is read from an index opened
    /// by row.
    pub fn of(index: &'a Index, rank: usize, hit: &Hit) -> HitRecord<'a> {
        match index.record(hit.row) {
            Cow::Borrowed(r) => {
                let p = &r.paper;
                HitRecord {
                    rank,
                    score: hit.score,
                    arxiv_id: Cow::Borrowed(&p.arxiv_id),
                    title: Cow::Borrowed(&p.title),
                    date: p.date.as_deref().map(Cow::Borrowed),
                    url: Cow::Borrowed(&p.url),
                }
            }
            Cow::Owned(r) => {
                let p = r.paper;
                HitRecord {
                    rank,
                    score: hit.score,
                    arxiv_id: Cow::Owned(p.arxiv_id),
                    title: Cow::Owned(p.title),
                    date: p.date.map(Cow::Owned),
                    url: Cow::Owned(p.url),
                }
            }
        }
    }
}

/// `hits` as [`HitRecord`]s, ranked in order.
pub fn hit_records<'a>(index: &'a Index, hits: &[Hit]) -> Vec<HitRecord<'a>> {
    hits.iter()
        .enumerate()
        .map(|(r, h)| HitRecord::of(index, r + 1, h))
        .collect()
}

/// How free text is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cosine between the query embedding and the paper vectors.
    Dense,
    /// BM25 over tokens of the paper text.
    Lexical,
    /// Reciprocal rank fusion of dense and lexical.
    Hybrid,
}

impl Mode {
    /// All modes, in table order.
    pub const ALL: [Mode; 3] = [Mode::Dense, Mode::Lexical, Mode::Hybrid];

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dense => "dense",
            Mode::Lexical => "lexical",
            Mode::Hybrid => "hybrid",
        }
    }

    /// Whether the mode needs the query embedded.
    pub fn needs_vector(self) -> bool {
        self != Mode::Lexical
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dense" => Ok(Mode::Dense),
            "lexical" => Ok(Mode::Lexical),
            "hybrid" => Ok(Mode::Hybrid),
            _ => Err(format!("unknown mode {s:?}: use dense, lexical or hybrid")),
        }
    }
}

/// An index ready for free-text search: the index plus its BM25 statistics.
pub struct Searcher<'a> {
    index: &'a Index,
    /// Where the dense ranking runs.
    backend: &'a VectorBackend,
    bm25: Bm25,
    /// Statistics built anew after a damaged posting list was read from `lexical.bin`.
    repaired: std::sync::OnceLock<Bm25>,
}

impl<'a> Searcher<'a> {
    /// Builds the lexical side over the fields the index's text recipe embeds (see
    /// [`lexical_store::load_or_build`] for what `encoder` changes).
    pub fn new(
        index: &'a Index,
        backend: &'a VectorBackend,
        encoder: Option<&Encoder>,
    ) -> Result<Self, SearchError> {
        if index.is_empty() {
            return Err(SearchError::EmptyIndex);
        }
        Ok(Searcher {
            index,
            backend,
            bm25: lexical_store::load_or_build(index, encoder)?,
            repaired: std::sync::OnceLock::new(),
        })
    }

    /// The BM25 statistics searched: those rebuilt after a damaged posting list, if any,
    /// else those loaded or built when the searcher was made.
    pub fn bm25(&self) -> &Bm25 {
        self.repaired.get().unwrap_or(&self.bm25)
    }

    /// Top `k` papers for `text` (and its `query: ` embedding, needed by dense and hybrid).
    pub fn search(
        &self,
        text: &str,
        vector: Option<&[f32]>,
        mode: Mode,
        k: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        lexical_store::with_repair(self.index, &self.bm25, &self.repaired, |bm25| {
            search_with(self.index, bm25, self.backend, text, vector, mode, k)
        })?
    }
}

/// [`Searcher::search`] over an index and its BM25 held by the caller (a server keeps both for
/// many queries).
pub fn search_with(
    index: &Index,
    bm25: &Bm25,
    backend: &VectorBackend,
    text: &str,
    vector: Option<&[f32]>,
    mode: Mode,
    k: usize,
) -> Result<Vec<Hit>, SearchError> {
    check_query(index, text, k)?;
    let dense = match dense_depth(mode, k) {
        Some(depth) => {
            let v = vector.ok_or(SearchError::NeedsVector(mode))?;
            let dim = index.dim();
            if v.len() != dim {
                return Err(crate::vectors::VectorError::Mismatch {
                    what: "query vector dimension",
                    expected: dim,
                    found: v.len(),
                }
                .into());
            }
            let mut hits = backend.top_k(index.vectors(), dim, v, depth, None)?;
            Some(hits.pop().unwrap_or_default())
        }
        None => None,
    };
    search_ranked(index, bm25, text, dense.as_deref(), mode, k)
}

/// Refuses a search that cannot run: an empty index, `k` 0, a blank query.
pub fn check_query(index: &Index, text: &str, k: usize) -> Result<(), SearchError> {
    if index.is_empty() {
        return Err(SearchError::EmptyIndex);
    }
    if k == 0 {
        return Err(SearchError::ZeroK);
    }
    if text.trim().is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    Ok(())
}

/// How many dense hits a `mode` search for `k` papers reads: `None` when it reads none.
pub fn dense_depth(mode: Mode, k: usize) -> Option<usize> {
    match mode {
        Mode::Dense => Some(k),
        Mode::Lexical => None,
        Mode::Hybrid => Some(k.max(FUSION_DEPTH)),
    }
}

/// A search's answer given its dense ranking ([`dense_depth`] deep, best first), found by the
/// caller (a server answers many queries' dense parts in one pass).
pub fn search_ranked(
    index: &Index,
    bm25: &Bm25,
    text: &str,
    dense: Option<&[Hit]>,
    mode: Mode,
    k: usize,
) -> Result<Vec<Hit>, SearchError> {
    check_query(index, text, k)?;
    let Some(depth) = dense_depth(mode, k) else {
        return Ok(bm25.search(text, k, None));
    };
    let dense = dense.ok_or(SearchError::NeedsVector(mode))?;
    let dense = &dense[..dense.len().min(depth)];
    if mode == Mode::Dense {
        return Ok(dense.to_vec());
    }
    let lexical = bm25.search(text, depth, None);
    Ok(fuse(dense, &lexical, k))
}

/// The `k` papers nearest to paper `row` by cosine, the paper itself excluded, found on
/// `backend` (exactly, whichever it is).
pub fn related(
    index: &Index,
    backend: &VectorBackend,
    row: usize,
    k: usize,
) -> Result<Vec<Hit>, SearchError> {
    if index.is_empty() {
        return Err(SearchError::EmptyIndex);
    }
    if k == 0 {
        return Err(SearchError::ZeroK);
    }
    if row >= index.len() {
        return Err(crate::vectors::VectorError::Mismatch {
            what: "paper row",
            expected: index.len(),
            found: row,
        }
        .into());
    }
    let dim = index.dim();
    let mut hits = backend.top_k(index.vectors(), dim, index.vector(row), k, Some(&[row]))?;
    Ok(hits.pop().unwrap_or_default())
}

/// How related papers are listed: the nearest `k` by cosine, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RelatedOrder {
    /// Most similar first.
    #[default]
    Similarity,
    /// Newest first (then most similar).
    Date,
    /// Most votes first (then most similar).
    Votes,
}

impl std::str::FromStr for RelatedOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "similarity" => Ok(RelatedOrder::Similarity),
            "date" => Ok(RelatedOrder::Date),
            "votes" => Ok(RelatedOrder::Votes),
            _ => Err(format!(
                "unknown order {s:?}: use similarity, date or votes"
            )),
        }
    }
}

/// Puts `hits` (most similar first) in `order`; ties keep their similarity order.
pub fn order_related(index: &Index, hits: &mut [Hit], order: RelatedOrder) {
    match order {
        RelatedOrder::Similarity => {}
        RelatedOrder::Date => {
            hits.sort_by_cached_key(|h| std::cmp::Reverse(index.record(h.row).paper.date.clone()))
        }
        RelatedOrder::Votes => {
            hits.sort_by_cached_key(|h| std::cmp::Reverse(index.record(h.row).paper.votes))
        }
    }
}

/// Lowercase alphanumeric words of a title, for matching title words.
fn title_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Finds a paper by arXiv id (or URL), by exact title, or by words its title contains.
pub fn find_paper(index: &Index, query: &str) -> Result<usize, SearchError> {
    if index.is_empty() {
        return Err(SearchError::EmptyIndex);
    }
    if query.trim().is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    let id = crate::text::arxiv::normalise(query);
    if let Some(i) = index.row_of(&id) {
        return Ok(i);
    }
    // A link that is not arXiv's is its paper's id too, unless the id was normalised from it.
    if let Some(i) = index
        .papers()
        .iter()
        .position(|p| p.paper.url == query.trim())
    {
        return Ok(i);
    }
    let unknown = || SearchError::UnknownPaper {
        query: query.trim().to_string(),
        papers: index.len(),
    };
    if crate::text::arxiv::is_new_style(&id) {
        return Err(unknown());
    }
    let words = title_words(query);
    if words.is_empty() {
        return Err(unknown());
    }
    let mut exact = Vec::new();
    let mut containing = Vec::new();
    for (i, p) in index.papers().iter().enumerate() {
        let tw = title_words(&p.paper.title);
        if tw == words {
            exact.push(i);
        }
        if words
            .iter()
            .all(|w| tw.iter().any(|t| t.contains(w.as_str())))
        {
            containing.push(i);
        }
    }
    let pick = if exact.len() == 1 { exact } else { containing };
    match pick.as_slice() {
        [] => Err(unknown()),
        [one] => Ok(*one),
        many => Err(SearchError::Ambiguous {
            query: query.trim().to_string(),
            candidates: many
                .iter()
                .take(20)
                .map(|&i| {
                    let p = &index.record(i).paper;
                    format!("  {}  {}", p.arxiv_id, p.title)
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        assert!("fuzzy".parse::<Mode>().is_err());
    }
}
