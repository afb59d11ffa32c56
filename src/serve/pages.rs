//! The HTML pages (server-rendered, no script): search, a paper, the topics, a topic, the map,
//! and the pages for what is not found or not allowed.

use super::*;

pub(super) const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#1f2328;background:#fafbfc}\
a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}nav a{margin-right:1rem}\
form{margin:1rem 0}input[name=q]{width:60%;font-size:16px;padding:.4rem}select,button{font-size:15px;padding:.35rem}\
.meta{color:#656d76;font-size:13px}ol li{margin:.35rem 0}.kw{color:#444}svg{max-width:100%;height:auto;background:#fff}";

pub(super) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{} · papermap</title><style>{STYLE}</style>\
         </head><body><nav><a href=\"/\"><b>papermap</b></a><a href=\"/topics\">Topics</a>\
         <a href=\"/map\">Map</a></nav>{body}</body></html>",
        esc(title)
    ))
}

/// List items of `hits`; with `scored`, each shows its score (a topic's lists have none).
pub(super) fn hit_items(l: &Loaded, hits: &[Hit], scored: bool) -> String {
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
pub(super) fn url_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn page_search(
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

/// A page's path parameter, or the 400 page for one that does not decode.
pub(super) fn page_param(
    p: Result<UrlPath<String>, PathRejection>,
) -> Result<String, Box<Response>> {
    path_param(p).map_err(|e| {
        Box::new(message_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &e.message,
        ))
    })
}

/// A page that only says what went wrong.
pub(super) fn message_page(status: StatusCode, title: &str, what: &str) -> Response {
    (
        status,
        page(title, &format!("<h1>{title}</h1><p>{}</p>", esc(what))),
    )
        .into_response()
}

pub(super) fn not_found_page(what: &str) -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found", what)
}

pub(super) async fn page_paper(
    State(app): State<Arc<ServerState>>,
    id: Result<UrlPath<String>, PathRejection>,
    params: Result<Query<KParam>, QueryRejection>,
) -> Response {
    let id = match page_param(id) {
        Ok(id) => id,
        Err(page) => return *page,
    };
    // An order the page does not know is the default one: a page never fails on its links.
    let order: search::RelatedOrder = params
        .ok()
        .and_then(|Query(p)| p.sort)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
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
        &app.backend,
        row,
        10.min(l.index.len().saturating_sub(1)).max(1),
    )
    .map(|mut h| {
        search::order_related(&l.index, &mut h, order);
        hit_items(&l, &h, true)
    })
    .unwrap_or_default();
    let sorts: Vec<String> = [
        (search::RelatedOrder::Similarity, "similarity"),
        (search::RelatedOrder::Date, "newest"),
        (search::RelatedOrder::Votes, "votes"),
    ]
    .iter()
    .map(|&(o, name)| {
        if o == order {
            format!("<b>{name}</b>")
        } else {
            let q = serde_json::to_value(o)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            format!(
                "<a href=\"/papers/{}?sort={}\">{name}</a>",
                url_segment(&p.arxiv_id),
                q.unwrap_or_default()
            )
        }
    })
    .collect();
    let authors = if p.authors.is_empty() {
        String::new()
    } else {
        format!("<p class=\"meta\">{}</p>", esc(&p.authors.join(", ")))
    };
    page(
        &p.title,
        &format!(
            "<h1>{}</h1><p class=\"meta\">{} · {}{votes}{dates}{link}</p>{authors}{topic}\
             <p>{}</p><h2>Related papers</h2><p class=\"meta\">sorted by {}</p>\
             <ol id=\"related\">{related}</ol>",
            esc(&p.title),
            esc(&p.arxiv_id),
            esc(p.date.as_deref().unwrap_or("-")),
            esc(&p.summary),
            sorts.join(" · ")
        ),
    )
    .into_response()
}

pub(super) async fn page_topics(State(app): State<Arc<ServerState>>) -> Response {
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

pub(super) async fn page_topic(
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

pub(super) async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/v1/") {
        ApiError::not_found(format!("no such endpoint {path}")).into_response()
    } else {
        not_found_page(&format!("no page {path}"))
    }
}

/// 405 with the methods this path takes: POST for the embeddings endpoint, GET (and HEAD)
/// for everything else.
pub(super) async fn method_not_allowed(uri: Uri) -> Response {
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
