//! The key of an embedded input: what makes a stored vector reusable.

use sha2::{Digest, Sha256};

use crate::embed::Mode;

/// SHA-256 of the model fingerprint, the numeric mode and the exact text the encoder sees
/// (prefix included): equal keys mean equal vectors, so unchanged inputs are never re-embedded.
pub fn input_key(fingerprint: &str, mode: Mode, input: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(fingerprint.as_bytes());
    h.update([0]);
    h.update(mode.as_str().as_bytes());
    h.update([0]);
    h.update(input.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_model_mode_and_text() {
        let k = input_key("fp", Mode::F32, "passage: a");
        assert_eq!(k, input_key("fp", Mode::F32, "passage: a"));
        assert_ne!(k, input_key("fq", Mode::F32, "passage: a"));
        assert_ne!(k, input_key("fp", Mode::Q8, "passage: a"));
        assert_ne!(k, input_key("fp", Mode::F32, "query: a"));
        // The field separator keeps ("fp", "f32x") and ("fpf", "32x") apart.
        assert_ne!(
            input_key("fp", Mode::F32, "x"),
            input_key("fpf32", Mode::F32, "x")
        );
    }
}
