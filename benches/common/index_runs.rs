//! The arguments of the benches that time kernels on a real index:
//! `--index DIR [--runs N]` (cargo's own `--bench` is ignored).

use std::path::PathBuf;

/// The index to open and how many alternating runs to take the median of.
pub struct IndexRuns {
    pub index: PathBuf,
    pub runs: usize,
}

/// Parses the process's arguments; `runs` when `--runs` is not given.
pub fn parse(runs: usize) -> Result<IndexRuns, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut index = None;
    let mut runs = runs;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--index" => index = it.next().map(PathBuf::from),
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r > 0)
                    .ok_or("--runs needs a number above 0")?
            }
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(IndexRuns {
        index: index.ok_or("--index DIR is required")?,
        runs,
    })
}
