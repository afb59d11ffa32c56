//! Bad and unusual input: one test per case, each asserting the documented outcome.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use papermap::corpus::{self, CorpusError, Paper, Warning, WarningKind};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample/2024-09-26.md");

fn parse(text: &str) -> (Vec<Paper>, Vec<Warning>) {
    corpus::parse_digest(text, Path::new("t/2024-05-01.md"))
}

fn kinds(warnings: &[Warning]) -> Vec<WarningKind> {
    warnings.iter().map(|w| w.kind).collect()
}

fn seed_text() -> String {
    fs::read_to_string(SEED).expect("seed readable")
}

const ENTRY: &str = "## Daily Papers (2024-05-01)

### [A Title](https://arxiv.org/abs/2405.00001)

Vote: 3

Authors: Ann, +, Bob

- first point
- second point
";

#[test]
fn empty_file_gives_no_papers_and_a_warning() {
    let (papers, warnings) = parse("");
    assert!(papers.is_empty());
    assert_eq!(kinds(&warnings), [WarningKind::EmptyFile]);
    assert_eq!(warnings[0].to_string(), "t/2024-05-01.md:0: empty file");
    // A BOM alone is still an empty file.
    let (_, warnings) = corpus::parse_bytes(b"\xEF\xBB\xBF", Path::new("x.md"));
    assert_eq!(kinds(&warnings), [WarningKind::EmptyFile]);
}

#[test]
fn file_without_paper_heading_is_warned() {
    let (papers, warnings) = parse("## Daily Papers (2024-05-01)\n\nNothing today.\n- a bullet\n");
    assert!(papers.is_empty());
    // The stray bullet is reported too, with its line.
    assert_eq!(
        kinds(&warnings),
        [WarningKind::NoPapers, WarningKind::StrayBullets]
    );
    assert_eq!(warnings[1].line, 4);
    assert!(warnings[0]
        .message
        .contains("no `### [Title](link)` paper heading"));
}

#[test]
fn heading_without_link_is_skipped_with_warning() {
    let text = "## Daily Papers (2024-05-01)\n\n### Just a title\n\n- orphan bullet\n\n### [Next](https://arxiv.org/abs/2405.00002)\n- ok\n### [Broken](\n- x\n";
    let (papers, warnings) = parse(text);
    // Only the well-formed entry is a paper; its bullets are not mixed with the others'.
    assert_eq!(papers.len(), 1);
    assert_eq!(papers[0].arxiv_id, "2405.00002");
    assert_eq!(papers[0].summary, "ok");
    assert_eq!(
        kinds(&warnings),
        [
            WarningKind::HeadingWithoutLink,
            WarningKind::HeadingWithoutLink
        ]
    );
    assert_eq!((warnings[0].line, warnings[1].line), (3, 9));
    assert!(warnings[0].message.contains("Just a title"));
}

#[test]
fn entry_without_bullets_is_kept_without_summary() {
    let text = "## Daily Papers (2024-05-01)\n### [No Bullets](https://arxiv.org/abs/2405.00003)\nVote: 1\nJust prose, not a bullet.\n-not a bullet either\n- \n";
    let (papers, warnings) = parse(text);
    assert_eq!(papers.len(), 1);
    assert!(!papers[0].has_summary());
    assert_eq!(papers[0].summary, "");
    assert_eq!(papers[0].votes, Some(1));
    assert_eq!(kinds(&warnings), [WarningKind::NoSummary]);
    assert_eq!(warnings[0].line, 2);
    assert!(warnings[0].message.contains("2405.00003"));
}

