//! Topics: k-means over the index's vectors, the choice of k, keywords and labels, stable ids,
//! and each topic's papers over time.
//!
//! [`compute`] clusters the vectors ([`kmeans`]: greedy k-means++ starts, Lloyd iterations through
//! a swappable assignment step, `--k auto` by silhouette), orders topics by size, matches them to
//! the previous run's topics so ids and labels survive an index update ([`stable`]), and
//! summarises each topic: keywords by c-TF-IDF and MMR ([`keywords`]), a label, the papers
//! nearest its centroid, the top-voted papers, papers per month, first and last date, and a
//! rising/falling signal. The result is [`Topics`], saved as `topics.json` in the index
//! directory ([`save`], [`load`]).
//!
//! The same papers, vectors and parameters always give the same [`Topics`] (seeded starts,
//! deterministic ties, order-independent parallel steps).

pub mod by_title;
pub mod hierarchy;
pub mod incremental;
pub mod keywords;
pub mod kmeans;
pub mod label_check;
pub mod labels;
pub mod map;
pub mod naming;
pub mod over_time;
pub mod stable;

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::corpus::Paper;
use crate::index::{Index, TextRecipe};
use crate::vectors::VectorBackend;
pub use by_title::ByTitle;
use keywords::{KeywordOptions, TermEmbedder};
use kmeans::{AutoK, KMeansConfig, Rows};

/// File name of the saved topics inside the index directory.
pub const FILE: &str = "topics.json";

/// Most papers whose words the keywords, labels and keywords over time are counted from; a
/// larger index is read at an even sample of this many. Every paper keeps its topic (the
/// clustering uses all the vectors); only the word statistics are sampled, as they settle long
/// before a million papers, and the terms of a million papers took more memory than the
/// two-core, 24 GB machine has.
pub const KEYWORD_SAMPLE: usize = 200_000;

/// Version of the `topics.json` layout; bumped on incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Errors of computing, saving and loading topics.
#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    /// No papers to cluster.
    #[error("the index holds no papers")]
    Empty,
    /// More topics than papers.
    #[error(
        "k = {k} is larger than the number of papers ({papers}); k must be between 1 and {papers}"
    )]
    TooManyTopics {
        /// The number of topics asked for, more than `papers`.
        k: usize,
        /// Papers in the index.
        papers: usize,
    },
    /// More topics than distinct vectors (papers with identical text share a vector).
    #[error(
        "k = {k} needs {k} distinct vectors, but the {papers} papers have only {distinct}; \
         k must be at most {distinct}"
    )]
    TooFewDistinct {
        /// The number of topics asked for, more than `distinct`.
        k: usize,
        /// Distinct vectors (bitwise-equal rows counted once), fewer than `k`.
        distinct: usize,
        /// Papers in the index.
        papers: usize,
    },
    /// The auto-k range does not fit the data.
    #[error(
        "k auto scans {lo}..{hi} topics, but the index holds only {papers} papers \
         ({distinct} distinct vectors) and auto needs at least 2 per topic"
    )]
    AutoRange {
        /// Smallest k of the range.
        lo: usize,
        /// Largest k of the range.
        hi: usize,
        /// Papers in the index.
        papers: usize,
        /// Distinct vectors, counted only up to `2 · hi`; fewer than `2 · lo`.
        distinct: usize,
    },
    /// A malformed k or k range.
    #[error("bad k: {0}")]
    BadK(String),
    /// Any other setting or input the run cannot use (zero runs, saved topics of another
    /// dimension, keyword vectors of another model, a failed t-SNE); the message says which.
    #[error("{0}")]
    BadParam(String),
    /// The vectors contain NaN or infinity.
    #[error("the vectors contain NaN or infinity")]
    NonFinite,
    /// The vector buffer is not a whole number of rows.
    #[error("{len} vector values do not form rows of dimension {dim}")]
    Shape {
        /// Values in the buffer.
        len: usize,
        /// The row dimension the values should divide into.
        dim: usize,
    },
    /// Vectors and papers disagree in number.
    #[error("{rows} vectors for {papers} papers")]
    Mismatch {
        /// Vector rows given, which should have been one per paper.
        rows: usize,
        /// Papers given; row `i` of the vectors was to belong to paper `i`.
        papers: usize,
    },
    /// The k-means computation failed (a device error, or a shape it cannot work with).
    #[error("k-means: {what}")]
    KMeans {
        /// The failed step, printed after `k-means: ` (`no run finished`, `incremental update`).
        what: &'static str,
        /// The underlying error (candle's on a device, linfa's in an update), if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The index's `topics.json`, which could not be read or written.
        path: PathBuf,
        /// The I/O error of reading it (other than its absence) or of replacing it atomically.
        #[source]
        source: std::io::Error,
    },
    /// No topics were saved for the index.
    #[error("no topics in {}", dir.display())]
    NoTopics {
        /// Index directory, which has no `topics.json`.
        dir: PathBuf,
    },
    /// The saved topics were computed on another version of the index: they would put papers
    /// in the wrong topics.
    #[error("the topics in {} were computed on another version of the index", dir.display())]
    Stale {
        /// Index directory, whose `topics.json` is stamped for another generation or other papers.
        dir: PathBuf,
    },
    /// A stored topics file is malformed or of another version.
    #[error("{path}: {msg}")]
    Corrupt {
        /// The index's `topics.json`.
        path: PathBuf,
        /// The JSON error, the unknown format version, or papers and assignments not pairing up.
        msg: String,
    },
    /// Reading the index failed.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// Embedding keywords (or labels, for the label check) with the model failed.
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
}

/// Vector errors as topics errors: a shape error stays one; the rest is the k-means step that
/// failed on its backend.
impl From<crate::vectors::VectorError> for TopicsError {
    fn from(e: crate::vectors::VectorError) -> Self {
        use crate::vectors::VectorError;
        match e {
            VectorError::Shape { len, dim, .. } => TopicsError::Shape { len, dim },
            VectorError::Compute(e) => TopicsError::KMeans {
                what: "on the device",
                source: Some(Box::new(e)),
            },
            other => TopicsError::KMeans {
                what: "vector work",
                source: Some(Box::new(other)),
            },
        }
    }
}

