//! `papermap library`: like, save or hide papers, save searches, follow authors, and get
//! recommendations ("for you") from what the library holds.

use std::path::PathBuf;

use anyhow::Context;
use papermap::library::recommend::{self, Options};
use papermap::library::words::Words;
use papermap::library::{self, Mark, DEFAULT_LIBRARY};
use papermap::search;
use papermap::workspace::{ModelChoice, Workspace};

use super::options::DEFAULT_INDEX;

/// What to do with the library.
#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Mark papers (arXiv ids, URLs or title words, one per argument): like, save or hide
    /// ("not interested").
    Mark {
        /// The mark.
        #[arg(value_enum)]
        mark: Mark,
        /// The papers.
        #[arg(required = true, value_name = "ID|TITLE-WORDS")]
        papers: Vec<String>,
    },
    /// Remove the marks of papers.
    Unmark {
        /// The papers.
        #[arg(required = true, value_name = "ID|TITLE-WORDS")]
        papers: Vec<String>,
    },
    /// Save a search: the daily brief lists its matches first.
    SaveSearch {
        /// The query, as typed to `papermap search`.
        query: String,
    },
    /// Follow an author: the daily brief lists their papers first.
    Follow {
        /// The author's name, as papers give it.
        author: String,
    },
    /// Drop a saved search or a followed author.
    Forget {
        /// The query or the author.
        item: String,
    },
    /// What the library holds.
    Show,
    /// Papers recommended from the liked and saved ones: a linear SVM over the vectors, mixed
    /// with recency; each names the liked papers it is nearest to.
    Recommend {
        /// Recommendations wanted.
        #[arg(short, long, default_value_t = 20, value_parser = super::options::at_least_one)]
        k: usize,
        /// Weight of recency beside the SVM's margin (0: the margin alone).
        #[arg(long, default_value_t = Options::default().recency)]
        recency: f32,
    },
}

/// `papermap library`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
    /// Index directory, which keeps the library.
    #[arg(long, global = true, default_value = DEFAULT_INDEX)]
    index: PathBuf,
    /// Which library: each reader of an index may keep one.
    #[arg(long, global = true, default_value = DEFAULT_LIBRARY, value_name = "NAME")]
    library: String,
}

/// Runs `papermap library`.
pub fn run(args: Args, output: super::output::Output) -> anyhow::Result<()> {
    let (dir, name) = (&args.index, args.library.as_str());
    let ws = || Workspace::open(dir, &ModelChoice::default());
    let rows = |ws: &Workspace, papers: &[String]| -> anyhow::Result<Vec<String>> {
        papers
            .iter()
            .map(|p| {
                let row = search::find_paper(ws.index(), p).with_context(|| p.clone())?;
                Ok(ws.index().record(row).paper.arxiv_id.clone())
            })
            .collect()
    };
    match &args.cmd {
        Cmd::Mark { mark, papers } => {
            let ws = ws()?;
            let ids = rows(&ws, papers)?;
            let at = library::now();
            let n = library::update(dir, name, |l| {
                let n = ids.iter().filter(|id| l.mark(id, *mark, at)).count();
                (n > 0, n)
            })?;
            println!("{n} marked {mark:?} in library {name:?}");
        }
        Cmd::Unmark { papers } => {
            let ws = ws()?;
            let ids = rows(&ws, papers)?;
            let n = library::update(dir, name, |l| {
                let n = ids.iter().filter(|id| l.unmark(id)).count();
                (n > 0, n)
            })?;
            println!("{n} unmarked in library {name:?}");
        }
        Cmd::SaveSearch { query } => {
            let new = changed(dir, name, |l| l.save_search(query))?;
            println!("{}", if new { "saved" } else { "already saved" });
        }
        Cmd::Follow { author } => {
            let new = changed(dir, name, |l| l.follow(author))?;
            println!("{}", if new { "following" } else { "already followed" });
        }
        Cmd::Forget { item } => {
            let gone = changed(dir, name, |l| l.forget(item))?;
            println!(
                "{}",
                if gone {
                    "forgotten"
                } else {
                    "not in the library"
                }
            );
        }
        Cmd::Show => {
            let lib = library::load(dir, name)?;
            if output.json {
                return super::output::print_json(&lib);
            }
            let ws = ws()?;
            for e in &lib.papers {
                let title = ws
                    .index()
                    .row_of(&e.id)
                    .map_or("(not in this index)".to_string(), |r| {
                        ws.index().record(r).paper.title.clone()
                    });
                println!(
                    "{:<5} {:<12} {title}",
                    format!("{:?}", e.mark).to_lowercase(),
                    e.id
                );
            }
            for s in &lib.searches {
                println!("search {s}");
            }
            for a in &lib.authors {
                println!("author {a}");
            }
        }
        Cmd::Recommend { k, recency } => {
            let ws = ws()?;
            let lib = library::load(dir, name)?;
            let o = Options {
                k: *k,
                recency: *recency,
                ..Default::default()
            };
            let bm25 = papermap::search::lexical_store::load_or_build(ws.index(), None)?;
            let mut words = Words::default();
            let recs = recommend::recommend(
                ws.index(),
                ws.backend(),
                &lib,
                &o,
                Some((&bm25, &mut words)),
            )?;
            let index = ws.index();
            if output.json {
                let v: Vec<serde_json::Value> = recs
                    .iter()
                    .map(|r| {
                        let p = &index.record(r.row).paper;
                        serde_json::json!({
                            "id": p.arxiv_id, "title": p.title, "date": p.date,
                            "score": r.score, "margin": r.margin,
                            "near": r.near.iter().map(|&(row, cos)| serde_json::json!({
                                "id": index.record(row).paper.arxiv_id, "cosine": cos,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                return super::output::print_json(&v);
            }
            for (i, r) in recs.iter().enumerate() {
                let p = &index.record(r.row).paper;
                println!(
                    "{:>3}. {:.3}  {:<12} {}  {}",
                    i + 1,
                    r.score,
                    p.arxiv_id,
                    p.date.as_deref().unwrap_or("?"),
                    p.title
                );
                if let Some(&(row, cos)) = r.near.first() {
                    println!("       near {} ({cos:.3})", index.record(row).paper.title);
                }
            }
        }
    }
    Ok(())
}

/// Applies `change` to library `name`, written only when it changed something; whether it did.
fn changed(
    dir: &std::path::Path,
    name: &str,
    change: impl FnOnce(&mut library::Library) -> bool,
) -> Result<bool, library::LibraryError> {
    library::update(dir, name, |l| {
        let c = change(l);
        (c, c)
    })
}
