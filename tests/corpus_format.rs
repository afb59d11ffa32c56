//! The digest format rules: fields, sections, dates and deduplication.

use std::fs;
use std::path::{Path, PathBuf};

use papermap::corpus::{self, Paper, WarningKind};

const ARCHIVE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/archive");

/// Parses a single-entry digest, adding a date heading if it has none (no NoDate warning).
fn parse_one(text: &str) -> Paper {
    let text = if text.starts_with("## ") {
        text.to_string()
    } else {
        format!("## Daily Papers (2024-05-01)\n{text}")
    };
    let (papers, warnings) = corpus::parse_digest(&text, Path::new("digest.md"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(papers.len(), 1);
    papers.into_iter().next().expect("one paper")
}

#[test]
fn all_fields_of_a_labelled_entry() {
    let p = parse_one(
        "## Daily Papers (2024-09-26)

### [  Molmo $\\times$ [PixMo](v2)  ](https://arxiv.org/abs/2409.17146)

![](https://cdn/x.png)

Vote: 38

Authors: Christopher Clark, Jiasen Lu, +, Luca Soldaini

- ***What's New***: New model.
  - nested point   
- **Technical Details**:\tDetails.
- ***Performance Highlights***: Good.   
",
    );
    assert_eq!(p.arxiv_id, "2409.17146");
    // Title runs to the LAST `](`, LaTeX and brackets kept, outer spaces trimmed.
    assert_eq!(p.title, "Molmo $\\times$ [PixMo](v2)");
    assert_eq!(p.url, "https://arxiv.org/abs/2409.17146");
    assert_eq!(p.date.as_deref(), Some("2024-09-26"));
    assert_eq!(p.dates, ["2024-09-26"]);
    assert_eq!(p.votes, Some(38));
    assert_eq!(
        p.authors,
        ["Christopher Clark", "Jiasen Lu", "Luca Soldaini"]
    );
    assert_eq!(p.thumbnail.as_deref(), Some("https://cdn/x.png"));
    assert_eq!(p.whats_new.as_deref(), Some("New model.\nnested point"));
    assert_eq!(p.technical_details.as_deref(), Some("Details."));
    assert_eq!(p.performance_highlights.as_deref(), Some("Good."));
    assert_eq!(p.summary, "New model.\nnested point\nDetails.\nGood.");
    assert_eq!(p.source.line, 3);
}

#[test]
fn plain_bullet_entry_has_no_sections() {
    let p = parse_one(
        "### [T](https://arxiv.org/abs/2311.10122)\n- one\n   - two\n\n- **Bold** lead: kept\n",
    );
    assert_eq!(p.summary, "one\ntwo\n**Bold** lead: kept");
    assert_eq!(p.whats_new, None);
    assert_eq!(p.votes, None);
    assert!(p.authors.is_empty());
}

#[test]
fn unknown_label_is_removed_and_ends_the_section() {
    let p = parse_one(
        "### [T](https://arxiv.org/abs/1)\n- **What’s New**: a\n- **Conclusion**: b\n- c\n- **NOT a label** d\n",
    );
    // Curly apostrophe is accepted for the section; any label is removed from the summary.
    assert_eq!(p.whats_new.as_deref(), Some("a"));
    assert_eq!(p.summary, "a\nb\nc\n**NOT a label** d");
}

#[test]
fn vote_dash_is_unknown_not_an_error() {
    let p = parse_one("### [T](https://arxiv.org/abs/1)\nVote: -\n- s\n");
    assert_eq!(p.votes, None);
}

#[test]
fn malformed_vote_is_warned() {
    let (papers, warnings) = corpus::parse_digest(
        "### [T](https://arxiv.org/abs/1)\nVote: many\n- s\n",
        Path::new("d.md"),
    );
    assert_eq!(papers[0].votes, None);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings
        .iter()
        .any(|w| w.kind == WarningKind::BadVote && w.line == 2));
    // No date anywhere: reported once, at the first undated paper.
    assert!(warnings
        .iter()
        .any(|w| w.kind == WarningKind::NoDate && w.line == 1));
}

#[test]
fn non_arxiv_link_keeps_url_as_id_and_versions_are_dropped() {
    let (papers, _) = corpus::parse_digest(
        "### [A](https://example.org/paper)\n- a\n### [B](https://arxiv.org/abs/2405.00001v2)\n- b\n",
        Path::new("2024-05-01.md"),
    );
    assert_eq!(papers[0].arxiv_id, "https://example.org/paper");
    assert_eq!(papers[1].arxiv_id, "2405.00001");
    assert_eq!(papers[1].url, "https://arxiv.org/abs/2405.00001v2");
}

#[test]
fn entry_ends_at_next_section_heading() {
    let text = "## Daily Papers (2024-01-02)\n### [A](https://arxiv.org/abs/1)\n- a\n## Daily Papers (2024-01-03)\n- stray\n### [B](https://arxiv.org/abs/2)\n- b\n";
    let (papers, warnings) = corpus::parse_digest(text, Path::new("d.md"));
    assert_eq!(papers[0].summary, "a");
    assert_eq!(papers[0].date.as_deref(), Some("2024-01-02"));
    // A second date heading dates the entries below it.
    assert_eq!(papers[1].date.as_deref(), Some("2024-01-03"));
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        (warnings[0].kind, warnings[0].line),
        (WarningKind::StrayBullets, 5)
    );
}

#[test]
fn date_sources_in_order_of_preference() {
    let entry = "### [T](https://arxiv.org/abs/1)\n- s\n";
    let date = |text: &str, path: &str| {
        let (papers, warnings) = corpus::parse_digest(text, Path::new(path));
        (
            papers[0].date.clone(),
            warnings.iter().map(|w| w.kind).collect::<Vec<_>>(),
        )
    };
    let headed = format!("## Daily Papers (2024-02-03)\n{entry}");
    assert_eq!(date(&headed, "x.md"), (Some("2024-02-03".into()), vec![]));
    assert_eq!(
        date(entry, "a/2024/02/04.md"),
        (Some("2024-02-04".into()), vec![])
    );
    assert_eq!(
        date(entry, "a/2024-02-05.md"),
        (Some("2024-02-05".into()), vec![])
    );
    assert_eq!(date(entry, "a/notes.md"), (None, vec![WarningKind::NoDate]));
    // The heading wins over the path, and the disagreement is reported.
    assert_eq!(
        date(&headed, "a/2024/02/04.md"),
        (Some("2024-02-03".into()), vec![WarningKind::DateMismatch])
    );
    // A malformed heading date is reported and the path date used instead.
    let bad = format!("## Daily Papers (2024-13-40)\n{entry}");
    assert_eq!(
        date(&bad, "a/2024/02/04.md"),
        (Some("2024-02-04".into()), vec![WarningKind::BadDateHeading])
    );
}

/// Replaces the date heading of an archive digest.
fn redate(path: &str, date: &str) -> (Vec<Paper>, Vec<Paper>) {
    let file = PathBuf::from(ARCHIVE).join(path);
    let text = fs::read_to_string(&file).expect("archive readable");
    let first_line_end = text.find('\n').expect("has lines");
    let moved = format!("## Daily Papers ({date}){}", &text[first_line_end..]);
    let (orig, _) = corpus::parse_digest(&text, Path::new("a.md"));
    let (moved, _) = corpus::parse_digest(&moved, Path::new("a.md"));
    (orig, moved)
}

#[test]
fn format_detection_does_not_depend_on_date() {
    // Each era's format, dated as another era, gives the same papers apart from the date.
    for (path, date) in [
        ("2023/11/20.md", "2025-02-28"),
        ("2024/03/05.md", "2023-11-20"),
        ("2025/02/21.md", "2023-11-20"),
    ] {
        let (orig, moved) = redate(path, date);
        assert!(!orig.is_empty());
        assert_eq!(orig.len(), moved.len());
        for (a, mut b) in orig.into_iter().zip(moved) {
            assert_eq!(b.date.as_deref(), Some(date));
            b.date = a.date.clone();
            b.dates = a.dates.clone();
            assert_eq!(a, b);
        }
    }
}

#[test]
fn duplicates_keep_first_date_and_list_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = |title: &str, summary: &str| {
        format!("### [{title}](https://arxiv.org/abs/2405.00001)\nVote: 1\n- {summary}\n")
    };
    // File order is not date order: the earlier date must win regardless.
    let late = dir.path().join("a.md");
    let early = dir.path().join("b.md");
    let undated = dir.path().join("c.md");
    fs::write(
        &late,
        format!("## Daily Papers (2024-05-03)\n{}", entry("Late", "late")),
    )
    .expect("w");
    fs::write(
        &early,
        format!("## Daily Papers (2024-05-01)\n{}", entry("Early", "early")),
    )
    .expect("w");
    fs::write(&undated, entry("Undated", "undated")).expect("w");
    let c = corpus::load(&[late.clone(), early.clone(), undated.clone()]).expect("loads");
    assert_eq!(c.entries, 3);
    assert_eq!(c.papers.len(), 1);
    let p = &c.papers[0];
    assert_eq!(p.title, "Early");
    assert_eq!(p.summary, "early");
    assert_eq!(p.date.as_deref(), Some("2024-05-01"));
    assert_eq!(p.dates, ["2024-05-01", "2024-05-03"]);
    assert_eq!(p.source.file, early);
    assert_eq!(c.duplicates.len(), 1);
    let files: Vec<&PathBuf> = c.duplicates[0].1.iter().map(|l| &l.file).collect();
    assert_eq!(files, [&early, &late, &undated]);
}

#[test]
fn same_id_twice_in_one_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("2024-05-01.md");
    fs::write(
        &path,
        "### [A](https://arxiv.org/abs/1)\n- a\n### [A again](https://arxiv.org/abs/1)\n- b\n",
    )
    .expect("w");
    let c = corpus::load(&[path]).expect("loads");
    assert_eq!(c.papers.len(), 1);
    assert_eq!(c.papers[0].title, "A");
    assert_eq!(c.papers[0].dates, ["2024-05-01"]);
    let lines: Vec<usize> = c.duplicates[0].1.iter().map(|l| l.line).collect();
    assert_eq!(lines, [1, 3]);
}

#[test]
fn paper_json_round_trips() {
    let text = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/sample/2025-02-21.md"
    ))
    .expect("sample readable");
    let (papers, _) = corpus::parse_digest(&text, Path::new("data/sample/2025-02-21.md"));
    for p in papers {
        let json = serde_json::to_string(&p).expect("serialises");
        let back: Paper = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, p);
    }
}
