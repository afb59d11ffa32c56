//! Text shared by every stage: one analyser of Korean and English words (BM25 and topic
//! keywords), the translation lexicon learned from an index, the arXiv-id normaliser, the key
//! of an embedded input, and vector helpers.

pub mod arxiv;
pub mod glossary;
mod key;
pub mod lexicon;
pub mod vector;
pub mod words;

pub use key::input_key;
pub use lexicon::{Alignment, Lexicon, WordVectors};
