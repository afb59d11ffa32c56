//! The parser against the reference texts and the full archive's known counts.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use papermap::corpus::{self, Paper};
use serde::Deserialize;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");

#[derive(Deserialize)]
struct Reference {
    papers: Vec<RefPaper>,
}

#[derive(Deserialize)]
struct RefPaper {
    arxiv_id: String,
    title: String,
    doc_input: String,
    query_input: String,
}

fn reference() -> Vec<RefPaper> {
    let path = format!("{SHARED}/reference/seeds_e5_small.json");
    let text = fs::read_to_string(&path).expect("reference file is readable");
    let r: Reference = serde_json::from_str(&text).expect("reference file is valid JSON");
    r.papers
}

/// The seed digests in the reference's order (its files sorted by their original names).
fn seed_papers() -> Vec<Paper> {
    ["2024-12-13.md", "2024-09-26.md", "2025-02-21.md"]
        .iter()
        .flat_map(|name| {
            let path = PathBuf::from(format!("{SHARED}/data/seeds/{name}"));
            let text = fs::read_to_string(&path).expect("seed is readable");
            let (papers, warnings) = corpus::parse_digest(&text, &path);
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            papers
        })
        .collect()
}

#[test]
fn seed_summaries_and_titles_match_reference_exactly() {
    let reference = reference();
    let papers = seed_papers();
    assert_eq!(reference.len(), 68);
    assert_eq!(papers.len(), 68);
    for (p, r) in papers.iter().zip(&reference) {
        assert_eq!(p.arxiv_id, r.arxiv_id);
        assert_eq!(p.title, r.title, "title of {}", r.arxiv_id);
        let doc = r.doc_input.strip_prefix("passage: ").expect("doc prefix");
        assert_eq!(p.summary, doc, "summary of {}", r.arxiv_id);
        let query = r.query_input.strip_prefix("query: ").expect("query prefix");
        assert_eq!(p.title, query, "query title of {}", r.arxiv_id);
    }
}

#[test]
fn seed_fields_are_complete() {
    for p in seed_papers() {
        assert!(p.date.is_some(), "{}", p.arxiv_id);
        assert!(!p.authors.is_empty(), "{}", p.arxiv_id);
        assert!(p.authors.iter().all(|a| a != "+" && !a.is_empty()));
        assert!(p.thumbnail.is_some(), "{}", p.arxiv_id);
        // The seeds are all from the labelled era.
        assert!(p.whats_new.is_some(), "{}", p.arxiv_id);
        assert!(p.technical_details.is_some(), "{}", p.arxiv_id);
    }
}

#[test]
fn sample_directory_matches_seeds() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample"));
    let c = corpus::load(&[dir]).expect("sample loads");
    assert_eq!(c.papers.len(), 68);
    assert_eq!(c.entries, 68);
    // Notes beside the digests (an attribution file, say) may only be "not a digest".
    assert!(
        c.warnings
            .iter()
            .all(|w| w.kind == corpus::WarningKind::NoPapers),
        "{:?}",
        c.warnings
    );
}

fn archive() -> corpus::Corpus {
    corpus::load(&[PathBuf::from(format!("{SHARED}/data/archive"))]).expect("archive loads")
}

#[test]
fn archive_counts() {
    let c = archive();
    assert_eq!(c.files, 306);
    assert_eq!(c.entries, 4343);
    assert_eq!(c.papers.len(), 4342);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.without_summary(), 0);
    for p in &c.papers {
        assert!(!p.arxiv_id.is_empty());
        assert!(!p.title.is_empty(), "{}", p.arxiv_id);
        assert!(p.date.is_some(), "{}", p.arxiv_id);
        assert!(p.has_summary(), "{}", p.arxiv_id);
    }
    let per_month = c.papers_per_month();
    assert_eq!(per_month.values().sum::<usize>(), 4342);
    assert_eq!(per_month.get("2023-11"), Some(&44));
    assert_eq!(per_month.get("2025-02"), Some(&497));
}

