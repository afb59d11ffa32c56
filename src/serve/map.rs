//! The interactive map: every paper as a point of the topics' 2-D layout, drawn with WebGL by
//! regl-scatterplot (vendored from npm into `assets/vendor/`, served from the binary).
//!
//! The points travel as a compact binary (`/api/map/points`): a header (`PMAP`, version 1,
//! the count) and 8 bytes per paper, little-endian: x and y as f16 in [0, 1], the topic's
//! position and the month's index as u16. A million papers are 8 MB where JSON was 60.
//! `/api/map` gives the rest once: topics with their colours and centres, the hierarchy's
//! coarser levels (labels shown by zoom), the months. `/api/map/rows/{row}` gives one paper,
//! as a hover asks for it.

use std::collections::HashMap;

use super::*;
use crate::report::colour;

/// The page's script and the vendored libraries, embedded in the binary.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "map.js",
        "text/javascript",
        include_bytes!("../../assets/map.js"),
    ),
    (
        "map.css",
        "text/css",
        include_bytes!("../../assets/map.css"),
    ),
    (
        "vendor/regl-scatterplot.esm.js",
        "text/javascript",
        include_bytes!("../../assets/vendor/regl-scatterplot.esm.js"),
    ),
    (
        "vendor/regl.min.js",
        "text/javascript",
        include_bytes!("../../assets/vendor/regl.min.js"),
    ),
    (
        "vendor/pub-sub-es.js",
        "text/javascript",
        include_bytes!("../../assets/vendor/pub-sub-es.js"),
    ),
];

/// The licences of the vendored libraries, served beside them.
const LICENCES: [(&str, &[u8]); 3] = [
    (
        "vendor/regl-scatterplot.LICENSE",
        include_bytes!("../../assets/vendor/regl-scatterplot.LICENSE"),
    ),
    (
        "vendor/regl.LICENSE",
        include_bytes!("../../assets/vendor/regl.LICENSE"),
    ),
    (
        "vendor/pub-sub-es.LICENSE",
        include_bytes!("../../assets/vendor/pub-sub-es.LICENSE"),
    ),
];

/// What the map needs of one generation, made on the first visit (at a million papers it reads
/// every paper's date).
pub(super) struct MapData {
    points: Bytes,
    meta: serde_json::Value,
}

/// The map of `l`, or why there is none.
pub(super) fn map_data(l: &Loaded) -> Result<&MapData, String> {
    l.map_data
        .get_or_init(|| build(l))
        .as_ref()
        .map_err(Clone::clone)
}

fn build(l: &Loaded) -> Result<MapData, String> {
    let t = l.topics.as_ref().map_err(Clone::clone)?;
    let layout = t
        .map
        .as_ref()
        .ok_or("these topics have no 2-D map (too few papers, or `--no-map`)")?;
    let n = l.index.len();
    if layout.xy.len() != n {
        return Err("the topics' map does not cover every paper: run `papermap topics`".into());
    }
    let position = t.positions();
    let months_of_rows: Vec<Option<String>> = l
        .index
        .dates()
        .iter()
        .map(|d| {
            d.as_deref()
                .and_then(crate::corpus::month_of)
                .map(str::to_string)
        })
        .collect();
    let mut months: Vec<String> = months_of_rows.iter().flatten().cloned().collect();
    months.sort_unstable();
    months.dedup();
    let month_index: HashMap<&str, u16> = months
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i as u16))
        .collect();
    let mut bytes = Vec::with_capacity(12 + 8 * n);
    bytes.extend_from_slice(b"PMAP");
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(n as u32).to_le_bytes());
    let k = t.topics.len();
    let (mut sums, mut counts) = (vec![[0f64; 2]; k], vec![0usize; k]);
    for (row, (&[x, y], month)) in layout.xy.iter().zip(&months_of_rows).enumerate() {
        let topic = t
            .assignment
            .get(row)
            .and_then(|id| position.get(id))
            .copied()
            .unwrap_or(0);
        let month = month
            .as_deref()
            .and_then(|m| month_index.get(m))
            .copied()
            .unwrap_or(0);
        for v in [
            half::f16::from_f32(x).to_bits(),
            half::f16::from_f32(y).to_bits(),
            topic as u16,
            month,
        ] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        sums[topic][0] += x as f64;
        sums[topic][1] += y as f64;
        counts[topic] += 1;
    }
    let centre = |i: usize| -> [f64; 2] {
        let c = counts[i].max(1) as f64;
        [sums[i][0] / c, sums[i][1] / c]
    };
    let topics: Vec<_> = t
        .topics
        .iter()
        .enumerate()
        .map(|(i, topic)| {
            let [x, y] = centre(i);
            json!({"id": topic.id, "label": topic.label, "colour": colour(i), "size": counts[i], "x": x, "y": y})
        })
        .collect();
    // Coarser levels of the hierarchy: their labels show when zoomed out, the topics' when in.
    let mut sizes: Vec<usize> = [k / 8, k / 3]
        .into_iter()
        .filter(|&g| g >= 2 && g < k)
        .collect();
    sizes.dedup();
    let levels: Vec<_> = sizes
        .iter()
        .map(|&g| {
            let groups: Vec<_> = t
                .coarse(g)
                .iter()
                .map(|c| {
                    let (mut x, mut y, mut w) = (0f64, 0f64, 0f64);
                    for id in &c.topics {
                        if let Some(&i) = position.get(id) {
                            let [cx, cy] = centre(i);
                            let m = counts[i] as f64;
                            x += cx * m;
                            y += cy * m;
                            w += m;
                        }
                    }
                    let w = w.max(1.0);
                    json!({"label": c.label, "size": c.size, "x": x / w, "y": y / w, "topics": c.topics})
                })
                .collect();
            json!({"groups": groups})
        })
        .collect();
    Ok(MapData {
        points: Bytes::from(bytes),
        meta: json!({
            "papers": n,
            "method": layout.method,
            "topics": topics,
            "levels": levels,
            "months": months,
        }),
    })
}

