//! The library over HTTP: `GET /api/library`, `POST /api/library` (mark or unmark a paper,
//! save a search, follow an author, forget either) and `GET /api/recommend`.
//!
//! The library is written only by `POST`, so [`super::guard`]'s checks apply: a JSON body
//! (which a page on another site cannot send without a preflight this server never grants),
//! an `Origin`, when given, that names this server, and a `Host` that does too. Writes are
//! taken one at a time, each one a read, a change and an atomic rewrite of the file.

use std::sync::Mutex;

use super::*;
use crate::library::recommend::{self, Options, RecommendError};
use crate::library::{self as lib, Library, LibraryError, Mark, DEFAULT_LIBRARY};

/// One library write at a time: two requests must not each rewrite what the other read.
static WRITES: Mutex<()> = Mutex::new(());

impl From<LibraryError> for ApiError {
    fn from(e: LibraryError) -> ApiError {
        match e {
            LibraryError::BadName(_) => ApiError::bad(e.to_string()),
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LibraryParams {
    library: Option<String>,
    k: Option<String>,
    recency: Option<String>,
}

/// A change to a library, as `POST /api/library` takes it; exactly one field besides `library`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Change {
    library: Option<String>,
    /// The paper to mark or unmark, with `mark`.
    id: Option<String>,
    /// `like`, `save`, `hide`, or `null` to remove the paper's mark.
    #[serde(default)]
    mark: Option<Mark>,
    save_search: Option<String>,
    follow: Option<String>,
    forget: Option<String>,
}

/// The library with each paper's title and date (papers not in this index keep their id).
fn library_json(l: &Loaded, name: &str, library: &Library) -> serde_json::Value {
    let papers: Vec<_> = library
        .papers
        .iter()
        .map(|e| {
            let row = l.index.row_of(&e.id);
            let p = row.map(|r| l.index.record(r).paper.clone());
            json!({
                "id": e.id, "mark": e.mark, "at": e.at,
                "title": p.as_ref().map(|p| p.title.clone()),
                "date": p.as_ref().and_then(|p| p.date.clone()),
            })
        })
        .collect();
    json!({
        "library": name,
        "papers": papers,
        "searches": library.searches,
        "authors": library.authors,
    })
}

pub(super) async fn api_library(
    State(app): State<Arc<ServerState>>,
    params: Result<Query<LibraryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad(e.body_text()))?;
    let name = p.library.unwrap_or_else(|| DEFAULT_LIBRARY.to_string());
    let library = lib::load(&app.dir, &name)?;
    Ok(Json(library_json(&app.now(), &name, &library)).into_response())
}

pub(super) async fn api_library_change(
    State(app): State<Arc<ServerState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let c: Change =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad(format!("invalid change: {e}")))?;
    let name = c
        .library
        .clone()
        .unwrap_or_else(|| DEFAULT_LIBRARY.to_string());
    let l = app.now();
    // A paper is marked by the id the index knows it by, checked before anything is written.
    let id = match &c.id {
        Some(id) => Some(l.index.record(row_of(&l, id)?).paper.arxiv_id.clone()),
        None => None,
    };
    let asked = [
        id.is_some(),
        c.save_search.is_some(),
        c.follow.is_some(),
        c.forget.is_some(),
    ];
    if asked.iter().filter(|&&a| a).count() != 1 {
        return Err(ApiError::bad(
            "give exactly one of id (with mark), save_search, follow or forget",
        ));
    }
    let dir = app.dir.clone();
    let library = blocking(move || {
        let _one = WRITES.lock().unwrap_or_else(|e| e.into_inner());
        lib::update(&dir, &name, |lib| {
            let changed = match (&id, c.mark) {
                (Some(id), Some(mark)) => lib.mark(id, mark, lib::now()),
                (Some(id), None) => lib.unmark(id),
                _ => {
                    if let Some(q) = &c.save_search {
                        lib.save_search(q)
                    } else if let Some(a) = &c.follow {
                        lib.follow(a)
                    } else {
                        c.forget.as_deref().is_some_and(|f| lib.forget(f))
                    }
                }
            };
            (changed, (name.clone(), lib.clone()))
        })
    })
    .await??;
    Ok(Json(library_json(&l, &library.0, &library.1)).into_response())
}

pub(super) async fn api_recommend(
    State(app): State<Arc<ServerState>>,
    params: Result<Query<LibraryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad(e.body_text()))?;
    let name = p.library.unwrap_or_else(|| DEFAULT_LIBRARY.to_string());
    let mut o = Options {
        k: parse_k(p.k.as_deref(), 20)?,
        ..Default::default()
    };
    if let Some(r) = p.recency {
        o.recency = r
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| ApiError::bad("recency must be a number >= 0"))?;
    }
    let library = lib::load(&app.dir, &name)?;
    let l = app.now();
    let (a, served) = (Arc::clone(&app), Arc::clone(&l));
    let recs = blocking(move || {
        let (index, bm25, repaired) = (&served.index, &served.bm25, &served.bm25_repaired);
        lexical_store::with_repair(index, bm25, repaired, |bm25| {
            let mut words = served.words.lock().unwrap_or_else(|e| e.into_inner());
            recommend::recommend(index, &a.backend, &library, &o, Some((bm25, &mut words)))
        })?
    })
    .await?
    .map_err(|e| match e {
        RecommendError::NoLikes => ApiError::bad(e.to_string()),
        e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })?;
    let list: Vec<_> = recs
        .iter()
        .map(|r| {
            let mut v = paper_json(&l, r.row);
            if let Some(o) = v.as_object_mut() {
                o.remove("summary");
                o.insert("score".into(), json!(r.score));
                o.insert("margin".into(), json!(r.margin));
                let near: Vec<_> = r
                    .near
                    .iter()
                    .map(|&(row, cos)| {
                        let p = l.index.record(row).paper.clone();
                        json!({"arxiv_id": p.arxiv_id, "title": p.title, "cosine": cos})
                    })
                    .collect();
                o.insert("near".into(), json!(near));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "library": name, "recommendations": list })).into_response())
}
