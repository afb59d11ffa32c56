//! One module per subcommand: argument parsing, one call into the library, printing.
//!
//! Commands never import one another: what they share is the argument types of [`options`]
//! and the printing of [`output`].

pub mod brief;
pub mod check;
pub mod completions;
pub mod embed;
pub mod eval;
pub mod export;
pub mod index;
pub mod library;
pub mod model;
pub mod options;
pub mod output;
pub mod papers;
pub mod related;
pub mod report;
pub mod search;
pub mod serve;
pub mod stats;
pub mod topics;