/// Direction of a topic's share in the recent window against before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    /// Significantly larger share recently (z ≥ 1.96).
    Rising,
    /// Significantly smaller share recently (z ≤ −1.96).
    Falling,
    /// No significant change, or too little data on one side.
    Steady,
}

/// One topic of a run as saved in `topics.json`: its label, keywords, papers and trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// Stable id: kept across runs while the topic matches a previous one.
    pub id: u32,
    /// Short label: inherited from the matched previous topic, else built from the keywords.
    pub label: String,
    /// Keywords, most representative first.
    pub keywords: Vec<String>,
    /// Papers assigned to it: the entries of [`Topics::assignment`] that hold its id.
    pub size: usize,
    /// Rows (index order) of the papers nearest the centroid, nearest first.
    pub representative: Vec<usize>,
    /// Rows of the most-voted papers, most votes first (papers without votes left out).
    pub top_voted: Vec<usize>,
    /// Papers per month (`YYYY-MM`) of first appearance.
    pub per_month: BTreeMap<String, usize>,
    /// Earliest first-appearance date of its papers.
    pub first_date: Option<String>,
    /// Latest first-appearance date of its papers.
    pub last_date: Option<String>,
    /// Papers in the recent window (the archive's last `recent_days` days).
    pub recent: usize,
    /// Share of the recent window over share before it (add-one smoothed; 1 = steady).
    pub trend: f64,
    /// Two-proportion z statistic of that difference.
    pub trend_z: f64,
    /// Rising, falling or steady, from `trend_z`.
    pub direction: Trend,
    /// Centred cosine to the previous topic whose id it kept; `None` for a new topic.
    pub matched: Option<f32>,
    /// Mean of its papers' vectors.
    pub centroid: Vec<f32>,
    /// Its keywords per month (or quarter), for periods with enough of its papers.
    #[serde(default)]
    pub over_time: Vec<over_time::PeriodKeywords>,
}

/// A paper far from every centroid: listed, but left in its topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    /// Paper row (index order).
    pub row: usize,
    /// Id of its topic (the nearest centroid's).
    pub topic: u32,
    /// Squared distance to that centroid.
    pub distance: f32,
    /// Robust z-score of the distance among its topic's papers.
    pub z: f32,
}

/// A paper is an outlier when its distance to its topic's centroid has a robust z-score (median
/// and MAD of the topic's distances) above this: its nearest centroid is far for that topic.
pub const OUTLIER_Z: f32 = 3.5;

/// The last full fit, against which an incremental update measures its drift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// Papers the full fit saw.
    pub papers: usize,
    /// Its objective per paper.
    pub objective_per_paper: f64,
    /// Incremental updates applied since that full fit; 0 right after it.
    pub updates: usize,
}

/// A group of topics from a cut of the hierarchy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coarse {
    /// Member topic ids, largest first.
    pub topics: Vec<u32>,
    /// Papers in all its member topics together.
    pub size: usize,
    /// The first label words of its largest members.
    pub label: String,
}

/// Seconds spent per stage (not saved).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// k-means fitting, including every k of `--k auto`.
    pub fit_s: f64,
    /// Keywords (tokenising, c-TF-IDF, term embedding, MMR, labels, keywords over time).
    pub keywords_s: f64,
    /// The 2-D map (t-SNE).
    pub map_s: f64,
    /// The whole run, [`compute`] or [`update`], the stages above and what lies between them.
    pub total_s: f64,
}

/// A topic model of an index: parameters, topics, and each paper's topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topics {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Number of topics, `topics.len()`: the fixed k, or the one `--k auto` chose.
    pub k: usize,
    /// Seed of the k-means starts.
    pub seed: u64,
    /// k-means++ starts per k.
    pub runs: usize,
    /// How k was chosen, when `--k auto`.
    pub auto: Option<AutoK>,
    /// k-means objective: sum of squared distances of papers to their topic centroid.
    pub objective: f64,
    /// The index the topics were computed on (its generation, model, papers).
    #[serde(flatten)]
    pub stamp: crate::index::Stamp,
    /// Dimension of the index's vectors, and so of every centroid.
    pub dim: usize,
    /// How keywords were chosen: `c-tf-idf+mmr` or `c-tf-idf`.
    pub keyword_method: String,
    /// Latest first-appearance date of any paper: the end of the recent window.
    pub archive_last_date: Option<String>,
    /// Length of the recent window in days.
    pub recent_days: i64,
    /// The next fresh id; ids are never reused.
    pub next_id: u32,
    /// Topics, largest first.
    pub topics: Vec<Topic>,
    /// arXiv id of every paper row, in index order.
    pub papers: Vec<String>,
    /// Topic id of every paper row, in index order.
    pub assignment: Vec<u32>,
    /// The merge tree of the topics (nodes: topic positions `0..k`, then one per merge).
    #[serde(default)]
    pub hierarchy: Vec<hierarchy::Merge>,
    /// Papers far from every centroid.
    #[serde(default)]
    pub outliers: Vec<Outlier>,
    /// The 2-D map of the papers, when computed.
    #[serde(default)]
    pub map: Option<map::Layout>,
    /// The last full fit.
    #[serde(default)]
    pub fit: FitInfo,
    /// Why a full refit (`--fresh`) is suggested, when an incremental update drifted.
    #[serde(default)]
    pub refit_suggested: Option<String>,
    /// Papers clustered by their titles, their summaries flagged by the summary check
    /// ([`by_title`]).
    #[serde(default)]
    pub by_title: usize,
    /// Seconds per stage of the run that produced this (not saved).
    #[serde(skip)]
    pub timing: Timing,
}

