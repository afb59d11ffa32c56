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
