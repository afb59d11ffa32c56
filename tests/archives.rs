//! Archives that are not digests, in their real formats (`tests/data/archives`, written from the
//! public schemas by `make_fixtures.py`): arXiv's snapshot plain, gzip, zstd and cut short;
//! Hugging Face Daily Papers one day, many days and JSON Lines; tables as CSV, JSON Lines and
//! Parquet. Every odd record is warned about at its line and counted, never dropped silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use papermap::corpus::archive::{Fields, Format, ReadOptions, Selection};
use papermap::corpus::{self, Corpus, WarningKind};
use papermap::index::TextRecipe;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/archives")
        .join(name)
}

fn read(name: &str) -> Corpus {
    corpus::load(&[fixture(name)]).expect("reads")
}

fn read_with(paths: &[PathBuf], opts: &ReadOptions) -> Corpus {
    corpus::load_with(paths, opts).expect("reads")
}

/// `(line, kind)` of every warning.
fn warned(c: &Corpus) -> Vec<(usize, WarningKind)> {
    c.warnings.iter().map(|w| (w.line, w.kind)).collect()
}

fn paper<'a>(c: &'a Corpus, id: &str) -> &'a corpus::Paper {
    c.papers
        .iter()
        .find(|p| p.arxiv_id == id)
        .unwrap_or_else(|| panic!("{id} not read"))
}

#[test]
fn formats_are_found_by_extension_and_content() {
    let detect = |n: &str| corpus::archive::detect(&fixture(n)).expect("detect");
    assert_eq!(detect("arxiv-snapshot.json"), Format::Arxiv);
    assert_eq!(detect("arxiv-snapshot.json.gz"), Format::Arxiv);
    assert_eq!(detect("arxiv-snapshot.json.zst"), Format::Arxiv);
    assert_eq!(detect("hf-daily/2024-09-26.json"), Format::HfDaily);
    assert_eq!(detect("hf-daily-many.json"), Format::HfDaily);
    assert_eq!(detect("hf-daily.jsonl"), Format::HfDaily);
    assert_eq!(detect("table.jsonl"), Format::Jsonl);
    assert_eq!(detect("table.csv"), Format::Csv);
    assert_eq!(detect("table.parquet"), Format::Parquet);
    // Parquet by its magic, whatever the name; anything else is a digest, as before.
    let tmp = tempfile::tempdir().expect("tmp");
    let renamed = tmp.path().join("vectors.bin");
    std::fs::copy(fixture("table.parquet"), &renamed).expect("copy");
    assert_eq!(
        corpus::archive::detect(&renamed).expect("detect"),
        Format::Parquet
    );
    let digest = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/2024-09-26.md");
    assert_eq!(
        corpus::archive::detect(&digest).expect("detect"),
        Format::Digest
    );
}

#[test]
fn arxiv_snapshot_plain_gzip_and_zstd_read_the_same_papers() {
    let plain = read("arxiv-snapshot.json");
    // 258 lines: one blank, 5 bad records warned at their lines, 252 papers.
    assert_eq!(plain.tally.records, 257);
    assert_eq!(plain.tally.bad, 5);
    assert_eq!(plain.papers.len(), 252);
    assert_eq!(
        warned(&plain),
        [41, 42, 43, 44, 121].map(|l| (l, WarningKind::BadRecord))
    );
    assert!(plain.warnings[1].message.contains("missing field `id`"));
    assert!(plain.warnings[3].message.contains("invalid type"));
    for packed in ["arxiv-snapshot.json.gz", "arxiv-snapshot.json.zst"] {
        let c = read(packed);
        assert_eq!(c.papers.len(), plain.papers.len(), "{packed}");
        for (a, b) in c.papers.iter().zip(&plain.papers) {
            assert_eq!(
                (&a.arxiv_id, &a.title, &a.abstract_text),
                (&b.arxiv_id, &b.title, &b.abstract_text)
            );
        }
    }
}

