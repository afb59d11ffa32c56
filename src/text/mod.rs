//! Text shared by every stage: one analyser of Korean and English words (BM25 and topic
//! keywords), the arXiv-id normaliser, the key of an embedded input, and vector helpers.

pub mod arxiv;
mod key;
pub mod vector;

pub use key::input_key;