#[test]
fn invalid_utf8_is_decoded_lossily_with_offset_warning() {
    let mut bytes = ENTRY.as_bytes().to_vec();
    // Damage the second bullet: 0xFF never occurs in UTF-8.
    let offset = ENTRY.find("second").expect("present");
    bytes.insert(offset, 0xFF);
    let (papers, warnings) = corpus::parse_bytes(&bytes, Path::new("bad.md"));
    assert_eq!(papers.len(), 1);
    assert_eq!(papers[0].summary, "first point\n\u{FFFD}second point");
    assert_eq!(kinds(&warnings), [WarningKind::InvalidUtf8]);
    assert_eq!(warnings[0].line, 10);
    assert!(
        warnings[0]
            .to_string()
            .starts_with("bad.md:10: invalid UTF-8 at byte offset ")
            && warnings[0].message.contains(&offset.to_string()),
        "{}",
        warnings[0]
    );
    // Through `load`, the file name is the one on disk.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("2024-05-01.md");
    fs::write(&path, &bytes).expect("write");
    let c = corpus::load(std::slice::from_ref(&path)).expect("loads");
    assert_eq!(c.papers.len(), 1);
    assert_eq!(c.warnings[0].file, path);
}

#[test]
fn crlf_line_endings_parse_like_lf() {
    let lf = seed_text();
    let crlf = lf.replace('\n', "\r\n");
    let path = Path::new("2024-09-26.md");
    let (a, wa) = corpus::parse_digest(&lf, path);
    let (b, wb) = corpus::parse_digest(&crlf, path);
    assert_eq!(a.len(), 11);
    assert_eq!(a, b);
    assert_eq!(wa, wb);
    assert!(b
        .iter()
        .all(|p| !p.summary.contains('\r') && !p.title.contains('\r')));
}

#[test]
fn bom_is_ignored() {
    let text = seed_text();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    let path = Path::new("2024-09-26.md");
    let (plain, _) = corpus::parse_digest(&text, path);
    let (with_bom, warnings) = corpus::parse_bytes(&bytes, path);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(plain, with_bom);
    // The date heading on line 1, right after the BOM, is still recognised.
    assert_eq!(with_bom[0].date.as_deref(), Some("2024-09-26"));
    let (from_str, _) = corpus::parse_digest(&format!("\u{FEFF}{text}"), Path::new("x.md"));
    assert_eq!(from_str[0].date.as_deref(), Some("2024-09-26"));
}

/// Writes a digest of about `mb` megabytes (distinct ids, realistic entries) and loads it.
fn time_load(dir: &Path, mb: usize) -> (Duration, corpus::Corpus) {
    let seed = seed_text();
    let body = &seed[seed.find("### ").expect("seed has entries")..];
    let mut text = String::with_capacity(mb * 1_000_000 + body.len());
    text.push_str("## Daily Papers (2024-09-26)\n\n");
    let mut copy = 0;
    while text.len() < mb * 1_000_000 {
        // Give each copy its own ids so nothing is deduplicated away.
        text.push_str(&body.replace("/abs/24", &format!("/abs/{copy}x")));
        copy += 1;
    }
    let path = dir.join(format!("big-{mb}.md"));
    fs::write(&path, &text).expect("write");
    let start = Instant::now();
    let c = corpus::load(&[path]).expect("loads");
    (start.elapsed(), c)
}

#[test]
fn fifty_megabyte_file_parses_in_linear_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (small, c5) = time_load(dir.path(), 5);
    let (big, c50) = time_load(dir.path(), 50);
    eprintln!(
        "5 MB: {small:?}, 50 MB: {big:?}, {} papers",
        c50.papers.len()
    );
    assert!(c50.papers.len() >= 9 * c5.papers.len());
    assert_eq!(c50.papers.len(), c50.entries);
    assert!(c50.warnings.is_empty());
    assert!(c50.papers.iter().all(Paper::has_summary));
    // Linear: 10x the input may take ~10x the time; quadratic would take ~100x.
    // The absolute bound is generous for slow CI machines (release build takes ~0.3 s).
    assert!(
        big < small * 30 + Duration::from_millis(500),
        "{small:?} -> {big:?}"
    );
    assert!(big < Duration::from_secs(20), "{big:?}");
}

