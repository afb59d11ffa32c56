//! Related papers, free-text search and the title evaluation: through the binary with a tiny
//! model (bad input included), and through the library on the golden reference vectors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Sample as Fixture;
use papermap::corpus::Paper;
use papermap::index::{Index, IndexedPaper};
use papermap::search::{self, eval, Mode, SearchError, Searcher};
use papermap::vectors::VectorBackend;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

impl Fixture {
    /// Builds an index of `digests` with the tiny model; returns its directory.
    fn index(&self, name: &str, digests: &Path, extra: &[&str]) -> PathBuf {
        let dir = self.root().join(name);
        let mut args = vec!["index", s(digests), "--index", s(&dir), "--quiet"];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        assert!(o.status.success(), "index: {}", stderr(&o));
        dir
    }

    /// Runs the binary; commands that embed get `--model` pointing at the tiny model.
    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.args(args).env_remove("PAPERMAP_CRASH_AT");
        if matches!(args.first(), Some(&("index" | "search" | "eval" | "stats"))) {
            c.args(["--model", s(&self.model)]);
        }
        c.output().expect("run papermap")
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

#[test]
fn related_all_writes_every_papers_neighbours_as_json_lines() {
    let f = Fixture::new();
    let idx = f.index("idx", &f.digests, &[]);
    let index = Index::open(&idx).expect("open");
    let out = f.root().join("related.jsonl");
    let o = f.run(&[
        "related",
        "--all",
        "-k",
        "4",
        "--out",
        s(&out),
        "--index",
        s(&idx),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("related papers of 68 papers"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&out).expect("read output");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), index.len());
    for (row, v) in lines.iter().enumerate() {
        let lib = search::related(&index, &VectorBackend::Cpu, row, 4).expect("related");
        assert_eq!(v["arxiv_id"], index.paper(row).arxiv_id.as_str());
        let got: Vec<&str> = v["related"]
            .as_array()
            .expect("related")
            .iter()
            .map(|r| r["arxiv_id"].as_str().expect("id"))
            .collect();
        let want: Vec<&str> = lib
            .iter()
            .map(|h| index.paper(h.row).arxiv_id.as_str())
            .collect();
        assert_eq!(got, want, "paper {row}");
    }
    // --ann: the HNSW graph is built into the index, then reused; on 68 papers its search
    // visits them all, so the lists equal the exact ones.
    #[cfg(feature = "ann")]
    for (pass, verb) in [(0, "built"), (1, "loaded")] {
        let ann_out = f.root().join(format!("related-ann-{pass}.jsonl"));
        let o = f.run(&[
            "related",
            "--all",
            "--ann",
            "-k",
            "4",
            "--out",
            s(&ann_out),
            "--index",
            s(&idx),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{verb} the HNSW graph")),
            "{}",
            stderr(&o)
        );
        assert!(idx.join("ann.usearch").is_file() && idx.join("ann.json").is_file());
        let ann_text = std::fs::read_to_string(&ann_out).expect("read output");
        let ids = |t: &str| -> Vec<Vec<String>> {
            t.lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                    v["related"]
                        .as_array()
                        .expect("related")
                        .iter()
                        .map(|r| r["arxiv_id"].as_str().expect("id").to_string())
                        .collect()
                })
                .collect()
        };
        assert_eq!(ids(&ann_text), ids(&text), "pass {pass}");
    }
    // --all takes no paper; a paper without --all is still required.
    let o = f.run(&["related", "--all", "2409.17146", "--index", s(&idx)]);
    assert!(!o.status.success());
    let o = f.run(&["related", "--index", s(&idx)]);
    assert!(!o.status.success());
}

