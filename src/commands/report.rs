//! `papermap report`: Markdown and self-contained HTML topic reports.

use std::path::PathBuf;

use papermap::report::{related_rows, write, ReportInput, RELATED_PER_PAPER};
use papermap::workspace::Workspace;

use super::options::ModelOpts;
use super::options::DEFAULT_INDEX;

/// `papermap report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index directory (with topics from `papermap topics`).
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    /// Output directory for report.md, map.svg and report.html.
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Skip the summary check (it embeds every title, and every summary of a title+summary index,
    /// once, then caches them).
    #[arg(long)]
    no_summary_check: bool,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs `papermap report`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let ws = Workspace::open(&args.index, &args.model.choice()?)?;
    let index = ws.index();
    anyhow::ensure!(
        !index.is_empty(),
        "index {} holds no papers: nothing to report",
        args.index.display()
    );
    let topics = ws.topics()?;
    // Only the papers the report gives a related list (all of a small archive, the 10,000 most
    // voted of a large one) are searched: a million papers would otherwise cost a product of
    // every paper with every other.
    let rows = related_rows(index);
    let queries: Vec<f32> = rows
        .iter()
        .flat_map(|&r| index.vector(r).iter().copied())
        .collect();
    let hits = ws.backend().top_k(
        index.vectors(),
        index.dim(),
        &queries,
        RELATED_PER_PAPER,
        Some(&rows),
    )?;
    let mut related = vec![Vec::new(); index.len()];
    for (&r, h) in rows.iter().zip(hits) {
        related[r] = h;
    }
    let check = if args.no_summary_check {
        None
    } else {
        let (check, cache_error) = ws.summary_check(&mut super::output::check_progress())?;
        super::output::warn_uncached(cache_error.as_deref());
        Some(check)
    };
    let files = write(
        &args.out,
        &ReportInput {
            index,
            topics: &topics,
            related: &related,
            summary_check: check.as_ref(),
        },
    )?;
    if output.json {
        return super::output::print_json(&serde_json::json!({
            "html": files.html,
            "markdown": files.markdown,
            "map_svg": files.map_svg,
            "topics": topics.topics.len(),
            "papers": index.len(),
            "summary_check": check.as_ref().map(|c| serde_json::json!({
                "flagged": c.outliers.len(),
                "papers": c.papers,
            })),
        }));
    }
    println!(
        "wrote {} ({} topics, {} papers), {} and {}",
        files.html.display(),
        topics.topics.len(),
        index.len(),
        files.markdown.display(),
        files.map_svg.display()
    );
    if let Some(c) = &check {
        println!(
            "summary check: {} of {} papers flagged",
            c.outliers.len(),
            c.papers
        );
    }
    Ok(())
}