#[test]
fn arxiv_records_keep_their_text_without_the_wrapping() {
    let c = read("arxiv-snapshot.json");
    // A version suffix goes, whitespace collapses, LaTeX stays, names split on `and`.
    let p = paper(&c, "2401.00005");
    assert_eq!(p.title, "Spectral methods for graphs");
    assert_eq!(
        p.abstract_text.as_deref(),
        Some("We prove $\\lambda_2 > 0$ for connected graphs.")
    );
    assert_eq!(p.authors, ["Émilie Durand", "Jürgen Groß"]);
    assert_eq!(p.categories, ["math.CO", "cs.DM"]);
    // The date is the first version's, not update_date.
    assert_eq!(p.date.as_deref(), Some("2024-01-02"));
    assert_eq!(p.url, "https://arxiv.org/abs/2401.00005");
    // No versions: update_date.
    assert_eq!(paper(&c, "2401.00006").date.as_deref(), Some("2024-01-05"));
    // Old-style ids.
    let old: Vec<&corpus::Paper> = c
        .papers
        .iter()
        .filter(|p| p.arxiv_id.contains('/'))
        .collect();
    assert_eq!(old.len(), 30);
    assert!(old
        .iter()
        .all(|p| p.url == format!("https://arxiv.org/abs/{}", p.arxiv_id)));
    assert!(old
        .iter()
        .all(|p| p.date.as_deref().is_some_and(|d| d < "2007")));
    // authors_parsed gives `First Last`; no summary, an abstract without arXiv's wrapping.
    let any = &c.papers[0];
    assert!(any.summary.is_empty() && any.has_text());
    let a = any.abstract_text.as_deref().expect("abstract");
    assert!(!a.contains('\n') && !a.starts_with(' ') && a.contains("\\mathcal"));
}

#[test]
fn a_gzip_cut_short_keeps_the_records_before_the_cut() {
    let c = read("arxiv-cut.json.gz");
    let cut = c
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::CutShort)
        .expect("cut-short warning");
    assert!(cut.line > 100, "{cut}");
    assert!(
        c.papers.len() > 100 && c.papers.len() < 252,
        "{}",
        c.papers.len()
    );
    let whole = read("arxiv-snapshot.json");
    for (a, b) in c.papers.iter().zip(&whole.papers) {
        assert_eq!(a, &{
            let mut b = b.clone();
            b.source.file = a.source.file.clone();
            b
        });
    }
}

#[test]
fn categories_and_since_select_while_reading() {
    let path = [fixture("arxiv-snapshot.json")];
    let all = read_with(&path, &ReadOptions::default());
    let select = |categories: &str, since: Option<&str>| {
        read_with(
            &path,
            &ReadOptions {
                select: Selection {
                    categories: Selection::categories_from(categories),
                    since: since.map(str::to_string),
                },
                ..ReadOptions::default()
            },
        )
    };
    let cl = select("cs.CL", None);
    assert!(!cl.papers.is_empty());
    assert!(cl
        .papers
        .iter()
        .all(|p| p.categories.iter().any(|c| c == "cs.CL")));
    assert_eq!(cl.papers.len() + cl.tally.by_category, all.papers.len());
    // A prefix, and a list.
    let cs = select("cs.", None);
    assert!(cs
        .papers
        .iter()
        .all(|p| p.categories.iter().any(|c| c.starts_with("cs."))));
    let cs_count = all
        .papers
        .iter()
        .filter(|p| p.categories.iter().any(|c| c.starts_with("cs.")))
        .count();
    assert_eq!(cs.papers.len(), cs_count);
    let two = select("hep-th, math.AG", None);
    assert_eq!(two.papers.len(), 16);
    let since = select("", Some("2024-06-01"));
    assert!(since
        .papers
        .iter()
        .all(|p| p.date.as_deref() >= Some("2024-06-01")));
    assert_eq!(since.papers.len() + since.tally.by_date, all.papers.len());
    assert!(since.tally.by_date > 30);
}

