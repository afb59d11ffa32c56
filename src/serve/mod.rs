//! `papermap serve`: a local explorer and JSON API over one index, with the model loaded once.
//!
//! Pages (server-rendered HTML, no script, nothing from elsewhere): search, a paper, a topic,
//! the topics, the map. API: `/api/search`, `/api/related/{id}`, `/api/papers/{id}`,
//! `/api/topics`, `/api/topics/{id}`, and an OpenAI-style `POST /v1/embeddings` (as
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

mod embedder;
mod guard;
mod scanner;

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
use crate::search::int8_scan::Int8Matrix;
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
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
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

/// One generation of the index, ready to answer.
struct Loaded {
    index: Index,
    /// The matrix's int8 copy, which the scanner's passes read (a quarter of the bytes).
    int8: Int8Matrix,
    bm25: Bm25,
    /// Statistics built anew after a damaged posting list was read from `lexical.bin`.
    bm25_repaired: std::sync::OnceLock<Bm25>,
    /// The index's topics if current, else why not (shown on the topic pages and the API).
    topics: Result<Topics, String>,
    /// Drawn on the first visit of `/map`: at a million papers it reads every paper, which a
    /// server start should not wait for.
    map_svg: std::sync::OnceLock<Option<String>>,
}

impl Loaded {
    fn open(dir: &Path) -> Result<Loaded, ServeError> {
        let index = Index::open(dir)?;
        if index.is_empty() {
            return Err(SearchError::EmptyIndex.into());
        }
        // The stored lexicon (`papermap index` learns it with the model), else one learned now.
        let bm25 = lexical_store::load_or_build(&index, None).map_err(SearchError::from)?;
        let int8 = Int8Matrix::build(index.vectors(), index.dim())?;
        // Topics of another generation would put papers in the wrong topics: left out until
        // `papermap topics` runs again, and said so once per generation.
        let topics = crate::topics::load_current(&index).map_err(|e| {
            if !matches!(e, crate::topics::TopicsError::NoTopics { .. }) {
                eprintln!("warning: topic pages are off: {e}");
            }
            format!("{e}: run `papermap topics` on it")
        });
        Ok(Loaded {
            index,
            int8,
            bm25,
            bm25_repaired: std::sync::OnceLock::new(),
            topics,
            map_svg: std::sync::OnceLock::new(),
        })
    }

    fn topic_of(&self, row: usize) -> Option<&crate::topics::Topic> {
        let t = self.topics.as_ref().ok()?;
        t.topic(*t.assignment.get(row)?)
    }
}

/// What every request handler shares: the served generation, the reload watch, the embedding
/// queue and the scanner, and the identity of the vectors the encoder makes.
struct ServerState {
    dir: PathBuf,
    current: RwLock<Arc<Loaded>>,
    /// The last manifest the watcher acted on (served, or found unservable).
    seen: std::sync::Mutex<Option<crate::index::Manifest>>,
    /// Which hosts requests may name (set once the port is bound).
    guard: std::sync::OnceLock<guard::Guard>,
    jobs: Arc<embedder::Queue>,
    /// Dense top-k requests, answered together ([`scanner`]).
    scans: std::sync::mpsc::Sender<scanner::Request>,
    /// Searches whose query is being embedded (the scanner waits for them).
    coming: Arc<scanner::Coming>,
    /// Which vectors the encoder makes: a new generation is served only if it accepts them.
    identity: crate::embed::ModelIdentity,
}

impl ServerState {
    fn now(&self) -> Arc<Loaded> {
        self.current
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// The dense top `depth` for `vector`, from the scanning thread's next pass.
    async fn dense(
        &self,
        loaded: &Arc<Loaded>,
        vector: Vec<f32>,
        depth: usize,
    ) -> Result<Vec<Hit>, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = || ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "scanner stopped");
        self.scans
            .send(scanner::Request {
                loaded: Arc::clone(loaded),
                vector,
                depth,
                reply: tx,
            })
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| stopped())?
            .map_err(|m| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m))
    }

    async fn embed(&self, texts: Vec<String>, lane: Lane) -> Result<Vectors, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .push(Job { texts, reply: tx }, lane)
            .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "embedding queue full"))?;
        rx.await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "embedder stopped"))?
            .map_err(|(status, message)| ApiError::new(status, message))
    }
}

