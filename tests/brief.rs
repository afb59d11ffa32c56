//! `papermap brief` end to end on the sample with the tiny model: the day's papers are exactly
//! its digest's, in their stored topics, each with its exact nearest earlier papers; rising
//! topics and outliers are those of topics.json; the pages escape hostile fields; the errors
//! say what to do.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_papermap");
const DAY: &str = "2025-02-21";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout is not one JSON object: {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

use common::Sample as Fixture;

/// The sample digests indexed with the tiny model.
impl Fixture {
    fn built() -> Fixture {
        let f = Fixture::new();
        f.ok(&["index", s(&f.digests), "--quiet"]);
        f
    }

    fn with_topics() -> Fixture {
        let f = Fixture::built();
        f.ok(&["topics", "--k", "3", "--quiet"]);
        f
    }

    /// `papermap ARGS` with this fixture's index (and model, for commands that embed).
    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.env("HOME", self.tmp.path().join("home"))
            .env("PAPERMAP_HOME", self.tmp.path().join("papermap-home"))
            .env_remove("PAPERMAP_MODEL")
            .args(args);
        if args[0] != "papers" {
            c.args(["--index", s(&self.index)]);
        }
        if matches!(args[0], "index" | "topics") {
            c.args(["--model", s(&self.model)]);
        }
        c.output().expect("run papermap")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    }

    fn out(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

fn sample(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/sample")
        .join(file)
}

/// HTML escaping as the report does it (`report::esc`).
fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|p| p["arxiv_id"].as_str().expect("arxiv_id").to_string())
        .collect()
}

