//! `papermap related ID|TITLE-WORDS`: the papers nearest to one paper by cosine;
//! `papermap related --all`: the nearest papers of every paper, as JSON Lines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use papermap::index::Index;
use papermap::search::{self, Hit};
use papermap::vectors::VectorBackend;
use papermap::workspace::{ModelChoice, Workspace};

use super::options::DEFAULT_INDEX;

/// `papermap related`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// arXiv id (or abs/pdf URL), or words of the paper's title.
    #[arg(required_unless_present = "all", value_name = "ID|TITLE-WORDS")]
    query: Vec<String>,
    /// Related papers of every paper (exact, a blocked matrix product), one JSON line per paper.
    #[arg(long, conflicts_with = "query")]
    all: bool,
    /// With --all: write to this file instead of standard output.
    #[arg(long, requires = "all", value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    device: super::options::DeviceOpt,
    /// With --all: approximate neighbours from an HNSW graph (usearch) kept in the index
    /// directory, for archives of millions; scores stay exact. Built on first use.
    #[cfg(feature = "ann")]
    #[arg(long, requires = "all")]
    ann: bool,
    /// With --ann: search candidate list (HNSW ef); higher is slower and closer to exact.
    #[cfg(feature = "ann")]
    #[arg(long, requires = "ann", value_name = "N", value_parser = super::options::at_least_one)]
    ef: Option<usize>,
    /// Number of related papers.
    #[arg(short, long, default_value_t = 10, value_parser = super::options::at_least_one)]
    k: usize,
    /// Order of the nearest `k`: by similarity, newest first, or most votes first.
    #[arg(long, value_enum, default_value_t, conflicts_with = "all")]
    sort: search::RelatedOrder,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
}

/// Runs `papermap related`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    if args.all {
        return run_all(&args);
    }
    let ws = workspace(&args)?;
    let index = ws.index();
    let query = args.query.join(" ");
    let row =
        search::find_paper(index, &query).with_context(|| args.index.display().to_string())?;
    let others = index.len() - 1;
    if args.k > others && args.k > 0 {
        super::output::note!(
            "note: -k {} is more than the {others} other papers in the index; showing all {others}",
            args.k
        );
    }
    let mut hits = search::related(index, ws.backend(), row, args.k)?;
    search::order_related(index, &mut hits, args.sort);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let r = if output.json {
        write_json(&mut out, index, row, &hits)
    } else {
        write_table(&mut out, index, row, &hits)
    };
    super::output::ignore_broken_pipe(r.and_then(|()| out.flush()))
}

/// The index with the backend `--device` and `--ann` (with `--ef`) name, built once.
fn workspace(args: &Args) -> anyhow::Result<Workspace> {
    let choice = ModelChoice {
        device: args.device.spec,
        ..ModelChoice::default()
    };
    let ws = Workspace::open(&args.index, &choice)?;
    #[cfg(feature = "ann")]
    if args.ann {
        let mut p = papermap::vectors::ann::AnnParams::default();
        if let Some(ef) = args.ef {
            p.expansion_search = ef;
        }
        let graph = VectorBackend::new(ws.backend().device(), Some(p))?;
        return Ok(ws.with_backend(graph));
    }
    Ok(ws)
}

/// `--all`: every paper's `k` nearest, written as JSON Lines; timing on stderr.
fn run_all(args: &Args) -> anyhow::Result<()> {
    if args.k == 0 {
        return Err(search::SearchError::ZeroK.into());
    }
    let ws = workspace(args)?;
    let (index, backend) = (ws.index(), ws.backend());
    let start = std::time::Instant::now();
    let found = backend.related_all(
        index.vectors(),
        index.dim(),
        args.k,
        &args.index,
        &index.stamp(),
    )?;
    if let Some((graph, built)) = &found.graph {
        super::output::note!(
            "{} the HNSW graph of {} papers ({})",
            if *built { "built" } else { "loaded" },
            index.len(),
            graph.display()
        );
    }
    let all = found.hits;
    let secs = start.elapsed().as_secs_f64();
    // Lines are formatted in parallel, a block of rows at a time, and written in order:
    // at a million papers one thread formatting JSON values would take longer than the search.
    let write_lines = |out: &mut dyn Write| -> std::io::Result<()> {
        use rayon::prelude::*;
        for block in all.chunks(65_536).enumerate() {
            let (b, block) = block;
            let lines: Vec<Vec<u8>> = block
                .par_iter()
                .enumerate()
                .map(|(i, hits)| related_line(index, b * 65_536 + i, hits))
                .collect::<Result<_, _>>()?;
            for line in lines {
                out.write_all(&line)?;
            }
        }
        out.flush()
    };
    match &args.out {
        Some(path) => papermap::atomic::write_with(path, |tmp| {
            let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
            write_lines(&mut w)
        })
        .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            super::output::ignore_broken_pipe(write_lines(&mut w))?;
        }
    }
    super::output::note!(
        "related papers of {} papers (top {}, {}) in {secs:.2}s on {}",
        all.len(),
        args.k,
        if backend.is_exact() {
            "exact"
        } else {
            "approximate"
        },
        args.device.spec
    );
    Ok(())
}

/// One JSON line of `related --all`: `{"arxiv_id":…,"related":[{"arxiv_id":…,"score":…},…]}`.
fn related_line(index: &Index, row: usize, hits: &[Hit]) -> std::io::Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    struct Related<'a> {
        arxiv_id: &'a str,
        score: f32,
    }
    #[derive(serde::Serialize)]
    struct Line<'a> {
        arxiv_id: &'a str,
        related: Vec<Related<'a>>,
    }
    let line = Line {
        arxiv_id: &index.paper(row).arxiv_id,
        related: hits
            .iter()
            .map(|h| Related {
                arxiv_id: &index.paper(h.row).arxiv_id,
                score: h.score,
            })
            .collect(),
    };
    let mut v = serde_json::to_vec(&line)?;
    v.push(b'\n');
    Ok(v)
}

fn write_table(
    out: &mut impl Write,
    index: &Index,
    row: usize,
    hits: &[Hit],
) -> std::io::Result<()> {
    let record = index.record(row);
    let p = &record.paper;
    writeln!(
        out,
        "related to {}  {}  {}",
        super::output::one_line(&p.arxiv_id),
        super::output::one_line(p.date.as_deref().unwrap_or("-")),
        super::output::one_line(&p.title)
    )?;
    super::output::write_hits(out, index, hits)
}

fn write_json(
    out: &mut impl Write,
    index: &Index,
    row: usize,
    hits: &[Hit],
) -> std::io::Result<()> {
    let record = index.record(row);
    let p = &record.paper;
    let v = serde_json::json!({
        "paper": {"arxiv_id": p.arxiv_id, "title": p.title, "date": p.date, "url": p.url},
        "k": hits.len(),
        "results": papermap::search::hit_records(index, hits),
    });
    serde_json::to_writer_pretty(&mut *out, &v)?;
    writeln!(out)
}
