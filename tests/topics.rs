//! Topics: determinism, stable ids across an index update, summaries, keywords, and clear
//! errors for bad input — on synthetic vectors through the library and on a tiny-model index
//! through the binary.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::rng::{normalize, Rng};
use common::Sample as Fixture;
use papermap::corpus::Paper;
use papermap::topics::keywords::{KeywordOptions, TermEmbedder};
use papermap::topics::kmeans::Rows;
use papermap::topics::{self, KChoice, Params, Topics, TopicsError, Trend};

const BIN: &str = env!("CARGO_BIN_EXE_papermap");
const DIM: usize = 16;

/// Words of each synthetic blob's titles, so keywords can be checked.
const BLOB_WORDS: [&str; 5] = [
    "Gaussian Splatting",
    "speech synthesis",
    "protein folding",
    "robot manipulation",
    "code generation",
];

fn paper(id: &str, title: &str, summary: &str, date: &str, votes: Option<u32>) -> Paper {
    serde_json::from_value(serde_json::json!({
        "arxiv_id": id,
        "title": title,
        "url": format!("https://arxiv.org/abs/{id}"),
        "date": date,
        "dates": [date],
        "votes": votes,
        "authors": ["A. Author"],
        "summary": summary,
        "source": {"file": "synthetic.md", "line": 1},
    }))
    .expect("paper from json")
}

/// `per_blob` papers for each of `blobs` well separated blobs; blob `b`'s papers are dated in
/// month `b + 1` of 2024, except that the last blob's are all in the last days of December.
fn synthetic(blobs: usize, per_blob: usize, seed: u64) -> (Vec<Paper>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let mut papers = Vec::new();
    let mut vectors = Vec::new();
    for b in 0..blobs {
        for i in 0..per_blob {
            let mut v = [0f32; DIM];
            v[b] = 1.0;
            for x in v.iter_mut() {
                *x += 0.05 * rng.f32_in(-1.0, 1.0);
            }
            normalize(&mut v);
            vectors.extend(v);
            let date = if b == blobs - 1 {
                format!("2024-12-{:02}", 20 + i % 10)
            } else {
                format!("2024-{:02}-{:02}", b + 1, 1 + i % 28)
            };
            let words = BLOB_WORDS[b % BLOB_WORDS.len()];
            papers.push(paper(
                &format!("2401.{:05}", b * 1000 + i),
                &format!("{words} study number {i}"),
                &format!("이 논문은 {words} 방법을 제안합니다. 실험에서 좋은 결과를 보였습니다."),
                &date,
                Some((i * 7 % 50) as u32),
            ));
        }
    }
    (papers, vectors)
}

fn fixed(k: usize, seed: u64) -> Params {
    Params {
        k: KChoice::Fixed(k),
        seed,
        ..Params::default()
    }
}

