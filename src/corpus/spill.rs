//! A run's papers held on disk instead of in memory: each entry read from the sources is written
//! as a JSON line to a scratch file as it arrives, and only its offset and a 128-bit hash of its
//! id stay in memory (a few dozen bytes an entry, where a paper with its abstract is kilobytes).
//! Deduplication follows [`super::dedup`] exactly: the same papers, in the same order, each
//! carrying what its other entries gave it.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{absorb, CorpusError, Paper};

/// Name (before `.PID.tmp`) of the scratch file, in the directory the spill is made in.
const SCRATCH: &str = "run-papers.jsonl";

/// A 128-bit hash of an id: two ids sharing one is not a risk worth a byte per paper.
fn id_key(id: &str) -> [u8; 16] {
    use sha2::Digest;
    let d = sha2::Sha256::digest(id.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// Entries being written; [`Spill::finish`] deduplicates them.
#[derive(Debug)]
pub struct Spill {
    file: crate::atomic::Pending,
    path: PathBuf,
    /// Start of each entry's line, and the end of the file last.
    offsets: Vec<u64>,
    /// The first entry of each id, by the id's hash.
    first: HashMap<[u8; 16], u32>,
    /// The later entries of ids met more than once, by their first entry.
    later: HashMap<u32, Vec<u32>>,
    /// The first write that failed: reported by `finish` (the sink of a reader cannot fail).
    error: Option<std::io::Error>,
}

impl Spill {
    /// An empty spill whose scratch file lies in `dir` (made if missing).
    pub fn create(dir: &Path) -> Result<Spill, CorpusError> {
        let path = dir.join(SCRATCH);
        let scratch_err = |source| CorpusError::Scratch {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(scratch_err)?;
        let file = crate::atomic::Pending::create(&path).map_err(scratch_err)?;
        Ok(Spill {
            path: file.tmp_path().to_path_buf(),
            file,
            offsets: vec![0],
            first: HashMap::new(),
            later: HashMap::new(),
            error: None,
        })
    }

    /// Writes a batch of entries, in input order.
    pub fn push(&mut self, batch: Vec<Paper>) {
        if self.error.is_some() || batch.is_empty() {
            return;
        }
        if let Err(e) = self.write(&batch) {
            self.error = Some(e);
        }
    }

    fn write(&mut self, batch: &[Paper]) -> std::io::Result<()> {
        let lines: Vec<(Vec<u8>, [u8; 16])> = batch
            .par_iter()
            .map(|p| {
                let mut line = serde_json::to_vec(p)?;
                line.push(b'\n');
                Ok((line, id_key(&p.arxiv_id)))
            })
            .collect::<Result<_, serde_json::Error>>()
            .map_err(std::io::Error::other)?;
        let mut buf = Vec::with_capacity(lines.iter().map(|(l, _)| l.len()).sum());
        let start = self.offsets.last().copied().unwrap_or(0);
        for (line, key) in lines {
            let entry = u32::try_from(self.offsets.len() - 1)
                .map_err(|_| std::io::Error::other("more than 4,294,967,295 entries in one run"))?;
            buf.extend_from_slice(&line);
            self.offsets.push(start + buf.len() as u64);
            match self.first.entry(key) {
                Entry::Vacant(v) => {
                    v.insert(entry);
                }
                Entry::Occupied(o) => self.later.entry(*o.get()).or_default().push(entry),
            }
        }
        self.file.file().write_all(&buf)
    }

    /// Entries written so far.
    pub fn entries(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Deduplicates the entries (see [`super::dedup`]): of each id's entries the first in date
    /// order (undated last, then input order) is kept, and papers come out in the input order of
    /// their kept entry.
    pub fn finish(mut self) -> Result<SpilledCorpus, CorpusError> {
        if let Some(source) = self.error.take() {
            return Err(CorpusError::Scratch {
                path: self.path,
                source,
            });
        }
        let mut reader = EntryReader {
            path: &self.path,
            offsets: &self.offsets,
            file: self.file.file(),
        };
        // Each group of a repeated id, kept entry first, the others in date order.
        let mut members: HashMap<u32, Vec<u32>> = HashMap::with_capacity(self.later.len());
        let mut kept_of: HashMap<u32, u32> = HashMap::with_capacity(self.later.len());
        for (&first, later) in &self.later {
            let mut group: Vec<(bool, Option<String>, u32)> = Vec::with_capacity(later.len() + 1);
            for &e in std::iter::once(&first).chain(later) {
                let date = reader.entry(e)?.date;
                group.push((date.is_none(), date, e));
            }
            group.sort();
            let kept = group[0].2;
            kept_of.insert(first, kept);
            members.insert(kept, group[1..].iter().map(|g| g.2).collect());
        }
        let kept = |first: u32| kept_of.get(&first).copied().unwrap_or(first);
        let mut order: Vec<u32> = self.first.values().map(|&f| kept(f)).collect();
        order.par_sort_unstable();
        let mut position = std::mem::take(&mut self.first);
        for v in position.values_mut() {
            // Every kept entry is in `order`: the search cannot miss.
            *v = order.binary_search(&kept(*v)).unwrap_or(0) as u32;
        }
        let entries = self.entries();
        Ok(SpilledCorpus {
            file: self.file,
            path: self.path,
            offsets: self.offsets,
            order,
            position,
            members,
            entries,
        })
    }
}

/// Reads entries back by number.
struct EntryReader<'a> {
    path: &'a Path,
    offsets: &'a [u64],
    file: &'a std::fs::File,
}

impl EntryReader<'_> {
    fn bytes(&mut self, entries: Range<usize>) -> Result<Vec<u8>, CorpusError> {
        let (a, b) = (self.offsets[entries.start], self.offsets[entries.end]);
        let mut buf = vec![0u8; (b - a) as usize];
        let mut f = self.file;
        f.seek(SeekFrom::Start(a))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|source| CorpusError::Scratch {
                path: self.path.to_path_buf(),
                source,
            })?;
        Ok(buf)
    }

    fn parse(&self, line: &[u8]) -> Result<Paper, CorpusError> {
        serde_json::from_slice(line).map_err(|e| CorpusError::Scratch {
            path: self.path.to_path_buf(),
            source: std::io::Error::other(e),
        })
    }

    fn entry(&mut self, e: u32) -> Result<Paper, CorpusError> {
        let e = e as usize;
        let bytes = self.bytes(e..e + 1)?;
        self.parse(&bytes)
    }
}

/// A run's papers, deduplicated, on disk: read by position, a range at a time.
#[derive(Debug)]
pub struct SpilledCorpus {
    file: crate::atomic::Pending,
    path: PathBuf,
    offsets: Vec<u64>,
    /// The kept entry of each paper, in paper order (which is input order).
    order: Vec<u32>,
    /// Each paper's position, by its id's hash.
    position: HashMap<[u8; 16], u32>,
    /// The other entries of each repeated id, by its kept entry, in date order.
    members: HashMap<u32, Vec<u32>>,
    entries: usize,
}

impl SpilledCorpus {
    /// `papers` (already read), spilled and deduplicated in `dir`.
    pub fn from_papers(dir: &Path, papers: Vec<Paper>) -> Result<SpilledCorpus, CorpusError> {
        let mut spill = Spill::create(dir)?;
        spill.push(papers);
        spill.finish()
    }

    /// Papers after deduplication: one per distinct id, fewer than [`Self::entries`] if any repeat.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no paper was read.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Entries read, before deduplication.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The position of the paper with id `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.position.get(&id_key(id)).map(|&p| p as usize)
    }

    fn reader(&self) -> EntryReader<'_> {
        EntryReader {
            path: &self.path,
            offsets: &self.offsets,
            file: self.file.file(),
        }
    }

    /// Papers `range`, each with what its other entries gave it.
    pub fn papers(&self, range: Range<usize>) -> Result<Vec<Paper>, CorpusError> {
        let kept = &self.order[range];
        let (Some(&first), Some(&last)) = (kept.first(), kept.last()) else {
            return Ok(Vec::new());
        };
        let mut reader = self.reader();
        let base = self.offsets[first as usize];
        let bytes = reader.bytes(first as usize..last as usize + 1)?;
        let mut papers: Vec<Paper> = kept
            .par_iter()
            .map(|&e| {
                let a = (self.offsets[e as usize] - base) as usize;
                let b = (self.offsets[e as usize + 1] - base) as usize;
                reader.parse(&bytes[a..b])
            })
            .collect::<Result<_, _>>()?;
        drop(bytes);
        for (paper, &e) in papers.iter_mut().zip(kept) {
            if let Some(others) = self.members.get(&e) {
                for &o in others {
                    absorb(paper, reader.entry(o)?);
                }
            }
            paper.dates.sort();
            paper.dates.dedup();
            paper.date = paper.dates.first().cloned();
        }
        Ok(papers)
    }

    /// The paper at position `i` (input order), merged with its other entries.
    pub fn paper(&self, i: usize) -> Result<Paper, CorpusError> {
        self.papers(i..i + 1)?
            .pop()
            .ok_or_else(|| CorpusError::Scratch {
                path: self.path.clone(),
                source: std::io::Error::other(format!("no paper {i}")),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::SourceLoc;

    fn paper(id: &str, date: Option<&str>, line: usize) -> Paper {
        Paper {
            arxiv_id: id.into(),
            title: format!("Title of {id}"),
            url: String::new(),
            date: date.map(String::from),
            dates: date.map(String::from).into_iter().collect(),
            votes: line.is_multiple_of(3).then_some(line as u32),
            authors: Vec::new(),
            thumbnail: None,
            whats_new: None,
            technical_details: None,
            performance_highlights: None,
            summary: if line.is_multiple_of(2) {
                format!("summary {line}")
            } else {
                String::new()
            },
            abstract_text: line.is_multiple_of(5).then(|| format!("abstract {line}")),
            categories: Vec::new(),
            source: SourceLoc {
                file: PathBuf::from(format!("f{}.md", line % 4)),
                line,
            },
        }
    }

    #[test]
    fn deduplicates_as_the_corpus_does_in_any_batching() {
        let dates = [
            Some("2024-03-01"),
            None,
            Some("2024-01-05"),
            Some("2024-02-10"),
        ];
        let entries: Vec<Paper> = (0..400)
            .map(|i| {
                // Ids repeat with every kind of date order; some ids are seen once.
                let id = format!("2401.{:05}", (i * 7919) % 157);
                paper(&id, dates[(i * 31) % 4], i)
            })
            .collect();
        let (want, _) = crate::corpus::dedup(entries.clone());
        let dir = tempfile::tempdir().unwrap();
        for batch in [1, 7, 400] {
            let mut spill = Spill::create(dir.path()).unwrap();
            for b in entries.chunks(batch) {
                spill.push(b.to_vec());
            }
            assert_eq!(spill.entries(), 400);
            let run = spill.finish().unwrap();
            assert_eq!(run.len(), want.len());
            // Read back in uneven ranges: ranges join without gaps or repeats.
            let mut got = Vec::new();
            let mut at = 0;
            while at < run.len() {
                let end = (at + 13).min(run.len());
                got.extend(run.papers(at..end).unwrap());
                at = end;
            }
            assert_eq!(got, want, "batches of {batch}");
            for (i, p) in want.iter().enumerate() {
                assert_eq!(run.find(&p.arxiv_id), Some(i));
            }
            assert_eq!(run.find("9999.99999"), None);
        }
    }

    #[test]
    fn the_scratch_file_goes_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = SpilledCorpus::from_papers(dir.path(), vec![paper("a", None, 2)]).unwrap();
        let count = || std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(count(), 1);
        assert_eq!(run.paper(0).unwrap().arxiv_id, "a");
        drop(run);
        assert_eq!(count(), 0);
    }
}
