//! `papermap related ID|TITLE-WORDS`: the papers nearest to one paper by cosine.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use papermap::index::Index;
use papermap::search::{self, Hit};

use super::index::DEFAULT_INDEX;

/// `papermap related`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// arXiv id (or abs/pdf URL), or words of the paper's title.
    #[arg(required = true, value_name = "ID|TITLE-WORDS")]
    query: Vec<String>,
    /// Number of related papers.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
}

/// Runs `papermap related`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let index = Index::open(&args.index)?;
    let query = args.query.join(" ");
    let row =
        search::find_paper(&index, &query).with_context(|| args.index.display().to_string())?;
    let others = index.len() - 1;
    if args.k > others && args.k > 0 {
        eprintln!(
            "note: -k {} is more than the {others} other papers in the index; showing all {others}",
            args.k
        );
    }
    let hits = search::related(&index, row, args.k)?;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let r = if args.json {
        write_json(&mut out, &index, row, &hits)
    } else {
        write_table(&mut out, &index, row, &hits)
    };
    super::search::ignore_broken_pipe(r.and_then(|()| out.flush()))
}

fn write_table(
    out: &mut impl Write,
    index: &Index,
    row: usize,
    hits: &[Hit],
) -> std::io::Result<()> {
    let p = &index.papers[row].paper;
    writeln!(
        out,
        "related to {}  {}  {}",
        p.arxiv_id,
        p.date.as_deref().unwrap_or("-"),
        p.title
    )?;
    super::search::write_hits(out, index, hits)
}

fn write_json(
    out: &mut impl Write,
    index: &Index,
    row: usize,
    hits: &[Hit],
) -> std::io::Result<()> {
    let p = &index.papers[row].paper;
    let v = serde_json::json!({
        "paper": {"arxiv_id": p.arxiv_id, "title": p.title, "date": p.date, "url": p.url},
        "k": hits.len(),
        "results": super::search::hits_json(index, hits),
    });
    serde_json::to_writer_pretty(&mut *out, &v)?;
    writeln!(out)
}