impl Topics {
    /// Each topic's position in `topics` (its colour in the report and the map), by id.
    pub fn positions(&self) -> std::collections::HashMap<u32, usize> {
        self.topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id, i))
            .collect()
    }

    /// The topic with id `id`.
    pub fn topic(&self, id: u32) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    /// The topic of paper row `row`.
    pub fn topic_of(&self, row: usize) -> Option<&Topic> {
        self.assignment.get(row).and_then(|&id| self.topic(id))
    }

    /// Topic id per arXiv id.
    pub fn assignment_by_id(&self) -> BTreeMap<&str, u32> {
        self.papers
            .iter()
            .map(String::as_str)
            .zip(self.assignment.iter().copied())
            .collect()
    }

    /// The topics grouped into `groups` by cutting the hierarchy (no refit), largest first.
    pub fn coarse(&self, groups: usize) -> Vec<Coarse> {
        let k = self.topics.len();
        if self.hierarchy.len() + 1 != k {
            return Vec::new();
        }
        let mut out: Vec<Coarse> = hierarchy::cut(k, &self.hierarchy, groups)
            .into_iter()
            .map(|members| {
                let mut ts: Vec<&Topic> = members.iter().map(|&p| &self.topics[p]).collect();
                ts.sort_by_key(|t| (std::cmp::Reverse(t.size), t.id));
                let label = ts
                    .iter()
                    .take(3)
                    .filter_map(|t| t.label.split(" · ").next())
                    .collect::<Vec<_>>()
                    .join(" / ");
                Coarse {
                    topics: ts.iter().map(|t| t.id).collect(),
                    size: ts.iter().map(|t| t.size).sum(),
                    label,
                }
            })
            .collect();
        out.sort_by_key(|c| (std::cmp::Reverse(c.size), c.topics.first().copied()));
        out
    }

    /// Whether these topics were computed on exactly `index` (the stamp of derived files, and
    /// rows that line up).
    ///
    /// An index read by row always has a papers checksum, which the stamp holds: equal stamps
    /// then mean the same papers file, so its million ids are not parsed to be compared.
    pub fn is_current(&self, index: &Index) -> bool {
        self.stamp == index.stamp()
            && self.papers.len() == index.len()
            && self.assignment.len() == index.len()
            && (index.is_lazy()
                || self
                    .papers
                    .iter()
                    .zip(index.papers())
                    .all(|(a, p)| *a == p.paper.arxiv_id))
    }
}

/// How many topics: a fixed k, or the best of a range by silhouette.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KChoice {
    /// Exactly this many topics.
    Fixed(usize),
    /// The k of this range with the highest silhouette.
    Auto(RangeInclusive<usize>),
}

impl std::str::FromStr for KChoice {
    type Err = TopicsError;
    fn from_str(s: &str) -> Result<Self, TopicsError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(KChoice::Auto(kmeans::DEFAULT_K_RANGE));
        }
        match s.parse::<usize>() {
            Ok(0) => Err(TopicsError::BadK("k must be at least 1".into())),
            Ok(k) => Ok(KChoice::Fixed(k)),
            Err(_) => Err(TopicsError::BadK(format!(
                "{s:?} is neither a number nor `auto`"
            ))),
        }
    }
}

/// Parses a k range: `8..40` or `8..=40` (both inclusive) or `8-40`.
pub fn parse_k_range(s: &str) -> Result<RangeInclusive<usize>, TopicsError> {
    let s = s.trim();
    let (a, b) = s
        .split_once("..=")
        .or_else(|| s.split_once(".."))
        .or_else(|| s.split_once('-'))
        .ok_or_else(|| {
            TopicsError::BadK(format!("range {s:?}: write it as MIN..MAX, e.g. 8..40"))
        })?;
    let num = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| TopicsError::BadK(format!("range {s:?}: {x:?} is not a number")))
    };
    let (lo, hi) = (num(a)?, num(b)?);
    if lo < 2 || lo > hi {
        return Err(TopicsError::BadK(format!(
            "range {s:?}: needs 2 <= MIN <= MAX (silhouette needs at least 2 topics)"
        )));
    }
    Ok(lo..=hi)
}

/// Settings of a topic run ([`compute`], [`update`]), as `papermap topics` takes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// How many topics: a fixed k, or the range `--k auto` picks the best k from.
    pub k: KChoice,
    /// Seed of the k-means starts and of the silhouette sample.
    pub seed: u64,
    /// k-means++ starts per k.
    pub runs: usize,
    /// Rows in the silhouette sample of `--k auto`.
    pub silhouette_sample: usize,
    /// How keywords are chosen: c-TF-IDF candidates, keywords kept, MMR diversity.
    pub keywords: KeywordOptions,
    /// Centred cosine above which a topic keeps a previous topic's id.
    pub match_threshold: f32,
    /// Length of the recent window of the trend, in days.
    pub recent_days: i64,
    /// Papers listed as nearest the centroid.
    pub representatives: usize,
    /// Papers listed as most voted.
    pub top_voted: usize,
    /// Compute the 2-D map (t-SNE).
    pub map: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            k: KChoice::Auto(kmeans::DEFAULT_K_RANGE),
            seed: 0,
            runs: 3,
            silhouette_sample: kmeans::DEFAULT_SILHOUETTE_SAMPLE,
            keywords: KeywordOptions::default(),
            match_threshold: stable::DEFAULT_THRESHOLD,
            recent_days: 30,
            representatives: 5,
            top_voted: 5,
            map: true,
        }
    }
}

pub use crate::corpus::dates::day_number;
use crate::corpus::dates::plausible_day;

/// Topics of an index: [`compute`] on its papers and vectors, stamped with its generation and
/// model fingerprint; the papers of `by_title` are clustered by their titles, their summaries
/// left out of the keywords.
pub fn compute_index(
    index: &Index,
    params: &Params,
    previous: Option<&Topics>,
    embedder: Option<&dyn TermEmbedder>,
    backend: &VectorBackend,
    by_title: &ByTitle,
) -> Result<Topics, TopicsError> {
    on_index(index, by_title, |papers, rows| {
        compute_placing(
            papers,
            rows,
            params,
            previous,
            embedder,
            backend,
            &by_title.rows,
        )
    })
}

