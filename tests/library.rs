//! A reader's library: marks kept in the index directory, recommendations from them, and how
//! well they find a reader's later papers (the judged queries read as readers' interests).

mod common;

use std::path::Path;
use std::process::Command;

use papermap::library::eval::evaluate;
use papermap::library::recommend::{recommend, Options};
use papermap::library::words::Words;
use papermap::library::{Library, Mark};
use papermap::search::eval::read_judged;
use papermap::vectors::VectorBackend;

fn judged() -> Vec<papermap::search::eval::JudgedQuery> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    read_judged(
        &root.join("tests/data/search_queries.jsonl"),
        &root.join("tests/data/search_judgments.jsonl"),
    )
    .expect("judged queries")
}

#[test]
fn recommendations_find_readers_later_papers_ahead_of_the_centroid() {
    // The archive's stored summary vectors; the index has no titles or summaries, so the
    // tf-idf recommender has nothing to read here (`papermap eval library` measures it).
    let (index, _) = common::archive_summary_index(None);
    let bm25 = papermap::search::Bm25::from_index_text(&index);
    let r = evaluate(&index, &bm25, &judged(), "2024-07-01", &Options::default());
    eprintln!("{r:?}");
    assert!(r.readers >= 30, "{r:?}");
    let score = |m: &str| r.scores.iter().find(|s| s.method == m).expect(m).clone();
    let (svm, centroid) = (score("svm"), score("centroid"));
    assert!(svm.ndcg_at_10 >= 0.50, "{r:?}");
    assert!(svm.recall_at_20 >= 0.62, "{r:?}");
    assert!(svm.ndcg_at_10 >= centroid.ndcg_at_10, "{r:?}");
}

#[test]
fn recommend_leaves_out_marked_papers_and_names_the_liked_ones_near() {
    let (index, _) = common::archive_summary_index(None);
    let judged = judged();
    // The speculative-decoding reader: likes the first half of its papers, hides one other.
    let q = judged.iter().find(|q| q.id == "q01").expect("q01");
    let mut relevant: Vec<&String> = q
        .grades
        .iter()
        .filter(|(_, &g)| g == 2)
        .map(|(id, _)| id)
        .collect();
    relevant.sort();
    let (liked, rest) = relevant.split_at(relevant.len() / 2);
    let mut lib = Library::default();
    for id in liked {
        lib.mark(id, Mark::Like, 0);
    }
    lib.mark(rest[0], Mark::Hide, 0);
    let recs = recommend(
        &index,
        &VectorBackend::Cpu,
        &lib,
        &Options {
            k: 10,
            ..Default::default()
        },
        None,
    )
    .expect("recommendations");
    assert_eq!(recs.len(), 10);
    let liked_rows: Vec<usize> = liked.iter().filter_map(|id| index.row_of(id)).collect();
    let hidden = index.row_of(rest[0]).expect("row");
    for w in recs.windows(2) {
        assert!(w[0].score >= w[1].score, "{recs:?}");
    }
    for r in &recs {
        assert!(!liked_rows.contains(&r.row) && r.row != hidden, "{r:?}");
        assert!(
            !r.near.is_empty() && r.near.iter().all(|(row, _)| liked_rows.contains(row)),
            "{r:?}"
        );
    }
    // The reader's other speculative-decoding papers come up.
    let found = rest[1..]
        .iter()
        .filter(|id| recs.iter().any(|r| index.paper(r.row).arxiv_id == ***id))
        .count();
    assert!(
        found * 2 >= rest.len() - 1,
        "{found} of {} found: {recs:?}",
        rest.len() - 1
    );
    // No liked paper, no model.
    assert!(recommend(
        &index,
        &VectorBackend::Cpu,
        &Library::default(),
        &Options::default(),
        None
    )
    .is_err());
}

