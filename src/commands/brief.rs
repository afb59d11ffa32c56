//! `papermap brief [DIGEST] [--date YYYY-MM-DD]`: one day's papers in their topics, with their
//! related earlier papers, the rising topics and the papers that fit no topic.

use std::path::PathBuf;

use papermap::brief::{self, Brief, BriefError, BriefFiles};
use papermap::workspace::{ModelChoice, Workspace};

use super::options::DEFAULT_INDEX;
use super::output::Failure;

/// `papermap brief`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A digest file (or one day of Hugging Face's feed): the brief of its papers and its date
    /// (they must be indexed).
    #[arg(value_name = "DIGEST", conflicts_with = "date")]
    digest: Option<PathBuf>,
    #[command(flatten)]
    source: super::options::SourceOpts,
    /// The day (first appearance); default: the latest date in the index.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::options::date)]
    date: Option<String>,
    /// Index directory (with topics from `papermap topics`).
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    /// Output directory for brief.md and brief.html.
    #[arg(long, default_value = "brief")]
    out: PathBuf,
    /// The library whose recommendations, saved searches and followed authors are listed
    /// first ("For you"); left out when that library is empty.
    #[arg(long, default_value = papermap::library::DEFAULT_LIBRARY, value_name = "NAME")]
    library: String,
}

/// What `--json` prints: the files and the brief itself.
#[derive(serde::Serialize)]
struct Printed<'a> {
    #[serde(flatten)]
    files: &'a BriefFiles,
    #[serde(flatten)]
    brief: &'a Brief,
}

/// Runs `papermap brief`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let ws = Workspace::open(&args.index, &ModelChoice::default())?;
    let index = ws.index();
    let dir = args.index.display();
    let topics = ws.topics()?;
    let day = match (&args.digest, &args.date) {
        (Some(digest), _) => brief::day_of_digest(index, digest, &args.source.read_options()),
        (None, Some(date)) => brief::day_of_date(index, date),
        (None, None) => brief::latest_day(index),
    };
    let advice = |e: BriefError| -> anyhow::Error {
        match e {
            BriefError::UnknownDate { .. } => Failure::not_found(e.to_string()),
            BriefError::NotIndexed { ref digest, .. } => Failure::not_found(format!(
                "{e}; run `papermap index {} --index {dir}` first",
                digest.display()
            )),
            // Its own error, so that the CLI's advice for topics finds it.
            BriefError::Topics(t) => t.into(),
            other => other.into(),
        }
    };
    let day = day.map_err(advice)?;
    let mut b = brief::build(index, &topics, &day, ws.backend()).map_err(advice)?;
    let library = papermap::library::load(&args.index, &args.library)?;
    if library != papermap::library::Library::default() {
        let bm25 = papermap::search::lexical_store::load_or_build(index, None)?;
        b.alerts = brief::alerts::alerts(index, &day.rows, &library, &bm25);
        b.library = Some(args.library.clone());
    }
    let files = brief::write(&args.out, &b)?;
    if output.json {
        return super::output::print_json(&Printed {
            files: &files,
            brief: &b,
        });
    }
    let topics_today = b.by_topic().len();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "wrote {} ({} of {} in {}, {}, {} fitting no topic) and {}",
        files.html.display(),
        plural(b.papers.len(), "paper", "papers"),
        b.date,
        plural(topics_today, "topic", "topics"),
        plural(b.rising.len(), "rising topic", "rising topics"),
        b.outliers.len(),
        files.markdown.display()
    );
    if let Some(name) = &b.library {
        println!(
            "{} for you (library {name:?}): recommended, saved searches, followed authors",
            plural(b.alerts.len(), "paper", "papers")
        );
    }
    if b.earlier_papers == 0 {
        super::output::note!(
            "note: no paper in the index is dated before {}, so no related papers are listed",
            b.date
        );
    }
    Ok(())
}