#[test]
fn hugging_face_daily_papers_one_day_many_days_and_lines() {
    let day = read("hf-daily/2024-09-26.json");
    assert_eq!(day.papers.len(), 11);
    assert_eq!(
        warned(&day),
        [12, 13, 14].map(|l| (l, WarningKind::BadRecord))
    );
    assert!(day.warnings[2].message.contains("upvotes"));
    // The feed's day is the entry's publishedAt, not the paper's first version.
    assert!(day
        .papers
        .iter()
        .all(|p| p.date.as_deref() == Some("2024-09-26")));
    let molmo = paper(&day, "2409.17146");
    assert!(molmo.title.starts_with("Molmo and PixMo"));
    assert_eq!(molmo.votes, Some(38));
    assert_eq!(molmo.authors.len(), 5);
    assert!(molmo
        .abstract_text
        .as_deref()
        .is_some_and(|a| a.starts_with("We study")));
    assert!(molmo
        .thumbnail
        .as_deref()
        .is_some_and(|t| t.ends_with("2409.17146.png")));
    let many = read("hf-daily-many.json");
    assert_eq!(many.papers.len(), 60);
    let days: std::collections::BTreeSet<&str> = many
        .papers
        .iter()
        .filter_map(|p| p.date.as_deref())
        .collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2024-03-04", "2024-03-05", "2024-03-06"]
    );
    let lines = read("hf-daily.jsonl");
    assert_eq!(lines.papers.len(), 40);
    assert_eq!(
        warned(&lines),
        [41, 42].map(|l| (l, WarningKind::BadRecord))
    );
}

#[test]
fn tables_in_csv_json_lines_and_parquet() {
    let csv = read("table.csv");
    assert_eq!(csv.papers.len(), 102);
    assert_eq!(
        warned(&csv),
        [
            (111, WarningKind::BadRecord),
            (112, WarningKind::BadField),
            (113, WarningKind::BadField)
        ]
    );
    // `arXiv:IDv1` is the bare id; a quoted field keeps its commas and loses its newline; `; `
    // separates authors; a bad date leaves the paper undated, bad votes leave it without votes.
    let first = &csv.papers[0];
    assert!(!first.arxiv_id.contains("arXiv") && !first.arxiv_id.contains('v'));
    assert!(first
        .abstract_text
        .as_deref()
        .is_some_and(|a| a.ends_with("with, commas.")));
    assert!(first.authors.len() > 1);
    assert_eq!(paper(&csv, "2405.00002").date, None);
    assert_eq!(paper(&csv, "2405.00003").votes, None);

    let jsonl = read("table.jsonl");
    assert_eq!(jsonl.papers.len(), 61);
    assert_eq!(
        warned(&jsonl),
        [
            (61, WarningKind::BadRecord),
            (62, WarningKind::BadRecord),
            (63, WarningKind::BadField)
        ]
    );
    // `text` is the abstract; a timestamp is a date.
    assert!(jsonl.papers[0].abstract_text.is_some());
    assert_eq!(jsonl.papers[0].date.as_deref().map(str::len), Some(10));

    let pq = read("table.parquet");
    assert_eq!(pq.papers.len(), 100);
    assert_eq!(warned(&pq), [(101, WarningKind::BadRecord)]);
    let p = &pq.papers[0];
    assert!(p.date.is_some() && !p.authors.is_empty() && !p.categories.is_empty());
    assert!(p.abstract_text.is_some());
    let cut = read("table-cut.parquet");
    assert!(cut.papers.is_empty());
    assert_eq!(warned(&cut), [(0, WarningKind::CutShort)]);
}

#[test]
fn named_fields_read_a_table_with_other_column_names() {
    // The CSV's text under another name: --text-field takes it, and an absent one is warned.
    let opts = |text: &str| ReadOptions {
        format: Some(Format::Csv),
        fields: Fields {
            id: Some("paper_id".into()),
            text: Some(text.into()),
            date: Some("published".into()),
            ..Fields::default()
        },
        ..ReadOptions::default()
    };
    let c = read_with(&[fixture("table.csv")], &opts("title"));
    assert!(c
        .papers
        .iter()
        .all(|p| p.abstract_text.as_deref() == Some(p.title.as_str())));
    let c = read_with(&[fixture("table.csv")], &opts("body"));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.line == 0 && w.message.contains("--text-field \"body\"")));
    assert!(c.papers.iter().all(|p| p.abstract_text.is_none()));
}

