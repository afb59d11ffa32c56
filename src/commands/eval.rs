//! `papermap eval titles`: search every paper's title, report Recall@1/@10 and MRR per mode,
//! and the summary check.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use papermap::index::TextRecipe;
use papermap::search::eval::{metrics_from_ranks, title_ranks};
use papermap::workspace::Workspace;

use super::options::ModelOpts;
use super::options::DEFAULT_INDEX;

/// What to evaluate.
#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Each paper's English title as a query: is its own paper found (Recall@1, @10, MRR@100)?
    Titles {
        /// Index directory (build it with `--text summary` for an honest measurement).
        #[arg(long, default_value = DEFAULT_INDEX)]
        index: PathBuf,
        /// List every flagged paper of the summary check (default: the first 20).
        #[arg(long)]
        all_outliers: bool,
        #[command(flatten)]
        model: ModelOpts,
    },
    /// Title retrieval under each source of query translations (none, brackets, glossary,
    /// learned lexicon), optionally on a time split.
    Lexicon {
        /// Index directory (built with `--text summary`).
        #[arg(long, default_value = DEFAULT_INDEX)]
        index: PathBuf,
        /// Learn the lexicon from papers dated before this day (YYYY-MM-DD) and evaluate the
        /// titles of the papers from that day on; without it, learn from and evaluate all.
        #[arg(long, value_name = "DATE", value_parser = day)]
        learn_before: Option<String>,
        #[command(flatten)]
        model: ModelOpts,
    },
    /// Queries as people type them, with judged papers: nDCG@10 per mode.
    Queries {
        /// Index directory (the one people search: `title+summary` by default).
        #[arg(long, default_value = DEFAULT_INDEX)]
        index: PathBuf,
        #[command(flatten)]
        judged: Judged,
        #[command(flatten)]
        model: ModelOpts,
    },
    /// Recommendations from a library: each judged query is a reader who liked its papers
    /// graded 2 before `--split`; how high do its later papers graded 2 rank (nDCG@10,
    /// recall@20), for papermap's vector SVM, the liked papers' centroid, arxiv-sanity's tf-idf
    /// SVM, both views in one SVM, and what papermap serves (`svm+words`: the vector SVM's best,
    /// ranked again over vector and words)?
    Library {
        /// Index directory.
        #[arg(long, default_value = DEFAULT_INDEX)]
        index: PathBuf,
        #[command(flatten)]
        judged: Judged,
        /// The day that splits each reader's liked papers (before) from those to find (on or
        /// after).
        #[arg(long, value_name = "DATE", value_parser = day, default_value = "2024-07-01")]
        split: String,
        /// The SVM's cost per class-balanced example.
        #[arg(long, default_value_t = papermap::library::recommend::Options::default().c)]
        c: f32,
        /// Papers sampled evenly from the index as the SVM's examples of the rest.
        #[arg(long, default_value_t = papermap::library::recommend::Options::default().negatives)]
        negatives: usize,
    },
}

/// The judged queries: what people typed and the papers graded for it.
#[derive(clap::Args, Debug)]
pub struct Judged {
    /// Queries, JSON Lines with `id` and `query`.
    #[arg(long, default_value = "tests/data/search_queries.jsonl")]
    queries: PathBuf,
    /// Judgments, JSON Lines with `qid`, `arxiv_id` and `rel` (0, 1 or 2).
    #[arg(long, default_value = "tests/data/search_judgments.jsonl")]
    judgments: PathBuf,
}