fn compute(
    papers: &[Paper],
    vectors: &[f32],
    params: &Params,
    previous: Option<&Topics>,
) -> Topics {
    topics::compute(
        &papers.iter().collect::<Vec<_>>(),
        Rows::new(vectors, DIM).expect("rows"),
        params,
        previous,
        None,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("topics")
}

#[test]
fn same_seed_gives_identical_topics() {
    let (papers, vectors) = synthetic(4, 30, 1);
    let a = compute(&papers, &vectors, &fixed(4, 7), None);
    let b = compute(&papers, &vectors, &fixed(4, 7), None);
    assert_eq!(a.assignment, b.assignment);
    assert_eq!(a.objective, b.objective);
    assert_eq!(a.topics, b.topics);
    // Another seed still finds the four blobs.
    let c = compute(&papers, &vectors, &fixed(4, 8), None);
    let mut sizes: Vec<usize> = c.topics.iter().map(|t| t.size).collect();
    sizes.sort();
    assert_eq!(sizes, vec![30, 30, 30, 30]);
}

#[test]
fn objective_is_the_sum_of_squared_distances_to_the_centroids() {
    let (papers, vectors) = synthetic(3, 20, 2);
    let t = compute(&papers, &vectors, &fixed(3, 0), None);
    let mut sum = 0f64;
    for (row, &id) in t.assignment.iter().enumerate() {
        let c = &t.topic(id).expect("topic of row").centroid;
        let v = &vectors[row * DIM..(row + 1) * DIM];
        sum += v
            .iter()
            .zip(c)
            .map(|(a, b)| ((a - b) * (a - b)) as f64)
            .sum::<f64>();
    }
    assert!(
        (sum - t.objective).abs() < 1e-4 * t.objective.max(1.0),
        "{sum} vs {}",
        t.objective
    );
}

#[test]
fn ids_and_labels_survive_growth_and_new_topics_get_fresh_ids() {
    // Before: blobs 0..3; after: the same papers plus more of each and a new blob 3.
    let (all_papers, all_vectors) = synthetic(4, 40, 3);
    let old_rows: Vec<usize> = (0..120).filter(|r| r % 40 < 30).collect();
    let old_papers: Vec<Paper> = old_rows.iter().map(|&r| all_papers[r].clone()).collect();
    let old_vectors: Vec<f32> = old_rows
        .iter()
        .flat_map(|&r| all_vectors[r * DIM..(r + 1) * DIM].iter().copied())
        .collect();
    let mut before = compute(&old_papers, &old_vectors, &fixed(3, 0), None);
    before.topics[0].label = "hand-written label".into();
    let after = compute(&all_papers, &all_vectors, &fixed(4, 99), Some(&before));

    let before_ids = before.assignment_by_id();
    let after_ids = after.assignment_by_id();
    for (paper, id) in &before_ids {
        assert_eq!(after_ids[paper], *id, "paper {paper} changed topic id");
    }
    let kept: Vec<u32> = after
        .topics
        .iter()
        .filter(|t| t.matched.is_some())
        .map(|t| t.id)
        .collect();
    assert_eq!(
        kept.len(),
        3,
        "{:?}",
        after
            .topics
            .iter()
            .map(|t| (t.id, t.matched))
            .collect::<Vec<_>>()
    );
    let new: Vec<&topics::Topic> = after
        .topics
        .iter()
        .filter(|t| t.matched.is_none())
        .collect();
    assert_eq!(new.len(), 1);
    assert!(
        new[0].id >= before.next_id,
        "fresh id {} reuses an old one",
        new[0].id
    );
    assert_eq!(after.next_id, new[0].id + 1);
    let relabelled = after.topic(before.topics[0].id).expect("kept topic");
    assert_eq!(relabelled.label, "hand-written label");
}

#[test]
fn each_topic_has_its_summary_fields() {
    let (papers, vectors) = synthetic(5, 24, 4);
    let t = compute(&papers, &vectors, &fixed(5, 0), None);
    assert_eq!(t.k, 5);
    assert_eq!(t.archive_last_date.as_deref(), Some("2024-12-29"));
    assert_eq!(t.topics.iter().map(|x| x.size).sum::<usize>(), papers.len());
    for topic in &t.topics {
        let members: Vec<usize> = (0..papers.len())
            .filter(|&r| t.assignment[r] == topic.id)
            .collect();
        assert_eq!(members.len(), topic.size);
        assert_eq!(topic.per_month.values().sum::<usize>(), topic.size);
        assert_eq!(topic.representative.len(), 5);
        assert!(topic.representative.iter().all(|r| members.contains(r)));
        assert_eq!(topic.top_voted.len(), 5);
        let votes: Vec<u32> = topic
            .top_voted
            .iter()
            .map(|&r| papers[r].votes.unwrap_or(0))
            .collect();
        assert!(votes.windows(2).all(|w| w[0] >= w[1]), "{votes:?}");
        let max_votes = members.iter().filter_map(|&r| papers[r].votes).max();
        assert_eq!(votes.first().copied(), max_votes);
        assert!(topic.first_date <= topic.last_date);
        assert!(!topic.label.is_empty() && !topic.keywords.is_empty());
        assert_eq!(topic.centroid.len(), DIM);
    }
    // The blob dated in the last days of the archive is the one rising; the others are not.
    for topic in &t.topics {
        let is_recent_blob = topic.first_date.as_deref() == Some("2024-12-20");
        assert_eq!(
            topic.direction == Trend::Rising,
            is_recent_blob,
            "{topic:?}"
        );
        assert_eq!(topic.recent, if is_recent_blob { topic.size } else { 0 });
    }
}

#[test]
fn keywords_without_a_model_come_from_ctfidf() {
    let (papers, vectors) = synthetic(5, 12, 5);
    let t = compute(&papers, &vectors, &fixed(5, 0), None);
    assert_eq!(t.keyword_method, "c-tf-idf, read across topics");
    for topic in &t.topics {
        let row = topic.representative[0];
        let words = BLOB_WORDS
            .iter()
            .find(|w| papers[row].title.starts_with(*w))
            .expect("blob");
        let first = words.split(' ').next().expect("word");
        assert!(
            topic.keywords.iter().any(|k| k.contains(first)),
            "{words}: {:?}",
            topic.keywords
        );
        // A word every topic shares ranks below the topic's own words; a generic one is dropped.
        let rank = |w: &str| topic.keywords.iter().position(|k| k == w);
        assert!(
            rank("number").is_none_or(|r| r > rank(first).unwrap_or(usize::MAX)),
            "{:?}",
            topic.keywords
        );
        assert!(rank("study").is_none(), "{:?}", topic.keywords);
    }
}

/// One vector per term: along blob `b`'s axis when `blob_of(term)` is `Some(b)`, else along the
/// last axis (near no topic).
fn blob_axes(terms: &[String], blob_of: impl Fn(&str) -> Option<usize>) -> Vec<f32> {
    let mut out = Vec::new();
    for t in terms {
        let mut v = vec![0f32; DIM];
        v[blob_of(t).unwrap_or(DIM - 1)] = 1.0;
        out.extend(v);
    }
    out
}

/// Term vectors that point at blob `b`'s axis for the blob's *second* word (the one aligned),
/// elsewhere otherwise.
struct FakeEmbedder;
impl TermEmbedder for FakeEmbedder {
    fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
        Ok(blob_axes(terms, |t| {
            BLOB_WORDS
                .iter()
                .position(|w| w.split(' ').nth(1) == Some(t))
        }))
    }
}