/// `run` on the index's papers and vectors, the `by_title` papers at their title vectors and
/// without their summaries (an abstract, if any, stays), the result stamped with the index.
fn on_index(
    index: &Index,
    by_title: &ByTitle,
    run: impl FnOnce(&[&Paper], Rows<'_>) -> Result<Topics, TopicsError>,
) -> Result<Topics, TopicsError> {
    if index.is_empty() {
        return Err(TopicsError::Empty);
    }
    let rows = Rows::from_view(index.rows())?;
    let patched = by_title.patch(rows);
    let rows = match &patched {
        Some(p) => Rows::new(p, rows.dim())?,
        None => rows,
    };
    let placed: Vec<usize> = by_title
        .rows
        .iter()
        .copied()
        .filter(|&r| r < index.len())
        .collect();
    let cleared: Vec<Paper> = placed
        .iter()
        .map(|&r| Paper {
            summary: String::new(),
            ..index.paper(r).clone()
        })
        .collect();
    // References, not copies: a million papers' texts are gigabytes.
    let mut papers: Vec<&Paper> = index.papers().iter().map(|p| &p.paper).collect();
    for (&r, p) in placed.iter().zip(&cleared) {
        papers[r] = p;
    }
    let mut t = run(&papers, rows)?;
    t.stamp = index.stamp();
    t.by_title = by_title.rows.len();
    Ok(t)
}

/// Clusters `vectors` (row `i` belongs to `papers[i]`) with k-means on `backend` and summarises
/// the topics; with `previous`, matching topics keep their ids and labels; with `embedder`,
/// keywords are diversified by MMR against the centroids.
pub fn compute(
    papers: &[&Paper],
    vectors: Rows<'_>,
    params: &Params,
    previous: Option<&Topics>,
    embedder: Option<&dyn TermEmbedder>,
    backend: &VectorBackend,
) -> Result<Topics, TopicsError> {
    compute_placing(papers, vectors, params, previous, embedder, backend, &[])
}

/// [`compute`], with the rows of `placed` left out of the k-means fit and each then put in the
/// topic of the nearest centroid: a paper whose vector does not stand for it (a wrong summary,
/// see [`by_title`]) neither shapes the topics nor takes a cluster of its own.
pub fn compute_placing(
    papers: &[&Paper],
    vectors: Rows<'_>,
    params: &Params,
    previous: Option<&Topics>,
    embedder: Option<&dyn TermEmbedder>,
    backend: &VectorBackend,
    placed: &[usize],
) -> Result<Topics, TopicsError> {
    let assign = backend.assigner();
    let start = Instant::now();
    let n = papers.len();
    if n == 0 {
        return Err(TopicsError::Empty);
    }
    if vectors.len() != n {
        return Err(TopicsError::Mismatch {
            rows: vectors.len(),
            papers: n,
        });
    }
    let dim = vectors.dim();
    let left_out = by_title::row_mask(n, placed);
    let keep: Vec<usize> = (0..n).filter(|&r| !left_out[r]).collect();
    let k_max = match &params.k {
        KChoice::Fixed(k) => *k,
        KChoice::Auto(range) => *range.end(),
    };
    // Too few papers left to fit: every paper is fitted, as without placement.
    let (clustering, auto) = if keep.len() == n || keep.len() <= k_max {
        fit(papers, vectors, params, assign)?
    } else {
        let sub: Vec<f32> = keep
            .iter()
            .flat_map(|&r| vectors.row(r).iter().copied())
            .collect();
        let sub_papers: Vec<&Paper> = keep.iter().map(|&r| papers[r]).collect();
        let (mut c, auto) = fit(&sub_papers, Rows::new(&sub, dim)?, params, assign)?;
        let mut labels = vec![0u32; n];
        for (&r, &l) in keep.iter().zip(&c.labels) {
            labels[r] = l;
        }
        let centroids = Rows::new(&c.centroids, dim)?;
        for r in (0..n).filter(|&r| left_out[r]) {
            labels[r] = nearest(centroids, vectors.row(r)) as u32;
        }
        // The objective of every paper, as an update measures it (placed ones at their
        // titles), so that an update does not read them as drift.
        c.objective = (0..n)
            .map(|r| {
                crate::text::vector::squared_distance(
                    vectors.row(r),
                    c.centroid(labels[r] as usize),
                ) as f64
            })
            .sum();
        c.labels = labels;
        (c, auto)
    };
    let fit_s = start.elapsed().as_secs_f64();
    let k = clustering.k();

    // Order clusters by size (largest first), then by their first row.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (row, &l) in clustering.labels.iter().enumerate() {
        members[l as usize].push(row);
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&c| {
        (
            std::cmp::Reverse(members[c].len()),
            members[c].first().copied(),
        )
    });
    let ordered_centroids: Vec<f32> = order
        .iter()
        .flat_map(|&c| clustering.centroid(c).iter().copied())
        .collect();
    let new_rows = Rows::new(&ordered_centroids, dim)?;
    let mut position = vec![0usize; k];
    for (pos, &c) in order.iter().enumerate() {
        position[c] = pos;
    }
    let row_topic: Vec<usize> = clustering
        .labels
        .iter()
        .map(|&l| position[l as usize])
        .collect();

    // Stable ids.
    let mut center = vec![0f64; dim];
    for i in 0..n {
        for (a, &x) in center.iter_mut().zip(vectors.row(i)) {
            *a += x as f64;
        }
    }
    let center: Vec<f32> = center.iter().map(|&s| (s / n as f64) as f32).collect();
    let (matches, mut next_id) = match previous {
        Some(prev) => {
            let next = prev
                .next_id
                .max(prev.topics.iter().map(|t| t.id + 1).max().unwrap_or(0));
            let prev_c: Vec<f32> = prev
                .topics
                .iter()
                .flat_map(|t| t.centroid.iter().copied())
                .collect();
            let ok = prev.dim == dim && prev.topics.iter().all(|t| t.centroid.len() == dim);
            let m = match Rows::new(&prev_c, dim) {
                Ok(prev_rows) if ok => {
                    stable::match_centroids(prev_rows, new_rows, &center, params.match_threshold)
                }
                _ => vec![None; k],
            };
            (m, next)
        }
        None => (vec![None; k], 0),
    };
    let mut ids = Vec::with_capacity(k);
    let mut inherited: Vec<Option<(String, f32)>> = Vec::with_capacity(k);
    for m in &matches {
        match (m, previous) {
            (Some(m), Some(prev)) => {
                let t = &prev.topics[m.previous];
                ids.push(t.id);
                inherited.push(Some((t.label.clone(), m.similarity)));
            }
            _ => {
                ids.push(next_id);
                next_id += 1;
                inherited.push(None);
            }
        }
    }
    let map_start = Instant::now();
    let layout = if params.map {
        map::layout(vectors, params.seed, backend)?
    } else {
        None
    };
    let map_s = map_start.elapsed().as_secs_f64();
    let mut t = summarise(
        papers,
        vectors,
        &row_topic,
        &ordered_centroids,
        Ids {
            ids,
            inherited,
            next_id,
        },
        params,
        embedder,
    )?;
    t.auto = auto;
    t.objective = clustering.objective;
    t.fit = FitInfo {
        papers: n,
        objective_per_paper: clustering.objective / n as f64,
        updates: 0,
    };
    t.map = layout;
    t.timing.fit_s = fit_s;
    t.timing.map_s = map_s;
    t.timing.total_s = start.elapsed().as_secs_f64();
    Ok(t)
}