/// Watches the manifest; swaps in each committed change once it opens whole.
fn watch(app: &ServerState) {
    let now = app.now().index.manifest().generation;
    let Ok(Some(m)) = read_manifest(&app.dir) else {
        return;
    };
    {
        let mut seen = app.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.as_ref() == Some(&m) {
            return;
        }
        *seen = Some(m.clone());
    }
    if &m == app.now().index.manifest() {
        return;
    }
    if let Err(e) = m.accepts(&app.dir, &app.identity) {
        eprintln!(
            "warning: not serving generation {} ({e}); still serving generation {now}",
            m.generation
        );
        return;
    }
    match Loaded::open(&app.dir) {
        Ok(l) => {
            let generation = l.index.manifest().generation;
            if let Ok(mut g) = app.current.write() {
                *g = Arc::new(l);
            }
            eprintln!("serving generation {generation} of {}", app.dir.display());
        }
        // Told once per manifest: the next commit is tried afresh.
        Err(e) => eprintln!(
            "warning: not serving generation {} yet ({e}); still serving generation {now}",
            m.generation
        ),
    }
}

/// An API error: a status and a JSON `{"error": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> ApiError {
        match e {
            SearchError::EmptyQuery | SearchError::ZeroK => ApiError::bad(e.to_string()),
            SearchError::UnknownPaper { .. } => ApiError::not_found(e.to_string()),
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    k: Option<String>,
    mode: Option<String>,
}

fn parse_k(k: Option<&str>, default: usize) -> Result<usize, ApiError> {
    let Some(k) = k else { return Ok(default) };
    match k.trim().parse::<usize>() {
        Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
        _ => Err(ApiError::bad(format!(
            "k must be a number from 1 to {MAX_K}"
        ))),
    }
}

fn parse_mode(m: Option<&str>) -> Result<Mode, ApiError> {
    match m.unwrap_or("hybrid") {
        "hybrid" => Ok(Mode::Hybrid),
        "dense" => Ok(Mode::Dense),
        "lexical" => Ok(Mode::Lexical),
        other => Err(ApiError::bad(format!(
            "unknown mode {other:?}: use hybrid, dense or lexical"
        ))),
    }
}

fn query_of(p: &SearchParams) -> Result<String, ApiError> {
    let q = p.q.as_deref().unwrap_or("").trim().to_string();
    if q.is_empty() {
        return Err(ApiError::bad("q is empty"));
    }
    if q.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad(format!(
            "q is {} bytes; at most {MAX_QUERY_BYTES}",
            q.len()
        )));
    }
    Ok(q)
}

async fn run_search(
    app: &ServerState,
    q: &str,
    mode: Mode,
    k: usize,
) -> Result<(Arc<Loaded>, Vec<Hit>), ApiError> {
    let loaded = app.now();
    search::check_query(&loaded.index, q, k)?;
    let dense = match search::dense_depth(mode, k) {
        Some(depth) => {
            let embedding = app.coming.announce();
            let (mut v, _) = app
                .embed(vec![format!("{}{q}", Prefix::Query.as_str())], Lane::Query)
                .await?;
            drop(embedding);
            let vector = v.pop().unwrap_or_default();
            Some(app.dense(&loaded, vector, depth).await?)
        }
        None => None,
    };
    let hits =
        lexical_store::with_repair(&loaded.index, &loaded.bm25, &loaded.bm25_repaired, |bm25| {
            search::search_ranked(&loaded.index, bm25, q, dense.as_deref(), mode, k)
        })
        .map_err(SearchError::from)??;
    Ok((loaded, hits))
}

fn hit_json(l: &Loaded, rank: usize, h: &Hit) -> serde_json::Value {
    let mut v = json!(search::HitRecord::of(&l.index, rank + 1, h));
    v["topic"] = json!(l.topic_of(h.row).map(|t| t.id));
    v
}

async fn api_search(
    State(app): State<Arc<ServerState>>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad(e.body_text()))?;
    let q = query_of(&p)?;
    let k = parse_k(p.k.as_deref(), 10)?;
    let mode = parse_mode(p.mode.as_deref())?;
    let (l, hits) = run_search(&app, &q, mode, k).await?;
    let results: Vec<_> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| hit_json(&l, i, h))
        .collect();
    Ok(Json(json!({
        "query": q,
        "mode": mode,
        "k": results.len(),
        "results": results,
        // The generation that answered, so a client can tell which index it searched.
        "index": {"generation": l.index.manifest().generation, "papers": l.index.len()},
    }))
    .into_response())
}

fn row_of(l: &Loaded, id: &str) -> Result<usize, ApiError> {
    l.index
        .row_of(id.trim())
        .ok_or_else(|| ApiError::not_found(format!("no paper {id:?} in the index")))
}

