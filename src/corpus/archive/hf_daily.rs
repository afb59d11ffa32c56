//! Hugging Face Daily Papers, as `/api/daily_papers?date=…` answers: an array of entries, each
//! with a `paper` object (`id`, `title`, `summary`, `authors[].name`, `upvotes`, `publishedAt`)
//! and the entry's own `publishedAt`, the day it was in the feed.
//!
//! One file may hold one day (the API's answer saved as is), many days (the answers' arrays
//! concatenated into one array, an object of `date: [entries]`, or an array of such arrays), or
//! one entry per line (JSON Lines). The feed's `summary` is the paper's English abstract, so it
//! becomes [`Paper::abstract_text`]; `title+summary` then embeds it, as it embeds a digest's
//! summary.

use std::path::Path;

use serde_json::Value;

use super::{arxiv_url, input, iso_day, normalise_whitespace, Out, Refusal};
use crate::corpus::{CorpusError, Paper, SourceLoc};

/// Reads one feed file; see the module doc for the shapes it takes.
pub(super) fn read(path: &Path, out: &mut Out) -> Result<(), CorpusError> {
    if lines_of_entries(&input::head(path, 1 << 16)?) {
        return super::read_lines(path, out, |line, n| {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| format!("invalid JSON: {}", super::json_error(&e)))?;
            entry(&v, None, path, n).map(|p| (p, None))
        });
    }
    let doc = super::table::read_document(path, out)?;
    let Some(doc) = doc else { return Ok(()) };
    let mut entries: Vec<(&Value, Option<&str>)> = Vec::new();
    let mut not_days: Vec<String> = Vec::new();
    match &doc {
        Value::Array(items) => {
            for item in items {
                match item {
                    // An array of days' arrays.
                    Value::Array(day) => entries.extend(day.iter().map(|v| (v, None))),
                    v => entries.push((v, None)),
                }
            }
        }
        Value::Object(days) => {
            for (day, items) in days {
                match items {
                    Value::Array(items) => {
                        entries.extend(items.iter().map(|v| (v, Some(day.as_str()))))
                    }
                    _ => not_days.push(day.clone()),
                }
            }
        }
        _ => not_days.push(String::new()),
    }
    let mut papers = Vec::with_capacity(entries.len());
    for (i, (v, day)) in entries.into_iter().enumerate() {
        out.tally.records += 1;
        match entry(v, day, path, i + 1) {
            Ok(p) => papers.push(p),
            Err(why) => out.bad(i + 1, why),
        }
    }
    for day in not_days {
        out.tally.records += 1;
        if day.is_empty() {
            out.bad(1, "not an array of Daily Papers entries".into());
        } else {
            out.bad(0, format!("day {day:?} is not an array of entries"));
        }
    }
    out.papers(papers);
    Ok(())
}

/// Whether the file is JSON Lines of entries rather than one document: it does not open an
/// array, and its first line is not a whole object of days nor the `{` of a pretty-printed one.
fn lines_of_entries(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('[') {
        return false;
    }
    let first_line = text.lines().next().unwrap_or("").trim();
    match serde_json::from_str::<Value>(first_line) {
        Ok(v) => v.get("paper").is_some(),
        // A damaged first line of JSON Lines is that line's warning, not the file's.
        Err(_) => first_line != "{",
    }
}

/// One feed entry as a paper. `day` is the key the entry was filed under, if any.
fn entry(v: &Value, day: Option<&str>, path: &Path, n: usize) -> Result<Paper, Refusal> {
    let paper = v
        .get("paper")
        .ok_or("entry has no `paper` object")?
        .as_object()
        .ok_or("`paper` is not an object")?;
    let text = |field: &str| -> Result<Option<&str>, Refusal> {
        match paper.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "paper.{field} is {}, not a string",
                super::table::json_type(other)
            )),
        }
    };
    let id = crate::text::arxiv::normalise(text("id")?.ok_or("paper.id is missing")?);
    if id.is_empty() {
        return Err("paper.id is empty".into());
    }
    let title = normalise_whitespace(text("title")?.ok_or("paper.title is missing")?);
    if title.is_empty() {
        return Err(format!("paper {id} has an empty title"));
    }
    let summary = text("summary")?.map(normalise_whitespace);
    let authors = match paper.get("authors") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|a| a.get("name").and_then(Value::as_str).or(a.as_str()))
            .map(normalise_whitespace)
            .filter(|a| !a.is_empty())
            .collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(format!(
                "paper.authors is {}, not an array",
                super::table::json_type(other)
            ))
        }
    };
    let votes = match paper.get("upvotes") {
        None | Some(Value::Null) => None,
        Some(Value::Number(x)) => x.as_u64().map(|x| x.min(u32::MAX as u64) as u32),
        Some(other) => {
            return Err(format!(
                "paper.upvotes is {}, not a number",
                super::table::json_type(other)
            ))
        }
    };
    // The feed's day: the key it was filed under, else the entry's publishedAt, else the paper's.
    let date = day
        .and_then(iso_day)
        .or_else(|| {
            v.get("publishedAt")
                .and_then(Value::as_str)
                .and_then(iso_day)
        })
        .or_else(|| {
            paper
                .get("publishedAt")
                .and_then(Value::as_str)
                .and_then(iso_day)
        });
    let thumbnail = v
        .get("thumbnail")
        .and_then(Value::as_str)
        .filter(|t| crate::corpus::is_web_link(t))
        .map(str::to_string);
    Ok(Paper {
        url: arxiv_url(&id).unwrap_or_else(|| format!("https://huggingface.co/papers/{id}")),
        arxiv_id: id,
        title,
        dates: date.iter().cloned().collect(),
        date,
        votes,
        authors,
        thumbnail,
        whats_new: None,
        technical_details: None,
        performance_highlights: None,
        summary: String::new(),
        abstract_text: summary.filter(|s| !s.is_empty()),
        categories: Vec::new(),
        source: SourceLoc {
            file: path.to_path_buf(),
            line: n,
        },
    })
}
