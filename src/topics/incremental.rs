//! Daily updates: when the index has grown since the topics were fitted, the new papers join the
//! stored topics and the centroids are refined with linfa-clustering's mini-batch k-means
//! (`KMeans` through `fit_with`), seeded from the stored state; topic ids and labels stay.
//!
//! The stored state is rebuilt exactly: one `fit_with` over the papers the topics already hold,
//! starting from the stored centroids (`KMeansInit::Precomputed`), gives the model their counts
//! and (at a k-means fixed point) the same centroids; one more `fit_with` over the new papers
//! moves each centroid by the running mean of the papers it receives. Old papers keep their
//! topic, new ones take the nearest refined centroid. A full refit (`--fresh`) is suggested by
//! [`drift`] (the rule and its measurement are in docs/topics.md).

use linfa::prelude::*;
use linfa_clustering::{IncrKMeansError, KMeans, KMeansInit};
use ndarray::Array2;

use super::kmeans::Rows;
use super::TopicsError;

/// Share of papers added since the last full fit above which a refit is suggested.
pub const REFIT_SHARE: f64 = 0.25;
/// Rise of the objective per paper (against the last full fit) above which a refit is suggested.
pub const REFIT_OBJECTIVE_RISE: f64 = 0.03;

/// The refined model: centroids (`k × dim`, in the stored topics' order) and a topic position
/// for every new row.
pub struct Refined {
    /// Centroids after the new papers, row-major.
    pub centroids: Vec<f32>,
    /// Topic position of each new row, in the order given.
    pub new_labels: Vec<usize>,
}

fn update_err(e: impl std::error::Error + Send + Sync + 'static) -> TopicsError {
    TopicsError::KMeans {
        what: "incremental update",
        source: Some(Box::new(e)),
    }
}

fn array(rows: Rows<'_>, which: &[usize]) -> Result<Array2<f32>, TopicsError> {
    let dim = rows.dim();
    let mut data = Vec::with_capacity(which.len() * dim);
    for &r in which {
        data.extend_from_slice(rows.row(r));
    }
    Array2::from_shape_vec((which.len(), dim), data).map_err(update_err)
}

/// Refines `centroids` (`k` rows of the stored topics) with the `new` rows of `vectors`, after
/// restoring the model's state from the `old` rows.
pub fn refine(
    vectors: Rows<'_>,
    centroids: Rows<'_>,
    old: &[usize],
    new: &[usize],
) -> Result<Refined, TopicsError> {
    let k = centroids.len();
    let dim = vectors.dim();
    let seed =
        Array2::from_shape_vec((k, dim), centroids.as_slice().to_vec()).map_err(update_err)?;
    let params = KMeans::params(k)
        .init_method(KMeansInit::Precomputed(seed))
        .n_runs(1)
        .check()
        .map_err(update_err)?;
    let step =
        |model: Option<KMeans<f32, _>>, rows: &[usize]| -> Result<KMeans<f32, _>, TopicsError> {
            let data = DatasetBase::from(array(vectors, rows)?);
            // One mini-batch step; "not converged" only says the centroids moved.
            match params.fit_with(model, &data) {
                Ok(m) | Err(IncrKMeansError::NotConverged(m)) => Ok(m),
                Err(e) => Err(update_err(e)),
            }
        };
    let model = if old.is_empty() {
        None
    } else {
        Some(step(None, old)?)
    };
    let model = if new.is_empty() {
        match model {
            Some(m) => m,
            None => return Err(TopicsError::Empty),
        }
    } else {
        step(model, new)?
    };
    let new_data = array(vectors, new)?;
    let new_labels: Vec<usize> = if new.is_empty() {
        Vec::new()
    } else {
        model.predict(&new_data).to_vec()
    };
    Ok(Refined {
        centroids: model.centroids().iter().copied().collect(),
        new_labels,
    })
}

/// Whether an update has drifted far enough from the last full fit that a refit should be
/// suggested, and why: `fitted` papers at that fit with `fitted_objective` per paper, `papers`
/// now with `objective` per paper.
pub fn drift(
    fitted: usize,
    fitted_objective: f64,
    papers: usize,
    objective: f64,
) -> Option<String> {
    let added = papers.saturating_sub(fitted) as f64 / fitted.max(1) as f64;
    let rise = objective / fitted_objective.max(1e-12) - 1.0;
    if added >= REFIT_SHARE {
        Some(format!(
            "{:.0} % more papers than at the last full fit (refit from {:.0} %)",
            100.0 * added,
            100.0 * REFIT_SHARE
        ))
    } else if rise >= REFIT_OBJECTIVE_RISE {
        Some(format!(
            "objective per paper {:.1} % above the last full fit's (refit from {:.0} %)",
            100.0 * rise,
            100.0 * REFIT_OBJECTIVE_RISE
        ))
    } else {
        None
    }
}
