//! papermap: turn Daily Papers digests into a map of research.
//!
//! Data flows one way: [`corpus`] (parse digests) → [`embed`] (strings to vectors) →
//! [`index`] (on-disk store) → [`vectors`] (top-k, assignment, projection on a backend) →
//! topics / search → report.

pub use papermap_embed::atomic;
pub mod brief;
pub mod corpus;
/// The embedding engine, a crate of its own ([`papermap_embed`]).
pub use papermap_embed as embed;
pub mod export;
pub mod index;
pub mod library;
pub mod quality;
pub mod report;
pub mod search;
pub mod serve;
#[cfg(test)]
pub(crate) use papermap_embed::test_rng;
pub mod text;
pub mod topics;
pub mod vectors;
pub mod workspace;
