//! Topic reports: `report.md` (renders on GitHub, with `map.svg` beside it) and `report.html`,
//! one self-contained page (inline CSS and SVG, no script, no network).
//!
//! Large archives: the map draws at most [`MAP_POINTS`] papers (an even, deterministic sample
//! within each topic, so every topic keeps its shape and share), the per-paper related lists
//! are written for at most [`RELATED_PAPERS`] papers (the most voted, then the most recent), the
//! papers-per-month chart shows the [`TIMELINE_TOPICS`] largest topics and the summary check
//! lists its [`FLAGGED_SHOWN`] lowest, so the report stays a few megabytes however large the
//! archive (measured on 100,000 papers: 17.6 MB before these caps, most of it related lists).

mod html;
mod markdown;

use std::path::{Path, PathBuf};

use crate::index::Index;
use crate::quality::SummaryCheck;
use crate::search::Hit;
use crate::topics::Topics;

pub use crate::vectors::project::project_2d;
pub(crate) use html::CSS;
pub(crate) use markdown::md;

/// Most papers drawn on the map.
pub const MAP_POINTS: usize = 10_000;
/// Most papers given a related-papers list.
pub const RELATED_PAPERS: usize = 2_000;
/// Most topics in the papers-per-month chart (the largest; a chart of a thousand rows is read
/// by nobody).
pub const TIMELINE_TOPICS: usize = 60;
/// Most flagged summaries listed (the lowest similarity first); the count is always given.
pub const FLAGGED_SHOWN: usize = 200;
/// Related papers listed per paper.
pub const RELATED_PER_PAPER: usize = 5;

/// The rows that get a related-papers list: every paper up to [`RELATED_PAPERS`], else the
/// most voted, then the most recent, in row order. Only these rows' neighbours need computing.
pub fn related_rows(index: &Index) -> Vec<usize> {
    let n = index.len();
    let mut rows: Vec<usize> = (0..n).collect();
    if n > RELATED_PAPERS {
        rows.sort_by(|&a, &b| {
            let pa = &index.paper(a);
            let pb = &index.paper(b);
            pb.votes.cmp(&pa.votes).then(pb.date.cmp(&pa.date))
        });
        rows.truncate(RELATED_PAPERS);
        rows.sort_unstable();
    }
    rows
}

/// Errors of writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("{}", path.display())]
    Io {
        /// The output directory, or the report file whose write or rename failed.
        path: PathBuf,
        /// The I/O error of making the directory or writing or renaming the file.
        #[source]
        source: std::io::Error,
    },
    /// The inputs do not belong together.
    #[error("{0}")]
    Mismatch(String),
    /// The output path exists and is not a directory.
    #[error("{}: not a directory (the report is written into a directory of its own)", .0.display())]
    NotADirectory(PathBuf),
}

/// Everything a report shows, computed by the earlier stages.
pub struct ReportInput<'a> {
    /// The index (papers and vectors).
    pub index: &'a Index,
    /// Its topics (`papermap topics`).
    pub topics: &'a Topics,
    /// Related papers per row (top [`RELATED_PER_PAPER`], itself excluded); may be empty, and
    /// only the rows of [`related_rows`] are shown.
    pub related: &'a [Vec<Hit>],
    /// Summaries that do not describe their paper, if checked.
    pub summary_check: Option<&'a SummaryCheck>,
}

/// What the Markdown and HTML writers both draw from the input: each row's topic, the map's
/// points and labels, the rows with related lists, the nearest topics.
pub(crate) struct ReportLayout<'a> {
    pub input: &'a ReportInput<'a>,
    /// Topic position (in `topics.topics`) of every paper row.
    pub topic_of_row: Vec<usize>,
    /// Rows drawn on the map and their 2-D coordinates in [0, 1].
    pub map_rows: Vec<usize>,
    pub map_xy: Vec<(f32, f32)>,
    /// Topic label positions on the map (mean of its drawn points).
    pub label_xy: Vec<(f32, f32)>,
    /// Rows that get a related list.
    pub related_rows: Vec<usize>,
    /// Per topic: the 3 nearest other topics by centroid cosine.
    pub nearest_topics: Vec<Vec<(usize, f32)>>,
    /// All months of the archive, sorted.
    pub months: Vec<String>,
    /// Date range of the archive.
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