#[test]
fn fifty_megabyte_single_line_parses_fast() {
    // Worst case for line-oriented code: no newline at all, and a line that looks like a
    // heading with many link openers and labels.
    let mut text = String::from("### [");
    while text.len() < 50_000_000 {
        text.push_str("](a ***x***: ");
    }
    let start = Instant::now();
    let (papers, warnings) = corpus::parse_digest(&text, Path::new("one-line.md"));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(papers.is_empty());
    assert_eq!(kinds(&warnings), [WarningKind::HeadingWithoutLink]);
}

#[test]
fn flood_of_bad_headings_is_summarised_not_listed() {
    // 10 MB of headings without links, each with a bullet: one warning each would be
    // millions; past the cap they are counted in one summary warning.
    let text = "### no link\n- x\n".repeat(600_000);
    let (papers, warnings) = corpus::parse_digest(&text, Path::new("flood.md"));
    assert!(papers.is_empty());
    assert_eq!(warnings.len(), corpus::MAX_WARNINGS_PER_KIND + 1);
    assert!(warnings
        .iter()
        .all(|w| w.kind == WarningKind::HeadingWithoutLink));
    let last = &warnings[corpus::MAX_WARNINGS_PER_KIND];
    assert_eq!(last.line, 2 * corpus::MAX_WARNINGS_PER_KIND + 1);
    assert!(
        last.message.starts_with("599900 more warning(s)"),
        "{}",
        last.message
    );
}

#[test]
fn directory_ignores_non_digest_files_and_warns_on_empty_md() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::create_dir_all(root.join("2024/05")).expect("mkdir");
    fs::create_dir_all(root.join(".git")).expect("mkdir");
    fs::write(root.join("2024/05/01.md"), ENTRY).expect("write");
    fs::write(root.join("2024/05/thumb.png"), b"\x89PNG\r\n\x1a\n\0\0").expect("write");
    fs::write(root.join("index.json"), "{\"papers\": []}").expect("write");
    fs::write(root.join("notes.json"), "[]").expect("write");
    fs::write(root.join("README.md"), "# Notes\n\nNot a digest.\n").expect("write");
    fs::write(root.join(".git/HEAD.md"), ENTRY).expect("write");
    fs::create_dir_all(root.join("empty")).expect("mkdir");
    let c = corpus::load(&[root.to_path_buf()]).expect("loads");
    // The two .md files and the JSON file are read (a directory of Hugging Face days is JSON);
    // the image and the hidden directory are not. JSON that holds no papers is warned about.
    assert_eq!(c.files, 4);
    assert_eq!(c.papers.len(), 1);
    assert_eq!(c.papers[0].date.as_deref(), Some("2024-05-01"));
    assert_eq!(
        kinds(&c.warnings),
        [
            WarningKind::NoPapers,
            WarningKind::BadRecord,
            WarningKind::NoPapers
        ]
    );
    assert_eq!(c.warnings[0].file, root.join("README.md"));
    assert_eq!(c.warnings[1].file, root.join("index.json"));
    assert_eq!(c.warnings[2].file, root.join("notes.json"));
    // A directory with nothing to read is itself reported.
    let c = corpus::load(&[root.join("empty")]).expect("loads");
    assert_eq!(c.files, 0);
    assert_eq!(kinds(&c.warnings), [WarningKind::NoDigestFiles]);
}

#[test]
fn unreadable_path_is_an_error_naming_it() {
    let missing = PathBuf::from("/nonexistent/papermap/2024-05-01.md");
    let err = corpus::load(&[missing]).expect_err("missing path fails");
    assert!(matches!(err, CorpusError::Access { .. }));
    assert_eq!(
        err.to_string(),
        "cannot access /nonexistent/papermap/2024-05-01.md"
    );
    // The reason is the error's source, printed by `{:#}` after the path.
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert!(source.is_some_and(|s| s.contains("No such file")));
}

#[test]
fn dangling_link_inside_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.md"), ENTRY).expect("write");
    let link = dir.path().join("b.md");
    std::os::unix::fs::symlink(dir.path().join("gone.md"), &link).expect("symlink");
    let err = corpus::load(&[dir.path().to_path_buf()]).expect_err("dangling link fails");
    assert!(
        err.to_string().contains(&link.display().to_string()),
        "{err}"
    );
}