#[test]
fn the_library_command_marks_shows_and_recommends() {
    let f = common::Sample::new();
    f.build_index();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_papermap"))
            .args(args)
            .args(["--index", f.index.to_str().expect("utf-8")])
            .output()
            .expect("run papermap");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    };
    run(&[
        "export",
        "--format",
        "jsonl",
        "--out",
        f.root().join("x").to_str().expect("utf-8"),
    ]);
    let ids: Vec<String> = std::fs::read_to_string(f.root().join("x.jsonl"))
        .expect("papers")
        .lines()
        .take(3)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["arxiv_id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    run(&["library", "mark", "like", &ids[0], &ids[1]]);
    run(&["library", "mark", "hide", &ids[2]]);
    run(&["library", "save-search", "speculative decoding"]);
    run(&["library", "follow", "Tri Dao"]);
    let shown: serde_json::Value =
        serde_json::from_str(&run(&["--json", "library", "show"])).expect("json");
    assert_eq!(
        shown["papers"].as_array().expect("papers").len(),
        3,
        "{shown}"
    );
    assert_eq!(shown["searches"][0], "speculative decoding");
    assert_eq!(shown["authors"][0], "Tri Dao");
    let recs: serde_json::Value =
        serde_json::from_str(&run(&["--json", "library", "recommend", "-k", "5"])).expect("json");
    let recs = recs.as_array().expect("list");
    assert_eq!(recs.len(), 5, "{recs:?}");
    for r in recs {
        assert!(
            !ids.contains(&r["id"].as_str().expect("id").to_string()),
            "{r}"
        );
        assert!(
            ids[..2].contains(&r["near"][0]["id"].as_str().expect("near").to_string()),
            "{r}"
        );
    }
    // Another library of the same index is empty; the file is in the index directory.
    let other: serde_json::Value =
        serde_json::from_str(&run(&["--json", "library", "show", "--library", "work"]))
            .expect("json");
    assert_eq!(other["papers"].as_array().map(Vec::len), Some(0));
    assert!(f.index.join("library/default.json").exists());
}

#[test]
fn with_words_the_recommendations_find_what_the_liked_papers_say_when_vectors_cannot() {
    // 200 papers whose vectors carry no signal (random unit vectors), 20 of which are about
    // quokkas: only their words tell them apart.
    let mut rng = common::rng::Rng::new(7);
    let filler = [
        "model",
        "training",
        "data",
        "benchmark",
        "language",
        "vision",
        "robot",
        "graph",
        "agent",
        "reasoning",
        "retrieval",
        "speech",
        "video",
        "diffusion",
        "policy",
        "memory",
    ];
    let (mut papers, mut vectors) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let mut words: Vec<&str> = (0..30)
            .map(|_| filler[(rng.next_u64() >> 33) as usize % filler.len()])
            .collect();
        if i % 10 == 3 {
            words.extend(["quokka", "marsupial", "quokka"]);
        }
        let paper: papermap::corpus::Paper = serde_json::from_value(serde_json::json!({
            "arxiv_id": format!("2401.{i:05}"), "title": format!("Paper {i}"), "url": "",
            "date": "2024-01-01", "dates": [], "votes": null, "authors": [], "thumbnail": null,
            "whats_new": null, "technical_details": null, "performance_highlights": null,
            "summary": words.join(" "), "source": {"file": "synthetic", "line": i + 1},
        }))
        .expect("paper");
        papers.push(papermap::index::IndexedPaper {
            paper,
            key: format!("{i:064x}"),
        });
        let v: Vec<f32> = (0..384).map(|_| rng.unit() - 0.5).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        vectors.extend(v.iter().map(|x| x / norm));
    }
    let manifest = common::in_memory_manifest(papers.len());
    let index = papermap::index::Index::from_parts(
        std::path::PathBuf::from("/nonexistent"),
        manifest,
        papers,
        vectors,
    )
    .expect("index");
    let bm25 = papermap::search::Bm25::from_index_text(&index);
    let mut lib = Library::default();
    for id in ["2401.00003", "2401.00013", "2401.00023"] {
        lib.mark(id, Mark::Like, 0);
    }
    let o = Options {
        k: 10,
        ..Default::default()
    };
    let quokkas = |recs: &[papermap::library::recommend::Recommendation]| {
        recs.iter().filter(|r| r.row % 10 == 3).count()
    };
    let mut words = Words::default();
    let with = recommend(
        &index,
        &VectorBackend::Cpu,
        &lib,
        &o,
        Some((&bm25, &mut words)),
    )
    .expect("recommendations");
    let without = recommend(&index, &VectorBackend::Cpu, &lib, &o, None).expect("recommendations");
    assert_eq!(with.len(), 10);
    assert_eq!(quokkas(&with), 10, "{with:?}");
    assert!(quokkas(&without) <= 4, "{without:?}");
    // Liked papers are never recommended back.
    assert!(with.iter().all(|r| ![3, 13, 23].contains(&r.row)));
    // Word rows met in another order (another request first, another server) rank the same,
    // to the last bit of every score.
    let mut other = Words::default();
    for row in (100..200).rev() {
        other.row(&index, &bm25, row);
    }
    let again = recommend(
        &index,
        &VectorBackend::Cpu,
        &lib,
        &o,
        Some((&bm25, &mut other)),
    )
    .expect("recommendations");
    assert_eq!(again, with);
}