/// The row of `centroids` nearest `v` (squared distance; the first on ties, 0 with none).
fn nearest(centroids: Rows<'_>, v: &[f32]) -> usize {
    (0..centroids.len())
        .min_by(|&a, &b| {
            crate::text::vector::squared_distance(v, centroids.row(a))
                .total_cmp(&crate::text::vector::squared_distance(v, centroids.row(b)))
        })
        .unwrap_or(0)
}

/// The k-means fit of `vectors` (fixed k, or `--k auto` scored on `papers`' texts).
fn fit(
    papers: &[&Paper],
    vectors: Rows<'_>,
    params: &Params,
    assign: &dyn crate::vectors::assign::Assign,
) -> Result<(kmeans::Clustering, Option<AutoK>), TopicsError> {
    Ok(match &params.k {
        KChoice::Fixed(k) => (
            kmeans::fit(
                vectors,
                &KMeansConfig::new(*k, params.runs, params.seed),
                assign,
            )?,
            None,
        ),
        KChoice::Auto(range) => {
            let base = KMeansConfig::new(*range.start(), params.runs, params.seed);
            let texts: Vec<String> = papers
                .iter()
                .map(|p| TextRecipe::TitleSummary.text(p))
                .collect();
            let docs: Vec<Vec<keywords::Term>> = {
                use rayon::prelude::*;
                texts.par_iter().map(|t| keywords::terms(t)).collect()
            };
            let corpus = labels::Corpus::new(&docs, &texts, *range.end());
            let reader = |c: &kmeans::Clustering| reader_score(&docs, &corpus, c);
            let (auto, c) = kmeans::choose_k(
                vectors,
                range.clone(),
                &base,
                params.silhouette_sample,
                assign,
                Some((READER_CRITERION, &reader)),
            )?;
            (c, Some(auto))
        }
    })
}

/// How `--k auto` chooses k, in words (docs/topics.md explains why).
pub const READER_CRITERION: &str = "highest reader score: mean NPMI of each topic's 10 c-TF-IDF \
     keywords over all papers × keyword diversity across topics × share of papers in topics of at \
     least 0.5 % of the archive";

/// The reader score of a clustering: are its topics described by terms that go together
/// (coherence), by terms other topics do not use (diversity), and big enough to read as topics
/// (a topic of a handful of papers is a footnote)?
fn reader_score(
    docs: &[Vec<keywords::Term>],
    corpus: &labels::Corpus<'_>,
    c: &kmeans::Clustering,
) -> f64 {
    let k = c.k();
    let labels: Vec<usize> = c.labels.iter().map(|&l| l as usize).collect();
    let cands = keywords::ctfidf(docs, &labels, k, 10);
    let mut sizes = vec![0usize; k];
    for &l in &labels {
        sizes[l] += 1;
    }
    let n = labels.len().max(1);
    let min_size = (n as f64 * 0.005).ceil() as usize;
    let in_usable = sizes
        .iter()
        .filter(|&&s| s >= min_size.max(3))
        .sum::<usize>() as f64
        / n as f64;
    let keys: Vec<Vec<&str>> = cands
        .iter()
        .map(|t| t.iter().map(|s| s.key.as_str()).collect())
        .collect();
    let all: Vec<&str> = keys.iter().flatten().copied().collect();
    let unique: std::collections::HashSet<&str> = all.iter().copied().collect();
    let diversity = unique.len() as f64 / all.len().max(1) as f64;
    let coherence = keys
        .iter()
        .filter(|t| t.len() > 1)
        .map(|t| {
            let mut sum = 0.0;
            let mut pairs = 0.0;
            for i in 0..t.len() {
                for j in i + 1..t.len() {
                    sum += corpus.npmi(t[i], t[j]);
                    pairs += 1.0;
                }
            }
            sum / pairs
        })
        .sum::<f64>()
        / keys.iter().filter(|t| t.len() > 1).count().max(1) as f64;
    coherence.max(0.0) * diversity * in_usable
}

/// Ids, inherited labels (with their match similarity) and the next fresh id of the topics in
/// their final order.
struct Ids {
    ids: Vec<u32>,
    inherited: Vec<Option<(String, f32)>>,
    next_id: u32,
}

/// The topics of an index that has grown since `previous` was saved: the new papers join the
/// stored topics, whose centroids are refined by linfa-clustering's incremental k-means (see
/// [`incremental`]); ids, labels and the map of the old papers stay. Papers no longer in the
/// index are dropped.
pub fn update_index(
    index: &Index,
    params: &Params,
    previous: &Topics,
    embedder: Option<&dyn TermEmbedder>,
    by_title: &ByTitle,
) -> Result<Topics, TopicsError> {
    on_index(index, by_title, |papers, vectors| {
        update_placing(papers, vectors, params, previous, embedder, &by_title.rows)
    })
}

/// [`update_index`] on papers and their vectors (row `i` belongs to `papers[i]`).
pub fn update(
    papers: &[&Paper],
    vectors: Rows<'_>,
    params: &Params,
    previous: &Topics,
    embedder: Option<&dyn TermEmbedder>,
) -> Result<Topics, TopicsError> {
    update_placing(papers, vectors, params, previous, embedder, &[])
}

