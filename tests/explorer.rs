//! The interactive map as a reader uses it, in headless Chromium with software WebGL: the map
//! loads every paper, the wheel zooms, hovering a point shows its title, a search highlights
//! its results, and a liked paper shows in the library and drives the recommendations.
//! Screenshots go to the artifacts directory (`common::cdp::artifacts`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::cdp::{artifacts, Browser};
use common::server::start;
use common::Sample;

fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut c = TcpStream::connect(addr).expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    c.read_to_end(&mut out).expect("read");
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let status = String::from_utf8_lossy(&out[..head_end])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, out[head_end..].to_vec())
}

/// The centre of the element `selector` in viewport pixels.
fn centre(b: &mut Browser, selector: &str) -> (f64, f64) {
    let v = b.eval(&format!(
        "(() => {{ const r = document.querySelector({selector:?}).getBoundingClientRect(); \
         return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
    ));
    (v[0].as_f64().expect("x"), v[1].as_f64().expect("y"))
}

/// A condition that holds once the map has settled after `settles` settles: no move pending,
/// and the sample drawn was chosen for the view shown.
///
/// The camera applies wheel events at its next frame, so the condition is read two frames
/// later: before that, an earlier settle would pass for the last one.
fn settled(settles: u64) -> String {
    format!(
        "(async () => {{ \
           await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); \
           const lod = papermapMap.lod; \
           return lod.settles > {settles} && !lod.moving \
             && lod.view.join() === Array.from(papermapMap.scatterplot.get('cameraView')).join(); \
         }})()"
    )
}

fn click(b: &mut Browser, selector: &str) {
    let (x, y) = centre(b, selector);
    b.mouse("mouseMoved", x, y);
    b.mouse("mousePressed", x, y);
    b.mouse("mouseReleased", x, y);
}

#[test]
fn the_map_serves_compact_points_and_its_vendored_code_with_licences() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let (st, points) = get(a, "/api/map/points");
    assert_eq!(st, 200);
    assert_eq!(&points[..4], b"PMAP");
    let n = u32::from_le_bytes(points[8..12].try_into().expect("n")) as usize;
    assert_eq!(n, 68);
    assert_eq!(points.len(), 12 + 8 * n, "8 bytes a paper");
    for p in points[12..].chunks_exact(8) {
        let x = half::f16::from_bits(u16::from_le_bytes([p[0], p[1]])).to_f32();
        let y = half::f16::from_bits(u16::from_le_bytes([p[2], p[3]])).to_f32();
        assert!(
            (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y),
            "{x} {y}"
        );
        assert!(
            u16::from_le_bytes([p[4], p[5]]) < 3,
            "a topic position of k = 3"
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&get(a, "/api/map").1).expect("json");
    assert_eq!(meta["topics"].as_array().map(Vec::len), Some(3));
    assert!(
        meta["months"].as_array().is_some_and(|m| m.len() >= 3),
        "{meta}"
    );
    let (st, row) = get(a, "/api/map/rows/0");
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&row).contains("\"title\""));
    assert_eq!(get(a, "/api/map/rows/68").0, 404);
    // The vendored libraries are served from the binary, byte for byte, with their licences.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/vendor");
    let lock = std::fs::read_to_string(root.join("vendor.lock")).expect("vendor.lock");
    for line in lock.lines().filter(|l| !l.starts_with('#')) {
        let [spec, name, sha] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("lock line {line:?}");
        };
        let (st, body) = get(a, &format!("/assets/vendor/{name}"));
        assert_eq!(st, 200, "{name}");
        assert_eq!(body, std::fs::read(root.join(name)).expect("vendored file"));
        let digest = sha256_hex(&body);
        assert_eq!(digest, sha, "{name} is not the file vendored from {spec}");
        let package = spec.rsplit_once('@').expect("package@version").0;
        let (st, licence) = get(a, &format!("/assets/vendor/{package}.LICENSE"));
        assert_eq!(st, 200);
        assert!(
            String::from_utf8_lossy(&licence).contains("MIT"),
            "{package}"
        );
    }
    // Without script, the page says where to go.
    let (_, page) = get(a, "/map");
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("<noscript>") && page.contains("/map.svg"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing from elsewhere"
    );
    let (st, svg) = get(a, "/map.svg");
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
}