fn paper_json(l: &Loaded, row: usize) -> serde_json::Value {
    let record = l.index.record(row);
    let p = &record.paper;
    json!({
        "arxiv_id": p.arxiv_id,
        "title": p.title,
        "url": p.url,
        "date": p.date,
        "dates": p.dates,
        "votes": p.votes,
        "authors": p.authors,
        "summary": p.summary,
        "topic": l.topic_of(row).map(|t| json!({"id": t.id, "label": t.label})),
    })
}

#[derive(Deserialize)]
struct KParam {
    k: Option<String>,
}

async fn api_related(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
    params: Result<Query<KParam>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    let Query(p) = params.map_err(|e| ApiError::bad(e.body_text()))?;
    let k = parse_k(p.k.as_deref(), 10)?;
    let l = app.now();
    let row = row_of(&l, &id)?;
    let hits = related(&l.index, row, k.min(l.index.len().saturating_sub(1)).max(1))?;
    let results: Vec<_> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| hit_json(&l, i, h))
        .collect();
    Ok(Json(json!({ "paper": paper_json(&l, row), "results": results })).into_response())
}

async fn api_paper(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    let l = app.now();
    let row = row_of(&l, &id)?;
    Ok(Json(paper_json(&l, row)).into_response())
}

fn topics_of(l: &Loaded) -> Result<&Topics, ApiError> {
    l.topics.as_ref().map_err(ApiError::not_found)
}

async fn api_topics(State(app): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let l = app.now();
    let t = topics_of(&l)?;
    let list: Vec<_> = t
        .topics
        .iter()
        .map(|t| json!({"id": t.id, "label": t.label, "size": t.size, "keywords": t.keywords, "direction": t.direction}))
        .collect();
    Ok(Json(json!({ "k": t.k, "topics": list })).into_response())
}

async fn api_topic(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    let l = app.now();
    let t = topics_of(&l)?;
    let topic = id
        .parse::<u32>()
        .ok()
        .and_then(|id| t.topic(id))
        .ok_or_else(|| ApiError::not_found(format!("no topic {id:?}")))?;
    let mut v = serde_json::to_value(topic)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("centroid");
        let ids = |rows: &[usize]| -> Vec<String> {
            rows.iter()
                .filter(|&&r| r < l.index.len())
                .map(|&r| l.index.record(r).paper.arxiv_id.clone())
                .collect()
        };
        o.insert("representative".into(), json!(ids(&topic.representative)));
        o.insert("top_voted".into(), json!(ids(&topic.top_voted)));
    }
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct EmbeddingsRequest {
    input: Input,
    /// Accepted and not used: the server has one model, which the answer names.
    #[serde(default)]
    #[allow(dead_code)]
    model: Option<serde_json::Value>,
    /// `float` (default) or `base64` (little-endian f32 bytes), as OpenAI and TEI take it.
    #[serde(default)]
    encoding_format: Option<String>,
}

async fn v1_embeddings(
    State(app): State<Arc<ServerState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let req: EmbeddingsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid request: {e}")))?;
    let texts = match req.input {
        Input::One(s) => vec![s],
        Input::Many(v) => v,
    };
    if texts.is_empty() {
        return Err(ApiError::bad("input must hold at least one string"));
    }
    if texts.len() > MAX_INPUTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "input holds {} strings; a request may hold at most {MAX_INPUTS}: split it",
                texts.len()
            ),
        ));
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "encoding_format {other:?}: use float or base64"
            )))
        }
    };
    let (vectors, tokens) = app.embed(texts, Lane::Bulk).await?;
    let data: Vec<_> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                use base64::Engine as _;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": app.identity.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response())
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#1f2328;background:#fafbfc}\
a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}nav a{margin-right:1rem}\
form{margin:1rem 0}input[name=q]{width:60%;font-size:16px;padding:.4rem}select,button{font-size:15px;padding:.35rem}\
.meta{color:#656d76;font-size:13px}ol li{margin:.35rem 0}.kw{color:#444}svg{max-width:100%;height:auto;background:#fff}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{} · papermap</title><style>{STYLE}</style>\
         </head><body><nav><a href=\"/\"><b>papermap</b></a><a href=\"/topics\">Topics</a>\
         <a href=\"/map\">Map</a></nav>{body}</body></html>",
        esc(title)
    ))
}