/// [`update`], with the rows of `placed` kept out of the centroids' refinement (as
/// [`compute_placing`] keeps them out of the fit): a new one joins the topic of the nearest
/// refined centroid. A paper the saved topics hold keeps its topic, even one the summary check
/// flags only now.
pub fn update_placing(
    papers: &[&Paper],
    vectors: Rows<'_>,
    params: &Params,
    previous: &Topics,
    embedder: Option<&dyn TermEmbedder>,
    placed: &[usize],
) -> Result<Topics, TopicsError> {
    let start = Instant::now();
    if papers.is_empty() {
        return Err(TopicsError::Empty);
    }
    if vectors.len() != papers.len() {
        return Err(TopicsError::Mismatch {
            rows: vectors.len(),
            papers: papers.len(),
        });
    }
    let dim = vectors.dim();
    let k = previous.topics.len();
    if previous.dim != dim || previous.topics.iter().any(|t| t.centroid.len() != dim) || k == 0 {
        return Err(TopicsError::BadParam(
            "the saved topics do not fit this index's vectors".into(),
        ));
    }
    let pos_of = previous.positions();
    let known: std::collections::HashMap<&str, usize> = previous
        .papers
        .iter()
        .zip(&previous.assignment)
        .filter_map(|(id, t)| Some((id.as_str(), *pos_of.get(t)?)))
        .collect();
    let mut row_topic = vec![usize::MAX; papers.len()];
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for (r, p) in papers.iter().enumerate() {
        match known.get(p.arxiv_id.as_str()) {
            Some(&pos) => {
                row_topic[r] = pos;
                old.push(r);
            }
            None => new.push(r),
        }
    }
    let stored: Vec<f32> = previous
        .topics
        .iter()
        .flat_map(|t| t.centroid.iter().copied())
        .collect();
    let left_out = by_title::row_mask(papers.len(), placed);
    let fitted =
        |rows: &[usize]| -> Vec<usize> { rows.iter().copied().filter(|&r| !left_out[r]).collect() };
    let (old_fit, new_fit) = match (fitted(&old), fitted(&new)) {
        // Nothing left to refine with: every paper takes part, as without placement.
        (o, n) if o.is_empty() && n.is_empty() => (old.clone(), new.clone()),
        pair => pair,
    };
    let refined = incremental::refine(vectors, Rows::new(&stored, dim)?, &old_fit, &new_fit)?;
    for (&r, &pos) in new_fit.iter().zip(&refined.new_labels) {
        row_topic[r] = pos;
    }
    let refined_rows = Rows::new(&refined.centroids, dim)?;
    for &r in &new {
        if row_topic[r] == usize::MAX {
            row_topic[r] = nearest(refined_rows, vectors.row(r));
        }
    }
    let fit_s = start.elapsed().as_secs_f64();
    let ids = Ids {
        ids: previous.topics.iter().map(|t| t.id).collect(),
        inherited: previous
            .topics
            .iter()
            .map(|t| Some((t.label.clone(), 1.0)))
            .collect(),
        next_id: previous.next_id,
    };
    let mut t = summarise(
        papers,
        vectors,
        &row_topic,
        &refined.centroids,
        ids,
        params,
        embedder,
    )?;
    // Topics keep their stored order (and so their positions in the hierarchy and the map).
    let centroids = Rows::new(&refined.centroids, dim)?;
    t.objective = (0..papers.len())
        .map(|r| {
            crate::text::vector::squared_distance(vectors.row(r), centroids.row(row_topic[r]))
                as f64
        })
        .sum();
    t.k = k;
    t.seed = previous.seed;
    t.runs = previous.runs;
    t.auto = previous.auto.clone();
    t.fit = FitInfo {
        updates: previous.fit.updates + 1,
        ..previous.fit
    };
    let per_paper = t.objective / papers.len() as f64;
    t.refit_suggested = incremental::drift(
        t.fit.papers,
        t.fit.objective_per_paper,
        papers.len(),
        per_paper,
    );
    let map_start = Instant::now();
    t.map = match &previous.map {
        Some(old_map) if params.map => {
            let old_xy: std::collections::HashMap<&str, [f32; 2]> = previous
                .papers
                .iter()
                .zip(&old_map.xy)
                .map(|(id, xy)| (id.as_str(), *xy))
                .collect();
            let kept: Vec<(usize, [f32; 2])> = papers
                .iter()
                .enumerate()
                .filter_map(|(r, p)| Some((r, *old_xy.get(p.arxiv_id.as_str())?)))
                .collect();
            Some(map::extend(vectors, &kept, &old_map.method)?)
        }
        _ if params.map => map::layout(vectors, params.seed, &VectorBackend::Cpu)?,
        _ => None,
    };
    t.timing.fit_s = fit_s;
    t.timing.map_s = map_start.elapsed().as_secs_f64();
    t.timing.total_s = start.elapsed().as_secs_f64();
    t.stamp = previous.stamp.clone();
    Ok(t)
}

/// Whether a paper's date can be a paper's (its month then counts in the over-time views).
fn days_ok(p: &Paper) -> bool {
    p.date.as_deref().and_then(plausible_day).is_some()
}

/// With `PAPERMAP_TIMING` set, prints how long the keyword stage has run when `stage` ends (the
/// large-archive runs read where the time goes).
pub(crate) fn lap(start: Instant, stage: &str) {
    if std::env::var_os("PAPERMAP_TIMING").is_some() {
        eprintln!(
            "timing: {stage} done at {:.2}s",
            start.elapsed().as_secs_f64()
        );
    }
}

