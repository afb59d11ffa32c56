//! arXiv's metadata snapshot (Kaggle's `arxiv-metadata-oai-snapshot.json`): one JSON object per
//! line with `id`, `title`, `abstract`, `authors`, `authors_parsed`, `categories`,
//! `versions[].created`, `update_date`, `doi` and `journal-ref`.

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;

use super::{arxiv_url, normalise_whitespace, Refusal};
use crate::corpus::{Paper, SourceLoc};

/// The fields we read; the others (`submitter`, `comments`, `license`, …) are skipped unparsed.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    title: Cow<'a, str>,
    #[serde(borrow, rename = "abstract", default)]
    abstract_text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    authors: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    authors_parsed: Option<Vec<Vec<Cow<'a, str>>>>,
    #[serde(borrow, default)]
    categories: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    versions: Option<Vec<Version<'a>>>,
    #[serde(borrow, default)]
    update_date: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Version<'a> {
    #[serde(borrow)]
    created: Cow<'a, str>,
}

/// One snapshot line as a paper, or why it is none.
pub(super) fn paper(line: &str, path: &Path, n: usize) -> Result<Paper, Refusal> {
    let r: Record = serde_json::from_str(line)
        .map_err(|e| format!("not an arXiv record: {}", super::json_error(&e)))?;
    let id = crate::text::arxiv::normalise(&r.id);
    if id.is_empty() {
        return Err("empty id".into());
    }
    let title = normalise_whitespace(&r.title);
    if title.is_empty() {
        return Err(format!("paper {id} has an empty title"));
    }
    // A paper's date is the day of its first version; update_date is the fallback.
    let date = r
        .versions
        .as_ref()
        .and_then(|v| v.first())
        .and_then(|v| rfc2822_day(&v.created))
        .or_else(|| r.update_date.as_deref().and_then(super::iso_day));
    let authors = match (&r.authors_parsed, &r.authors) {
        (Some(parsed), _) if !parsed.is_empty() => parsed.iter().filter_map(|a| name(a)).collect(),
        (_, Some(list)) => split_authors(list),
        _ => Vec::new(),
    };
    let categories = r
        .categories
        .as_deref()
        .map(|c| c.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let abstract_text = r
        .abstract_text
        .as_deref()
        .map(normalise_whitespace)
        .filter(|a| !a.is_empty());
    Ok(Paper {
        url: arxiv_url(&id).unwrap_or_else(|| format!("https://arxiv.org/abs/{id}")),
        arxiv_id: id,
        title,
        dates: date.iter().cloned().collect(),
        date,
        votes: None,
        authors,
        thumbnail: None,
        whats_new: None,
        technical_details: None,
        performance_highlights: None,
        summary: String::new(),
        abstract_text,
        categories,
        source: SourceLoc {
            file: path.to_path_buf(),
            line: n,
        },
    })
}

/// `["Last", "First", "Jr"]` as `First Last Jr`.
fn name(parts: &[Cow<str>]) -> Option<String> {
    let last = parts.first().map(|s| s.trim()).unwrap_or("");
    let first = parts.get(1).map(|s| s.trim()).unwrap_or("");
    let suffix = parts.get(2).map(|s| s.trim()).unwrap_or("");
    let joined: Vec<&str> = [first, last, suffix]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    (!joined.is_empty()).then(|| normalise_whitespace(&joined.join(" ")))
}

/// `A. One, B. Two and C. Three` as three names.
fn split_authors(list: &str) -> Vec<String> {
    let list = normalise_whitespace(list);
    list.split(", ")
        .flat_map(|a| a.split(" and "))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

/// `Mon, 2 Apr 2007 19:18:42 GMT` as `2007-04-02`.
fn rfc2822_day(s: &str) -> Option<String> {
    let rest = s.split_once(',').map_or(s, |(_, r)| r);
    let mut parts = rest.split_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()?.get(..3)?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let year: u32 = parts.next()?.parse().ok()?;
    let d = format!("{year:04}-{month:02}-{day:02}");
    crate::corpus::dates::calendar_day(&d).map(|_| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_version_date_and_names() {
        assert_eq!(
            rfc2822_day("Mon, 2 Apr 2007 19:18:42 GMT").as_deref(),
            Some("2007-04-02")
        );
        assert_eq!(rfc2822_day("Tue, 31 Feb 2007 00:00:00 GMT"), None);
        assert_eq!(rfc2822_day("garbage"), None);
        let parts: Vec<Cow<str>> = vec!["Balázs".into(), "C.".into(), "".into()];
        assert_eq!(name(&parts).as_deref(), Some("C. Balázs"));
        assert_eq!(
            split_authors("A. One, B. Two and\n  C. Three"),
            ["A. One", "B. Two", "C. Three"]
        );
    }

    #[test]
    fn a_snapshot_line_keeps_its_text_and_loses_the_wrapping() {
        let line = r#"{"id":"hep-th/9901001v2","title":"A  title\n  wrapped","abstract":"  We show $x^2$\nholds.\n","authors":"A","authors_parsed":[["Smith","J.",""]],"categories":"hep-th math.AG","versions":[{"version":"v1","created":"Fri, 1 Jan 1999 00:00:00 GMT"}],"update_date":"2008-01-01"}"#;
        let p = paper(line, Path::new("s.json"), 7).expect("record");
        assert_eq!(p.arxiv_id, "hep-th/9901001");
        assert_eq!(p.title, "A title wrapped");
        assert_eq!(p.abstract_text.as_deref(), Some("We show $x^2$ holds."));
        assert_eq!(p.authors, ["J. Smith"]);
        assert_eq!(p.categories, ["hep-th", "math.AG"]);
        assert_eq!(p.date.as_deref(), Some("1999-01-01"));
        assert_eq!(p.url, "https://arxiv.org/abs/hep-th/9901001");
        assert_eq!(p.source.line, 7);
        let err = paper(r#"{"id": 5, "title": "t"}"#, Path::new("s.json"), 1).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        let err = paper(r#"{"title": "t"}"#, Path::new("s.json"), 1).unwrap_err();
        assert!(err.contains("missing field `id`"), "{err}");
    }
}
