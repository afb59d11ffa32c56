//! The JSON API: search, related, papers, topics, and an OpenAI-style `/v1/embeddings`, with
//! errors as JSON `{"error": message}`.

use super::*;

/// An API error: a status and a JSON `{"error": message}`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub(super) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub(super) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

/// Runs `f` off the async workers (a file write, a model fit, a pass over every paper); a
/// task that panicked is a 500.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
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
pub(super) struct SearchParams {
    pub(super) q: Option<String>,
    pub(super) k: Option<String>,
    pub(super) mode: Option<String>,
}

pub(super) fn parse_k(k: Option<&str>, default: usize) -> Result<usize, ApiError> {
    let Some(k) = k else { return Ok(default) };
    match k.trim().parse::<usize>() {
        Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
        _ => Err(ApiError::bad(format!(
            "k must be a number from 1 to {MAX_K}"
        ))),
    }
}

pub(super) fn parse_mode(m: Option<&str>) -> Result<Mode, ApiError> {
    match m.unwrap_or("hybrid") {
        "hybrid" => Ok(Mode::Hybrid),
        "dense" => Ok(Mode::Dense),
        "lexical" => Ok(Mode::Lexical),
        other => Err(ApiError::bad(format!(
            "unknown mode {other:?}: use hybrid, dense or lexical"
        ))),
    }
}

pub(super) fn query_of(p: &SearchParams) -> Result<String, ApiError> {
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

pub(super) async fn run_search(
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

pub(super) fn hit_json(l: &Loaded, rank: usize, h: &Hit) -> serde_json::Value {
    let mut v = json!(search::HitRecord::of(&l.index, rank + 1, h));
    v["topic"] = json!(l.topic_of(h.row).map(|t| t.id));
    // The map highlights search results by row: its points are in index order.
    v["row"] = json!(h.row);
    v
}

pub(super) async fn api_search(
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

pub(super) fn row_of(l: &Loaded, id: &str) -> Result<usize, ApiError> {
    l.index
        .row_of(id.trim())
        .ok_or_else(|| ApiError::not_found(format!("no paper {id:?} in the index")))
}

pub(super) fn paper_json(l: &Loaded, row: usize) -> serde_json::Value {
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
pub(super) struct KParam {
    pub(super) k: Option<String>,
    /// Related papers' order: `similarity` (default), `date` or `votes`.
    pub(super) sort: Option<String>,
}

pub(super) async fn api_related(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
    params: Result<Query<KParam>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    let Query(p) = params.map_err(|e| ApiError::bad(e.body_text()))?;
    let k = parse_k(p.k.as_deref(), 10)?;
    let order: search::RelatedOrder = match p.sort.as_deref() {
        None => Default::default(),
        Some(s) => s.trim().parse().map_err(ApiError::bad)?,
    };
    let l = app.now();
    let row = row_of(&l, &id)?;
    let mut hits = related(
        &l.index,
        &app.backend,
        row,
        k.min(l.index.len().saturating_sub(1)).max(1),
    )?;
    search::order_related(&l.index, &mut hits, order);
    let results: Vec<_> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| hit_json(&l, i, h))
        .collect();
    Ok(Json(json!({ "paper": paper_json(&l, row), "results": results })).into_response())
}

pub(super) async fn api_paper(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    let l = app.now();
    let row = row_of(&l, &id)?;
    Ok(Json(paper_json(&l, row)).into_response())
}

pub(super) fn topics_of(l: &Loaded) -> Result<&Topics, ApiError> {
    l.topics.as_ref().map_err(ApiError::not_found)
}

pub(super) async fn api_topics(State(app): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let l = app.now();
    let t = topics_of(&l)?;
    let list: Vec<_> = t
        .topics
        .iter()
        .map(|t| json!({"id": t.id, "label": t.label, "size": t.size, "keywords": t.keywords, "direction": t.direction}))
        .collect();
    Ok(Json(json!({ "k": t.k, "topics": list })).into_response())
}

pub(super) async fn api_topic(
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
pub(super) enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
pub(super) struct EmbeddingsRequest {
    pub(super) input: Input,
    /// Accepted and not used: the server has one model, which the answer names.
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) model: Option<serde_json::Value>,
    /// `float` (default) or `base64` (little-endian f32 bytes), as OpenAI and TEI take it.
    #[serde(default)]
    pub(super) encoding_format: Option<String>,
}

pub(super) async fn v1_embeddings(
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

/// A path parameter, or a JSON 400 for one that does not decode (`%FF%FE` is no UTF-8).
pub(super) fn path_param(p: Result<UrlPath<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|UrlPath(id)| id)
        .map_err(|e| ApiError::bad(format!("bad path: {}", e.body_text())))
}