#[test]
fn archive_duplicate_is_merged_and_reported() {
    let c = archive();
    assert_eq!(c.duplicates.len(), 1);
    let (id, locs) = &c.duplicates[0];
    assert_eq!(id, "2410.09342");
    assert_eq!(locs.len(), 2);
    assert!(locs[0].file.ends_with("2024/10/16.md") && locs[0].line == 51);
    assert!(locs[1].file.ends_with("2024/10/18.md") && locs[1].line == 3);
    let p: Vec<&Paper> = c.papers.iter().filter(|p| p.arxiv_id == *id).collect();
    assert_eq!(p.len(), 1);
    // First appearance's text is kept; both days are listed.
    assert!(
        p[0].title.starts_with(r"LLM$\times$MapReduce"),
        "{}",
        p[0].title
    );
    assert_eq!(p[0].date.as_deref(), Some("2024-10-16"));
    assert_eq!(p[0].dates, ["2024-10-16", "2024-10-18"]);
}

/// The lines of a paper's entry in its source file.
fn entry_lines(p: &Paper) -> Vec<String> {
    let text = fs::read_to_string(&p.source.file).expect("source readable");
    text.lines()
        .skip(p.source.line)
        .take_while(|l| !l.starts_with("### ") && !l.starts_with("## "))
        .map(str::to_string)
        .collect()
}

#[test]
fn archive_votes_and_authors_from_2024() {
    let c = archive();
    let mut unknown_votes = 0;
    let mut by_era: BTreeMap<bool, usize> = BTreeMap::new();
    for p in &c.papers {
        let recent = p.date.as_deref().is_some_and(|d| d >= "2024-01");
        *by_era.entry(recent).or_insert(0) += 1;
        if !recent {
            continue;
        }
        assert!(!p.authors.is_empty(), "authors of {}", p.arxiv_id);
        assert!(p.authors.iter().all(|a| a != "+" && !a.is_empty()));
        if p.votes.is_none() {
            // Unknown votes must come from an explicit `Vote: -`, not a missing line.
            let lines = entry_lines(p);
            assert!(lines.iter().any(|l| l == "Vote: -"), "{}", p.arxiv_id);
            unknown_votes += 1;
        }
    }
    assert_eq!(unknown_votes, 28);
    assert_eq!(by_era.get(&false), Some(&334));
}

#[test]
fn archive_labelled_era_has_sections() {
    let c = archive();
    let mut labelled: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &c.papers {
        let Some(s) = p.whats_new.as_deref() else {
            // From July 2024 on every entry is written with labelled bullets.
            assert!(p.date.as_deref() < Some("2024-07"), "{}", p.arxiv_id);
            continue;
        };
        assert!(p.summary.starts_with(s), "{}", p.arxiv_id);
        *labelled.entry(p.month().unwrap_or("?")).or_insert(0) += 1;
    }
    // The labels appear during June 2024 and never before it.
    assert_eq!(labelled.keys().next(), Some(&"2024-06"));
    assert_eq!(labelled.get("2024-06"), Some(&251));
    assert_eq!(labelled.values().sum::<usize>(), 251 + 2678);
}

#[test]
fn python_list_authors_are_split() {
    // Some October 2024 digests write `Authors: ['A', 'B', ...]`; names must come out bare,
    // the same as in the plain `Authors: A, B` notation.
    let path = Path::new(SHARED).join("data/archive/2024/10/18.md");
    let text = fs::read_to_string(&path).expect("readable");
    let (papers, _) = corpus::parse_digest(&text, &path);
    let first = &papers[0];
    assert_eq!(first.arxiv_id, "2410.09342");
    assert_eq!(first.authors.len(), 14);
    assert_eq!(first.authors[13], "Qi Shi");
    assert_eq!(first.authors[0], "Zihan Zhou");
    for p in &papers {
        assert!(!p.authors.is_empty(), "{}", p.arxiv_id);
        assert!(p
            .authors
            .iter()
            .all(|a| !a.contains('\'') && !a.contains('[') && !a.contains(']')));
    }
}
