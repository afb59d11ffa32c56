//! Crash-safe file replacement: write to a temporary file beside the target, fsync, rename.
//!
//! A reader (or a rerun after a kill) sees either the old file or the new one, never a torn write.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Temporary name beside `path`, unique per process so two writers never share one.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Replaces `path` atomically with `bytes`.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |tmp| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// Replaces `path` atomically with whatever `fill` writes to the temporary path it is given.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let result = fill(&tmp).and_then(|()| {
        // fill may not have synced (e.g. a library serialiser); make the data durable first.
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    if let Some(dir) = path.parent() {
        // Persist the rename itself; not all filesystems allow opening a directory, so best effort.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    result
}

/// A file being written under its temporary name over a long piece of work (an index's papers
/// file, written before its papers are embedded): [`Pending::commit`] syncs it and renames it
/// into place; dropped uncommitted (an error, a panic), it is removed. A kill leaves an
/// [`abandoned`] temporary file that a later cleanup takes.
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
    tmp: PathBuf,
    file: std::fs::File,
    committed: bool,
}

impl Pending {
    /// Creates the temporary file of `path`, opened for reading and writing.
    pub fn create(path: &Path) -> std::io::Result<Pending> {
        let tmp = tmp_path(path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        Ok(Pending {
            path: path.to_path_buf(),
            tmp,
            file,
            committed: false,
        })
    }

    /// The open temporary file.
    pub fn file(&self) -> &std::fs::File {
        &self.file
    }

    /// Where the temporary file lies until it is committed.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Syncs the file and renames it into place (and syncs the directory, best effort).
    pub fn commit(mut self) -> std::io::Result<()> {
        self.file.sync_all()?;
        std::fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Whether a `NAME.PID.tmp` file is left over from a process that is gone (or, when its PID
/// cannot be read or checked, is more than an hour old): the only temporary files a cleanup may
/// take, since a live process may be about to rename its own.
pub fn abandoned(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(stem) = name.strip_suffix(".tmp") else {
        return false;
    };
    let pid = stem
        .rsplit_once('.')
        .and_then(|(_, pid)| pid.parse::<u32>().ok());
    let proc_fs = Path::new("/proc/self").exists();
    match pid {
        Some(pid) if proc_fs => {
            pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists()
        }
        _ => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600)),
    }
}

/// Removes the [`abandoned`] temporary files directly in `dir` (best effort).
pub fn clean_abandoned(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if abandoned(&e.path()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Several files replaced together: each is written to its temporary name and synced, and only
/// when all are written are they renamed into place, back to back. A failure or a kill before
/// [`Batch::commit`] leaves every old file as it was (a dropped batch removes its temporaries),
/// so a reader never finds a new file beside an old one written with it, short of a kill
/// between the renames themselves.
#[derive(Debug, Default)]
pub struct Batch {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Writes the future content of `path` through `fill` (given the temporary path).
    pub fn add_with(
        &mut self,
        path: &Path,
        fill: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let tmp = tmp_path(path);
        let result = fill(&tmp).and_then(|()| std::fs::File::open(&tmp)?.sync_all());
        match result {
            Ok(()) => {
                self.files.push((path.to_path_buf(), tmp));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Writes the future content of `path`.
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        self.add_with(path, |tmp| {
            let mut f = std::fs::File::create(tmp)?;
            f.write_all(bytes)
        })
    }

    /// Renames every file into place; the error names the file whose rename failed.
    pub fn commit(mut self) -> Result<(), (PathBuf, std::io::Error)> {
        let files = std::mem::take(&mut self.files);
        for (i, (path, tmp)) in files.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, path) {
                for (_, t) in &files[i..] {
                    let _ = std::fs::remove_file(t);
                }
                return Err((path.clone(), e));
            }
        }
        if let Some(dir) = files.first().and_then(|(p, _)| p.parent()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for (_, tmp) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
