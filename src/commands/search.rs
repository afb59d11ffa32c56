//! `papermap search "TEXT"`: free-text search, dense, lexical or hybrid.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use papermap::embed::Prefix;
use papermap::search::{self, Mode, Searcher};
use papermap::workspace::Workspace;

use super::options::ModelOpts;
use super::options::DEFAULT_INDEX;

/// `papermap search`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Search text (several words may be given unquoted).
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
    /// Number of results.
    #[arg(short, long, default_value_t = 10, value_parser = super::options::at_least_one)]
    k: usize,
    /// dense (embedding cosine), lexical (BM25) or hybrid (both, fused by normalised score).
    #[arg(long, default_value = "hybrid")]
    mode: Mode,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    #[command(flatten)]
    model: ModelOpts,
}

/// Runs `papermap search`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        return Err(search::SearchError::EmptyQuery.into());
    }
    if args.k == 0 {
        return Err(search::SearchError::ZeroK.into());
    }
    // The model loads on a second thread while this one reads the index and its lexical side:
    // the two take about as long, and a person waits for their sum otherwise.
    let choice = args.model.choice()?.following_index(&args.index);
    let query = [text.clone()];
    let (ws, loaded) = std::thread::scope(|s| {
        let model = args
            .mode
            .needs_vector()
            .then(|| s.spawn(|| anyhow::Ok(choice.load_for(&query, Prefix::Query)?)));
        let ws = Workspace::open(&args.index, &choice);
        let loaded = model.map(|h| h.join());
        (ws, loaded)
    });
    let ws = ws?;
    let index = ws.index();
    // The stored lexicon serves: relearning it with this encoder (loaded for the query's pieces
    // only) would load the whole model and take ~11 s on the archive, for each search.
    let searcher = Searcher::new(index, ws.backend(), None)
        .with_context(|| format!("searching {}", args.index.display()))?;
    if args.k > index.len() {
        super::output::note!(
            "note: -k {} is more than the {} papers in the index; showing at most {}",
            args.k,
            index.len(),
            index.len()
        );
    }
    let vector = match loaded {
        Some(Ok(loaded)) => {
            let (_, encoder) = loaded?;
            Some(ws.adopt(encoder)?.embed_one(&text, Prefix::Query)?)
        }
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => None,
    };
    let hits = searcher.search(&text, vector.as_deref(), args.mode, args.k)?;

    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let r = if output.json {
        let v = serde_json::json!({
            "query": text,
            "mode": args.mode,
            "k": hits.len(),
            "results": search::hit_records(index, &hits),
        });
        serde_json::to_writer_pretty(&mut out, &v)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        super::output::write_hits(&mut out, index, &hits)
    };
    super::output::ignore_broken_pipe(r.and_then(|()| out.flush()))?;
    if hits.is_empty() {
        // Printed (an empty table, or JSON with no results) and then told, as grep does.
        return Err(super::output::Failure::not_found(format!(
            "no paper contains any word of {text:?}; try --mode dense or hybrid"
        )));
    }
    Ok(())
}