pub(super) async fn page_map(State(app): State<Arc<ServerState>>) -> Response {
    let l = app.now();
    if let Err(why) = &l.topics {
        return not_found_page(why);
    }
    Html(format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Map · papermap</title><link rel=\"stylesheet\" href=\"/assets/map.css\">\
         <script src=\"/assets/vendor/regl.min.js\"></script>\
         <script type=\"importmap\">{{\"imports\":{{\"pub-sub-es\":\"/assets/vendor/pub-sub-es.js\",\
         \"regl\":\"/assets/regl-global.js\"}}}}</script>\
         <script type=\"module\" src=\"/assets/map.js\"></script></head><body>\
         <header><a href=\"/\"><b>papermap</b></a><a href=\"/topics\">Topics</a>\
         <form id=\"search\"><input id=\"q\" name=\"q\" type=\"search\" placeholder=\"Search papers (Korean or English)\" \
         autocomplete=\"off\"><button>Highlight</button></form>\
         <label>colour by <select id=\"colour\"><option value=\"topic\">topic</option>\
         <option value=\"month\">month</option></select></label>\
         <span id=\"status\" class=\"muted\">{} papers</span></header>\
         <main><div id=\"plot\"><canvas id=\"canvas\"></canvas><div id=\"labels\"></div>\
         <div id=\"tooltip\" hidden></div></div>\
         <aside><section><h2>Selected <span id=\"selected-count\" class=\"muted\"></span></h2>\
         <p class=\"muted\">Click a point, or hold Shift and drag a lasso.</p><ol id=\"selected\"></ol></section>\
         <section><h2>For you</h2><ol id=\"for-you\"></ol></section>\
         <section><h2>Library</h2><ol id=\"library\"></ol></section></aside></main>\
         <noscript><p>The map needs JavaScript and WebGL. Without them: <a href=\"/map.svg\">the \
         static map</a>, <a href=\"/\">search</a>, <a href=\"/topics\">topics</a>.</p></noscript>\
         </body></html>",
        l.index.len()
    ))
    .into_response()
}

pub(super) async fn api_map(State(app): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let l = app.now();
    let data = blocking(move || map_data(&l).map(|d| d.meta.clone()))
        .await?
        .map_err(ApiError::not_found)?;
    Ok(Json(data).into_response())
}

pub(super) async fn api_map_points(
    State(app): State<Arc<ServerState>>,
) -> Result<Response, ApiError> {
    let l = app.now();
    let points = blocking(move || map_data(&l).map(|d| d.points.clone()))
        .await?
        .map_err(ApiError::not_found)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], points).into_response())
}

pub(super) async fn api_map_row(
    State(app): State<Arc<ServerState>>,
    row: Result<UrlPath<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let row = path_param(row)?;
    let l = app.now();
    let row = row
        .parse::<usize>()
        .ok()
        .filter(|&r| r < l.index.len())
        .ok_or_else(|| ApiError::not_found(format!("no paper at row {row:?}")))?;
    let p = l.index.record(row).paper.clone();
    Ok(Json(json!({
        "row": row,
        "arxiv_id": p.arxiv_id,
        "title": p.title,
        "date": p.date,
        "votes": p.votes,
        "topic": l.topic_of(row).map(|t| json!({"id": t.id, "label": t.label})),
    }))
    .into_response())
}

/// The static SVG map, for readers without JavaScript.
pub(super) async fn page_map_svg(State(app): State<Arc<ServerState>>) -> Response {
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

pub(super) async fn asset(name: Result<UrlPath<String>, PathRejection>) -> Response {
    let Ok(UrlPath(name)) = name else {
        return not_found_page("no such asset");
    };
    if name == "regl-global.js" {
        // regl's build is UMD: the classic script sets `createREGL`, which this module exports
        // for regl-scatterplot's `import ... from 'regl'`.
        return (
            [(header::CONTENT_TYPE, "text/javascript")],
            "export default globalThis.createREGL;\n",
        )
            .into_response();
    }
    if let Some((_, kind, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) {
        return ([(header::CONTENT_TYPE, *kind)], *bytes).into_response();
    }
    if let Some((_, bytes)) = LICENCES.iter().find(|(n, _)| *n == name) {
        return (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            *bytes,
        )
            .into_response();
    }
    not_found_page(&format!("no asset {name:?}"))
}