/// List items of `hits`; with `scored`, each shows its score (a topic's lists have none).
fn hit_items(l: &Loaded, hits: &[Hit], scored: bool) -> String {
    let mut s = String::new();
    for h in hits {
        let record = l.index.record(h.row);
        let p = &record.paper;
        let topic = l
            .topic_of(h.row)
            .map(|t| format!(" · <a href=\"/topics/{}\">{}</a>", t.id, esc(&t.label)))
            .unwrap_or_default();
        let score = if scored {
            format!(" · {:.4}", h.score)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "<li><a class=\"paper\" href=\"/papers/{}\">{}</a><div class=\"meta\">{}{score}{topic}</div></li>",
            esc(&url_segment(&p.arxiv_id)),
            esc(&p.title),
            esc(p.date.as_deref().unwrap_or("-")),
        ));
    }
    s
}

/// An id as one URL path segment.
fn url_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

async fn page_search(
    State(app): State<Arc<ServerState>>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let p = params.map(|Query(p)| p).unwrap_or(SearchParams {
        q: None,
        k: None,
        mode: None,
    });
    let q = p.q.clone().unwrap_or_default();
    let mode_name = p.mode.clone().unwrap_or_else(|| "hybrid".into());
    let l = app.now();
    let options: String = ["hybrid", "dense", "lexical"]
        .iter()
        .map(|m| {
            let sel = if *m == mode_name { " selected" } else { "" };
            format!("<option{sel}>{m}</option>")
        })
        .collect();
    let form = format!(
        "<form action=\"/\" method=\"get\"><input name=\"q\" value=\"{}\" placeholder=\"검색 · search (Korean or English)\" autofocus> \
         <select name=\"mode\">{options}</select> <button type=\"submit\">Search</button></form>\
         <p class=\"meta\">{} papers, generation {}</p>",
        esc(&q),
        l.index.len(),
        l.index.manifest().generation
    );
    if q.trim().is_empty() {
        return page("Search", &format!("<h1>Search</h1>{form}")).into_response();
    }
    let result = async {
        let q = query_of(&p)?;
        let k = parse_k(p.k.as_deref(), 20)?;
        let mode = parse_mode(p.mode.as_deref())?;
        run_search(&app, &q, mode, k).await
    }
    .await;
    match result {
        Ok((l, hits)) => page(
            &q,
            &format!(
                "<h1>Search</h1>{form}<ol id=\"results\">{}</ol>",
                hit_items(&l, &hits, true)
            ),
        )
        .into_response(),
        Err(e) => (
            e.status,
            page(
                "Search",
                &format!(
                    "<h1>Search</h1>{form}<p class=\"error\">{}</p>",
                    esc(&e.message)
                ),
            ),
        )
            .into_response(),
    }
}

/// A path parameter, or a JSON 400 for one that does not decode (`%FF%FE` is no UTF-8).
fn path_param(p: Result<UrlPath<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|UrlPath(id)| id)
        .map_err(|e| ApiError::bad(format!("bad path: {}", e.body_text())))
}

/// A page's path parameter, or the 400 page for one that does not decode.
fn page_param(p: Result<UrlPath<String>, PathRejection>) -> Result<String, Box<Response>> {
    path_param(p).map_err(|e| {
        Box::new(message_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &e.message,
        ))
    })
}

/// A page that only says what went wrong.
fn message_page(status: StatusCode, title: &str, what: &str) -> Response {
    (
        status,
        page(title, &format!("<h1>{title}</h1><p>{}</p>", esc(what))),
    )
        .into_response()
}

fn not_found_page(what: &str) -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found", what)
}

