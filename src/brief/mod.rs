//! The daily brief: one day of the feed read against the archive before it.
//!
//! A reader who follows the Daily Papers feed one day at a time wants, each morning: the day's
//! papers, each in its topic and beside the papers that came before it and are most like it;
//! the topics that are growing; and the papers that fit no topic (a subject the archive has not
//! seen). [`build`] assembles that as a plain-data [`Brief`] from the index, its stored topics
//! and a [`Day`]; [`write`] renders it as `brief.md` and a self-contained `brief.html`
//! ([`render`], with the report's escaping, safe links and stylesheet).
//!
//! Everything is computed elsewhere and only read here:
//! - related papers are an exact cosine top-k ([`VectorBackend::top_k_among`]) among the papers
//!   dated strictly before the day, so a brief never points forward in time;
//! - topics, trends and outliers are those of `topics.json` ([`crate::topics`]): a paper that
//!   "fits no topic" is one the topics stage listed as an outlier (robust z of its distance to
//!   its topic's centroid above [`crate::topics::OUTLIER_Z`]), so the brief and the report never
//!   disagree about it.
//!
//! Trends are the stored ones: they compare the last `recent_days` before the archive's last
//! date with the time before, so a brief of an earlier day shows today's trends, not that day's.

pub mod alerts;
pub mod render;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::corpus::{CorpusError, Paper};
use crate::index::Index;
use crate::search::SearchError;
use crate::topics::{day_number, Topic, Topics, Trend};
use crate::vectors::VectorBackend;

/// Related earlier papers listed per paper of the day.
pub const RELATED_PER_PAPER: usize = 3;
/// Papers listed per rising topic.
pub const PAPERS_PER_RISING_TOPIC: usize = 5;
/// Dates named when an asked-for date has no papers.
pub const NEAREST_DATES: usize = 5;

/// Errors of choosing a day and building its brief.
#[derive(Debug, thiserror::Error)]
pub enum BriefError {
    /// The index holds no (dated) papers.
    #[error("the index in {} holds no dated papers", dir.display())]
    NoDates {
        /// Index directory, none of whose papers has a plausible first-appearance date.
        dir: PathBuf,
    },
    /// Not a `YYYY-MM-DD` date.
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
    /// No paper of the index first appeared on this date.
    #[error(
        "no paper in the index {} first appeared on {date}; the nearest dates with papers: {}",
        dir.display(),
        nearest.join(", ")
    )]
    UnknownDate {
        /// Index directory that was searched for papers of `date`.
        dir: PathBuf,
        /// The date asked for.
        date: String,
        /// Dates of the index nearest to it, in date order.
        nearest: Vec<String>,
    },
    /// The digest has no dated paper (no date heading, none in its file name).
    #[error("{}: no dated paper in this digest (no `## Daily Papers (YYYY-MM-DD)` heading or date in the file name)", digest.display())]
    DigestWithoutDate {
        /// The digest (or archive day) given: no paper of it that the index embeds is dated.
        digest: PathBuf,
    },
    /// The digest holds papers of several days.
    #[error("{} holds papers of {} days ({}); a brief is of one day", digest.display(), dates.len(), dates.join(", "))]
    DigestDates {
        /// The digest (or archive day) given.
        digest: PathBuf,
        /// The distinct dates of its papers, sorted: two or more.
        dates: Vec<String>,
    },
    /// Papers of the digest (with summaries) are not in the index.
    #[error(
        "{} of the {} papers of {} are not in the index {}: {}",
        missing.len(),
        papers,
        digest.display(),
        dir.display(),
        missing.join(", ")
    )]
    NotIndexed {
        /// The digest (or archive day) given.
        digest: PathBuf,
        /// Index directory the papers were looked up in.
        dir: PathBuf,
        /// Papers with a summary in the digest.
        papers: usize,
        /// Their ids not found in the index.
        missing: Vec<String>,
    },
    /// The topics are not current for the index.
    #[error(transparent)]
    Topics(#[from] crate::topics::TopicsError),
    /// The topics name a topic id they do not define.
    #[error("{}: paper row {row} is assigned to topic {id}, which topics.json does not define", dir.display())]
    UnknownTopic {
        /// Index directory, whose `topics.json` holds the assignment.
        dir: PathBuf,
        /// Index row of the paper whose assigned topic is missing.
        row: usize,
        /// The undefined topic id.
        id: u32,
    },
    /// Reading the digest failed.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// The nearest-neighbour search failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A file could not be written.
    #[error("{}", path.display())]
    Io {
        /// The output directory, or `brief.md` or `brief.html` in it.
        path: PathBuf,
        /// The I/O error of creating the directory or writing the file atomically.
        #[source]
        source: std::io::Error,
    },
}

