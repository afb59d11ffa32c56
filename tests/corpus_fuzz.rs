//! Property-based fuzzing of the digest parser: no panic, and basic invariants hold.
//!
//! The case count defaults to 256 per test (fast enough for CI); set `PROPTEST_CASES` for a
//! long run, e.g. `PROPTEST_CASES=2000000 cargo test --release --test corpus_fuzz -- --nocapture`.
//! Each test prints how many cases it ran and how long it took.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use papermap::corpus::{self, Paper, Warning, WarningKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const SEEDS: [&str; 3] = [
    include_str!("../data/sample/2024-09-26.md"),
    include_str!("../data/sample/2024-12-13.md"),
    include_str!("../data/sample/2025-02-21.md"),
];

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // The runner is used directly (no source file), so there is nowhere to persist.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `test` over `strategy`, reporting the number of cases and the time taken.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let cases = AtomicU64::new(0);
    let start = Instant::now();
    let mut runner = TestRunner::new(config());
    let result = runner.run(&strategy, |v| {
        cases.fetch_add(1, Ordering::Relaxed);
        test(v)
    });
    eprintln!(
        "fuzz {name}: {} cases in {:.1} s",
        cases.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("fuzz {name} failed: {e}");
    }
}

/// Checks what must hold for any input parsed by `parse_bytes`.
fn check(bytes: &[u8], papers: &[Paper], warnings: &[Warning]) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz.md");
    let decoded = String::from_utf8_lossy(bytes);
    let text = decoded.strip_prefix('\u{FEFF}').unwrap_or(&decoded);
    let lines: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').collect()
    };
    let headings = lines.iter().filter(|l| l.starts_with("### ")).count();

    for p in papers {
        prop_assert!(!p.arxiv_id.is_empty());
        // A kept link is always a web link; any other target is dropped (the entry stays).
        prop_assert!(p.url.is_empty() || papermap::corpus::is_web_link(&p.url));
        prop_assert!(!p.arxiv_id.contains("javascript:"));
        prop_assert_eq!(p.source.file.as_path(), path);
        prop_assert!(p.source.line >= 1 && p.source.line <= lines.len());
        prop_assert!(lines[p.source.line - 1].starts_with("### "));
        prop_assert!(!p.title.contains('\n') && p.title.trim() == p.title);
        prop_assert_eq!(p.has_summary(), !p.summary.is_empty());
        for line in p.summary.split('\n').filter(|_| p.has_summary()) {
            prop_assert!(!line.is_empty() && line.trim_end() == line);
        }
        prop_assert_eq!(&p.dates, &p.date.iter().cloned().collect::<Vec<_>>());
        prop_assert!(p.authors.iter().all(|a| !a.is_empty() && a != "+"));
    }
    for w in warnings {
        prop_assert_eq!(w.file.as_path(), path);
        prop_assert!(
            w.line <= lines.len(),
            "warning line {} of {}",
            w.line,
            lines.len()
        );
    }
    let count = |k: WarningKind| warnings.iter().filter(|w| w.kind == k).count();
    // Nothing is dropped silently: every heading is a paper or a skipped-heading warning
    // (past the per-kind cap, one summary warning stands for the rest).
    let cap = corpus::MAX_WARNINGS_PER_KIND;
    prop_assert!(papers.len() <= headings);
    let skipped = headings - papers.len();
    prop_assert_eq!(count(WarningKind::HeadingWithoutLink), skipped.min(cap + 1));
    let no_summary = papers.iter().filter(|p| !p.has_summary()).count();
    prop_assert_eq!(count(WarningKind::NoSummary), no_summary.min(cap + 1));
    prop_assert_eq!(
        count(WarningKind::InvalidUtf8),
        usize::from(std::str::from_utf8(bytes).is_err())
    );
    prop_assert_eq!(count(WarningKind::EmptyFile), usize::from(text.is_empty()));
    prop_assert_eq!(
        count(WarningKind::NoPapers),
        usize::from(!text.is_empty() && headings == 0)
    );
    Ok(())
}

fn parse_and_check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (papers, warnings) = corpus::parse_bytes(bytes, Path::new("fuzz.md"));
    check(bytes, &papers, &warnings)
}

#[test]
fn fuzz_arbitrary_bytes() {
    fuzz(
        "arbitrary_bytes",
        proptest::collection::vec(any::<u8>(), 0..2048),
        |bytes| parse_and_check(&bytes),
    );
}

