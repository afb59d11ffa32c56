//! Vectors as a NumPy `.npy` file (v1.0, little-endian float32, C order), for Python users and
//! benchmark peers.

use std::io::Write;
use std::path::Path;

/// The `.npy` v1.0 header for a C-order float32 matrix, padded so data starts 64-aligned.
pub fn header(rows: usize, cols: usize) -> Vec<u8> {
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

/// Writes a row-major `rows × cols` float32 matrix to `path`.
pub fn write(path: &Path, rows: usize, cols: usize, data: &[f32]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(&header(rows, cols))?;
    for x in data {
        f.write_all(&x.to_le_bytes())?;
    }
    f.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_is_aligned_and_describes_shape() {
        let h = super::header(4342, 384);
        assert_eq!(h.len() % 64, 0);
        let text = String::from_utf8_lossy(&h);
        assert!(text.contains("'shape': (4342, 384)"));
        assert!(h.ends_with(b"\n"));
    }
}
