//! Vectors for other tools: `.npy` matrices (NumPy's v1.0 format through `ndarray-npy`).

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

/// A matrix could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {}", path.display())]
pub struct ExportError {
    /// The file.
    pub path: PathBuf,
    /// What ndarray-npy reported.
    #[source]
    pub source: ndarray_npy::WriteNpyError,
}

/// Writes `rows` as a `.npy` file (`<f4`, C order, shape `[rows, cols]`).
pub fn write_npy(path: &Path, rows: ArrayView2<'_, f32>) -> Result<(), ExportError> {
    ndarray_npy::write_npy(path, &rows).map_err(|source| ExportError {
        path: path.to_path_buf(),
        source,
    })
}