use crate::text::vector::cosine;

impl<'a> ReportLayout<'a> {
    fn new(input: &'a ReportInput<'a>) -> Result<Self, ReportError> {
        let index = input.index;
        let topics = input.topics;
        let n = index.len();
        if topics.assignment.len() != n {
            return Err(ReportError::Mismatch(format!(
                "topics were computed on {} papers but the index has {n}; run `papermap topics` again",
                topics.assignment.len()
            )));
        }
        let pos_of_id = topics.positions();
        let topic_of_row = topics
            .assignment
            .iter()
            .map(|id| {
                pos_of_id.get(id).copied().ok_or_else(|| {
                    ReportError::Mismatch(format!("paper assigned to unknown topic {id}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        // Even sample within each topic, so the map keeps every topic's shape and share.
        let mut map_rows: Vec<usize> = if n <= MAP_POINTS {
            (0..n).collect()
        } else {
            let mut per_topic: Vec<Vec<usize>> = vec![Vec::new(); topics.topics.len()];
            for (r, &t) in topic_of_row.iter().enumerate() {
                per_topic[t].push(r);
            }
            per_topic
                .iter()
                .flat_map(|rows| {
                    let keep = (rows.len() * MAP_POINTS).div_ceil(n).max(1);
                    let step = rows.len() as f64 / keep as f64;
                    (0..keep).map(move |i| rows[(i as f64 * step) as usize])
                })
                .collect()
        };
        map_rows.sort_unstable();
        // The topics' stored t-SNE layout when it covers these papers, else PCA.
        let map_xy = match &topics.map {
            Some(layout) if layout.xy.len() == n => map_rows
                .iter()
                .map(|&r| (layout.xy[r][0], layout.xy[r][1]))
                .collect(),
            _ => {
                let dim = index.dim();
                let sub: Vec<f32> = map_rows
                    .iter()
                    .flat_map(|&r| index.vector(r).iter().copied())
                    .collect();
                project_2d(&sub, dim)
            }
        };
        let mut sums = vec![(0f32, 0f32, 0usize); topics.topics.len()];
        for (&r, &(x, y)) in map_rows.iter().zip(&map_xy) {
            let s = &mut sums[topic_of_row[r]];
            s.0 += x;
            s.1 += y;
            s.2 += 1;
        }
        let label_xy = sums
            .iter()
            .map(|&(x, y, c)| (x / c.max(1) as f32, y / c.max(1) as f32))
            .collect();

        let related_rows: Vec<usize> = related_rows(index)
            .into_iter()
            .filter(|&r| !input.related.get(r).is_none_or(|h| h.is_empty()))
            .collect();

        let nearest_topics = topics
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v: Vec<(usize, f32)> = topics
                    .topics
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, u)| (j, cosine(&t.centroid, &u.centroid)))
                    .collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1));
                v.truncate(3);
                v
            })
            .collect();
        // Dates no paper can bear (9999-12-31) would stretch the month axis and the range.
        let plausible = |p: &&crate::index::IndexedPaper| {
            p.paper
                .date
                .as_deref()
                .and_then(crate::corpus::dates::plausible_day)
                .is_some()
        };
        let mut months: Vec<String> = index
            .papers()
            .iter()
            .filter(plausible)
            .filter_map(|p| p.paper.month().map(str::to_string))
            .collect();
        months.sort();
        months.dedup();
        let first_date = index
            .papers()
            .iter()
            .filter(plausible)
            .filter_map(|p| p.paper.date.clone())
            .min();
        let last_date = index
            .papers()
            .iter()
            .filter(plausible)
            .filter_map(|p| p.paper.date.clone())
            .max();
        Ok(ReportLayout {
            input,
            topic_of_row,
            map_rows,
            map_xy,
            label_xy,
            related_rows,
            nearest_topics,
            months,
            first_date,
            last_date,
        })
    }
}

/// The topic map alone, as one standalone SVG (the explorer's map page).
pub fn map_svg(index: &Index, topics: &Topics) -> Result<String, ReportError> {
    let related = vec![Vec::new(); index.len()];
    let input = ReportInput {
        index,
        topics,
        related: &related,
        summary_check: None,
    };
    let view = ReportLayout::new(&input)?;
    Ok(html::map_svg(&view, true))
}

