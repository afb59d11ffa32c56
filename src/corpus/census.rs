//! Counting a corpus as it streams by: `papermap stats` on arXiv's 2.7M-record snapshot keeps a
//! few dozen bytes per id, never the papers.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::archive::{ReadOptions, Tally};
use super::{CorpusError, Paper, SourceLoc, Warning};

/// What [`census`] found: the numbers of [`super::Corpus`] without its papers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Census {
    /// Files read: those given plus the digests and archives found in the directories given.
    pub files: usize,
    /// Paper entries and records kept by the selection, before deduplication.
    pub entries: usize,
    /// Distinct arXiv ids among the entries: the number of papers a load would keep.
    pub unique: usize,
    /// Ids seen more than once, with every location (the first one first).
    pub duplicates: Vec<(String, Vec<SourceLoc>)>,
    /// Unique papers no entry gives a digest summary.
    pub without_summary: usize,
    /// Unique papers with neither a summary nor an abstract.
    pub without_text: usize,
    /// Unique papers per month of their earliest date (`unknown` for undated papers).
    pub per_month: BTreeMap<String, usize>,
    /// Every warning, in file order.
    pub warnings: Vec<Warning>,
    /// Archive records read, skipped and selected out.
    pub tally: Tally,
}

/// What is kept per id: where it was first seen, its earliest date, whether it has text.
struct Seen {
    file: u32,
    line: u32,
    earliest: Option<[u8; 10]>,
    summary: bool,
    text: bool,
    /// Index into the duplicates, once the id is seen twice.
    duplicate: Option<u32>,
}

/// Counts the papers of `paths` as [`super::load_with`] would find them, in bounded memory.
pub fn census(paths: &[PathBuf], opts: &ReadOptions) -> Result<Census, CorpusError> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut file_of: HashMap<PathBuf, u32> = HashMap::new();
    let mut seen: HashMap<Box<str>, Seen> = HashMap::new();
    let mut duplicates: Vec<(String, Vec<SourceLoc>)> = Vec::new();
    let mut entries = 0usize;
    let mut sink = |batch: Vec<Paper>| {
        entries += batch.len();
        for p in batch {
            let file = match file_of.get(&p.source.file) {
                Some(&f) => f,
                None => {
                    files.push(p.source.file.clone());
                    file_of.insert(p.source.file.clone(), files.len() as u32 - 1);
                    files.len() as u32 - 1
                }
            };
            let day = p
                .date
                .as_deref()
                .and_then(|d| <[u8; 10]>::try_from(d.as_bytes()).ok());
            match seen.get_mut(p.arxiv_id.as_str()) {
                None => {
                    let state = Seen {
                        file,
                        line: p.source.line as u32,
                        earliest: day,
                        summary: p.has_summary(),
                        text: p.has_text(),
                        duplicate: None,
                    };
                    seen.insert(p.arxiv_id.into_boxed_str(), state);
                }
                Some(s) => {
                    s.summary |= p.has_summary();
                    s.text |= p.has_text();
                    s.earliest = match (s.earliest, day) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let at = match s.duplicate {
                        Some(d) => d as usize,
                        None => {
                            let first = SourceLoc {
                                file: files[s.file as usize].clone(),
                                line: s.line as usize,
                            };
                            duplicates.push((p.arxiv_id.clone(), vec![first]));
                            s.duplicate = Some(duplicates.len() as u32 - 1);
                            duplicates.len() - 1
                        }
                    };
                    duplicates[at].1.push(p.source);
                }
            }
        }
    };
    let read = super::stream(paths, opts, &mut sink)?;
    let mut census = Census {
        files: read.files,
        entries,
        unique: seen.len(),
        duplicates,
        warnings: read.warnings,
        tally: read.tally,
        ..Census::default()
    };
    for s in seen.values() {
        census.without_summary += usize::from(!s.summary);
        census.without_text += usize::from(!s.text);
        let month = s
            .earliest
            .as_ref()
            .and_then(|d| std::str::from_utf8(&d[..7]).ok())
            .unwrap_or("unknown");
        match census.per_month.get_mut(month) {
            Some(n) => *n += 1,
            None => {
                census.per_month.insert(month.to_string(), 1);
            }
        }
    }
    Ok(census)
}