#[test]
fn mmr_puts_the_term_nearest_the_centroid_first() {
    let (papers, vectors) = synthetic(3, 12, 6);
    let params = Params {
        keywords: KeywordOptions {
            keep: 4,
            ..KeywordOptions::default()
        },
        ..fixed(3, 0)
    };
    let t = topics::compute(
        &papers.iter().collect::<Vec<_>>(),
        Rows::new(&vectors, DIM).expect("rows"),
        &params,
        None,
        Some(&FakeEmbedder),
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("topics");
    assert_eq!(t.keyword_method, "c-tf-idf+mmr, read across topics");
    for topic in &t.topics {
        let row = topic.representative[0];
        let words = BLOB_WORDS
            .iter()
            .find(|w| papers[row].title.starts_with(*w))
            .expect("blob");
        assert_eq!(
            topic.keywords.first().map(String::as_str),
            words.split(' ').nth(1),
            "{:?}",
            topic.keywords
        );
        assert!(topic.keywords.len() <= 4);
    }
}

#[test]
fn auto_k_chooses_from_a_reported_curve() {
    let (papers, vectors) = synthetic(4, 15, 7);
    let params = Params {
        k: KChoice::Auto(2..=7),
        ..Params::default()
    };
    let t = compute(&papers, &vectors, &params, None);
    let auto = t.auto.as_ref().expect("auto");
    assert_eq!(
        auto.curve.iter().map(|p| p.k).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6, 7]
    );
    assert_eq!(auto.chosen, 4, "{:?}", auto.curve);
    assert_eq!(t.k, 4);
    assert!(auto.criterion.contains("reader score"));
    assert!(auto.curve.iter().all(|p| p.score.is_finite()));
}

#[test]
fn bad_input_is_rejected_with_clear_errors() {
    let (papers, vectors) = synthetic(2, 5, 8);
    let rows = Rows::new(&vectors, DIM).expect("rows");
    let err = |p: &[Paper], r: Rows<'_>, k: KChoice| {
        topics::compute(
            &p.iter().collect::<Vec<_>>(),
            r,
            &Params {
                k,
                ..Params::default()
            },
            None,
            None,
            &papermap::vectors::VectorBackend::Cpu,
        )
        .expect_err("must fail")
        .to_string()
    };
    let e = err(&[], Rows::new(&[], DIM).expect("rows"), KChoice::Fixed(3));
    assert!(e.contains("no papers"), "{e}");
    let e = err(&papers, rows, KChoice::Fixed(11));
    assert!(e.contains("k = 11") && e.contains("(10)"), "{e}");
    let e = err(&papers, rows, KChoice::Auto(8..=40));
    assert!(e.contains("8..40") && e.contains("10 papers"), "{e}");
    let same = vec![0.5f32; 10 * DIM];
    let e = err(
        &papers,
        Rows::new(&same, DIM).expect("rows"),
        KChoice::Fixed(2),
    );
    assert!(e.contains("distinct"), "{e}");
    let e = err(&papers[..3], rows, KChoice::Fixed(2));
    assert!(e.contains("10 vectors for 3 papers"), "{e}");
    assert!(Rows::new(&vectors[..7], DIM).is_err());
    assert!("0".parse::<KChoice>().is_err());
    assert!(topics::parse_k_range("9..3").is_err());
}

