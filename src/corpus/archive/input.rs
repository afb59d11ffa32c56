//! Opening an archive file: plain, gzip or zstd, told apart by their magic bytes, so a file
//! renamed without its `.gz` still reads.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::super::CorpusError;

/// Buffer of the decompressed stream: large reads keep the decoder's per-call cost small.
const BUF: usize = 1 << 20;

/// How a file's bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Not compressed: the file's bytes are the archive itself.
    Plain,
    /// gzip (`1f 8b`), also several members one after another, as `cat a.gz b.gz` writes.
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

/// The packing of `path`, from its first bytes.
pub fn packing(path: &Path) -> Result<Packing, CorpusError> {
    let mut head = [0u8; 4];
    let mut f = open(path)?;
    let n = read_up_to(&mut f, &mut head).map_err(read_err(path))?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Packing::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Packing::Zstd,
        _ => Packing::Plain,
    })
}

/// The file's content, decompressed as it is read.
pub fn reader(path: &Path) -> Result<Box<dyn BufRead + Send>, CorpusError> {
    let f = open(path)?;
    Ok(match packing(path)? {
        Packing::Plain => Box::new(BufReader::with_capacity(BUF, f)),
        Packing::Gzip => Box::new(BufReader::with_capacity(
            BUF,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(BUF, f)),
        )),
        Packing::Zstd => Box::new(BufReader::with_capacity(
            BUF,
            zstd::stream::read::Decoder::new(f).map_err(read_err(path))?,
        )),
    })
}

/// The first `n` decompressed bytes (fewer if the file is shorter), for telling formats apart.
pub fn head(path: &Path, n: usize) -> Result<Vec<u8>, CorpusError> {
    let mut r = reader(path)?;
    let mut buf = vec![0u8; n];
    // A file cut short still has a head; the error shows when it is read in full.
    let got = read_up_to(&mut r, &mut buf).unwrap_or(0);
    buf.truncate(got);
    Ok(buf)
}

fn open(path: &Path) -> Result<File, CorpusError> {
    File::open(path).map_err(read_err(path))
}

pub(crate) fn read_err(path: &Path) -> impl FnOnce(io::Error) -> CorpusError + '_ {
    move |source| CorpusError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads until `buf` is full or the stream ends; the count read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
