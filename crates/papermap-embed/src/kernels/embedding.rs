//! Token embeddings read from the memory-mapped weights file: word + position + token type 0.

use std::path::Path;

/// The word-embedding table, left in the memory-mapped weights file and decoded on lookup.
///
/// It is 3/4 of the model (250k × 384) but a batch reads a few hundred rows, so it costs page
/// cache instead of 380 MB of private memory.
pub(crate) struct WordTable {
    map: super::mapped::Mapped,
    /// Byte offset of the tensor's data in the file.
    offset: usize,
    dtype: safetensors::Dtype,
    /// Rows (vocabulary size).
    pub(crate) vocab: usize,
    /// Row width (hidden size).
    pub(crate) h: usize,
}

impl WordTable {
    /// Maps `path` and finds tensor `name` (`[vocab, h]`, f32, f16 or bf16) in it.
    pub(crate) fn open(path: &Path, name: &str, h: usize) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let map = super::mapped::map(&file).map_err(|e| e.to_string())?;
        let st = safetensors::SafeTensors::deserialize(&map).map_err(|e| e.to_string())?;
        let t = st.tensor(name).map_err(|e| format!("{name}: {e}"))?;
        let vocab = t.shape().first().copied().unwrap_or(0);
        if t.shape() != [vocab, h] {
            return Err(format!(
                "{name}: shape {:?}, expected [vocab, {h}]",
                t.shape()
            ));
        }
        let dtype = t.dtype();
        if !matches!(
            dtype,
            safetensors::Dtype::F32 | safetensors::Dtype::F16 | safetensors::Dtype::BF16
        ) {
            return Err(format!("{name}: dtype {dtype:?} not supported"));
        }
        let offset = t.data().as_ptr() as usize - map.as_ptr() as usize;
        drop(st);
        Ok(WordTable {
            map,
            offset,
            dtype,
            vocab,
            h,
        })
    }

    /// Writes row `id` (`< vocab`, checked by the caller) as f32 into `out`.
    fn row(&self, id: usize, out: &mut [f32]) {
        // The slice below is checked against the whole file, not the tensor: a larger id would
        // quietly read the next tensor's bytes.
        debug_assert!(id < self.vocab, "token id {id} beyond the vocabulary");
        let width = match self.dtype {
            safetensors::Dtype::F32 => 4,
            _ => 2,
        };
        let start = self.offset + id * self.h * width;
        let b = &self.map[start..start + self.h * width];
        for (o, c) in out.iter_mut().zip(b.chunks_exact(width)) {
            *o = match self.dtype {
                safetensors::Dtype::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                safetensors::Dtype::F16 => half::f16::from_le_bytes([c[0], c[1]]).to_f32(),
                _ => half::bf16::from_le_bytes([c[0], c[1]]).to_f32(),
            };
        }
    }
}

/// `x[t] = word[ids[t]] + pos[positions[t]] + typ0` for every packed token, into `x` (`[T, h]`).
pub(crate) fn embed_tokens(
    word: &WordTable,
    pos: &[f32],
    typ0: &[f32],
    ids: &[u32],
    positions: &[u32],
    x: &mut [f32],
) {
    let h = word.h;
    // The loop zips these, so a short one would silently leave rows unwritten.
    debug_assert!(ids.len() == positions.len() && x.len() == ids.len() * h);
    debug_assert!(typ0.len() == h && pos.len().is_multiple_of(h.max(1)));
    for ((row, &id), &p) in x.chunks_exact_mut(h).zip(ids).zip(positions) {
        word.row(id as usize, row);
        let ps = &pos[p as usize * h..(p as usize + 1) * h];
        for ((v, &a), &b) in row.iter_mut().zip(ps).zip(typ0) {
            *v += a + b;
        }
    }
}