#[test]
fn topics_json_round_trips_and_a_missing_file_is_none() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(topics::load(dir.path()).expect("load").is_none());
    let (papers, vectors) = synthetic(3, 10, 9);
    let t = compute(&papers, &vectors, &fixed(3, 0), None);
    let path = topics::save(dir.path(), &t).expect("save");
    assert_eq!(path, dir.path().join("topics.json"));
    let back = topics::load(dir.path()).expect("load").expect("some");
    assert_eq!(back.topics, t.topics);
    assert_eq!(back.assignment, t.assignment);
    assert_eq!(back.papers, t.papers);
    std::fs::write(&path, b"{ not json").expect("write");
    let e = topics::load(dir.path()).expect_err("corrupt").to_string();
    // The library names the file; the advice (`--fresh`) is the CLI's to give.
    assert!(e.contains("topics.json") && !e.contains("--"), "{e}");
}

// ---- through the binary, on an index built with the tiny model ----

fn papermap(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run papermap")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn topics_cmd(f: &Fixture, extra: &[&str]) -> Output {
    let mut args = vec!["topics", "--index", s(&f.index), "--model", s(&f.model)];
    args.extend_from_slice(extra);
    papermap(&args)
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn cli_topics_are_deterministic() {
    let f = Fixture::new();
    f.build_index();
    let a = json(&topics_cmd(
        &f,
        &["--k", "5", "--seed", "3", "--json", "--no-save"],
    ));
    let b = json(&topics_cmd(
        &f,
        &["--k", "5", "--seed", "3", "--json", "--no-save"],
    ));
    assert_eq!(a["assignment"], b["assignment"]);
    assert_eq!(a["topics"], b["topics"]);
    assert_eq!(a["objective"], b["objective"]);
    assert_eq!(a["keyword_method"], "c-tf-idf+mmr, read across topics");
    assert_eq!(a["assignment"].as_array().map(Vec::len), Some(68));
    assert!(a["timing"]["fit_s"].is_number());
    assert!(
        !f.index.join("topics.json").exists(),
        "--no-save wrote a file"
    );
    // The table names every topic.
    let o = topics_cmd(&f, &["--k", "5", "--seed", "3", "--no-model"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("id")
            && out.contains("size")
            && out.contains("label")
            && out.contains("trend"),
        "{out}"
    );
    assert!(out.contains("saved"), "{out}");
    let saved = topics::load(&f.index).expect("load").expect("saved");
    assert_eq!(saved.k, 5);
    assert_eq!(saved.keyword_method, "c-tf-idf, read across topics");
}

#[test]
fn cli_ids_are_stable_across_an_index_update() {
    let f = Fixture::new();
    f.build_index();
    let before = json(&topics_cmd(&f, &["--k", "5", "--json"]));
    let before: Topics = serde_json::from_value(before).expect("topics");
    // The index grows by one archive day.
    let src = common::shared().join("data/archive/2024/03/05.md");
    std::fs::copy(&src, f.digests.join("2024-03-05.md")).expect("copy digest");
    f.build_index();
    let after: Topics =
        serde_json::from_value(json(&topics_cmd(&f, &["--k", "5", "--json"]))).expect("topics");
    assert!(after.papers.len() > before.papers.len());
    let before_ids: Vec<u32> = before.topics.iter().map(|t| t.id).collect();
    let kept: Vec<&topics::Topic> = after
        .topics
        .iter()
        .filter(|t| t.matched.is_some())
        .collect();
    // Adding one day of papers to 68 keeps most topics (4 of 5 here).
    assert!(
        kept.len() >= 3,
        "only {} of 5 topics kept their id",
        kept.len()
    );
    for t in &kept {
        assert!(before_ids.contains(&t.id));
        let old = before.topic(t.id).expect("old topic");
        assert_eq!(t.label, old.label, "a kept topic keeps its label");
        // Most of the old topic's papers are still in it.
        let old_papers: Vec<&str> = before
            .papers
            .iter()
            .zip(&before.assignment)
            .filter(|(_, &id)| id == t.id)
            .map(|(p, _)| p.as_str())
            .collect();
        let now = after.assignment_by_id();
        let stayed = old_papers
            .iter()
            .filter(|p| now.get(*p) == Some(&t.id))
            .count();
        assert!(
            stayed * 2 > old_papers.len(),
            "topic {}: {stayed} of {} stayed",
            t.id,
            old_papers.len()
        );
    }
    for t in after.topics.iter().filter(|t| t.matched.is_none()) {
        assert!(t.id >= before.next_id, "new topic reuses id {}", t.id);
    }
    // Recomputing on the same index and seed changes nothing: every topic matches itself.
    let again: Topics =
        serde_json::from_value(json(&topics_cmd(&f, &["--k", "5", "--json"]))).expect("topics");
    assert_eq!(again.assignment, after.assignment);
    assert!(again
        .topics
        .iter()
        .all(|t| t.matched.is_some_and(|s| s > 0.999)));
}

#[test]
fn cli_rejects_an_empty_index_and_bad_k_with_clear_messages() {
    let f = Fixture::new();
    // An index of a digest directory without papers.
    let empty = f.digests.parent().expect("parent").join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(empty.join("2024-01-01.md"), "").expect("write");
    let o = papermap(&[
        "index",
        s(&empty),
        "--index",
        s(&f.index),
        "--model",
        s(&f.model),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = topics_cmd(&f, &["--k", "3"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no papers"), "{}", stderr(&o));

    f.build_index();
    let o = topics_cmd(&f, &["--k", "500"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("k = 500") && e.contains("68"), "{e}");
    for (args, want) in [
        (&["--k", "0"][..], "at least 1"),
        (&["--k", "many"][..], "neither a number nor `auto`"),
        (&["--k", "auto", "--k-range", "9..3"][..], "MIN <= MAX"),
        (
            &["--k", "auto", "--k-range", "60..90"][..],
            "pass a smaller --k-range",
        ),
    ] {
        let o = topics_cmd(&f, args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(!f.index.join("topics.json").exists());
}

#[test]
fn cli_auto_prints_the_curve_it_chose_from() {
    let f = Fixture::new();
    f.build_index();
    let o = topics_cmd(
        &f,
        &[
            "--k",
            "auto",
            "--k-range",
            "3..6",
            "--no-save",
            "--no-model",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("k auto: highest reader score"), "{out}");
    assert_eq!(out.matches("<- chosen").count(), 1, "{out}");
    for k in 3..=6 {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{k} "))),
            "k {k} missing: {out}"
        );
    }
}

#[test]
fn labels_share_no_word_and_keywords_rarely_repeat_across_topics() {
    let (papers, vectors) = synthetic(5, 12, 21);
    let t = compute(&papers, &vectors, &fixed(5, 1), None);
    let words: Vec<&str> = t.topics.iter().flat_map(|x| x.label.split(" · ")).collect();
    let unique: std::collections::HashSet<&&str> = words.iter().collect();
    assert_eq!(unique.len(), words.len(), "a label word repeats: {words:?}");
    // Each blob's own words label it; the shared generic words (논문, 방법, 결과) never do.
    for x in &t.topics {
        assert!(
            !x.label.contains("방법") && !x.label.contains("논문"),
            "{}",
            x.label
        );
    }
    let all: Vec<&String> = t.topics.iter().flat_map(|x| &x.keywords).collect();
    let distinct: std::collections::HashSet<&&String> = all.iter().collect();
    assert!(
        distinct.len() * 10 >= all.len() * 8,
        "diversity below 0.8: {all:?}"
    );
}

#[test]
fn hierarchy_merges_every_topic_and_cuts_into_groups() {
    let (papers, vectors) = synthetic(5, 10, 4);
    let t = compute(&papers, &vectors, &fixed(5, 2), None);
    assert_eq!(t.hierarchy.len(), 4);
    assert_eq!(t.hierarchy.last().map(|m| m.size), Some(50));
    for g in [1, 2, 3, 5] {
        let c = t.coarse(g);
        assert_eq!(c.len(), g);
        assert_eq!(c.iter().map(|x| x.size).sum::<usize>(), 50);
        let mut ids: Vec<u32> = c.iter().flat_map(|x| x.topics.clone()).collect();
        ids.sort();
        assert_eq!(ids, (0..5).collect::<Vec<u32>>());
    }
}

#[test]
fn a_paper_far_from_every_centroid_is_an_outlier_but_keeps_its_topic() {
    let (mut papers, mut vectors) = synthetic(3, 15, 6);
    // A paper between the blobs, away from all of them.
    let mut v = [0f32; DIM];
    v[DIM - 1] = 1.0;
    vectors.extend(v);
    papers.push(paper(
        "2401.99999",
        "odd one out",
        "다른 주제",
        "2024-02-02",
        None,
    ));
    let t = compute(&papers, &vectors, &fixed(3, 0), None);
    let o = t
        .outliers
        .iter()
        .find(|o| o.row == papers.len() - 1)
        .expect("the far paper is listed");
    assert!(o.z > topics::OUTLIER_Z);
    assert_eq!(t.assignment[o.row], o.topic);
    assert!(t.outliers.len() <= 3, "{:?}", t.outliers);
}

#[test]
fn keywords_over_time_list_periods_with_enough_papers() {
    let (papers, vectors) = synthetic(3, 12, 9);
    let t = compute(&papers, &vectors, &fixed(3, 0), None);
    for x in &t.topics {
        assert!(!x.over_time.is_empty(), "topic {} has no periods", x.id);
        for p in &x.over_time {
            assert!(p.papers >= papermap::topics::over_time::MIN_PAPERS);
            assert!(
                p.period.len() == 7 && p.period.starts_with("2024-"),
                "{}",
                p.period
            );
            assert!(!p.keywords.is_empty());
        }
    }
}

#[test]
fn the_map_is_a_stored_layout_of_every_paper_in_the_unit_square() {
    let (papers, vectors) = synthetic(4, 10, 12);
    let t = compute(&papers, &vectors, &fixed(4, 0), None);
    let map = t.map.as_ref().expect("layout");
    assert_eq!(map.xy.len(), papers.len());
    assert!(map
        .xy
        .iter()
        .all(|p| (0.0..=1.0).contains(&p[0]) && (0.0..=1.0).contains(&p[1])));
    assert!(map.method.contains("t-SNE"));
    // Topics are regions: a paper's nearest point on the map is mostly in its own topic.
    let mut same = 0;
    for i in 0..papers.len() {
        let d = |j: usize| {
            (map.xy[i][0] - map.xy[j][0]).powi(2) + (map.xy[i][1] - map.xy[j][1]).powi(2)
        };
        let j = (0..papers.len())
            .filter(|&j| j != i)
            .min_by(|&a, &b| d(a).total_cmp(&d(b)))
            .expect("neighbour");
        same += usize::from(t.assignment[i] == t.assignment[j]);
    }
    assert!(same * 10 >= papers.len() * 9, "{same} of {}", papers.len());
    let again = compute(&papers, &vectors, &fixed(4, 0), None);
    assert_eq!(again.map, t.map, "deterministic");
}

#[test]
fn an_update_adds_new_papers_to_the_stored_topics_and_keeps_everything_else() {
    let (papers, vectors) = synthetic(4, 14, 17);
    // Fit on all but the last 3 papers of every blob, then add them.
    let keep: Vec<usize> = (0..papers.len()).filter(|i| i % 14 < 11).collect();
    let old_papers: Vec<Paper> = keep.iter().map(|&i| papers[i].clone()).collect();
    let old_vectors: Vec<f32> = keep
        .iter()
        .flat_map(|&i| vectors[i * DIM..(i + 1) * DIM].to_vec())
        .collect();
    let before = compute(&old_papers, &old_vectors, &fixed(4, 3), None);
    let rows = Rows::new(&vectors, DIM).expect("rows");
    let after = topics::update(
        &papers.iter().collect::<Vec<_>>(),
        rows,
        &fixed(4, 3),
        &before,
        None,
    )
    .expect("update");
    assert_eq!(
        after
            .topics
            .iter()
            .map(|t| (t.id, &t.label))
            .collect::<Vec<_>>(),
        before
            .topics
            .iter()
            .map(|t| (t.id, &t.label))
            .collect::<Vec<_>>(),
        "ids and labels stay"
    );
    let was = before.assignment_by_id();
    let now = after.assignment_by_id();
    for (id, t) in &was {
        assert_eq!(now.get(id), Some(t), "{id} moved");
    }
    // New papers join their blob's topic: the one holding the blob's other papers.
    for (i, p) in papers.iter().enumerate() {
        let blob_mate = &papers[i - i % 14].arxiv_id;
        assert_eq!(
            now[p.arxiv_id.as_str()],
            now[blob_mate.as_str()],
            "{}",
            p.arxiv_id
        );
    }
    assert_eq!(after.fit.updates, 1);
    assert_eq!(after.fit.papers, old_papers.len());
    // 12 new papers on 44: more than a quarter added, a refit is suggested.
    assert!(after.refit_suggested.is_some());
    let full = compute(&papers, &vectors, &fixed(4, 3), None);
    assert!(
        after.objective <= full.objective * 1.05,
        "{} vs {}",
        after.objective,
        full.objective
    );
    let map = after.map.as_ref().expect("map");
    let old_map = before.map.as_ref().expect("old map");
    for (r, &i) in keep.iter().enumerate() {
        assert_eq!(map.xy[i], old_map.xy[r], "old papers keep their place");
    }
}

/// Vectors of labels: along blob `b`'s axis when the label holds one of blob `b`'s title
/// words, else along the last axis (near no topic).
struct LabelEmbedder;
impl TermEmbedder for LabelEmbedder {
    fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
        Ok(blob_axes(terms, |t| {
            let lower = t.to_lowercase();
            BLOB_WORDS.iter().position(|w| {
                w.split(' ')
                    .any(|word| lower.contains(&word.to_lowercase()))
            })
        }))
    }
}

#[test]
fn the_label_check_finds_labels_that_land_in_another_topic() {
    let (papers, vectors) = synthetic(3, 12, 6);
    let mut t = compute(&papers, &vectors, &fixed(3, 0), None);
    let blob_of = |topic: &topics::Topic| {
        let row = topic.representative[0];
        BLOB_WORDS
            .iter()
            .position(|w| papers[row].title.starts_with(*w))
            .expect("blob")
    };
    // Labels that name their own blob all land.
    for topic in &mut t.topics {
        topic.label = BLOB_WORDS[blob_of(topic)].to_string();
    }
    let check = topics::label_check::check(&t, &LabelEmbedder).expect("check");
    assert_eq!((check.landed, check.total), (3, 3), "{check:?}");
    assert!(check.misses.is_empty());
    // Two labels swapped: both land in the other's topic, and the check names it.
    let (a, b) = (t.topics[0].label.clone(), t.topics[1].label.clone());
    t.topics[0].label = b;
    t.topics[1].label = a;
    let check = topics::label_check::check(&t, &LabelEmbedder).expect("check");
    assert_eq!((check.landed, check.total), (1, 3), "{check:?}");
    let misses: Vec<(u32, u32)> = check.misses.iter().map(|m| (m.topic, m.nearest)).collect();
    assert_eq!(
        misses,
        vec![
            (t.topics[0].id, t.topics[1].id),
            (t.topics[1].id, t.topics[0].id)
        ]
    );
    assert!(check.misses.iter().all(|m| m.best > m.own));
    assert!((check.share() - 1.0 / 3.0).abs() < 1e-9);
}

/// 120 papers in four blobs, and 8 whose digest gave them one generic filler summary: their
/// vectors sit together on an axis of their own, while their titles are blob 1's subject.
fn with_filler() -> (Vec<Paper>, Vec<f32>, Vec<f32>, Vec<usize>) {
    let (mut papers, mut vectors) = synthetic(4, 30, 3);
    let mut titles = vectors.clone();
    let mut rng = Rng::new(9);
    let mut filler = Vec::new();
    for i in 0..8 {
        filler.push(papers.len());
        papers.push(paper(
            &format!("2409.{:05}", 100 + i),
            &format!("speech synthesis study filler {i}"),
            "이 논문은 새로운 필러요약 모델을 제안하며 필러요약 벤치마크에서 좋은 결과를 보였습니다.",
            "2024-09-01",
            None,
        ));
        let mut v = [0f32; DIM];
        let mut t = [0f32; DIM];
        v[5] = 1.0;
        t[1] = 1.0;
        for (a, b) in v.iter_mut().zip(t.iter_mut()) {
            *a += 0.05 * rng.f32_in(-1.0, 1.0);
            *b += 0.25 * rng.f32_in(-1.0, 1.0);
        }
        normalize(&mut v);
        normalize(&mut t);
        vectors.extend(v);
        titles.extend(t);
    }
    (papers, vectors, titles, filler)
}

/// An in-memory title+summary index of `papers` with their `vectors`.
fn title_summary_index(papers: &[Paper], vectors: Vec<f32>) -> papermap::index::Index {
    let indexed: Vec<papermap::index::IndexedPaper> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| papermap::index::IndexedPaper {
            paper: p.clone(),
            key: format!("{i:064x}"),
        })
        .collect();
    let mut manifest = common::in_memory_manifest(indexed.len());
    manifest.dim = DIM;
    manifest.text_recipe = papermap::index::TextRecipe::TitleSummary;
    papermap::index::Index::from_parts(
        std::path::PathBuf::from("/nonexistent"),
        manifest,
        indexed,
        vectors,
    )
    .expect("index")
}

#[test]
fn papers_placed_by_title_neither_shape_the_topics_nor_lend_them_words() {
    let (papers, vectors, titles, filler) = with_filler();
    // Clustered by their vectors, the filler summaries take a topic of their own.
    let t = compute(&papers, &vectors, &fixed(5, 0), None);
    let of = |t: &Topics, r: usize| t.assignment[r];
    assert!(filler.iter().all(|&r| of(&t, r) == of(&t, filler[0])));
    assert_eq!(t.topic(of(&t, filler[0])).expect("topic").size, 8);

    // Placed by their titles, they join blob 1 and the four blobs stay whole.
    let rows = Rows::new(&vectors, DIM).expect("rows");
    let by_title = topics::ByTitle::new(rows, &titles, &filler).expect("by title");
    assert_eq!(by_title.rows, filler);
    let patched = {
        let mut p = vectors.clone();
        for (j, &r) in filler.iter().enumerate() {
            p[r * DIM..(r + 1) * DIM].copy_from_slice(&by_title.vectors[j * DIM..(j + 1) * DIM]);
        }
        p
    };
    let refs: Vec<&Paper> = papers.iter().collect();
    let placed = topics::compute_placing(
        &refs,
        Rows::new(&patched, DIM).expect("rows"),
        &fixed(4, 0),
        None,
        None,
        &papermap::vectors::VectorBackend::Cpu,
        &filler,
    )
    .expect("topics");
    let blob1 = of(&placed, 30);
    assert!((30..60).all(|r| of(&placed, r) == blob1));
    assert!(filler.iter().all(|&r| of(&placed, r) == blob1));
    let mut sizes: Vec<usize> = placed.topics.iter().map(|t| t.size).collect();
    sizes.sort();
    assert_eq!(sizes, vec![30, 30, 30, 38]);

    // Through an index, their summaries' words are left out of every topic's keywords.
    let index = title_summary_index(&papers, vectors.clone());
    let words = |t: &Topics| -> Vec<String> {
        t.topics
            .iter()
            .flat_map(|t| t.keywords.iter().chain([&t.label]).cloned())
            .collect()
    };
    let backend = papermap::vectors::VectorBackend::Cpu;
    let plain = topics::compute_index(
        &index,
        &fixed(5, 0),
        None,
        None,
        &backend,
        &topics::ByTitle::default(),
    )
    .expect("topics");
    assert!(words(&plain).iter().any(|w| w.contains("필러요약")));
    let t = topics::compute_index(&index, &fixed(4, 0), None, None, &backend, &by_title)
        .expect("topics");
    assert_eq!(t.by_title, 8);
    assert!(
        !words(&t).iter().any(|w| w.contains("필러요약")),
        "{:?}",
        words(&t)
    );
    assert_eq!(t.assignment, placed.assignment);

    // An update places too: unchanged, nothing drifts; a new filler paper joins blob 1's topic
    // by its title, a new blob 0 paper blob 0's.
    let same = topics::update_index(&index, &fixed(4, 0), &t, None, &by_title).expect("update");
    assert_eq!(same.assignment, t.assignment);
    assert!(same.refit_suggested.is_none(), "{:?}", same.refit_suggested);
    let mut more = papers.clone();
    let (mut vectors2, mut titles2) = (vectors.clone(), titles.clone());
    for (i, (v, t)) in [(5usize, 1usize), (0, 0)].into_iter().enumerate() {
        let mut pv = [0f32; DIM];
        let mut tv = [0f32; DIM];
        pv[v] = 1.0;
        tv[t] = 1.0;
        vectors2.extend(pv);
        titles2.extend(tv);
        more.push(paper(
            &format!("2410.{:05}", i),
            "speech synthesis study late",
            "이 논문은 새로운 필러요약 모델을 제안합니다.",
            "2024-10-01",
            None,
        ));
    }
    let grown = title_summary_index(&more, vectors2.clone());
    let (late_filler, late_blob0) = (vectors.len() / DIM, vectors.len() / DIM + 1);
    let mut flagged = filler.clone();
    flagged.push(late_filler);
    let by_title2 =
        topics::ByTitle::new(Rows::new(&vectors2, DIM).expect("rows"), &titles2, &flagged)
            .expect("by title");
    let u = topics::update_index(&grown, &fixed(4, 0), &t, None, &by_title2).expect("update");
    assert_eq!(&u.assignment[..t.assignment.len()], &t.assignment[..]);
    assert_eq!(u.assignment[late_filler], of(&t, 30));
    assert_eq!(u.assignment[late_blob0], of(&t, 0));

    // The report says where the flagged papers went, beside the check's list.
    let check = papermap::quality::SummaryCheck {
        papers: index.len(),
        median: 0.9,
        mad: 0.01,
        threshold: 0.84,
        suspect_threshold: 0.87,
        neighbours: 10,
        outliers: filler
            .iter()
            .map(|&row| papermap::quality::SummaryOutlier {
                row,
                arxiv_id: papers[row].arxiv_id.clone(),
                title: papers[row].title.clone(),
                similarity: 0.5,
                robust_z: -27.0,
                neighbourhood_z: -20.0,
                copy_of: None,
            })
            .collect(),
    };
    let dir = tempfile::tempdir().expect("tmp");
    let related = vec![Vec::new(); index.len()];
    let report = |topics: &Topics| {
        let files = papermap::report::write(
            dir.path(),
            &papermap::report::ReportInput {
                index: &index,
                topics,
                related: &related,
                summary_check: Some(&check),
            },
        )
        .expect("report");
        (
            std::fs::read_to_string(files.html).expect("html"),
            std::fs::read_to_string(files.markdown).expect("md"),
        )
    };
    let note = "The topics place 8 such papers by their titles";
    let (html, md) = report(&t);
    assert!(html.contains(note) && md.contains(note), "{md}");
    let (html, md) = report(&plain);
    assert!(!html.contains(note) && !md.contains(note));
}