/// `papermap eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Runs `papermap eval ...`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let json = output.json;
    let (index, all_outliers, model) = match args.cmd {
        Cmd::Titles {
            index,
            all_outliers,
            model,
        } => (index, all_outliers, model),
        Cmd::Queries {
            index,
            judged,
            model,
        } => return run_queries(&index, &judged, &model, json),
        Cmd::Library {
            index,
            judged,
            split,
            c,
            negatives,
        } => {
            let options = papermap::library::recommend::Options {
                c,
                negatives,
                ..Default::default()
            };
            return run_library(&index, &judged, &split, &options, json);
        }
        Cmd::Lexicon {
            index,
            learn_before,
            model,
        } => return run_lexicon(&index, learn_before.as_deref(), &model, json),
    };
    let ws = Workspace::open(&index, &model.choice()?)?;
    let idx = ws.index();
    if idx.is_empty() {
        return Err(papermap::search::SearchError::EmptyIndex.into());
    }
    let mut progress = super::output::check_progress();
    let titles = ws.title_vectors(&mut progress)?;
    let t = Instant::now();
    let ranks = title_ranks(idx, ws.backend(), &titles.vectors)?;
    let metrics = metrics_from_ranks(&ranks);
    let secs = t.elapsed().as_secs_f64();
    let (check, cache_error) = ws.summary_check_with(&titles, &mut progress)?;
    super::output::warn_uncached(cache_error.as_deref());
    let recipe = idx.manifest().text_recipe;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let r = (|| -> std::io::Result<()> {
        if json {
            let v = serde_json::json!({
                "index": index.to_string_lossy(),
                "text_recipe": recipe.name(),
                "papers": idx.len(),
                "metrics": metrics,
                "summary_check": check,
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            return writeln!(out);
        }
        writeln!(
            out,
            "title -> own paper over {} papers ({}, text recipe {}), ranked in {secs:.1}s",
            idx.len(),
            index.display(),
            recipe.name()
        )?;
        if recipe == TextRecipe::TitleSummary {
            writeln!(
                out,
                "note: this index embeds the titles themselves, so titles find their papers trivially; \
                 build one with `--text summary` for a meaningful number"
            )?;
        }
        writeln!(out)?;
        writeln!(out, "| mode    | Recall@1 | Recall@10 | MRR@100 |")?;
        writeln!(out, "|---------|---------:|----------:|--------:|")?;
        for m in &metrics {
            writeln!(
                out,
                "| {:<7} | {:>8.3} | {:>9.3} | {:>7.3} |",
                m.mode.name(),
                m.recall_at_1,
                m.recall_at_10,
                m.mrr
            )?;
        }
        writeln!(out)?;
        super::output::write_summary_check(
            &mut out,
            &check,
            if all_outliers { usize::MAX } else { 20 },
        )
    })();
    super::output::ignore_broken_pipe(r.and_then(|()| out.flush()))
}

/// Every paper's title query vector, with progress, and a warning when they could not be cached.
fn title_vectors(ws: &Workspace) -> anyhow::Result<Vec<f32>> {
    let tq = ws.title_vectors(&mut super::output::check_progress())?;
    super::output::warn_uncached(tq.cache_error.as_deref());
    Ok(tq.vectors)
}

/// `papermap eval queries`.
fn run_queries(
    dir: &std::path::Path,
    judged: &Judged,
    model: &ModelOpts,
    json: bool,
) -> anyhow::Result<()> {
    let judged = papermap::search::eval::read_judged(&judged.queries, &judged.judgments)?;
    let ws = Workspace::open(dir, &model.choice()?)?;
    let index = ws.index();
    let (metrics, judged) = ws.evaluate_queries(judged)?;
    if json {
        return super::output::print_json(&serde_json::json!({
            "index": dir,
            "queries": judged,
            "metrics": metrics,
        }));
    }
    println!(
        "{judged} judged queries over {} papers ({})\n",
        index.len(),
        dir.display()
    );
    println!("| mode    | nDCG@10 | judged@10 |");
    println!("|---------|--------:|----------:|");
    for m in &metrics {
        println!(
            "| {:<7} | {:>7.3} | {:>9.2} |",
            m.mode.name(),
            m.ndcg_at_10,
            m.judged_at_10
        );
    }
    Ok(())
}

/// `papermap eval library`.
fn run_library(
    dir: &std::path::Path,
    judged: &Judged,
    split: &str,
    options: &papermap::library::recommend::Options,
    json: bool,
) -> anyhow::Result<()> {
    let judged = papermap::search::eval::read_judged(&judged.queries, &judged.judgments)?;
    let index = papermap::index::Index::open(dir)?;
    let t = Instant::now();
    let bm25 = papermap::search::lexical_store::load_or_build(&index, None)?;
    let r = papermap::library::eval::evaluate(&index, &bm25, &judged, split, options);
    if json {
        return super::output::print_json(&serde_json::json!({ "index": dir, "report": r }));
    }
    println!(
        "{} readers over {} papers ({}); liked before {}: {:.1} papers each; to find among the \
         {} papers from then on: {:.1} each ({:.1}s)\n",
        r.readers,
        index.len(),
        dir.display(),
        r.split,
        r.liked,
        r.candidates,
        r.targets,
        t.elapsed().as_secs_f64()
    );
    println!(
        "papermap's SVM trains in {:.1} ms a reader (liked papers against {} sampled)\n",
        r.train_ms, options.negatives
    );
    println!("| recommender | nDCG@10 | recall@20 |");
    println!("|-------------|--------:|----------:|");
    for s in &r.scores {
        println!(
            "| {:<11} | {:>7.3} | {:>9.3} |",
            s.method, s.ndcg_at_10, s.recall_at_20
        );
    }
    Ok(())
}

/// `papermap eval lexicon`.
fn run_lexicon(
    dir: &std::path::Path,
    learn_before: Option<&str>,
    model: &ModelOpts,
    json: bool,
) -> anyhow::Result<()> {
    let ws = Workspace::open(dir, &model.choice()?)?;
    let vectors = title_vectors(&ws)?;
    // The learned rows are confirmed by the model's word vectors, as `papermap index` does.
    let table = papermap::search::eval::translation_table(
        ws.index(),
        ws.backend(),
        &vectors,
        learn_before,
        Some(ws.encoder()?),
    )?;
    if json {
        return super::output::print_json(&serde_json::json!({
            "index": dir,
            "learn_before": learn_before,
            "rows": table,
        }));
    }
    let queries = table
        .first()
        .and_then(|r| r.metrics.first())
        .map_or(0, |m| m.queries);
    match learn_before {
        Some(d) => println!(
            "titles of the {queries} papers from {d} on, lexicon learned from the papers before ({})\n",
            dir.display()
        ),
        None => println!(
            "titles of all {queries} papers, lexicon learned from all ({})\n",
            dir.display()
        ),
    }
    println!("| translations        | pairs | mode    | Recall@1 | Recall@10 | MRR@100 |");
    println!("|---------------------|------:|---------|---------:|----------:|--------:|");
    for (i, row) in table.iter().enumerate() {
        for m in &row.metrics {
            // Dense does not translate: printed once.
            if m.mode == papermap::search::Mode::Dense && i > 0 {
                continue;
            }
            println!(
                "| {:<19} | {:>5} | {:<7} | {:>8.3} | {:>9.3} | {:>7.3} |",
                row.translations.name(),
                row.lexicon_pairs,
                m.mode.name(),
                m.recall_at_1,
                m.recall_at_10,
                m.mrr
            );
        }
    }
    Ok(())
}

/// A day as YYYY-MM-DD (compared as text with the papers' dates).
fn day(d: &str) -> Result<String, String> {
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    if ok && digits(0..4) && digits(5..7) && digits(8..10) {
        Ok(d.to_string())
    } else {
        Err(format!("{d:?} is not a day as YYYY-MM-DD"))
    }
}