/// The day a brief is about: its date and its papers (index rows, ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// The day's date, `YYYY-MM-DD`: the one asked for, the index's latest, or the digest's.
    pub date: String,
    /// Index rows of the day's papers, ascending.
    pub rows: Vec<usize>,
}

/// The dated papers' distinct first-appearance dates that a paper can bear, sorted (a digest
/// dated 9999-12-31 is not "the latest day").
fn dates(dates: &[Option<String>]) -> BTreeSet<&str> {
    dates
        .iter()
        .filter_map(|d| d.as_deref())
        .filter(|d| crate::corpus::dates::plausible_day(d).is_some())
        .collect()
}

/// Papers whose first appearance is `date`.
pub fn day_of_date(index: &Index, date: &str) -> Result<Day, BriefError> {
    let asked = day_number(date)
        .filter(|_| date.len() == 10)
        .ok_or_else(|| BriefError::BadDate(date.to_string()))?;
    let by_row = index.dates();
    let rows: Vec<usize> = by_row
        .iter()
        .enumerate()
        .filter(|(_, d)| d.as_deref() == Some(date))
        .map(|(r, _)| r)
        .collect();
    if rows.is_empty() {
        let all = dates(&by_row);
        if all.is_empty() {
            return Err(BriefError::NoDates {
                dir: index.dir().to_path_buf(),
            });
        }
        let mut near: Vec<&str> = all.into_iter().collect();
        near.sort_by_key(|d| (day_number(d).map_or(i64::MAX, |n| (n - asked).abs()), *d));
        near.truncate(NEAREST_DATES);
        near.sort_unstable();
        return Err(BriefError::UnknownDate {
            dir: index.dir().to_path_buf(),
            date: date.to_string(),
            nearest: near.into_iter().map(str::to_string).collect(),
        });
    }
    Ok(Day {
        date: date.to_string(),
        rows,
    })
}

/// The latest date of the index and its papers.
pub fn latest_day(index: &Index) -> Result<Day, BriefError> {
    let last = dates(&index.dates())
        .last()
        .map(|d| d.to_string())
        .ok_or_else(|| BriefError::NoDates {
            dir: index.dir().to_path_buf(),
        })?;
    day_of_date(index, &last)
}

/// The papers of one digest (or one day of an archive, read as `opts` says) and its date. Papers
/// the index's text recipe does not embed are left out; every other paper must be in the index.
pub fn day_of_digest(
    index: &Index,
    digest: &Path,
    opts: &crate::corpus::archive::ReadOptions,
) -> Result<Day, BriefError> {
    let corpus = crate::corpus::load_with(&[digest.to_path_buf()], opts)?;
    let papers: Vec<&Paper> = corpus
        .papers
        .iter()
        .filter(|p| index.manifest().text_recipe.embeds(p))
        .collect();
    let days: BTreeSet<&str> = papers.iter().filter_map(|p| p.date.as_deref()).collect();
    let date = match days.len() {
        0 => {
            return Err(BriefError::DigestWithoutDate {
                digest: digest.to_path_buf(),
            })
        }
        1 => days
            .iter()
            .next()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        _ => {
            return Err(BriefError::DigestDates {
                digest: digest.to_path_buf(),
                dates: days.iter().map(|d| d.to_string()).collect(),
            })
        }
    };
    let mut rows = Vec::with_capacity(papers.len());
    let mut missing = Vec::new();
    for p in &papers {
        match index.row_of(&p.arxiv_id) {
            Some(r) => rows.push(r),
            None => missing.push(p.arxiv_id.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(BriefError::NotIndexed {
            digest: digest.to_path_buf(),
            dir: index.dir().to_path_buf(),
            papers: papers.len(),
            missing,
        });
    }
    rows.sort_unstable();
    rows.dedup();
    Ok(Day { date, rows })
}

/// A paper as the brief shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaperRef {
    /// Row in the index.
    pub row: usize,
    /// arXiv id without its version, or the link itself for a paper not on arXiv.
    pub arxiv_id: String,
    /// Title as written in the digest.
    pub title: String,
    /// The digest's link (rendered as a link only when it is a safe web link).
    pub url: String,
    /// First-appearance date in the index (`YYYY-MM-DD`), for a digest's paper possibly earlier
    /// than the day; `None` when unknown.
    pub date: Option<String>,
    /// Upvotes as the source gives them (`Vote: N` in a digest); `None` when it gives none.
    pub votes: Option<u32>,
}

impl PaperRef {
    fn of(index: &Index, row: usize) -> Self {
        let p = &index.record(row).paper;
        PaperRef {
            row,
            arxiv_id: p.arxiv_id.clone(),
            title: p.title.clone(),
            url: p.url.clone(),
            date: p.date.clone(),
            votes: p.votes,
        }
    }
}

/// A topic named in the brief.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicRef {
    /// Stable topic id (`topics.json`).
    pub id: u32,
    /// Its label as stored in `topics.json`.
    pub label: String,
    /// Its position in `topics.json` (largest first): the colour the report gives it.
    pub position: usize,
}

