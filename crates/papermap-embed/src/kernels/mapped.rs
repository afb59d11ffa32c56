//! Read-only file mappings: the model's word table and an index's row-ordered vectors stay in
//! the page cache instead of being copied into private memory.

use std::fs::File;
use std::io;
use std::sync::Arc;

/// A read-only mapping of a whole file, shared by the values that read it.
pub type Mapped = Arc<memmap2::Mmap>;

/// Maps `file` read-only.
///
/// The mapping is sound only while nobody writes the file in place: papermap never does for the
/// files it maps (a model import, like every index writer, writes a temporary file and renames
/// it over the old name; an old file is unlinked, which leaves existing mappings intact).
pub fn map(file: &File) -> io::Result<Mapped> {
    // SAFETY: see the contract above; the files papermap maps are replaced, never rewritten.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    Ok(Arc::new(map))
}
