//! `papermap serve`: a local explorer and JSON API over one index, with the model loaded once.
//!
//! Pages (server-rendered HTML, no script, nothing from elsewhere): search, a paper, a topic,
//! the topics, the map. API: `/api/search`, `/api/related/{id}`, `/api/papers/{id}`,
//! `/api/topics`, `/api/topics/{id}`, the reader's library (`/api/library`, `/api/recommend`,
//! see [`library`]), and an OpenAI-style `POST /v1/embeddings` (as
//! text-embeddings-inference offers) so other tools can use the model.
//!
//! Embedding requests from all connections go through one queue to one embedding thread, which
//! takes whatever has queued up (up to [`BATCH_TEXTS`] texts) as one packed batch: concurrent
//! queries share a forward pass instead of contending for the two cores.
//!
//! The index may be updated by `papermap index` while the server runs: a watcher reads the
//! manifest every [`RELOAD_EVERY`] and, on any committed change (a new generation, or a chunk
//! commit within one), opens the index whole (a manifest only ever names whole files) and swaps
//! it in; requests in flight finish on the old one. A manifest that could not be served is not
//! tried (or reported) again until it changes.
//!
//! [`state`] holds the served generation and the watcher, [`api`] the JSON API, [`pages`] the
//! HTML, [`library`] the library's API, [`embedder`] the embedding queue, [`scanner`] the shared dense pass, [`guard`] the
//! checks that keep a web page from driving the server; this file binds them to routes.

mod api;
mod embedder;
mod guard;
mod library;
mod map;
mod pages;
mod scanner;
mod state;

use api::*;
use library::*;
use map::*;
use pages::*;
use state::*;

use embedder::{Job, Lane, Vectors};
pub use embedder::{BATCH_TEXTS, MAX_REQUEST_TOKENS};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::embed::{Encoder, Prefix};
use crate::index::{read_manifest, Index, IndexError};
use crate::report::{esc, web_link};
use crate::search::{self, lexical_store, related, Bm25, Hit, Mode, SearchError};
use crate::topics::Topics;

/// Largest `k` a request may ask for.
pub const MAX_K: usize = 100;
/// Longest query, in bytes.
pub const MAX_QUERY_BYTES: usize = 2_000;
/// Largest request body (an embeddings request), in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Most inputs in one embeddings request.
pub const MAX_INPUTS: usize = 512;
/// How often the watcher looks for a new index generation.
pub const RELOAD_EVERY: Duration = Duration::from_millis(500);

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The index could not be opened.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The lexical side or a lookup failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for (`--addr`), before any port 0 is given a real one.
        addr: SocketAddr,
        /// The I/O error of binding, e.g. the port is in use or the address is not this machine's.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("serving failed")]
    Run(#[source] std::io::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// What `papermap serve` needs.
pub struct ServeOptions {
    /// Index directory, whose manifest is watched so new generations are served.
    pub dir: PathBuf,
    /// Address to listen on; port 0 takes a free port, reported to the `ready` callback.
    pub addr: SocketAddr,
    /// Host names requests may use besides IP addresses and `localhost` (see [`guard`]).
    pub allow_hosts: Vec<String>,
    /// Where the dense passes run (the int8 scan on the CPU, the device's top-k on a GPU).
    pub backend: crate::vectors::VectorBackend,
}

/// Refuses requests a web page could have sent behind the user's back (see [`guard`]).
async fn guard_requests(
    State(app): State<Arc<ServerState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(g) = app.guard.get() else {
        return next.run(req).await;
    };
    let headers = req.headers();
    let value = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if value(header::HOST).is_some_and(|h| !g.host_ok(h)) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "the Host header must name this server by IP address, localhost or an allowed host \
             name (a page on another site cannot use this server)",
        )
        .into_response();
    }
    if req.method() == axum::http::Method::POST {
        if value(header::ORIGIN).is_some_and(|o| !g.origin_ok(o)) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "cross-origin POST refused: the Origin is not this server",
            )
            .into_response();
        }
        if !value(header::CONTENT_TYPE).is_some_and(guard::is_json) {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST bodies must be sent as Content-Type: application/json",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Serves until interrupted with `encoder`, which the index must accept; `ready` gets the bound
/// address once the server accepts connections (the CLI prints it).
pub fn serve(
    opts: ServeOptions,
    encoder: Encoder,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let loaded = Loaded::open(&opts.dir, &opts.backend)?;
    let identity = encoder.identity().clone();
    loaded.index.accepts(&identity)?;
    let queue = Arc::new(embedder::Queue::default());
    let worker = Arc::clone(&queue);
    std::thread::Builder::new()
        .name("papermap-embed".into())
        .spawn(move || embedder::run(encoder, &worker))
        .map_err(ServeError::Runtime)?;
    let (scans, requests) = std::sync::mpsc::channel();
    let coming = Arc::new(scanner::Coming::default());
    let counted = Arc::clone(&coming);
    std::thread::Builder::new()
        .name("papermap-scan".into())
        .spawn(move || scanner::run(requests, &counted))
        .map_err(ServeError::Runtime)?;
    let app = Arc::new(ServerState {
        dir: opts.dir.clone(),
        seen: std::sync::Mutex::new(Some(loaded.index.manifest().clone())),
        guard: std::sync::OnceLock::new(),
        current: RwLock::new(Arc::new(loaded)),
        jobs: queue,
        scans,
        coming,
        identity,
        backend: opts.backend,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: opts.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::Run)?;
        let _ = app
            .guard
            .set(guard::Guard::new(addr.port(), &opts.allow_hosts));
        let watcher = Arc::clone(&app);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let a = Arc::clone(&watcher);
                let _ = tokio::task::spawn_blocking(move || watch(&a)).await;
            }
        });
        let router = Router::new()
            .route("/", get(page_search))
            .route("/papers/{id}", get(page_paper))
            .route("/topics", get(page_topics))
            .route("/topics/{id}", get(page_topic))
            .route("/map", get(page_map))
            .route("/map.svg", get(page_map_svg))
            .route("/assets/{*name}", get(asset))
            .route("/api/map", get(api_map))
            .route("/api/map/points", get(api_map_points))
            .route("/api/map/rows/{row}", get(api_map_row))
            .route("/api/search", get(api_search))
            .route("/api/related/{id}", get(api_related))
            .route("/api/papers/{id}", get(api_paper))
            .route("/api/topics", get(api_topics))
            .route("/api/topics/{id}", get(api_topic))
            .route("/api/library", get(api_library).post(api_library_change))
            .route("/api/recommend", get(api_recommend))
            .route("/v1/embeddings", post(v1_embeddings))
            .fallback(fallback)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&app),
                guard_requests,
            ))
            .with_state(app);
        ready(addr);
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(ServeError::Run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        assert_eq!(parse_k(None, 10).unwrap(), 10);
        assert_eq!(parse_k(Some("5"), 10).unwrap(), 5);
        for bad in ["0", "1000000000", "-1", "x", ""] {
            assert_eq!(
                parse_k(Some(bad), 10).unwrap_err().status,
                StatusCode::BAD_REQUEST
            );
        }
        assert!(parse_mode(Some("sparse")).is_err());
        assert_eq!(url_segment("2409.17146"), "2409.17146");
        assert_eq!(url_segment("../x y"), "..%2Fx%20y");
    }
}
