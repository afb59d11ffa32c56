//! One module per subcommand: argument structs and printing only.

pub mod embed;
pub mod eval;
pub mod export;
pub mod index;
pub mod model;
pub mod papers;
pub mod related;
pub mod report;
pub mod search;
pub mod stats;
pub mod topics;
