//! `papermap export`: vectors as numpy `.npy` plus ids/metadata, for Python users.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use papermap::index::Index;

use super::index::DEFAULT_INDEX;

/// Export format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `OUT.npy` (float32 [papers, dim]) + `OUT.jsonl` (one paper per line, same order).
    Npy,
    /// `OUT.jsonl` with each paper's metadata and its vector.
    Jsonl,
}

/// `papermap export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "npy")]
    format: Format,
    /// Output path without extension.
    #[arg(long, default_value = "papermap-export")]
    out: PathBuf,
    /// Index directory.
    #[arg(long, default_value = DEFAULT_INDEX)]
    index: PathBuf,
}

/// The `.npy` v1.0 header for a C-order float32 matrix, padded so data starts 64-aligned.
pub fn npy_header(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    h
}

/// Writes a row-major float32 matrix as a `.npy` file.
pub fn write_npy(
    path: &std::path::Path,
    rows: usize,
    cols: usize,
    data: &[f32],
) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    f.write_all(&npy_header(rows, cols))?;
    for x in data {
        f.write_all(&x.to_le_bytes())?;
    }
    f.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs `papermap export`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let index = Index::open(&args.index)?;
    let dim = index.manifest.dim;
    let with_ext = |ext: &str| {
        let mut p = args.out.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    };
    let meta_path = with_ext(".jsonl");
    let mut meta = std::io::BufWriter::new(
        std::fs::File::create(&meta_path)
            .with_context(|| format!("creating {}", meta_path.display()))?,
    );
    for (i, p) in index.papers.iter().enumerate() {
        let mut v = serde_json::to_value(&p.paper)?;
        v["row"] = i.into();
        if args.format == Format::Jsonl {
            v["vector"] = serde_json::to_value(index.vector(i))?;
        }
        serde_json::to_writer(&mut meta, &v)?;
        meta.write_all(b"\n")?;
    }
    meta.flush()?;
    if args.format == Format::Npy {
        let npy_path = with_ext(".npy");
        write_npy(&npy_path, index.len(), dim, &index.vectors)?;
        println!(
            "wrote {} ({} x {dim} float32) and {}",
            npy_path.display(),
            index.len(),
            meta_path.display()
        );
    } else {
        println!(
            "wrote {} ({} papers with vectors)",
            meta_path.display(),
            index.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn npy_header_is_aligned_and_describes_shape() {
        let h = super::npy_header(4342, 384);
        assert_eq!(h.len() % 64, 0);
        let text = String::from_utf8_lossy(&h);
        assert!(text.contains("'shape': (4342, 384)"));
        assert!(h.ends_with(b"\n"));
    }
}
