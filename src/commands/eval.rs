//! `papermap eval titles`: search every paper's title, report Recall@1/@10 and MRR per mode,
//! and the summary check.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use papermap::index::{Index, TextRecipe};
use papermap::quality::summary_outliers;
use papermap::search::eval::{metrics_from_ranks, title_ranks};
use papermap::workspace;

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
    let Cmd::Titles {
        index,
        all_outliers,
        model,
    } = args.cmd;
    let idx = Index::open(&index)?;
    if idx.is_empty() {
        return Err(papermap::search::SearchError::EmptyIndex.into());
    }
    let tq = workspace::title_vectors(&idx, &model.choice(), &mut super::output::title_progress())?;
    if let Some(e) = &tq.cache_error {
        super::output::note!("warning: title vectors not cached: {e}");
    }
    let vectors = tq.vectors;
    let t = Instant::now();
    let ranks = title_ranks(&idx, &vectors)?;
    let metrics = metrics_from_ranks(&ranks);
    let check = summary_outliers(&idx, &vectors)?;
    let secs = t.elapsed().as_secs_f64();
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