/// What the topics did with the papers the summary check flags, when they placed them by their
/// titles (see [`crate::topics::by_title`]).
pub(crate) fn placed_note(topics: &Topics) -> Option<String> {
    (topics.by_title > 0).then(|| {
        format!(
            "The topics place {} by their titles, not by their summaries, which are left out \
             of the keywords and labels.",
            plural(topics.by_title, "such paper", "such papers")
        )
    })
}

/// Paths of a written report.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `report.md` in the output directory: the Markdown report, which shows `map.svg`.
    pub markdown: PathBuf,
    /// `map.svg` (referenced by the Markdown).
    pub map_svg: PathBuf,
    /// `report.html` in the output directory: the report as one self-contained page.
    pub html: PathBuf,
}

/// Test hook: abort (like `kill -9`) at a named point of writing a report.
fn crash_point(name: &str) {
    if std::env::var("PAPERMAP_CRASH_AT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Writes `report.md`, `map.svg` and `report.html` into `out`, as one set: all three are
/// written before any replaces its old version, so a killed run leaves the old set whole.
pub fn write(out: &Path, input: &ReportInput<'_>) -> Result<ReportFiles, ReportError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ReportError::Io { path: p, source }
    };
    if out.exists() && !out.is_dir() {
        return Err(ReportError::NotADirectory(out.to_path_buf()));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    // Temporaries of a killed earlier run.
    crate::atomic::clean_abandoned(out);
    let view = ReportLayout::new(input)?;
    let files = ReportFiles {
        markdown: out.join("report.md"),
        map_svg: out.join("map.svg"),
        html: out.join("report.html"),
    };
    let mut batch = crate::atomic::Batch::new();
    let svg = html::map_svg(&view, true);
    batch
        .add(&files.map_svg, svg.as_bytes())
        .map_err(io(&files.map_svg))?;
    crash_point("report-map-written");
    let md = markdown::render(&view);
    batch
        .add(&files.markdown, md.as_bytes())
        .map_err(io(&files.markdown))?;
    let page = html::render(&view);
    batch
        .add(&files.html, page.as_bytes())
        .map_err(io(&files.html))?;
    batch
        .commit()
        .map_err(|(path, source)| ReportError::Io { path, source })?;
    Ok(files)
}

/// A paper's date and votes as one "2024-09-26, 38 votes" note, or `None` when it has neither.
pub(crate) fn paper_meta(p: &crate::corpus::Paper) -> Option<String> {
    date_votes(p.date.as_deref(), p.votes)
}

/// A date and votes as one "2024-09-26, 38 votes" note, or `None` when both are unknown.
pub(crate) fn date_votes(date: Option<&str>, votes: Option<u32>) -> Option<String> {
    let mut meta = Vec::new();
    if let Some(d) = date {
        meta.push(d.to_string());
    }
    if let Some(votes) = votes {
        meta.push(format!("{votes} votes"));
    }
    (!meta.is_empty()).then(|| meta.join(", "))
}

/// How the map places its points, in words.
pub(crate) fn map_method(v: &ReportLayout<'_>) -> String {
    match &v.input.topics.map {
        Some(layout) if layout.xy.len() == v.input.index.len() => layout.method.clone(),
        _ => "a PCA projection of its vector (run `papermap topics` for the t-SNE map)".into(),
    }
}

/// Groups of the coarse view the report shows: about the square root of the topics.
pub(crate) fn coarse_groups(k: usize) -> usize {
    ((k as f64).sqrt().round() as usize).max(2)
}

/// `url` when it is a web link safe to write into an `href` or a Markdown `<…>` link target; the
/// parser keeps no other, this guards indexes written before it did.
pub(crate) fn web_link(url: &str) -> Option<&str> {
    crate::corpus::is_web_link(url).then_some(url)
}

/// Escapes text for HTML and XML.
pub(crate) fn esc(s: &str) -> String {
    let s = crate::text::printable(s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A distinct colour per topic position: golden-angle hues at fixed lightness.
pub(crate) fn colour(i: usize) -> String {
    let hue = (i as f64 * 137.508) % 360.0;
    let light = if i.is_multiple_of(2) { 45 } else { 58 };
    format!("hsl({hue:.0},65%,{light}%)")
}

/// `n` and the noun in the number it needs: "1 run", "3 runs".
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