#[test]
fn a_paper_in_a_digest_and_in_arxiv_is_one_paper_with_both_texts() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let digests = corpus::load(std::slice::from_ref(&seeds)).expect("seeds");
    let both = corpus::load(&[seeds, fixture("arxiv-snapshot.json")]).expect("both");
    // 20 seed papers are in the snapshot too.
    assert_eq!(both.papers.len(), digests.papers.len() + 252 - 20);
    assert_eq!(both.duplicates.len(), 20);
    let molmo = paper(&both, "2409.17146");
    let digest_molmo = paper(&digests, "2409.17146");
    assert_eq!(molmo.summary, digest_molmo.summary);
    assert_eq!(molmo.votes, digest_molmo.votes);
    assert!(molmo.abstract_text.is_some());
    let arxiv = read("arxiv-snapshot.json");
    assert_eq!(molmo.categories, paper(&arxiv, "2409.17146").categories);
    assert!(!molmo.categories.is_empty());
    // Both days: arXiv's first version, two days before the digest.
    assert_eq!(molmo.dates, ["2024-09-24", "2024-09-26"]);
    // Each recipe embeds its text: the digest's summary, or the abstract.
    let text = TextRecipe::TitleSummary.text(molmo);
    assert!(text.ends_with(&molmo.summary));
    let text = TextRecipe::TitleAbstract.text(molmo);
    assert!(text.ends_with(molmo.abstract_text.as_deref().expect("abstract")));
    // An arXiv-only paper: title+summary falls back to the abstract, summary embeds nothing.
    let only = both
        .papers
        .iter()
        .find(|p| p.summary.is_empty())
        .expect("arxiv only");
    assert!(TextRecipe::TitleSummary.embeds(only) && !TextRecipe::Summary.embeds(only));
    assert!(TextRecipe::TitleSummary
        .text(only)
        .ends_with(only.abstract_text.as_deref().unwrap_or("-")));
}

#[test]
fn directories_hold_archives_beside_digests_but_not_indexes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(dir.join("idx/vectors")).expect("mkdir");
    std::fs::copy(fixture("table.jsonl"), dir.join("t.jsonl")).expect("copy");
    std::fs::copy(fixture("arxiv-snapshot.json.gz"), dir.join("a.json.gz")).expect("copy");
    // An index directory's papers file is JSON Lines, not a source.
    std::fs::write(dir.join("idx/manifest.json"), "{}").expect("write");
    std::fs::copy(fixture("table.jsonl"), dir.join("idx/papers-1.jsonl")).expect("copy");
    let c = corpus::load(&[dir]).expect("reads");
    assert_eq!(c.files, 2);
    assert_eq!(c.papers.len(), 252 + 61);
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run papermap")
}

