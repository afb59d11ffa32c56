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
    let quant = papermap::index::read_manifest(&args.index)
        .ok()
        .flatten()
        .map(|m| m.quant);
    let opts = args.model.for_index_quant(quant.as_deref());
    let query = [text.clone()];
    let (index, loaded) = std::thread::scope(|s| {
        let model = args
            .mode
            .needs_vector()
            .then(|| s.spawn(|| opts.encoder_for(&query, Prefix::Query)));
        let index = Index::open(&args.index);
        let loaded = model.map(|h| h.join());
        (index, loaded)
    });
    let index = index?;
    let searcher =
        Searcher::new(&index).with_context(|| format!("searching {}", args.index.display()))?;
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
            let (files, encoder) = loaded?;
            search::check_model(&index, &files.id, &files.fingerprint()?)?;
            Some(encoder.embed_one(&text, Prefix::Query)?)
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
            "results": hits_json(&index, &hits),
        });
        serde_json::to_writer_pretty(&mut out, &v)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_hits(&mut out, &index, &hits)
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
