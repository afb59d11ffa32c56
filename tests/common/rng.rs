//! The one seeded generator of the integration tests: an LCG (Knuth's MMIX constants), so a
//! seed gives the same numbers on every machine and no test depends on a crate's stream.
//!
//! It is the stream `crates/papermap-embed/src/test_rng.rs` gives the unit tests, and the one the tests had before
//! (the tiny model's weights and the synthetic topic blobs are bit for bit what they were).

/// Deterministic pseudo-random numbers from a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator whose first number is one step after `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64-bit state.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }

    /// Uniform in [0, 1), from the state's top 24 bits (every value an exact f32).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// `n` unit vectors of `dim` values, row after row: each uniform in [-0.5, 0.5)^dim, then
    /// scaled to length 1.
    pub fn unit_vectors(&mut self, n: usize, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n * dim).map(|_| self.f32_in(-0.5, 0.5)).collect();
        v.chunks_mut(dim).for_each(normalize);
        v
    }
}

/// Scales `v` to length 1 in place.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}
