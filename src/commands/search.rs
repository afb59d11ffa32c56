//! `papermap search "TEXT"`: free-text search, dense, lexical or hybrid.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use papermap::embed::{Encoder, Prefix};
use papermap::index::Index;
use papermap::search::{self, Hit, Mode, Searcher};

use super::index::DEFAULT_INDEX;
use super::model::ModelOpts;

/// `papermap search`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Search text (several words may be given unquoted).
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
    /// Number of results.
    #[arg(short, long, default_value_t = 10, value_parser = super::at_least_one)]
    k: usize,
    /// dense (embedding cosine), lexical (BM25) or hybrid (reciprocal rank fusion of both).
    #[arg(long, default_value = "hybrid")]
    mode: Mode,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    #[command(flatten)]
    model: ModelOpts,
}

/// Loads the model named by `opts` (device and engine included), refusing it unless it built
/// `index`.
pub fn load_index_model(index: &Index, opts: &ModelOpts) -> anyhow::Result<Encoder> {
    let files = opts.resolver().resolve()?;
    let fingerprint = files.fingerprint()?;
    search::check_model(index, &files.id, &fingerprint)?;
    let (_, encoder) = opts
        .for_index_quant(Some(&index.manifest.quant))
        .encoder()?;
    Ok(encoder)
}

/// Runs `papermap search`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        return Err(search::SearchError::EmptyQuery.into());
    }
    if args.k == 0 {
        return Err(search::SearchError::ZeroK.into());
    }
    let index = Index::open(&args.index)?;
    let searcher =
        Searcher::new(&index).with_context(|| format!("searching {}", args.index.display()))?;
    if args.k > index.len() {
        eprintln!(
            "note: -k {} is more than the {} papers in the index; showing at most {}",
            args.k,
            index.len(),
            index.len()
        );
    }
    let vector = if args.mode.needs_vector() {
        let encoder = load_index_model(&index, &args.model)?;
        Some(encoder.embed_one(&text, Prefix::Query)?)
    } else {
        None
    };
    let hits = searcher.search(&text, vector.as_deref(), args.mode, args.k)?;
    if hits.is_empty() && !args.json {
        eprintln!("no paper contains any word of {text:?}; try --mode dense or hybrid");
    }
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let r = if args.json {
        let v = serde_json::json!({
            "query": text,
            "mode": args.mode,
            "k": hits.len(),
            "results": hits_json(&index, &hits),
        });
        serde_json::to_writer_pretty(&mut out, &v)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_hits(&mut out, &index, &hits)
    };
    ignore_broken_pipe(r.and_then(|()| out.flush()))
}

/// One line per hit: rank, score, date, id, title.
pub fn write_hits(out: &mut impl Write, index: &Index, hits: &[Hit]) -> std::io::Result<()> {
    for (r, h) in hits.iter().enumerate() {
        let p = &index.papers[h.row].paper;
        writeln!(
            out,
            "{:>3}  {:.4}  {:<10}  {:<12}  {}",
            r + 1,
            h.score,
            p.date.as_deref().unwrap_or("-"),
            p.arxiv_id,
            p.title
        )?;
    }
    Ok(())
}

/// Hits as JSON objects: rank, score, id, title, date, url.
pub fn hits_json(index: &Index, hits: &[Hit]) -> Vec<serde_json::Value> {
    hits.iter()
        .enumerate()
        .map(|(r, h)| {
            let p = &index.papers[h.row].paper;
            serde_json::json!({
                "rank": r + 1,
                "score": h.score,
                "arxiv_id": p.arxiv_id,
                "title": p.title,
                "date": p.date,
                "url": p.url,
            })
        })
        .collect()
}

/// A closed pipe (`| head`) is not an error.
pub fn ignore_broken_pipe(r: std::io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
