//! `papermap eval titles`: search every paper's title, report Recall@1/@10 and MRR per mode,
//! and the summary check.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use papermap::index::{Index, TextRecipe};
use papermap::search::eval::{
    metrics_from_ranks, title_queries, title_ranks, OUTLIER_Z, SUSPECT_Z,
};
use papermap::search::{summary_outliers, SummaryCheck};

use super::index::DEFAULT_INDEX;
use super::model::ModelOpts;

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
}

/// `papermap eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Title query vectors of `index`: from the cache, or embedded with the index's model (and
/// cached). Progress goes to stderr.
pub fn title_vectors(index: &Index, model: &ModelOpts) -> anyhow::Result<Vec<f32>> {
    if let Some(v) = papermap::search::eval::cached_title_queries(index) {
        return Ok(v);
    }
    let encoder = super::search::load_index_model(index, model)?;
    let start = Instant::now();
    let mut last = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let tq = title_queries(index, &encoder, &mut |done, total| {
        if done == total || last.elapsed().as_secs_f64() >= 5.0 {
            last = Instant::now();
            let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-9);
            let end = if tty { "\r" } else { "\n" };
            if !super::output::quiet() {
                eprint!("embedded {done}/{total} titles, {rate:.1}/s{end}");
            }
        }
    })?;
    if tty && tq.embedded > 0 {
        super::output::note!();
    }
    if let Some(e) = &tq.cache_error {
        super::output::note!("warning: title vectors not cached: {e}");
    }
    Ok(tq.vectors)
}

/// Runs `papermap eval ...`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let json = output.json;
    let Cmd::Titles {
        index,
        all_outliers,
        model,
    } = args.cmd;
    let idx = Index::open(&index)?;
    if idx.is_empty() {
        return Err(papermap::search::SearchError::EmptyIndex.into());
    }
    let vectors = title_vectors(&idx, &model)?;
    let t = Instant::now();
    let ranks = title_ranks(&idx, &vectors)?;
    let metrics = metrics_from_ranks(&ranks);
    let check = summary_outliers(&idx, &vectors)?;
    let secs = t.elapsed().as_secs_f64();
    let recipe = idx.manifest.text_recipe;
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
        write_summary_check(&mut out, &check, if all_outliers { usize::MAX } else { 20 })
    })();
    super::output::ignore_broken_pipe(r.and_then(|()| out.flush()))
}

/// The summary check as text: the rule, the count, and up to `limit` flagged papers.
pub fn write_summary_check(
    out: &mut impl Write,
    c: &SummaryCheck,
    limit: usize,
) -> std::io::Result<()> {
    writeln!(
        out,
        "summary check: {} of {} papers have a summary that does not describe them: title-to-summary \
         similarity below {:.4} (robust z < {}; median {:.4}, MAD {:.4}), or below {:.4} (z < {}) \
         with the title not finding the paper in the top {} of dense or lexical search",
        c.outliers.len(),
        c.papers,
        c.threshold,
        OUTLIER_Z,
        c.median,
        c.mad,
        c.suspect_threshold,
        SUSPECT_Z,
        c.depth
    )?;
    for o in c.outliers.iter().take(limit) {
        writeln!(
            out,
            "  {:<12} {:.4}  z {:>5.1}  {}",
            o.arxiv_id, o.similarity, o.robust_z, o.title
        )?;
    }
    if c.outliers.len() > limit {
        writeln!(
            out,
            "  ... {} more (--all-outliers lists them)",
            c.outliers.len() - limit
        )?;
    }
    Ok(())
}