/// Summarises the topics of a clustering: `row_topic[r]` is paper `r`'s topic position and
/// `centroids` the topics' centroids in that order. Keywords and labels (read across topics,
/// [`labels`]), keywords over time, representative and most-voted papers, months, trends, the
/// hierarchy and the outliers.
fn summarise(
    papers: &[&Paper],
    vectors: Rows<'_>,
    row_topic: &[usize],
    centroids: &[f32],
    ids: Ids,
    params: &Params,
    embedder: Option<&dyn TermEmbedder>,
) -> Result<Topics, TopicsError> {
    let n = papers.len();
    let dim = vectors.dim();
    let new_rows = Rows::new(centroids, dim)?;
    let k = new_rows.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (row, &pos) in row_topic.iter().enumerate() {
        members[pos].push(row);
    }

    // Keywords read the title too, whatever the index embeds: titles carry the English names.
    // Above KEYWORD_SAMPLE papers they are read from an even sample (see there).
    let kw_start = Instant::now();
    let sample: Vec<usize> = (0..n).step_by(n.div_ceil(KEYWORD_SAMPLE).max(1)).collect();
    let texts: Vec<String> = sample
        .iter()
        .map(|&r| TextRecipe::TitleSummary.text(papers[r]))
        .collect();
    let docs: Vec<Vec<keywords::Term>> = {
        use rayon::prelude::*;
        texts.par_iter().map(|t| keywords::terms(t)).collect()
    };
    lap(kw_start, "keywords: terms");
    let sample_topic: Vec<usize> = sample.iter().map(|&r| row_topic[r]).collect();
    let candidates = keywords::ctfidf(&docs, &sample_topic, k, params.keywords.candidates);
    lap(kw_start, "keywords: ctfidf");
    let picked = keywords::select(&candidates, new_rows, embedder, &params.keywords)?;
    // The selection's order first, then the other candidates, for the cross-topic pass.
    let ranked: Vec<Vec<keywords::Scored>> = candidates
        .iter()
        .zip(&picked)
        .map(|(cands, picks)| {
            let first = picks
                .iter()
                .filter_map(|t| cands.iter().find(|s| &s.term == t).cloned());
            let rest = cands.iter().filter(|s| !picks.contains(&s.term)).cloned();
            first.chain(rest).collect()
        })
        .collect();
    lap(kw_start, "keywords: select");
    // Rows of the sample (all the papers below KEYWORD_SAMPLE) by topic.
    let mut topic_rows: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, &t) in sample_topic.iter().enumerate() {
        topic_rows[t].push(i as u32);
    }
    let corpus = labels::Corpus::new(&docs, &texts, k);
    lap(kw_start, "keywords: corpus");
    let kws = labels::refine(&corpus, &ranked, &topic_rows, params.keywords.keep);
    lap(kw_start, "keywords: refine");
    let display = keywords::display_forms(&docs);
    lap(kw_start, "keywords: display");
    let phrases: Vec<Vec<keywords::Term>> = {
        use rayon::prelude::*;
        texts.par_iter().map(|t| naming::title_phrases(t)).collect()
    };
    let sources = naming::Sources {
        corpus: &corpus,
        docs: &docs,
        titles: &phrases,
        display: &display,
        keywords: &kws,
    };
    let new_labels = naming::name(&sources, &topic_rows, new_rows, embedder)?.labels;
    lap(kw_start, "keywords: labels");
    let month_of = |r: usize| papers[r].month().filter(|_| days_ok(papers[r]));
    let months: Vec<Option<&str>> = sample.iter().map(|&r| month_of(r)).collect();
    let mut periods = over_time::over_time(&docs, &months, &topic_rows, &corpus, &|key: &str| {
        display.get(key).cloned().unwrap_or_else(|| key.to_string())
    });
    if sample.len() < n {
        // A period's paper count is the topic's, not the sample's.
        let all: Vec<Option<&str>> = (0..n).map(month_of).collect();
        over_time::count_papers(&mut periods, &all, &members);
    }
    lap(kw_start, "keywords: over_time");
    let keywords_s = kw_start.elapsed().as_secs_f64();

    // Trend window.
    // Only dates a paper can bear (see `plausible_day`): a digest dated 9999-12-31 must not
    // become the end of the trend window.
    let days: Vec<Option<i64>> = papers
        .iter()
        .map(|p| p.date.as_deref().and_then(plausible_day))
        .collect();
    let last_day = days.iter().flatten().copied().max();
    let archive_last_date = papers
        .iter()
        .filter_map(|p| p.date.clone())
        .filter(|d| plausible_day(d).is_some())
        .max();
    let is_recent = |d: i64| last_day.is_some_and(|l| d > l - params.recent_days);
    let recent_total = days.iter().flatten().filter(|&&d| is_recent(d)).count();
    let before_total = days.iter().flatten().count() - recent_total;

    let mut topics = Vec::with_capacity(k);
    let mut outliers = Vec::new();
    for (pos, rows) in members.iter().enumerate() {
        let centroid = new_rows.row(pos);
        let mut by_dist: Vec<(f32, usize)> = rows
            .iter()
            .map(|&r| {
                (
                    crate::text::vector::squared_distance(vectors.row(r), centroid),
                    r,
                )
            })
            .collect();
        by_dist.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let representative = by_dist
            .iter()
            .take(params.representatives)
            .map(|&(_, r)| r)
            .collect();
        if by_dist.len() >= 5 {
            let median = by_dist[by_dist.len() / 2].0;
            let mut dev: Vec<f32> = by_dist.iter().map(|d| (d.0 - median).abs()).collect();
            dev.sort_by(f32::total_cmp);
            let mad = dev[dev.len() / 2].max(1e-9) * 1.4826;
            for &(d, r) in by_dist.iter().rev() {
                let z = (d - median) / mad;
                if z <= OUTLIER_Z {
                    break;
                }
                outliers.push(Outlier {
                    row: r,
                    topic: ids.ids[pos],
                    distance: d,
                    z,
                });
            }
        }
        let mut voted: Vec<(u32, usize)> = rows
            .iter()
            .filter_map(|&r| papers[r].votes.map(|v| (v, r)))
            .collect();
        voted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let top_voted = voted
            .iter()
            .take(params.top_voted)
            .map(|&(_, r)| r)
            .collect();
        let mut per_month = BTreeMap::new();
        for &r in rows {
            if let Some(m) = papers[r].month().filter(|_| days[r].is_some()) {
                *per_month.entry(m.to_string()).or_insert(0) += 1;
            }
        }
        let dates: Vec<&str> = rows
            .iter()
            .filter(|&&r| days[r].is_some())
            .filter_map(|&r| papers[r].date.as_deref())
            .collect();
        let recent = rows
            .iter()
            .filter(|&&r| days[r].is_some_and(is_recent))
            .count();
        let dated = rows.iter().filter(|&&r| days[r].is_some()).count();
        let (trend, trend_z, direction) =
            trend(recent, dated - recent, recent_total, before_total, k);
        let keywords = kws.get(pos).cloned().unwrap_or_default();
        let (label, matched) = match &ids.inherited[pos] {
            Some((label, sim)) if !label.is_empty() => (label.clone(), Some(*sim)),
            Some((_, sim)) => (new_labels[pos].clone(), Some(*sim)),
            None => (new_labels[pos].clone(), None),
        };
        topics.push(Topic {
            id: ids.ids[pos],
            label,
            keywords,
            size: rows.len(),
            representative,
            top_voted,
            per_month,
            first_date: dates.iter().min().map(|d| d.to_string()),
            last_date: dates.iter().max().map(|d| d.to_string()),
            recent,
            trend,
            trend_z,
            direction,
            matched,
            centroid: centroid.to_vec(),
            over_time: periods.get(pos).cloned().unwrap_or_default(),
        });
    }
    outliers.sort_by(|a, b| b.z.total_cmp(&a.z).then(a.row.cmp(&b.row)));
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let hierarchy = hierarchy::ward(centroids, dim, &sizes);
    let assignment = row_topic.iter().map(|&pos| ids.ids[pos]).collect();
    Ok(Topics {
        format_version: FORMAT_VERSION,
        k,
        seed: params.seed,
        runs: params.runs,
        auto: None,
        objective: 0.0,
        stamp: crate::index::Stamp {
            generation: None,
            model_fingerprint: String::new(),
            mode: crate::embed::Mode::F32,
            text_recipe: TextRecipe::default(),
            papers: 0,
            papers_crc32: None,
        },
        dim,
        keyword_method: if embedder.is_some() {
            "c-tf-idf+mmr, read across topics"
        } else {
            "c-tf-idf, read across topics"
        }
        .to_string(),
        archive_last_date,
        recent_days: params.recent_days,
        next_id: ids.next_id,
        topics,
        papers: papers.iter().map(|p| p.arxiv_id.clone()).collect(),
        assignment,
        hierarchy,
        outliers,
        map: None,
        fit: FitInfo {
            papers: n,
            ..FitInfo::default()
        },
        refit_suggested: None,
        by_title: 0,
        timing: Timing {
            keywords_s,
            ..Timing::default()
        },
    })
}