/// An earlier paper related to one of the day's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Related {
    /// The earlier paper, dated strictly before the day.
    #[serde(flatten)]
    pub paper: PaperRef,
    /// Cosine of the two papers' vectors.
    pub score: f32,
}

/// One paper of the day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayPaper {
    /// The paper, one of [`Day::rows`].
    #[serde(flatten)]
    pub paper: PaperRef,
    /// The topic `topics.json` assigns it to.
    pub topic: TopicRef,
    /// Its [`RELATED_PER_PAPER`] nearest papers dated before the day, nearest first.
    pub related: Vec<Related>,
    /// Robust z of its distance to its topic's centroid, when it is one of the topics' outliers.
    pub outlier_z: Option<f32>,
}

/// A topic whose share has grown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RisingTopic {
    /// The topic, one whose stored trend is [`Trend::Rising`].
    #[serde(flatten)]
    pub topic: TopicRef,
    /// Its keywords, most representative first.
    pub keywords: Vec<String>,
    /// Its papers in all.
    pub size: usize,
    /// Its papers in the recent window.
    pub recent: usize,
    /// Its share in the recent window over its share before (add-one smoothed).
    pub share_ratio: f64,
    /// The two-proportion z of that change.
    pub z: f64,
    /// Papers of the day in it.
    pub today: usize,
    /// Its latest papers up to the day (newest first, then most voted).
    pub papers: Vec<PaperRef>,
}

/// A paper of the day that fits no topic well.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    /// The paper, one of the day's and among the topics' stored outliers.
    #[serde(flatten)]
    pub paper: PaperRef,
    /// The topic it was put in (its nearest centroid).
    pub topic: TopicRef,
    /// Robust z of its squared distance to that centroid among the topic's papers.
    pub z: f32,
    /// That squared Euclidean distance, as stored in `topics.json`.
    pub distance: f32,
}

/// The brief of one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Brief {
    /// The day, `YYYY-MM-DD`: the one asked for, the index's latest, or the digest's.
    pub date: String,
    /// Papers in the index.
    pub index_papers: usize,
    /// Papers dated before the day: where related papers are looked for.
    pub earlier_papers: usize,
    /// Topics in `topics.json`.
    pub topics: usize,
    /// Last date of the archive: the end of the trends' recent window.
    pub archive_last_date: Option<String>,
    /// Length of the trends' recent window in days.
    pub recent_days: i64,
    /// The day's papers, in index order.
    pub papers: Vec<DayPaper>,
    /// Rising topics, strongest rise first.
    pub rising: Vec<RisingTopic>,
    /// The day's papers that fit no topic well, farthest first.
    pub outliers: Vec<Outlier>,
    /// The library the alerts come from, when one was given.
    pub library: Option<String>,
    /// The day's papers the library points at, listed first ([`alerts::alerts`]).
    pub alerts: Vec<alerts::Alert>,
}

impl Brief {
    /// The day's papers grouped by topic: topics with the most papers of the day first (then in
    /// `topics.json` order), papers in index order.
    pub fn by_topic(&self) -> Vec<(&TopicRef, Vec<&DayPaper>)> {
        let mut groups: Vec<(&TopicRef, Vec<&DayPaper>)> = Vec::new();
        for p in &self.papers {
            match groups.iter_mut().find(|(t, _)| t.id == p.topic.id) {
                Some((_, v)) => v.push(p),
                None => groups.push((&p.topic, vec![p])),
            }
        }
        groups.sort_by_key(|(t, v)| (std::cmp::Reverse(v.len()), t.position));
        groups
    }
}