#[test]
fn related_and_search_on_the_sample() {
    let f = Fixture::new();
    let idx = f.index("idx", &f.digests, &[]);
    let index = Index::open(&idx).expect("open");
    let id = index.paper(5).arxiv_id.clone();

    // related by id: k results, itself excluded, best first, with scores and dates.
    let o = f.run(&["related", &id, "-k", "7", "--json", "--index", s(&idx)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["paper"]["arxiv_id"], id.as_str());
    let res = v["results"].as_array().expect("results");
    assert_eq!(res.len(), 7);
    assert!(res
        .iter()
        .all(|r| r["arxiv_id"] != id.as_str() && r["date"].is_string()));
    let scores: Vec<f64> = res
        .iter()
        .map(|r| r["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // ... and the same as the library's exact top-k.
    let lib = search::related(&index, &VectorBackend::Cpu, 5, 7).expect("related");
    let ids: Vec<&str> = res
        .iter()
        .map(|r| r["arxiv_id"].as_str().expect("id"))
        .collect();
    let lib_ids: Vec<&str> = lib
        .iter()
        .map(|h| index.paper(h.row).arxiv_id.as_str())
        .collect();
    assert_eq!(ids, lib_ids);

    // related by a URL with version, and by the exact title.
    let o = f.run(&[
        "related",
        &format!("https://arxiv.org/abs/{id}v3"),
        "-k",
        "2",
        "--index",
        s(&idx),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("related to {id}")),
        "{}",
        stdout(&o)
    );
    let title = index.paper(5).title.clone();
    let o = f.run(&["related", &title, "-k", "2", "--index", s(&idx)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));

    // search: lexical finds a paper by a rare title word; every mode answers.
    let o = f.run(&[
        "search",
        "Molmo PixMo",
        "--mode",
        "lexical",
        "--json",
        "--index",
        s(&idx),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["results"][0]["arxiv_id"], "2409.17146");
    for mode in ["dense", "hybrid"] {
        let o = f.run(&[
            "search",
            "open",
            "multimodal",
            "models",
            "--mode",
            mode,
            "-k",
            "3",
            "--index",
            s(&idx),
        ]);
        assert!(o.status.success(), "{mode}: {}", stderr(&o));
        assert_eq!(stdout(&o).lines().count(), 3, "{mode}: {}", stdout(&o));
    }
    // hybrid is the default mode.
    let o = f.run(&["search", "Molmo", "--json", "--index", s(&idx)]);
    assert_eq!(json(&o)["mode"], "hybrid");
    assert_eq!(json(&o)["results"][0]["arxiv_id"], "2409.17146");
}

#[test]
fn bad_input_gets_clear_messages() {
    let f = Fixture::new();
    let idx = f.index("idx", &f.digests, &[]);
    let n = Index::open(&idx).expect("open").len();

    // Unknown id, unknown title words, ambiguous title words.
    let o = f.run(&["related", "2401.00001", "--index", s(&idx)]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no paper \"2401.00001\" in the index (68 papers)"),
        "{}",
        stderr(&o)
    );
    let o = f.run(&["related", "zebra", "xylophone", "--index", s(&idx)]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no paper \"zebra xylophone\""),
        "{}",
        stderr(&o)
    );
    let o = f.run(&["related", "Video", "--index", s(&idx)]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("matches 3 papers") && stderr(&o).contains("2412.09551"),
        "{}",
        stderr(&o)
    );

    // k larger than the number of papers: everything, with a note; k = 0 is refused.
    let o = f.run(&[
        "related",
        "2409.17146",
        "-k",
        "1000",
        "--json",
        "--index",
        s(&idx),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        json(&o)["results"].as_array().expect("results").len(),
        n - 1
    );
    assert!(
        stderr(&o).contains("more than the 67 other papers"),
        "{}",
        stderr(&o)
    );
    let o = f.run(&[
        "search",
        "diffusion",
        "-k",
        "1000",
        "--mode",
        "dense",
        "--json",
        "--index",
        s(&idx),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["results"].as_array().expect("results").len(), n);
    assert!(
        stderr(&o).contains("more than the 68 papers"),
        "{}",
        stderr(&o)
    );
    let o = f.run(&["related", "2409.17146", "-k", "0", "--index", s(&idx)]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(stderr(&o).contains("must be at least 1"), "{}", stderr(&o));

    // A query of only spaces, in every mode.
    for mode in ["dense", "lexical", "hybrid"] {
        let o = f.run(&["search", "   ", "--mode", mode, "--index", s(&idx)]);
        assert!(!o.status.success(), "{mode}");
        assert!(
            stderr(&o).contains("query is empty"),
            "{mode}: {}",
            stderr(&o)
        );
    }
    let o = f.run(&["related", "  ", "--index", s(&idx)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("query is empty"), "{}", stderr(&o));

    // A lexical query without any known word: no results, a hint, and exit 3 (not found).
    let o = f.run(&["search", "qqqzzz", "--mode", "lexical", "--index", s(&idx)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stdout(&o).is_empty() && stderr(&o).contains("no paper contains"),
        "{}",
        stderr(&o)
    );

    // No index, and an index made with another model.
    let o = f.run(&["search", "x", "--index", s(&f.root().join("nope"))]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("papermap index"), "{}", stderr(&o));
    let other = f.other_model(2);
    let o = Command::new(BIN)
        .args([
            "search",
            "diffusion",
            "--index",
            s(&idx),
            "--model",
            s(&other),
        ])
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the index was built with")
            && stderr(&o).contains("hint: pass --model"),
        "{}",
        stderr(&o)
    );
    // Lexical search needs no model at all.
    let o = Command::new(BIN)
        .args([
            "search",
            "diffusion",
            "--mode",
            "lexical",
            "--index",
            s(&idx),
            "--model",
            s(&other),
        ])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_empty_index_is_refused_clearly() {
    let f = Fixture::new();
    let digests = f.root().join("empty-digests");
    std::fs::create_dir_all(&digests).expect("mkdir");
    std::fs::write(
        digests.join("2024-01-01.md"),
        "## Daily Papers (2024-01-01)\n\n### [No Summary Here](https://arxiv.org/abs/2401.00001)\n\nVote: 3\n",
    )
    .expect("write");
    let idx = f.index("empty", &digests, &[]);
    assert!(Index::open(&idx).expect("open").is_empty());
    for args in [
        vec!["related", "2401.00001"],
        vec!["search", "anything"],
        vec!["search", "anything", "--mode", "lexical"],
        vec!["eval", "titles"],
    ] {
        let mut a = args.clone();
        a.extend(["--index", s(&idx)]);
        let o = f.run(&a);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            stderr(&o).contains("holds no papers"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn eval_titles_reports_three_modes_and_caches_title_vectors() {
    let f = Fixture::new();
    let idx = f.index("idx-sum", &f.digests, &["--text", "summary"]);
    let o = f.run(&["eval", "titles", "--index", s(&idx)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "| dense ",
        "| lexical ",
        "| hybrid ",
        "Recall@1",
        "Recall@10",
        "MRR@100",
        "summary check:",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    assert!(
        stderr(&o).contains("embedded 68/68 titles"),
        "{}",
        stderr(&o)
    );
    let cache = idx.join(papermap::quality::TITLE_QUERIES_FILE);
    assert!(cache.exists());

    // Second run: from the cache, same numbers, JSON on request.
    let o = f.run(&["eval", "titles", "--json", "--index", s(&idx)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("embedded"), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["text_recipe"], "summary");
    assert_eq!(v["metrics"].as_array().expect("metrics").len(), 3);
    let index = Index::open(&idx).expect("open");
    let cached = papermap::quality::cached_title_queries(&index).expect("cached");
    let m = search::evaluate_titles(&index, &VectorBackend::Cpu, &cached).expect("eval");
    assert!((v["metrics"][2]["recall_at_1"].as_f64().expect("r1") - m[2].recall_at_1).abs() < 1e-9);
    // Lexical uses only the summary in a `summary` index: a title query cannot match itself.
    assert!(m[1].recall_at_1 < 1.0);

    // `stats --index` lists the summary check (from the cache: nothing is embedded).
    let o = f.run(&["stats", s(&f.digests), "--index", s(&idx)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("unique papers:") && stdout(&o).contains("summary check:"),
        "{}",
        stdout(&o)
    );
    assert!(!stderr(&o).contains("embedded"), "{}", stderr(&o));

    // A cache written for another model is ignored, not trusted.
    let mut manifest = index.manifest().clone();
    manifest.model_fingerprint = "sha256:other".into();
    let stale = Index::from_parts(
        index.dir().to_path_buf(),
        manifest,
        index.papers().to_vec(),
        index.vectors().to_vec(),
    )
    .expect("index");
    assert!(papermap::quality::cached_title_queries(&stale).is_none());
}

#[test]
fn the_summary_check_of_a_title_summary_index_compares_summaries_embedded_alone() {
    let f = Fixture::new();
    let sum = f.index("idx-sum", &f.digests, &["--text", "summary"]);
    let both = f.index("idx-both", &f.digests, &[]);
    let o = f.run(&["eval", "titles", "--json", "--index", s(&both)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("embedded 68/68 titles")
            && stderr(&o).contains("embedded 68/68 summaries"),
        "{}",
        stderr(&o)
    );
    assert!(both.join(papermap::quality::SUMMARY_PASSAGES_FILE).exists());
    let check_both = json(&o)["summary_check"].clone();

    // A summary index is its own summary vectors: nothing more is embedded, and the check,
    // over the same summaries, is the same check.
    let o = f.run(&["eval", "titles", "--json", "--index", s(&sum)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("summaries"), "{}", stderr(&o));
    assert!(!sum.join(papermap::quality::SUMMARY_PASSAGES_FILE).exists());
    let check_sum = json(&o)["summary_check"].clone();
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().expect("number");
    for k in ["median", "mad", "threshold"] {
        assert!(
            (num(&check_both, k) - num(&check_sum, k)).abs() < 1e-5,
            "{k}: {check_both} vs {check_sum}"
        );
    }
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["outliers"]
            .as_array()
            .expect("outliers")
            .iter()
            .map(|o| o["arxiv_id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(ids(&check_both), ids(&check_sum));

    // The vectors are cached: a second check embeds nothing.
    let o = f.run(&["stats", s(&f.digests), "--index", s(&both)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("embedded"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// Library tests on the golden reference vectors (no model needed).

/// An in-memory `summary` index of the 68 seed papers with their reference passage vectors,
/// and the reference title query vectors.
fn reference_index() -> (Index, Vec<f32>) {
    let refs = common::reference_papers();
    let mut papers = Vec::new();
    let (mut vectors, mut queries) = (Vec::new(), Vec::new());
    for (i, r) in refs.iter().enumerate() {
        let summary = r["doc_input"]
            .as_str()
            .expect("doc")
            .trim_start_matches("passage: ")
            .to_string();
        let paper: Paper = serde_json::from_value(serde_json::json!({
            "arxiv_id": r["arxiv_id"], "title": r["title"], "url": "", "date": "2024-01-01",
            "dates": [], "votes": null, "authors": [], "thumbnail": null, "whats_new": null,
            "technical_details": null, "performance_highlights": null, "summary": summary,
            "source": {"file": "ref", "line": i + 1},
        }))
        .expect("paper");
        papers.push(IndexedPaper {
            paper,
            key: format!("{i:064x}"),
        });
        vectors.extend(common::f32s(&r["doc_embedding"]));
        queries.extend(common::f32s(&r["query_embedding"]));
    }
    let manifest = common::in_memory_manifest(papers.len());
    let index =
        Index::from_parts(PathBuf::from("/nonexistent"), manifest, papers, vectors).expect("index");
    (index, queries)
}

#[test]
fn reference_vectors_titles_find_their_summaries() {
    let (index, queries) = reference_index();
    let m = search::evaluate_titles(&index, &VectorBackend::Cpu, &queries).expect("eval");
    assert_eq!(
        m.iter().map(|x| x.mode).collect::<Vec<_>>(),
        Mode::ALL.to_vec()
    );
    for x in &m {
        assert_eq!(x.queries, 68);
        assert!(
            x.recall_at_1 <= x.recall_at_10
                && x.mrr >= x.recall_at_1
                && x.mrr <= x.recall_at_10.max(x.mrr)
        );
    }
    // 63 of 68 seed titles rank their own summary first with the reference vectors.
    assert!(m[0].recall_at_1 > 0.9, "{m:?}");
    assert!(m[0].recall_at_10 > 0.99, "{m:?}");
    // The dense search of one title agrees with the batched evaluation.
    let s = Searcher::new(&index, &VectorBackend::Cpu, None).expect("searcher");
    let hits = s
        .search(&index.paper(0).title, Some(&queries[..384]), Mode::Dense, 3)
        .expect("search");
    assert_eq!(hits.len(), 3);
    let batch = search::top_k(index.vectors(), 384, &queries[..384], 3, None).expect("top_k");
    assert_eq!(hits, batch[0]);
}

#[test]
fn summary_check_flags_a_summary_of_another_paper() {
    let (index, queries) = reference_index();
    let clean = papermap::quality::summary_outliers(
        &index,
        index.vectors(),
        &queries,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("check");
    assert_eq!(clean.papers, 68);
    assert!(clean.outliers.is_empty(), "{:?}", clean.outliers);
    assert!(clean.median > 0.8 && clean.mad > 0.0, "{clean:?}");
    // Paper 10 gets the vector of an unrelated paper's summary, as the upstream summariser did
    // for 2407.17398: it is flagged, and nothing else is.
    let dim = 384;
    let far = (0..68)
        .filter(|&j| j != 10)
        .min_by(|&a, &b| {
            let cos = |j: usize| -> f32 {
                index
                    .vector(j)
                    .iter()
                    .zip(&queries[10 * dim..11 * dim])
                    .map(|(x, y)| x * y)
                    .sum()
            };
            cos(a).total_cmp(&cos(b))
        })
        .expect("some paper");
    let v = index.vector(far).to_vec();
    let mut vectors = index.vectors().to_vec();
    vectors[10 * dim..11 * dim].copy_from_slice(&v);
    let index = Index::from_parts(
        index.dir().to_path_buf(),
        index.manifest().clone(),
        index.papers().to_vec(),
        vectors,
    )
    .expect("index");
    let c = papermap::quality::summary_outliers(
        &index,
        index.vectors(),
        &queries,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("check");
    let flagged: Vec<&str> = c.outliers.iter().map(|o| o.arxiv_id.as_str()).collect();
    assert_eq!(flagged, vec![index.paper(10).arxiv_id.as_str()], "{c:?}");
    // It carries `far`'s summary, which fits `far`'s own title.
    let o = &c.outliers[0];
    assert!(o.robust_z < papermap::quality::SUSPECT_Z && o.similarity < c.suspect_threshold);
    assert_eq!(
        o.copy_of.as_deref(),
        Some(index.paper(far).arxiv_id.as_str())
    );
    // Wrong sizes are errors, not panics.
    assert!(matches!(
        papermap::quality::summary_outliers(
            &index,
            index.vectors(),
            &queries[..dim],
            &papermap::vectors::VectorBackend::Cpu
        ),
        Err(SearchError::Vectors(
            papermap::vectors::VectorError::Mismatch { .. }
        ))
    ));
}

#[test]
fn related_all_matches_single_related_and_finds_papers_by_title() {
    let (index, _) = reference_index();
    let all = search::related_all(index.vectors(), 384, 5).expect("related_all");
    assert_eq!(all.len(), 68);
    for (i, hits) in all.iter().enumerate() {
        let one = search::related(&index, &VectorBackend::Cpu, i, 5).expect("related");
        assert_eq!(
            hits.iter().map(|h| h.row).collect::<Vec<_>>(),
            one.iter().map(|h| h.row).collect::<Vec<_>>()
        );
        assert!(hits
            .iter()
            .zip(&one)
            .all(|(a, b)| (a.score - b.score).abs() < 1e-5));
        assert!(hits.iter().all(|h| h.row != i));
    }
    let title = index.paper(3).title.clone();
    assert_eq!(search::find_paper(&index, &title).expect("by title"), 3);
    assert_eq!(
        search::find_paper(&index, &title.to_uppercase()).expect("case"),
        3
    );
    let id = index.paper(3).arxiv_id.clone();
    assert_eq!(
        search::find_paper(&index, &format!("arXiv:{id}v2")).expect("by id"),
        3
    );
    assert!(matches!(
        search::find_paper(&index, "9999.99999"),
        Err(SearchError::UnknownPaper { .. })
    ));
    assert!(matches!(
        search::related(&index, &VectorBackend::Cpu, 0, 0),
        Err(SearchError::ZeroK)
    ));
    let s = Searcher::new(&index, &VectorBackend::Cpu, None).expect("searcher");
    assert!(matches!(
        s.search("x", None, Mode::Dense, 3),
        Err(SearchError::NeedsVector(Mode::Dense))
    ));
    assert!(matches!(
        s.search(" \t ", None, Mode::Lexical, 3),
        Err(SearchError::EmptyQuery)
    ));
}

/// Reads a float32 C-order `.npy` matrix.
fn read_npy(path: &Path) -> Vec<f32> {
    let b = std::fs::read(path).expect("npy");
    let header = u16::from_le_bytes([b[8], b[9]]) as usize;
    b[10 + header..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Development probe: all three modes and the summary check over the whole archive, from
/// externally computed vectors (`PROBE_VECS` holding `titles.npy` and `summaries.npy` in the
/// order of the archive's papers with a summary).
#[test]
#[ignore]
fn probe_archive_with_vectors() {
    let Ok(dir) = std::env::var("PROBE_VECS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let corpus = papermap::corpus::load(&[common::shared().join("data/archive")]).expect("archive");
    let papers: Vec<IndexedPaper> = corpus
        .papers
        .iter()
        .filter(|p| p.has_summary())
        .map(|p| IndexedPaper {
            paper: p.clone(),
            key: p.summary.clone(),
        })
        .collect();
    let (reference, _) = reference_index();
    let mut manifest = reference.manifest().clone();
    manifest.papers = papers.len();
    let vectors = read_npy(&dir.join("summaries.npy"));
    let index =
        Index::from_parts(PathBuf::from("/nonexistent"), manifest, papers, vectors).expect("index");
    let queries = read_npy(&dir.join("titles.npy"));
    assert_eq!(index.vectors().len(), index.len() * 384);
    let t = std::time::Instant::now();
    let ranks = eval::title_ranks(&index, &VectorBackend::Cpu, &queries).expect("ranks");
    for m in eval::metrics_from_ranks(&ranks) {
        println!(
            "{:<8} R@1 {:.3} R@10 {:.3} MRR {:.3}",
            m.mode.name(),
            m.recall_at_1,
            m.recall_at_10,
            m.mrr
        );
    }
    println!("ranked in {:.1}s", t.elapsed().as_secs_f64());
    let c = papermap::quality::summary_outliers(
        &index,
        index.vectors(),
        &queries,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("check");
    println!(
        "median {:.4} mad {:.4} threshold {:.4}: {} flagged",
        c.median,
        c.mad,
        c.threshold,
        c.outliers.len()
    );
    for o in &c.outliers {
        println!(
            "  {} {:.4} z {:.1} {}",
            o.arxiv_id, o.similarity, o.robust_z, o.title
        );
    }
    let i = index
        .papers()
        .iter()
        .position(|p| p.paper.arxiv_id == "2407.17398")
        .expect("2407.17398");
    let sim: f32 = index
        .vector(i)
        .iter()
        .zip(&queries[i * 384..(i + 1) * 384])
        .map(|(a, b)| a * b)
        .sum();
    println!("2407.17398: similarity {sim:.4}, ranks {:?}", ranks[i]);
}

/// The measured quality on the archive, when its `--text summary` index is on this machine
/// (`PAPERMAP_ARCHIVE_INDEX`, default `~/.cache/papermap/archive-summary-idx`) with the real
/// model; skipped otherwise.
#[test]
fn archive_hybrid_recall_at_1_reaches_0_75() {
    let dir = std::env::var_os("PAPERMAP_ARCHIVE_INDEX")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/papermap/archive-summary-idx"))
        });
    let Some(dir) = dir.filter(|d| d.join("manifest.json").exists()) else {
        eprintln!("skipped: no archive summary index");
        return;
    };
    let o = Command::new(BIN)
        .args(["eval", "titles", "--json", "--offline", "--index", s(&dir)])
        .output()
        .expect("run");
    if !o.status.success() && stderr(&o).contains("model") {
        eprintln!("skipped: {}", stderr(&o));
        return;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["text_recipe"], "summary");
    let hybrid = &v["metrics"][2];
    assert_eq!(hybrid["mode"], "hybrid");
    assert!(hybrid["recall_at_1"].as_f64().expect("r1") >= 0.75, "{v}");
    let flagged: Vec<&str> = v["summary_check"]["outliers"]
        .as_array()
        .expect("outliers")
        .iter()
        .filter_map(|o| o["arxiv_id"].as_str())
        .collect();
    assert!(flagged.contains(&"2407.17398"), "{flagged:?}");
}

// ---------------------------------------------------------------------------------------------
// The summary check against papers read by hand.

#[test]
fn summary_check_holds_on_papers_read_by_hand() {
    let labels: Vec<serde_json::Value> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/summary_labels.jsonl"),
    )
    .expect("labels")
    .lines()
    .map(|l| serde_json::from_str(l).expect("label"))
    .collect();
    let (index, titles) = common::archive_summary_index(None);
    assert_eq!(index.len(), 4342);
    let check = papermap::quality::summary_outliers(
        &index,
        index.vectors(),
        &titles,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("check");
    let flagged: std::collections::HashSet<&str> =
        check.outliers.iter().map(|o| o.arxiv_id.as_str()).collect();
    let wrong = |l: &serde_json::Value| l["describes"] == false;
    let id = |l: &serde_json::Value| l["arxiv_id"].as_str().expect("id").to_string();
    let tp = labels
        .iter()
        .filter(|l| wrong(l) && flagged.contains(id(l).as_str()))
        .count();
    let fp = labels
        .iter()
        .filter(|l| !wrong(l) && flagged.contains(id(l).as_str()))
        .count();
    let bad = labels.iter().filter(|l| wrong(l)).count();
    let (precision, recall) = (tp as f64 / (tp + fp) as f64, tp as f64 / bad as f64);
    println!("labelled {} ({bad} wrong): flagged {} of the archive, precision {precision:.3}, recall {recall:.3}", labels.len(), flagged.len());
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision:.3}, recall {recall:.3}"
    );
    // The known mismatch stays flagged; correct summaries behind odd titles do not.
    assert!(flagged.contains("2407.17398"));
    for good in ["2412.06781", "2502.01584", "2502.06807"] {
        assert!(!flagged.contains(good), "{good} flagged");
    }
    // The last three months, which hold no wrong summary, indexed alone: under 0.3 % flagged.
    let (recent, titles) = common::archive_summary_index(Some("2024-12-01"));
    assert_eq!(recent.len(), 1129);
    let c = papermap::quality::summary_outliers(
        &recent,
        recent.vectors(),
        &titles,
        &papermap::vectors::VectorBackend::Cpu,
    )
    .expect("check");
    let share = c.outliers.len() as f64 / recent.len() as f64;
    println!(
        "2024-12..2025-02 alone: {} of {} flagged",
        c.outliers.len(),
        recent.len()
    );
    assert!(
        share < 0.003,
        "{} of {} flagged",
        c.outliers.len(),
        recent.len()
    );
}

#[test]
fn the_learned_lexicon_is_stored_with_the_index_and_relearned_on_update() {
    let f = Fixture::new();
    let held_back = f.root().join("2025-02-21.md");
    std::fs::rename(f.digests.join("2025-02-21.md"), &held_back).expect("move");
    f.build_index();
    // `papermap index` writes lexical.bin with the lexicon its model confirms; a search
    // (which loads no full model) reads that one.
    let index = Index::open(&f.index).expect("open");
    assert!(f.index.join(search::lexical_store::FILE).exists());
    let files =
        papermap::embed::ModelFiles::from_dir(&f.model, "tiny", papermap::embed::ModelSource::Flag)
            .expect("files");
    let encoder = papermap::embed::Encoder::load(&files, &Default::default()).expect("load");
    let checked = search::lexical::learn_lexicon(&index, Some(&encoder)).expect("learn");
    let unchecked = search::lexical::learn_lexicon(&index, None).expect("learn");
    assert!(!unchecked.is_empty(), "the sample states translations");
    assert_ne!(checked, unchecked, "the tiny model admits some candidate");
    let stored = search::lexical_store::load_or_build(&index, None).expect("bm25");
    assert_eq!(stored.lexicon(), &checked);
    assert_eq!(stored.len(), index.len());
    f.papermap_ok(&["search", "diffusion", "--mode", "lexical"]);
    let stored = search::lexical_store::load_or_build(&index, None).expect("bm25");
    assert_eq!(
        stored.lexicon(),
        &checked,
        "the search kept the confirmed lexicon"
    );

    // Without the file, a search learns from the alignment alone; the model's next visit
    // (here the library call `papermap index` makes) replaces it with the confirmed one.
    std::fs::remove_file(f.index.join(search::lexical_store::FILE)).expect("rm");
    let stored = search::lexical_store::load_or_build(&index, None).expect("bm25");
    assert_eq!(stored.lexicon(), &unchecked);
    papermap::workspace::prepare_lexical(&f.index, &encoder).expect("prepare");
    let stored = search::lexical_store::load_or_build(&index, None).expect("bm25");
    assert_eq!(stored.lexicon(), &checked);

    // An update with a new digest: the stored lexicon is relearned from all papers.
    std::fs::rename(&held_back, f.digests.join("2025-02-21.md")).expect("move back");
    f.build_index();
    let updated = Index::open(&f.index).expect("open");
    assert!(updated.len() > index.len());
    let relearned = search::lexical::learn_lexicon(&updated, Some(&encoder)).expect("learn");
    assert_ne!(relearned, checked, "new papers, new pairs");
    let stored = search::lexical_store::load_or_build(&updated, None).expect("bm25");
    assert_eq!(stored.lexicon(), &relearned);
    assert_eq!(stored.len(), updated.len());
}

#[test]
fn a_damaged_posting_list_is_rebuilt_and_the_search_answers_as_before() {
    let f = Fixture::new();
    f.build_index();
    let index = Index::open(&f.index).expect("open");
    let path = f.index.join(search::lexical_store::FILE);
    let query = "diffusion 모델 video generation";
    let before = Searcher::new(&index, &VectorBackend::Cpu, None)
        .expect("searcher")
        .search(query, None, Mode::Lexical, 10)
        .expect("search");
    assert!(!before.is_empty());
    // Every byte of the posting lists' tail flipped: the dictionary and lengths still verify,
    // the lists the query reads do not.
    let good = std::fs::read(&path).expect("read");
    let mut bad = good.clone();
    let n = bad.len();
    for b in &mut bad[n - n / 3..] {
        *b ^= 0x55;
    }
    std::fs::write(&path, &bad).expect("write");
    let searcher =
        Searcher::new(&index, &VectorBackend::Cpu, None).expect("the damaged file still opens");
    let after = searcher
        .search(query, None, Mode::Lexical, 10)
        .expect("search");
    // The statistics built again are those of a search that finds no file: the lexicon learned
    // without the model until the next `papermap index` (the rows found stay the first ones).
    let rebuilt = search::Bm25::from_index(&index, None)
        .expect("build")
        .search(query, 10, None);
    assert_eq!(format!("{after:?}"), format!("{rebuilt:?}"));
    assert_eq!(
        after[..6].iter().map(|h| h.row).collect::<Vec<_>>(),
        before[..6].iter().map(|h| h.row).collect::<Vec<_>>()
    );
    assert!(
        !searcher.bm25().damaged(),
        "answered from rebuilt statistics"
    );
    let rewritten = std::fs::read(&path).expect("rebuilt file");
    assert_ne!(rewritten, bad, "the damaged file was replaced");
    // The CLI answers the same way on a damaged file.
    std::fs::write(&path, &bad).expect("write");
    let o = f.papermap_ok(&["search", query, "--mode", "lexical", "--json"]);
    let rows = json(&o)["results"].as_array().map(Vec::len);
    assert_eq!(rows, Some(before.len()));
}
