//! One module per subcommand: argument structs and printing only.

pub mod export;
pub mod index;
pub mod model;
pub mod papers;
pub mod stats;