#[test]
fn papers_and_stats_read_archives_with_their_options() {
    let snapshot = fixture("arxiv-snapshot.json.gz");
    let o = run(&[
        "papers",
        snapshot.to_str().expect("utf-8"),
        "--json",
        "--categories",
        "cs.CL",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|p| p["categories"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c == "cs.CL"))));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("arxiv-snapshot.json.gz:42:"), "{err}");
    assert!(err.contains("outside --categories"), "{err}");

    let o = run(&[
        "stats",
        snapshot.to_str().expect("utf-8"),
        "--json",
        "--since",
        "2024-01-01",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stats json");
    assert_eq!(v["archive"]["records"], 257);
    assert_eq!(v["archive"]["bad"], 5);
    let kept = v["unique_papers"].as_u64().expect("count") as usize;
    assert_eq!(
        kept + v["archive"]["by_date"].as_u64().expect("by_date") as usize,
        252
    );

    // --format reads a file whose name says nothing.
    let tmp = tempfile::tempdir().expect("tmp");
    let odd = tmp.path().join("feed.txt");
    std::fs::copy(fixture("hf-daily.jsonl"), &odd).expect("copy");
    let o = run(&[
        "stats",
        odd.to_str().expect("utf-8"),
        "--json",
        "--format",
        "hf-daily",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stats json");
    assert_eq!(v["unique_papers"], 40);
    let o = run(&["stats", odd.to_str().expect("utf-8"), "--format", "yaml"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("hf-daily"));
}

#[test]
fn index_embeds_archive_papers_by_their_abstracts() {
    let f = common::Sample::new();
    let table = fixture("table.parquet");
    f.papermap_ok(&["index", table.to_str().expect("utf-8")]);
    let index = papermap::index::Index::open(&f.index).expect("open");
    assert_eq!(index.len(), 100);
    assert!(index
        .papers()
        .iter()
        .all(|p| p.paper.abstract_text.is_some()));
    // A digest added later: the seed papers join, and the stored ones keep their abstracts.
    f.papermap_ok(&["index", f.digests.to_str().expect("utf-8")]);
    let index = papermap::index::Index::open(&f.index).expect("open");
    assert_eq!(index.len(), 168);
    assert_eq!(
        index
            .papers()
            .iter()
            .filter(|p| p.paper.abstract_text.is_some())
            .count(),
        100
    );
}

#[test]
fn export_parquet_holds_every_paper_with_its_topic_and_vector() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, UInt32Type};
    use arrow_schema::DataType;

    let f = common::Sample::with_index_and_topics(4);
    let out = f.root().join("papers");
    let o = run(&[
        "export",
        "--format",
        "parquet",
        "--out",
        out.to_str().expect("utf-8"),
        "--index",
        f.index.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = std::fs::File::open(f.root().join("papers.parquet")).expect("parquet written");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let index = papermap::index::Index::open(&f.index).expect("open");
    let topics = papermap::topics::load(&f.index)
        .expect("topics")
        .expect("some");
    let mut rows = 0;
    for batch in reader {
        let batch = batch.expect("batch");
        let vector = batch.column_by_name("vector").expect("vector");
        assert_eq!(
            vector.data_type(),
            &DataType::FixedSizeList(
                std::sync::Arc::new(arrow_schema::Field::new("item", DataType::Float32, false)),
                index.dim() as i32
            )
        );
        let vectors = vector.as_fixed_size_list();
        let ids = batch.column_by_name("id").expect("id").as_string::<i32>();
        let topic = batch
            .column_by_name("topic")
            .expect("topic")
            .as_primitive::<UInt32Type>();
        for r in 0..batch.num_rows() {
            let i = rows + r;
            assert_eq!(ids.value(r), index.paper(i).arxiv_id);
            assert_eq!(topic.value(r), topics.assignment[i]);
            let v = vectors.value(r);
            assert_eq!(
                v.as_primitive::<Float32Type>().values().as_ref(),
                index.vector(i)
            );
        }
        rows += batch.num_rows();
    }
    assert_eq!(rows, index.len());
}

#[test]
fn a_hugging_face_day_is_indexed_and_briefed_like_a_digest() {
    let f = common::Sample::new();
    f.build_index();
    let day = fixture("hf-daily/2024-09-26.json");
    // The feed's papers of that day are the seed digest's: they gain the feed's abstracts.
    f.papermap_ok(&["index", day.to_str().expect("utf-8")]);
    let index = papermap::index::Index::open(&f.index).expect("open");
    assert_eq!(index.len(), 68);
    let with_abstract = index
        .papers()
        .iter()
        .filter(|p| p.paper.abstract_text.is_some())
        .count();
    assert_eq!(with_abstract, 11);
    f.papermap_ok(&["topics", "--k", "4"]);
    let out = f.root().join("brief");
    let o = run(&[
        "brief",
        day.to_str().expect("utf-8"),
        "--index",
        f.index.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).expect("brief json");
    assert_eq!(b["date"], "2024-09-26");
    assert_eq!(b["papers"].as_array().map(Vec::len), Some(11));
}