/// Builds the brief of `day` from the index and its topics (which must be current: see
/// [`crate::topics::load_current`]), the related papers found on `backend`.
pub fn build(
    index: &Index,
    topics: &Topics,
    day: &Day,
    backend: &VectorBackend,
) -> Result<Brief, BriefError> {
    if !topics.is_current(index) {
        return Err(crate::topics::TopicsError::Stale {
            dir: index.dir().to_path_buf(),
        }
        .into());
    }
    let position = topics.positions();
    let topic_ref = |t: &Topic| TopicRef {
        id: t.id,
        label: t.label.clone(),
        position: position[&t.id],
    };
    let topic_of = |row: usize| -> Result<TopicRef, BriefError> {
        topics
            .topic_of(row)
            .map(topic_ref)
            .ok_or_else(|| BriefError::UnknownTopic {
                dir: index.dir().to_path_buf(),
                row,
                id: topics.assignment[row],
            })
    };

    // Related: nearest among the papers dated strictly before the day.
    let by_row = index.dates();
    let earlier: Vec<usize> = by_row
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.as_deref().is_some_and(|d| {
                crate::corpus::dates::plausible_day(d).is_some() && d < day.date.as_str()
            })
        })
        .map(|(r, _)| r)
        .collect();
    let dim = index.dim();
    let queries: Vec<f32> = day
        .rows
        .iter()
        .flat_map(|&r| index.vector(r).iter().copied())
        .collect();
    let related = backend
        .top_k_among(index.vectors(), dim, &queries, &earlier, RELATED_PER_PAPER)
        .map_err(SearchError::from)?;

    let outlier_of: HashMap<usize, &crate::topics::Outlier> =
        topics.outliers.iter().map(|o| (o.row, o)).collect();
    let papers = day
        .rows
        .iter()
        .zip(related)
        .map(|(&row, hits)| {
            Ok(DayPaper {
                paper: PaperRef::of(index, row),
                topic: topic_of(row)?,
                related: hits
                    .into_iter()
                    .map(|h| Related {
                        paper: PaperRef::of(index, h.row),
                        score: h.score,
                    })
                    .collect(),
                outlier_z: outlier_of.get(&row).map(|o| o.z),
            })
        })
        .collect::<Result<Vec<_>, BriefError>>()?;

    let on_day: BTreeSet<usize> = day.rows.iter().copied().collect();
    let outliers = topics
        .outliers
        .iter()
        .filter(|o| on_day.contains(&o.row))
        .map(|o| {
            Ok(Outlier {
                paper: PaperRef::of(index, o.row),
                topic: topic_of(o.row)?,
                z: o.z,
                distance: o.distance,
            })
        })
        .collect::<Result<Vec<_>, BriefError>>()?;

    let mut rising: Vec<RisingTopic> = topics
        .topics
        .iter()
        .filter(|t| t.direction == Trend::Rising)
        .map(|t| {
            let mut rows: Vec<usize> = (0..index.len())
                .filter(|&r| topics.assignment[r] == t.id)
                .filter(|&r| by_row[r].as_deref().is_some_and(|d| d <= day.date.as_str()))
                .collect();
            // Newest first, then most votes: the votes are read (by row) only for the papers
            // that tie with the last one shown.
            rows.sort_by(|&a, &b| by_row[b].cmp(&by_row[a]).then(a.cmp(&b)));
            if let Some(cut) = rows.get(PAPERS_PER_RISING_TOPIC.saturating_sub(1)) {
                let cut = by_row[*cut].clone();
                rows.retain(|&r| by_row[r] >= cut);
            }
            rows.sort_by_cached_key(|&r| {
                (
                    std::cmp::Reverse(by_row[r].clone()),
                    std::cmp::Reverse(index.record(r).paper.votes),
                    r,
                )
            });
            RisingTopic {
                topic: topic_ref(t),
                keywords: t.keywords.clone(),
                size: t.size,
                recent: t.recent,
                share_ratio: t.trend,
                z: t.trend_z,
                today: day
                    .rows
                    .iter()
                    .filter(|&&r| topics.assignment[r] == t.id)
                    .count(),
                papers: rows
                    .into_iter()
                    .take(PAPERS_PER_RISING_TOPIC)
                    .map(|r| PaperRef::of(index, r))
                    .collect(),
            }
        })
        .collect();
    rising.sort_by(|a, b| b.z.total_cmp(&a.z).then(a.topic.id.cmp(&b.topic.id)));

    Ok(Brief {
        date: day.date.clone(),
        index_papers: index.len(),
        earlier_papers: earlier.len(),
        topics: topics.topics.len(),
        archive_last_date: topics.archive_last_date.clone(),
        recent_days: topics.recent_days,
        papers,
        rising,
        outliers,
        library: None,
        alerts: Vec::new(),
    })
}

/// Paths of a written brief.
#[derive(Debug, Clone, Serialize)]
pub struct BriefFiles {
    /// `brief.md` in the output directory: the brief as Markdown.
    pub markdown: PathBuf,
    /// `brief.html` in the output directory: the same brief as one self-contained page.
    pub html: PathBuf,
}

/// Writes `brief.md` and `brief.html` into `out` (created if needed), each atomically.
pub fn write(out: &Path, brief: &Brief) -> Result<BriefFiles, BriefError> {
    let io = |p: &Path| {
        let path = p.to_path_buf();
        move |source| BriefError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let files = BriefFiles {
        markdown: out.join("brief.md"),
        html: out.join("brief.html"),
    };
    crate::atomic::write(&files.markdown, render::markdown(brief).as_bytes())
        .map_err(io(&files.markdown))?;
    crate::atomic::write(&files.html, render::html(brief).as_bytes()).map_err(io(&files.html))?;
    Ok(files)
}
