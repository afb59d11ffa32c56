//! One module per subcommand: argument structs and printing only.

pub mod brief;
pub mod check;
pub mod completions;
pub mod embed;
pub mod eval;
pub mod export;
pub mod index;
pub mod model;
pub mod output;
pub mod papers;
pub mod related;
pub mod report;
pub mod search;
pub mod serve;
pub mod stats;
pub mod topics;

/// Parses an integer of at least 1 (a count, a size): 0 is a usage error, not a silent default.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a number in [0, 1].
pub fn unit_interval(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1"))
    }
}

/// Parses a cosine threshold in [-1, 1].
pub fn cosine_threshold(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())?;
    if (-1.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside -1..=1"))
    }
}
