//! papermap: turn Daily Papers digests into a map of research.
//!
//! Data flows one way: [`corpus`] (parse digests) → [`embed`] (strings to vectors) →
//! [`index`] (on-disk store) → [`vectors`] (top-k, assignment, projection on a backend) →
//! topics / search → report.

pub mod atomic;
pub mod brief;
pub mod corpus;
pub mod embed;
pub mod export;
pub mod index;
pub mod quality;
pub mod report;
pub mod search;
pub mod serve;
#[cfg(test)]
pub(crate) mod test_rng;
pub mod text;
pub mod topics;
pub mod vectors;
pub mod workspace;