fn sha256_hex(bytes: &[u8]) -> String {
    let o = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The sample's map at `/map{query}` in a fresh browser, drawn without error; `None` without
/// chromium.
fn open_map(query: &str) -> Option<(Sample, common::server::Server, Browser)> {
    let Some(chromium) = common::chromium() else {
        eprintln!("skipped: no chromium (CI installs it)");
        return None;
    };
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let mut b = Browser::start(chromium, 1280, 800);
    b.navigate(&format!("http://{}/map{query}", server.addr));
    b.wait_for(
        "window.papermapMap && (window.papermapMap.ready || window.papermapMap.error)",
        60,
    );
    assert!(
        b.eval("papermapMap.error || ''").as_str() == Some(""),
        "{}",
        b.eval("papermapMap.error")
    );
    Some((f, server, b))
}

#[test]
fn a_reader_zooms_hovers_searches_and_likes_on_the_map() {
    let Some((f, server, mut b)) = open_map("") else {
        return;
    };
    assert_eq!(b.eval("papermapMap.n"), 68);
    let shots = artifacts();

    // Zoom in with the wheel over the plot: the camera comes closer and the labels follow.
    let (cx, cy) = centre(&mut b, "#canvas");
    let far = b
        .eval("papermapMap.scatterplot.get('cameraDistance')")
        .as_f64()
        .expect("distance");
    let settles = b.eval("papermapMap.lod.settles").as_u64().expect("settles");
    for _ in 0..3 {
        b.wheel(cx, cy, -300.0);
    }
    // Hovering needs the points where the last wheel left them.
    b.wait_for(&settled(settles), 10);
    assert!(b
        .eval("papermapMap.scatterplot.get('cameraDistance')")
        .as_f64()
        .is_some_and(|d| d < far * 0.8));
    assert!(
        b.eval("document.querySelectorAll('#labels .label').length")
            .as_u64()
            > Some(0)
    );

    // Hover a point: the tooltip names that paper.
    let canvas = b.eval(
        "(() => { const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top]; })()",
    );
    let (left, top) = (
        canvas[0].as_f64().expect("left"),
        canvas[1].as_f64().expect("top"),
    );
    let mut hovered = None;
    for i in 0..68 {
        let p = b.eval(&format!("papermapMap.pointScreen({i})"));
        let (x, y) = (
            p[0].as_f64().expect("x") + left,
            p[1].as_f64().expect("y") + top,
        );
        if x < left + 20.0 || y < top + 20.0 || x > cx * 2.0 - 380.0 || y > cy * 2.0 - 60.0 {
            continue;
        }
        b.mouse("mouseMoved", x - 3.0, y - 3.0);
        b.mouse("mouseMoved", x, y);
        let shown = b.wait_for(
            "(() => { const t = document.getElementById('tooltip'); return t.hidden ? '' : t.textContent; })() || 'none'",
            5,
        );
        if shown != "none" {
            hovered = Some(shown.as_str().expect("text").to_string());
            break;
        }
    }
    let tip = hovered.expect("hovering a drawn point shows a tooltip");
    let titles: Vec<String> = (0..68)
        .map(|r| {
            let v: serde_json::Value =
                serde_json::from_slice(&get(&server.addr, &format!("/api/map/rows/{r}")).1)
                    .expect("row");
            v["title"].as_str().expect("title").to_string()
        })
        .collect();
    assert!(
        titles.iter().any(|t| tip.starts_with(t.as_str())),
        "tooltip {tip:?}"
    );
    b.screenshot(&shots.join("explorer-map-hover.png"));

    // Search: its results are highlighted and listed.
    click(&mut b, "#q");
    b.type_text("diffusion");
    click(&mut b, "#search button");
    let n = b.wait_for("papermapMap.highlighted.length", 30);
    assert!(n.as_u64() > Some(0));
    b.wait_for("document.querySelectorAll('#selected li').length", 10);
    // The view moved (zoomed in before) to show every result.
    b.wait_for(
        "(() => { const r = document.getElementById('canvas').getBoundingClientRect(); \
         return papermapMap.highlighted.every((i) => { const [x, y] = papermapMap.pointScreen(i); \
         return x >= 0 && y >= 0 && x <= r.width && y <= r.height; }); })()",
        10,
    );
    // The status line says what was highlighted (frames drawn since do not write over it).
    let said = b.wait_for(
        "document.getElementById('status').textContent.includes('highlighted') && document.getElementById('status').textContent",
        10,
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        b.eval("document.getElementById('status').textContent"),
        said
    );
    b.screenshot(&shots.join("explorer-map-search.png"));

    // Like the first result: it shows in the library, and recommendations appear near it.
    let first = b.eval("document.querySelector('#selected li a').textContent");
    click(&mut b, "#selected li button[data-mark=like]");
    b.wait_for("document.querySelectorAll('#library li').length", 10);
    let library = b.eval("document.getElementById('library').textContent");
    assert!(
        library
            .as_str()
            .is_some_and(|l| l.contains(first.as_str().expect("title"))),
        "{library}"
    );
    let near = b.wait_for(
        "document.querySelectorAll('#for-you li .near').length && document.querySelector('#for-you li .near').textContent",
        10,
    );
    assert!(
        near.as_str()
            .is_some_and(|n| n.contains(first.as_str().expect("title"))),
        "{near}"
    );
    b.screenshot(&shots.join("explorer-map-library.png"));
    let stored =
        std::fs::read_to_string(f.index.join("library/default.json")).expect("library file");
    assert!(stored.contains("\"like\""));
}

#[test]
fn past_its_budget_the_map_draws_a_sample_near_the_view_and_a_lasso_still_lists_every_paper() {
    // A budget of 20 points makes the 68-paper sample behave as a million papers do.
    let Some((_f, _server, mut b)) = open_map("?budget=20") else {
        return;
    };
    assert_eq!(b.eval("papermapMap.lod.drawn"), 20);
    assert_eq!(
        b.eval("papermapMap.scatterplot.get('filteredPoints').length"),
        20
    );
    let status = b.eval("document.getElementById('status').textContent");
    assert!(
        status.as_str().is_some_and(|s| s.contains("drawing 20")),
        "{status}"
    );

    // The lasso's test of every point, checked on two polygons against the points themselves.
    assert_eq!(
        b.eval(
            "papermapMap.rowsInPolygon(papermapMap.points, [-2, -2, 2, -2, 2, 2, -2, 2]).length"
        ),
        68
    );
    assert_eq!(
        b.eval(
            "papermapMap.rowsInPolygon(papermapMap.points, [-2, -2, 0, -2, 0, 2, -2, 2]).join()"
        ),
        b.eval(
            "[...papermapMap.points.x.keys()].filter((r) => papermapMap.points.x[r] < 0).join()"
        )
    );

    // Zoom in: when the view settles, the sample is chosen again from the points near it.
    let (cx, cy) = centre(&mut b, "#canvas");
    let settles = b.eval("papermapMap.lod.settles").as_u64().expect("settles");
    for _ in 0..4 {
        b.wheel(cx, cy, -300.0);
    }
    b.wait_for(&settled(settles), 10);
    let near = "(i) => { const r = document.getElementById('canvas').getBoundingClientRect(); \
                const [x, y] = papermapMap.pointScreen(i); \
                return x >= -0.5 * r.width - 1 && x <= 1.5 * r.width + 1 \
                    && y >= -0.5 * r.height - 1 && y <= 1.5 * r.height + 1; }";
    let drawn = b.eval("papermapMap.scatterplot.get('filteredPoints').length");
    let in_view = b.eval(&format!(
        "[...Array(papermapMap.n).keys()].filter({near}).length"
    ));
    assert_eq!(drawn.as_u64(), in_view.as_u64().map(|n| n.min(20)));
    assert_eq!(
        b.eval(&format!(
            "papermapMap.scatterplot.get('filteredPoints').every({near})"
        )),
        true
    );

    // Search: every result is drawn and highlighted, sample or not.
    click(&mut b, "#q");
    b.type_text("diffusion");
    click(&mut b, "#search button");
    b.wait_for("papermapMap.highlighted.length", 30);
    // (The page draws the results a moment after it has them.)
    b.wait_for(
        "(() => { const sp = papermapMap.scatterplot; const drawn = new Set(sp.get('filteredPoints')); \
         const sel = new Set(sp.get('selectedPoints')); \
         return papermapMap.highlighted.every((r) => drawn.has(r) && sel.has(r)); })()",
        10,
    );

    // Zoom back out, then lasso a box: the list counts every paper inside it, drawn or not.
    let settles = b.eval("papermapMap.lod.settles").as_u64().expect("settles");
    for _ in 0..4 {
        b.wheel(cx, cy, 300.0);
    }
    b.wait_for(&settled(settles), 10);
    let rect = b.eval(
        "(() => { const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()",
    );
    let [left, top, width, height] =
        [0, 1, 2, 3].map(|i| rect[i].as_f64().expect("canvas rectangle"));
    let (x0, y0, x1, y1) = (
        left + width * 0.2,
        top + height * 0.2,
        left + width * 0.8,
        top + height * 0.8,
    );
    // How many of `rows` (a JS array) are drawn inside the box grown by `m` pixels.
    let mut in_box = |rows: &str, m: f64| {
        b.eval(&format!(
            "{rows}.filter((i) => {{ const [x, y] = papermapMap.pointScreen(i); \
             return x > {} && x < {} && y > {} && y < {}; }}).length",
            x0 - left - m,
            x1 - left + m,
            y0 - top - m,
            y1 - top + m
        ))
        .as_u64()
        .expect("count")
    };
    let all = "[...Array(papermapMap.n).keys()]";
    let inside = in_box(all, 0.0);
    // A paper within a pixel of the lasso's edge may fall either way (the lasso is tested in
    // the map's coordinates, the box here in the screen's): it is allowed, no more.
    let (surely_inside, maybe_inside) = (in_box(all, -1.0), in_box(all, 1.0));
    let drawn_inside = in_box("papermapMap.scatterplot.get('filteredPoints')", 0.0);
    assert!(
        inside > drawn_inside,
        "the box should hold papers that are not drawn ({inside} in it, {drawn_inside} drawn)"
    );
    let steps = 10;
    let mut path = Vec::new();
    for (a, c) in [
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x1, y1), (x0, y1)),
        ((x0, y1), (x0, y0)),
    ] {
        for s in 0..steps {
            let t = s as f64 / steps as f64;
            path.push((a.0 + (c.0 - a.0) * t, a.1 + (c.1 - a.1) * t));
        }
    }
    path.push((x0, y0));
    let count = "document.getElementById('selected-count').textContent";
    let before = b.eval(count);
    b.shift_drag(&path);
    let listed = b.wait_for(&format!("{count} !== {before} && {count}"), 10);
    let listed: u64 = listed
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a count of selected papers");
    assert!(
        (surely_inside..=maybe_inside).contains(&listed) && listed > drawn_inside,
        "the lasso lists {listed}: {inside} papers in the box ({surely_inside}..={maybe_inside} \
         within a pixel of its edge), {drawn_inside} of them drawn"
    );
    b.screenshot(&artifacts().join("explorer-map-sample.png"));
}