/// Lines that look like digest lines, including near misses.
fn digest_line() -> impl Strategy<Value = String> {
    let text = "[^\n]{0,40}";
    prop_oneof![
        Just(String::new()),
        Just("## Daily Papers (2024-09-26)".to_string()),
        "## Daily Papers \\([0-9-]{0,12}\\)",
        "### \\[[^\n]{0,20}\\]\\(https://arxiv.org/abs/[0-9.v]{0,12}\\)",
        "### [^\n]{0,30}",
        "#{1,4}[ \t]?[^\n]{0,10}",
        text.prop_map(|t| format!("- {t}")),
        "[ ]{0,4}- \\*{1,4}[^\n]{0,12}\\*{0,4}:[ \t]?[^\n]{0,20}",
        "Vote: [0-9-]{0,12}",
        "Vote:[^\n]{0,10}",
        "Authors: [^\n]{0,40}",
        "Authors: \\[('[^\n']{0,8}',? ?){0,4}\\]?",
        "!\\[[^\n]{0,5}\\]\\([^\n]{0,20}\\)?",
        "\u{FEFF}?[^\n]{0,40}\r?",
    ]
}

#[test]
fn fuzz_digest_like_lines() {
    let strategy = (
        proptest::collection::vec(digest_line(), 0..40),
        any::<bool>(),
    );
    fuzz("digest_like_lines", strategy, |(lines, crlf)| {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        parse_and_check(text.as_bytes())
    });
}

/// One edit of a seed digest.
#[derive(Debug, Clone)]
enum Mutation {
    InsertLine(usize, String),
    DeleteLine(usize),
    DuplicateLine(usize),
    InsertByte(usize, u8),
    DeleteByte(usize),
    DuplicateBytes(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        (pos, digest_line()).prop_map(|(i, l)| Mutation::InsertLine(i, l)),
        pos.prop_map(Mutation::DeleteLine),
        pos.prop_map(Mutation::DuplicateLine),
        (pos, any::<u8>()).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
        pos.prop_map(Mutation::DeleteByte),
        (pos, 1..200usize).prop_map(|(i, n)| Mutation::DuplicateBytes(i, n)),
    ]
}

/// Applies `m` to `bytes`; positions wrap around so every generated value is an edit.
fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let line_starts = |b: &[u8]| -> Vec<usize> {
        std::iter::once(0)
            .chain(
                b.iter()
                    .enumerate()
                    .filter(|(_, &c)| c == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect()
    };
    match m {
        Mutation::InsertLine(i, line) => {
            let starts = line_starts(bytes);
            let at = starts[i % starts.len()];
            let mut ins = line.as_bytes().to_vec();
            ins.push(b'\n');
            bytes.splice(at..at, ins);
        }
        Mutation::DeleteLine(i) | Mutation::DuplicateLine(i) => {
            let starts = line_starts(bytes);
            let k = i % starts.len();
            let start = starts[k];
            let end = starts.get(k + 1).copied().unwrap_or(bytes.len());
            if matches!(m, Mutation::DeleteLine(_)) {
                bytes.drain(start..end);
            } else {
                let copy = bytes[start..end].to_vec();
                bytes.splice(start..start, copy);
            }
        }
        Mutation::InsertByte(i, b) => {
            let at = i % (bytes.len() + 1);
            bytes.insert(at, *b);
        }
        Mutation::DeleteByte(i) => {
            if !bytes.is_empty() {
                let at = i % bytes.len();
                bytes.remove(at);
            }
        }
        Mutation::DuplicateBytes(i, n) => {
            let start = i % (bytes.len() + 1);
            let end = (start + n).min(bytes.len());
            let copy = bytes[start..end].to_vec();
            bytes.splice(start..start, copy);
        }
    }
}

#[test]
fn fuzz_mutated_seed_digests() {
    let strategy = (0..SEEDS.len(), proptest::collection::vec(mutation(), 1..12));
    fuzz("mutated_seeds", strategy, |(seed, mutations)| {
        let mut bytes = SEEDS[seed].as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        parse_and_check(&bytes)
    });
}

#[test]
fn fuzz_load_merges_mutated_digests() {
    // Whole-corpus invariants over several mutated files (fewer cases: each writes files).
    let strategy = proptest::collection::vec(
        (0..SEEDS.len(), proptest::collection::vec(mutation(), 0..6)),
        1..4,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    fuzz("load_mutated", strategy, |files| {
        let mut paths = Vec::new();
        for (i, (seed, mutations)) in files.iter().enumerate() {
            let mut bytes = SEEDS[*seed].as_bytes().to_vec();
            for m in mutations {
                apply(&mut bytes, m);
            }
            let path = dir.path().join(format!("{i}.md"));
            std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            paths.push(path);
        }
        let c = corpus::load(&paths).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(c.files, files.len());
        let ids: HashSet<&str> = c.papers.iter().map(|p| p.arxiv_id.as_str()).collect();
        prop_assert_eq!(ids.len(), c.papers.len());
        let extra: usize = c.duplicates.iter().map(|(_, locs)| locs.len() - 1).sum();
        prop_assert_eq!(c.entries, c.papers.len() + extra);
        for p in &c.papers {
            prop_assert!(p.dates.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(p.date.as_ref(), p.dates.first());
        }
        Ok(())
    });
}
