//! The report end to end on the sample with a tiny model: structure of report.md/report.html,
//! and the page as headless Chromium renders it (topic sections and map points counted in the
//! rendered DOM, a screenshot kept as a build artifact).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::chromium;
use common::fixture::Sample;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

trait Run {
    /// `papermap ARGS --index INDEX --model MODEL`, whatever its outcome.
    fn papermap(&self, args: &[&str]) -> Output;
}

impl Run for Sample {
    fn papermap(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--index", s(&self.index), "--model", s(&self.model)])
            .output()
            .expect("run papermap")
    }
}

fn stdout(o: Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

const BROWSER_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The DOM of `url` after Chromium has parsed (and run) it.
fn dump_dom(chromium: &str, profile: &Path, url: &str) -> String {
    let dom = Command::new(chromium)
        .args(BROWSER_ARGS)
        .arg(format!("--user-data-dir={}", s(profile)))
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn report_has_one_section_per_topic_and_one_point_per_paper() {
    let f = Sample::with_index_and_topics(4);
    let out = f.root().join("report");
    // Not quiet: the summary line is checked.
    let o = f.papermap(&["report", "--out", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let msg = stdout(o);
    assert!(msg.contains("4 topics, 68 papers"), "{msg}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert_eq!(count(&html, "<section class=\"topic\""), 4);
    assert_eq!(count(&html, "<circle "), 68);
    assert_eq!(count(&html, "<details>"), 68, "a related list per paper");
    assert!(
        !html.contains("<script src") && !html.contains("http://") || html.contains("arxiv.org")
    );
    assert!(!html.contains("<link "), "no external resources");
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert_eq!(count(&md, "<a id=\"topic-"), 4);
    assert!(md.contains("![Map of the papers"));
    let svg = std::fs::read_to_string(out.join("map.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(count(&svg, "<circle "), 68);

    // Rendered by a real browser: count what the DOM holds after parsing.
    let Some(chromium) = chromium() else {
        return;
    };
    let profile = f.root().join("chromium-profile");
    let url = format!("file://{}", s(&out.join("report.html")));
    let dom = dump_dom(chromium, &profile, &url);
    assert_eq!(
        count(&dom, "<section class=\"topic\""),
        4,
        "rendered topic sections"
    );
    assert_eq!(count(&dom, "<circle "), 68, "rendered map points");
    let artifacts = std::env::var_os("PAPERMAP_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let shot = artifacts.join("report-sample.png");
    let o = Command::new(chromium)
        .args(BROWSER_ARGS)
        .arg(format!("--user-data-dir={}", s(&profile)))
        .args([
            "--window-size=1200,2000",
            &format!("--screenshot={}", s(&shot)),
            &url,
        ])
        .output()
        .expect("run chromium");
    assert!(o.status.success());
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot is a real picture"
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn report_without_topics_says_what_to_run() {
    let f = Sample::new();
    f.build_index();
    let o = f.papermap(&["report", "--out", s(&f.root().join("r"))]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("papermap topics"), "{err}");
}

#[test]
fn hostile_digest_fields_render_as_text_in_the_browser() {
    // Titles, authors, links and summaries written to attack the page: in the rendered DOM no
    // script or event handler exists and the text shows as text.
    let f = Sample::new();
    std::fs::write(
        f.digests.join("2024-09-27.md"),
        "## Daily Papers (2024-09-27)\n\n\
         ### [<script>document.title='pwned'</script>Hostile \"title\"](https://arxiv.org/abs/2409.99991)\n\n\
         Vote: 3\n\nAuthors: <img src=x onerror=\"document.title='pwned'\">, Eve\n\n\
         - <svg onload=\"document.title='pwned'\"></svg> 요약 & <b>bold</b>\n\n\
         ### [Script link](javascript:document.title='pwned')\n\n- 링크 요약.\n\n\
         ### [Quote break](https://arxiv.org/abs/2409.99992\"onmouseover=\"x)\n\n- 따옴표 요약.\n",
    )
    .expect("write");
    f.build_index();
    f.papermap_ok(&["topics", "--k", "3"]);
    let out = f.root().join("report");
    f.papermap_ok(&["report", "--out", s(&out)]);
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(!html.contains("<script") && !html.contains("javascript:"));
    assert!(!html.contains("onerror=\"") && !html.contains("onload=\""));
    let Some(chromium) = chromium() else {
        return;
    };
    let url = format!("file://{}", s(&out.join("report.html")));
    let dom = dump_dom(chromium, &f.root().join("profile"), &url);
    assert!(dom.contains("<section class=\"topic\""), "page rendered");
    assert!(!dom.contains("pwned</title>"), "a script ran");
    assert_eq!(count(&dom, "<script"), 0, "no script element in the DOM");
    assert!(
        !dom.contains(" onerror=") && !dom.contains(" onload=") && !dom.contains(" onmouseover=")
    );
    assert!(
        dom.contains("&lt;script&gt;document.title"),
        "the title shows as text"
    );
}