#[test]
fn a_day_is_its_digest_in_its_topics_beside_its_nearest_earlier_papers() {
    let f = Fixture::with_topics();
    let out = f.out("brief");
    let b = json(&f.ok(&["brief", "--date", DAY, "--out", s(&out), "--json"]));
    assert_eq!(b["date"], DAY);

    // Exactly the papers of the day's digest, each once.
    let o = f.ok(&["papers", s(&sample("2025-02-21.md")), "--json"]);
    let digest: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(digest.len(), 30, "the sample day has 30 papers");
    let day_ids = ids(&b["papers"]);
    assert_eq!(day_ids.len(), digest.len());
    let want: BTreeSet<String> = digest
        .iter()
        .map(|p| p["arxiv_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(day_ids.iter().cloned().collect::<BTreeSet<_>>(), want);

    // Each paper's topic is its topic in topics.json.
    let topics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.index.join("topics.json")).expect("topics.json"),
    )
    .expect("topics.json parses");
    let topic_of: BTreeMap<&str, u64> = topics["papers"]
        .as_array()
        .expect("papers")
        .iter()
        .map(|p| p.as_str().expect("id"))
        .zip(
            topics["assignment"]
                .as_array()
                .expect("assignment")
                .iter()
                .map(|t| t.as_u64().expect("topic id")),
        )
        .collect();
    let label_of: BTreeMap<u64, &str> = topics["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| {
            (
                t["id"].as_u64().expect("id"),
                t["label"].as_str().expect("label"),
            )
        })
        .collect();
    for p in b["papers"].as_array().expect("papers") {
        let id = p["arxiv_id"].as_str().expect("id");
        let t = p["topic"]["id"].as_u64().expect("topic id");
        assert_eq!(t, topic_of[id], "{id}");
        assert_eq!(p["topic"]["label"], label_of[&t], "{id}");
    }

    // Related papers: the exact 3 nearest by cosine among the papers dated before the day.
    let index = papermap::index::Index::open(&f.index).expect("open index");
    let row_of: BTreeMap<&str, usize> = index
        .papers()
        .iter()
        .enumerate()
        .map(|(r, p)| (p.paper.arxiv_id.as_str(), r))
        .collect();
    let earlier: Vec<usize> = (0..index.len())
        .filter(|&r| {
            index.papers()[r]
                .paper
                .date
                .as_deref()
                .is_some_and(|d| d < DAY)
        })
        .collect();
    assert_eq!(b["earlier_papers"], earlier.len());
    assert!(earlier.len() >= 3 && earlier.len() < index.len());
    let mut differs_from_whole_index = false;
    for p in b["papers"].as_array().expect("papers") {
        let row = row_of[p["arxiv_id"].as_str().expect("id")];
        let related = p["related"].as_array().expect("related");
        assert_eq!(related.len(), 3);
        for r in related {
            let date = r["date"].as_str().expect("related date");
            assert!(date < DAY, "related paper dated {date}, not before {DAY}");
        }
        let cos = |o: usize| -> f32 {
            index
                .vector(row)
                .iter()
                .zip(index.vector(o))
                .map(|(a, b)| a * b)
                .sum()
        };
        let nearest = |among: &mut Vec<usize>| -> Vec<String> {
            among.sort_by(|&a, &b| cos(b).total_cmp(&cos(a)).then(a.cmp(&b)));
            among
                .iter()
                .take(3)
                .map(|&o| index.paper(o).arxiv_id.clone())
                .collect()
        };
        let want = nearest(&mut earlier.clone());
        assert_eq!(ids(&p["related"]), want, "{}", p["arxiv_id"]);
        for r in related {
            let o = row_of[r["arxiv_id"].as_str().expect("id")];
            let score = r["score"].as_f64().expect("score") as f32;
            assert!((score - cos(o)).abs() < 1e-5);
        }
        let mut others: Vec<usize> = (0..index.len()).filter(|&o| o != row).collect();
        differs_from_whole_index |= nearest(&mut others) != want;
    }
    assert!(
        differs_from_whole_index,
        "no paper of the day has a later or same-day paper among its nearest: the date rule is untested"
    );

    // Rising topics and outliers are those of topics.json.
    let rising: BTreeSet<u64> = topics["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .filter(|t| t["direction"] == "rising")
        .map(|t| t["id"].as_u64().expect("id"))
        .collect();
    let brief_rising: BTreeSet<u64> = b["rising"]
        .as_array()
        .expect("rising")
        .iter()
        .map(|t| t["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(brief_rising, rising);
    let day_rows: BTreeSet<usize> = day_ids.iter().map(|id| row_of[id.as_str()]).collect();
    let want_outliers: BTreeSet<String> = topics["outliers"]
        .as_array()
        .expect("outliers")
        .iter()
        .map(|o| o["row"].as_u64().expect("row") as usize)
        .filter(|r| day_rows.contains(r))
        .map(|r| index.paper(r).arxiv_id.clone())
        .collect();
    assert_eq!(
        ids(&b["outliers"]).into_iter().collect::<BTreeSet<_>>(),
        want_outliers
    );
    for p in b["papers"].as_array().expect("papers") {
        let id = p["arxiv_id"].as_str().expect("id");
        assert_eq!(
            p["outlier_z"].is_number(),
            want_outliers.contains(id),
            "{id}"
        );
    }

    // The pages: every title of the day, escaped; one section per topic of the day.
    let html = std::fs::read_to_string(out.join("brief.html")).expect("brief.html");
    assert_eq!(b["html"], s(&out.join("brief.html")));
    for p in &digest {
        let title = p["title"].as_str().expect("title");
        assert!(html.contains(&esc(title)), "brief.html lacks {title:?}");
    }
    let day_topics: BTreeSet<u64> = b["papers"]
        .as_array()
        .expect("papers")
        .iter()
        .map(|p| p["topic"]["id"].as_u64().expect("id"))
        .collect();
    for t in &day_topics {
        assert_eq!(
            html.matches(&format!("<section class=\"topic\" id=\"topic-{t}\""))
                .count(),
            1
        );
    }
    assert!(!html.contains("<script") && !html.contains("<link"));
    let md = std::fs::read_to_string(out.join("brief.md")).expect("brief.md");
    assert!(md.starts_with(&format!("# Daily brief: {DAY}")));
    assert_eq!(md.matches("   - earlier: ").count(), 3 * digest.len());

    // The digest file gives the same brief as its date, and so does the default (the latest day).
    let by_digest = json(&f.ok(&[
        "brief",
        s(&f.digests.join("2025-02-21.md")),
        "--out",
        s(&out),
        "--json",
    ]));
    assert_eq!(by_digest, b);
    let latest = json(&f.ok(&["brief", "--out", s(&out), "--json"]));
    assert_eq!(latest, b);

    // A topic marked rising in topics.json is shown with its stored ratio and latest papers.
    let mut marked = topics.clone();
    let t = &mut marked["topics"][0];
    t["direction"] = "rising".into();
    t["trend"] = 1.75.into();
    let tid = t["id"].as_u64().expect("id");
    std::fs::write(
        f.index.join("topics.json"),
        serde_json::to_vec(&marked).expect("json"),
    )
    .expect("write topics.json");
    let r = json(&f.ok(&["brief", "--date", "2024-12-13", "--out", s(&out), "--json"]));
    let shown = r["rising"]
        .as_array()
        .expect("rising")
        .iter()
        .find(|t| t["id"] == tid)
        .expect("the marked topic is listed as rising");
    assert_eq!(shown["share_ratio"], 1.75);
    let latest: Vec<&serde_json::Value> =
        shown["papers"].as_array().expect("papers").iter().collect();
    assert!(!latest.is_empty() && latest.len() <= 5);
    let dates: Vec<&str> = latest
        .iter()
        .map(|p| p["date"].as_str().expect("date"))
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {dates:?}"
    );
    assert!(
        dates.iter().all(|d| *d <= "2024-12-13"),
        "nothing after the day: {dates:?}"
    );
    for p in &latest {
        assert_eq!(topic_of[p["arxiv_id"].as_str().expect("id")], tid);
    }
    let today = r["papers"]
        .as_array()
        .expect("papers")
        .iter()
        .filter(|p| p["topic"]["id"] == tid)
        .count();
    assert_eq!(shown["today"], today);
}

#[test]
fn the_first_day_has_no_earlier_papers_and_an_unknown_day_is_not_found() {
    let f = Fixture::with_topics();
    let out = f.out("brief");
    let b = json(&f.ok(&["brief", "--date", "2024-09-26", "--out", s(&out), "--json"]));
    assert_eq!(b["earlier_papers"], 0);
    assert_eq!(b["papers"].as_array().expect("papers").len(), 11);
    assert!(b["papers"]
        .as_array()
        .expect("papers")
        .iter()
        .all(|p| p["related"].as_array().expect("related").is_empty()));

    let o = f.run(&["brief", "--date", "1999-01-01", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("1999-01-01") && err.contains("2024-09-26") && err.contains("2025-02-21"),
        "the error names the nearest dates: {err}"
    );
    let o = f.run(&["brief", "--date", "21-02-2025"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = f.run(&["brief", s(&f.digests.join("2025-02-21.md")), "--date", DAY]);
    assert_eq!(o.status.code(), Some(2), "a digest and a date conflict");
}

#[test]
fn missing_topics_unindexed_digests_and_stale_topics_say_what_to_run() {
    let f = Fixture::built();
    let o = f.run(&["brief", "--date", DAY, "--out", s(&f.out("b"))]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("papermap topics --index {}", s(&f.index))),
        "{}",
        stderr(&o)
    );
    f.ok(&["topics", "--k", "3", "--quiet"]);

    let new_day = f.digests.join("2025-02-22.md");
    std::fs::write(
        &new_day,
        "## Daily Papers (2025-02-22)\n\n### [A New Paper](https://arxiv.org/abs/2502.99999)\n\n- 새 요약.\n",
    )
    .expect("write");
    let o = f.run(&["brief", s(&new_day), "--out", s(&f.out("b"))]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2502.99999") && stderr(&o).contains("papermap index"),
        "{}",
        stderr(&o)
    );

    f.ok(&["index", s(&f.digests), "--quiet"]);
    let o = f.run(&["brief", s(&new_day), "--out", s(&f.out("b"))]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("papermap topics --index"),
        "{}",
        stderr(&o)
    );
    f.ok(&["topics", "--quiet"]);
    let b = json(&f.ok(&["brief", s(&new_day), "--out", s(&f.out("b")), "--json"]));
    assert_eq!(b["date"], "2025-02-22");
    assert_eq!(ids(&b["papers"]), ["2502.99999"]);
    assert_eq!(b["earlier_papers"], 68);
}

#[test]
fn hostile_fields_render_as_text() {
    let f = Fixture::built();
    std::fs::write(
        f.digests.join("2025-02-22.md"),
        "## Daily Papers (2025-02-22)\n\n\
         ### [<script>document.title='pwned'</script>Hostile \"title\"](https://arxiv.org/abs/2502.99991)\n\n\
         Vote: 3\n\n- <svg onload=\"document.title='pwned'\"></svg> 요약 & <b>bold</b>\n\n\
         ### [Script link](javascript:document.title='pwned')\n\n- 링크 요약.\n\n\
         ### [Quote break](https://arxiv.org/abs/2502.99992\"onmouseover=\"x)\n\n- 따옴표 요약.\n",
    )
    .expect("write");
    f.ok(&["index", s(&f.digests), "--quiet"]);
    f.ok(&["topics", "--k", "3", "--quiet"]);
    let out = f.out("brief");
    let b = json(&f.ok(&["brief", "--out", s(&out), "--json"]));
    assert_eq!(b["date"], "2025-02-22");
    assert_eq!(b["papers"].as_array().expect("papers").len(), 3);
    let html = std::fs::read_to_string(out.join("brief.html")).expect("html");
    assert!(!html.contains("<script") && !html.contains("javascript:"));
    assert!(!html.contains("onload=\"") && !html.contains("onmouseover=\""));
    assert!(html.contains(&esc(
        "<script>document.title='pwned'</script>Hostile \"title\""
    )));
    let md = std::fs::read_to_string(out.join("brief.md")).expect("md");
    assert!(!md.contains("<script") && !md.contains("javascript:"));
    assert!(
        md.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;Hostile &quot;title&quot;")
    );
    // The unsafe links are text, not links.
    assert!(md.contains(". Script link") && !md.contains("[Script link]"));
}

#[test]
fn a_library_puts_its_papers_of_the_day_first() {
    let f = Fixture::with_topics();
    let o = f.ok(&["papers", s(&sample("2025-02-21.md")), "--json"]);
    let day: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let id = |i: usize| day[i]["arxiv_id"].as_str().expect("id").to_string();
    let author = day[3]["authors"][0].as_str().expect("author").to_string();
    let title_word = day[5]["title"]
        .as_str()
        .expect("title")
        .split_whitespace()
        .find(|w| w.len() > 6 && w.chars().all(char::is_alphabetic))
        .expect("a long title word")
        .to_string();
    // Without a library, the brief has no "For you".
    let b = json(&f.run(&["brief", "--date", DAY, "--out", s(&f.out("b0")), "--json"]));
    assert!(b["library"].is_null() && b["alerts"].as_array().is_some_and(Vec::is_empty));
    // An earlier paper liked, an author followed, a search saved.
    let earlier = json(&f.run(&[
        "search",
        "diffusion",
        "-k",
        "30",
        "--mode",
        "lexical",
        "--json",
    ]));
    let liked = earlier["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|h| h["date"].as_str().is_some_and(|d| d < DAY))
        .expect("an earlier paper")["arxiv_id"]
        .as_str()
        .expect("id")
        .to_string();
    f.ok(&["library", "mark", "like", &liked]);
    f.ok(&["library", "mark", "hide", &id(0)]);
    f.ok(&["library", "follow", &author]);
    f.ok(&["library", "save-search", &title_word]);
    let b = json(&f.run(&["brief", "--date", DAY, "--out", s(&f.out("b1")), "--json"]));
    assert_eq!(b["library"], "default");
    let alerts = b["alerts"].as_array().expect("alerts");
    let listed: Vec<&str> = alerts
        .iter()
        .map(|a| a["paper"]["arxiv_id"].as_str().expect("id"))
        .collect();
    let kinds = |i: &str| -> Vec<String> {
        alerts
            .iter()
            .find(|a| a["paper"]["arxiv_id"] == i)
            .map(|a| {
                a["reasons"]
                    .as_array()
                    .expect("reasons")
                    .iter()
                    .map(|r| r["kind"].as_str().expect("kind").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(kinds(&id(3)).contains(&"author".to_string()), "{alerts:?}");
    assert!(kinds(&id(5)).contains(&"search".to_string()), "{alerts:?}");
    assert!(
        !listed.contains(&id(0).as_str()),
        "a hidden paper is never listed"
    );
    // The liked paper's model recommends some of the day's papers, each near the liked one.
    let recommended: Vec<&serde_json::Value> = alerts
        .iter()
        .flat_map(|a| a["reasons"].as_array().into_iter().flatten())
        .filter(|r| r["kind"] == "recommended")
        .collect();
    assert!(!recommended.is_empty(), "{alerts:?}");
    assert!(
        recommended
            .iter()
            .all(|r| r["near"]["arxiv_id"] == liked.as_str()),
        "{alerts:?}"
    );
    assert!(
        alerts
            .iter()
            .all(|a| a["reasons"].as_array().is_some_and(|r| !r.is_empty())),
        "{alerts:?}"
    );
    // More reasons first.
    let counts: Vec<usize> = alerts
        .iter()
        .map(|a| a["reasons"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let html = std::fs::read_to_string(f.out("b1").join("brief.html")).expect("html");
    assert!(html.find("id=\"for-you\"") < html.find("id=\"rising\""));
    assert!(html.contains(&esc(&author)), "the followed author is named");
}
