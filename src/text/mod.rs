//! Text shared by every stage: one analyser of Korean and English words (BM25 and topic
//! keywords), the translation lexicon learned from an index (brackets and the title↔summary alignment), the arXiv-id normaliser, the key
//! of an embedded input, and vector helpers.

pub mod alignment;
pub mod arxiv;
pub mod glossary;
mod key;
pub mod lexicon;
pub mod postings;
pub mod printable;
pub mod vector;
pub mod words;

pub use alignment::{Alignment, WordVectors};
pub use key::input_key;
pub use lexicon::Lexicon;
pub use printable::{one_line, printable};