async fn page_paper(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
) -> Response {
    let id = match page_param(id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let l = app.now();
    let Ok(row) = row_of(&l, &id) else {
        return not_found_page(&format!("no paper {id:?} in the index"));
    };
    let record = l.index.record(row);
    let p = &record.paper;
    let link = web_link(&p.url)
        .map(|u| format!(" · <a href=\"{}\">arXiv</a>", esc(u)))
        .unwrap_or_default();
    let votes = p.votes.map(|v| format!(" · {v} votes")).unwrap_or_default();
    let dates = if p.dates.len() > 1 {
        format!(" · in digests of {}", esc(&p.dates.join(", ")))
    } else {
        String::new()
    };
    let topic = l
        .topic_of(row)
        .map(|t| {
            format!(
                "<p>Topic: <a href=\"/topics/{}\">{}</a></p>",
                t.id,
                esc(&t.label)
            )
        })
        .unwrap_or_default();
    let related = related(
        &l.index,
        row,
        10.min(l.index.len().saturating_sub(1)).max(1),
    )
    .map(|h| hit_items(&l, &h, true))
    .unwrap_or_default();
    let authors = if p.authors.is_empty() {
        String::new()
    } else {
        format!("<p class=\"meta\">{}</p>", esc(&p.authors.join(", ")))
    };
    page(
        &p.title,
        &format!(
            "<h1>{}</h1><p class=\"meta\">{} · {}{votes}{dates}{link}</p>{authors}{topic}\
             <p>{}</p><h2>Related papers</h2><ol id=\"related\">{related}</ol>",
            esc(&p.title),
            esc(&p.arxiv_id),
            esc(p.date.as_deref().unwrap_or("-")),
            esc(&p.summary)
        ),
    )
    .into_response()
}

async fn page_topics(State(app): State<Arc<ServerState>>) -> Response {
    let l = app.now();
    let t = match &l.topics {
        Ok(t) => t,
        Err(why) => return not_found_page(why),
    };
    let items: String = t
        .topics
        .iter()
        .map(|t| {
            format!(
                "<li><a href=\"/topics/{}\">{}</a> <span class=\"meta\">{} papers · {}</span></li>",
                t.id,
                esc(&t.label),
                t.size,
                esc(&t.keywords.join(", "))
            )
        })
        .collect();
    page(
        "Topics",
        &format!("<h1>{} topics</h1><ol>{items}</ol>", t.topics.len()),
    )
    .into_response()
}

async fn page_topic(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
) -> Response {
    let id = match page_param(id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    let l = app.now();
    let t = match &l.topics {
        Ok(t) => t,
        Err(why) => return not_found_page(why),
    };
    let Some(topic) = id.parse::<u32>().ok().and_then(|id| t.topic(id)) else {
        return not_found_page(&format!("no topic {id:?}"));
    };
    let list = |rows: &[usize]| -> String {
        let hits: Vec<Hit> = rows
            .iter()
            .filter(|&&r| r < l.index.len())
            .map(|&r| Hit { row: r, score: 0.0 })
            .collect();
        hit_items(&l, &hits, false)
    };
    let months: String = topic
        .per_month
        .iter()
        .map(|(m, n)| format!("<li>{} — {n}</li>", esc(m)))
        .collect();
    page(
        &topic.label,
        &format!(
            "<h1>{}</h1><p class=\"kw\">{}</p><p class=\"meta\">{} papers · {} to {}</p>\
             <h2>Representative papers</h2><ol>{}</ol><h2>Most voted</h2><ol>{}</ol>\
             <h2>Papers per month</h2><ul>{months}</ul>",
            esc(&topic.label),
            esc(&topic.keywords.join(" · ")),
            topic.size,
            esc(topic.first_date.as_deref().unwrap_or("-")),
            esc(topic.last_date.as_deref().unwrap_or("-")),
            list(&topic.representative),
            list(&topic.top_voted)
        ),
    )
    .into_response()
}

async fn page_map(State(app): State<Arc<ServerState>>) -> Response {
    let l = app.now();
    let t = match &l.topics {
        Ok(t) => t,
        Err(why) => return not_found_page(why),
    };
    let svg = l
        .map_svg
        .get_or_init(|| crate::report::map_svg(&l.index, t).ok());
    match svg {
        Some(svg) => page("Map", &format!("<h1>Map</h1>{svg}")).into_response(),
        None => not_found_page("the map could not be drawn from these topics"),
    }
}

async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/v1/") {
        ApiError::not_found(format!("no such endpoint {path}")).into_response()
    } else {
        not_found_page(&format!("no page {path}"))
    }
}

/// 405 with the methods this path takes: POST for the embeddings endpoint, GET (and HEAD)
/// for everything else.
async fn method_not_allowed(uri: Uri) -> Response {
    let allow = if uri.path() == "/v1/embeddings" {
        "POST"
    } else {
        "GET, HEAD"
    };
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, allow)],
        Json(json!({"error": format!("method not allowed; {} takes {allow}", uri.path())})),
    )
        .into_response()
}

/// What `papermap serve` needs.
pub struct ServeOptions {
    /// Index directory.
    pub dir: PathBuf,
    /// Address to bind.
    pub addr: SocketAddr,
    /// Host names requests may use besides IP addresses and `localhost` (see [`guard`]).
    pub allow_hosts: Vec<String>,
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
    let loaded = Loaded::open(&opts.dir)?;
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
            .route("/api/search", get(api_search))
            .route("/api/related/{id}", get(api_related))
            .route("/api/papers/{id}", get(api_paper))
            .route("/api/topics", get(api_topics))
            .route("/api/topics/{id}", get(api_topic))
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