/// Trend of a topic with `recent` papers in the window and `before` before it, out of
/// `recent_total` and `before_total`: (smoothed share ratio, z, direction).
pub fn trend(
    recent: usize,
    before: usize,
    recent_total: usize,
    before_total: usize,
    k: usize,
) -> (f64, f64, Trend) {
    if recent_total == 0 || before_total == 0 {
        return (1.0, 0.0, Trend::Steady);
    }
    let (r, b, rt, bt) = (
        recent as f64,
        before as f64,
        recent_total as f64,
        before_total as f64,
    );
    let k = k.max(1) as f64;
    let ratio = ((r + 1.0) / (rt + k)) / ((b + 1.0) / (bt + k));
    let p = (r + b) / (rt + bt);
    let se = (p * (1.0 - p) * (1.0 / rt + 1.0 / bt)).sqrt();
    let z = if se > 0.0 {
        (r / rt - b / bt) / se
    } else {
        0.0
    };
    let direction = if z >= 1.96 {
        Trend::Rising
    } else if z <= -1.96 {
        Trend::Falling
    } else {
        Trend::Steady
    };
    (ratio, z, direction)
}

/// Path of the topics file of the index in `index_dir`.
pub fn path(index_dir: &Path) -> PathBuf {
    index_dir.join(FILE)
}

/// The saved topics of `index`, required current: the one way report, brief, export and serve
/// read topics. [`TopicsError::NoTopics`] when none were saved, [`TopicsError::Stale`] when the
/// index changed since they were computed.
pub fn load_current(index: &Index) -> Result<Topics, TopicsError> {
    let dir = || index.dir().to_path_buf();
    let topics = load(index.dir())?.ok_or_else(|| TopicsError::NoTopics { dir: dir() })?;
    if !topics.is_current(index) {
        return Err(TopicsError::Stale { dir: dir() });
    }
    Ok(topics)
}

/// The saved topics of the index in `index_dir`, or `None` when none were saved (current or
/// not: [`load_current`] is for readers; this is for `papermap topics`, which updates them).
pub fn load(index_dir: &Path) -> Result<Option<Topics>, TopicsError> {
    let p = path(index_dir);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(TopicsError::Io { path: p, source }),
    };
    let t: Topics = serde_json::from_str(&text).map_err(|e| TopicsError::Corrupt {
        path: p.clone(),
        msg: e.to_string(),
    })?;
    if t.format_version != FORMAT_VERSION {
        return Err(TopicsError::Corrupt {
            path: p,
            msg: format!(
                "format version {} (this papermap reads {FORMAT_VERSION})",
                t.format_version
            ),
        });
    }
    if t.papers.len() != t.assignment.len() {
        return Err(TopicsError::Corrupt {
            path: p,
            msg: format!(
                "{} papers but {} assignments",
                t.papers.len(),
                t.assignment.len()
            ),
        });
    }
    Ok(Some(t))
}

/// Saves `topics` as `topics.json` in `index_dir`, atomically; returns the path.
pub fn save(index_dir: &Path, topics: &Topics) -> Result<PathBuf, TopicsError> {
    let p = path(index_dir);
    let json = serde_json::to_vec_pretty(topics).map_err(|e| TopicsError::Corrupt {
        path: p.clone(),
        msg: e.to_string(),
    })?;
    crate::atomic::write(&p, &json).map_err(|source| TopicsError::Io {
        path: p.clone(),
        source,
    })?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_directions() {
        assert_eq!(trend(30, 10, 100, 1000, 10).2, Trend::Rising);
        assert_eq!(trend(0, 300, 100, 1000, 10).2, Trend::Falling);
        assert_eq!(trend(10, 100, 100, 1000, 10).2, Trend::Steady);
        assert_eq!(trend(3, 0, 3, 0, 10), (1.0, 0.0, Trend::Steady));
    }

    #[test]
    fn k_choice_and_range_parse() {
        assert_eq!("auto".parse::<KChoice>().unwrap(), KChoice::Auto(8..=60));
        assert_eq!("12".parse::<KChoice>().unwrap(), KChoice::Fixed(12));
        assert!("0".parse::<KChoice>().is_err());
        assert!("twelve".parse::<KChoice>().is_err());
        assert_eq!(parse_k_range("8..40").unwrap(), 8..=40);
        assert_eq!(parse_k_range("3..=5").unwrap(), 3..=5);
        assert!(parse_k_range("40..8").is_err());
        assert!(parse_k_range("1..8").is_err());
    }
}
