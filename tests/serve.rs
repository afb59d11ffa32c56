//! `papermap serve` as a person and a script meet it: the pages in a real browser (search, then
//! a paper and its related papers), the API, bad input answered with 4xx and JSON while the
//! server keeps serving, and an index updated under a running server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::server::{start, start_with};
use common::{chromium, Sample};

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let host = format!("Host: {addr}");
    raw(
        addr,
        &format!("{method} {path}"),
        &[&host, "Content-Type: application/json"],
        body,
    )
}

/// One request with exactly these header lines; returns the status and the body.
fn raw(addr: &str, request_line: &str, headers: &[&str], body: &[u8]) -> (u16, String) {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut head = format!("{request_line} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    c.write_all(head.as_bytes()).expect("write");
    let _ = c.write_all(body);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: &str, path: &str) -> (u16, String) {
    http(addr, "GET", path, b"")
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: not JSON: {body}"))
}

fn browser(chromium: &str, profile: &Path, extra: &[&str], url: &str) -> String {
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,1400",
        ])
        .arg(format!("--user-data-dir={}", s(profile)))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The value of `attr="…"` in the first tag of `dom` that contains `marker`.
fn attr_after<'a>(dom: &'a str, marker: &str, attr: &str) -> Option<&'a str> {
    let at = dom.find(marker)?;
    let tag_start = dom[..at].rfind('<')?;
    let tag_end = at + dom[at..].find('>')?;
    let tag = &dom[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    let end = tag[v..].find('"')?;
    Some(&tag[v..v + end])
}

#[test]
fn a_person_searches_opens_a_paper_and_sees_its_related_papers() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let Some(chromium) = chromium() else { return };
    let profile = f.tmp.path().join("profile");
    let base = format!("http://{}", server.addr);
    let home = browser(chromium, &profile, &["--dump-dom"], &format!("{base}/"));
    // The search box as the page defines it; submitting it is a GET of its action with the
    // typed text under the input's name (the pages carry no script).
    let action = attr_after(&home, "<form", "action").expect("a search form");
    let field = attr_after(&home, "<input", "name").expect("a search field");
    assert_eq!((action, field), ("/", "q"));
    let typed = format!("{base}{action}?{field}=diffusion+%EB%AA%A8%EB%8D%B8&mode=hybrid");
    let results = browser(chromium, &profile, &["--dump-dom"], &typed);
    assert!(results.contains("<ol id=\"results\">"), "{results}");
    let first = attr_after(&results, "class=\"paper\"", "href").expect("a result link");
    assert!(first.starts_with("/papers/"), "{first}");
    let paper = browser(
        chromium,
        &profile,
        &["--dump-dom"],
        &format!("{base}{first}"),
    );
    let related = paper
        .split("<ol id=\"related\">")
        .nth(1)
        .expect("a related list");
    let related = &related[..related.find("</ol>").expect("end of list")];
    assert_eq!(related.matches("<li>").count(), 10, "ten related papers");
    assert!(paper.contains("Topic: <a href=\"/topics/"), "its topic");

    let artifacts = std::env::var_os("PAPERMAP_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&artifacts).expect("artifacts");
    for (name, url) in [
        ("serve-search.png", typed.clone()),
        ("serve-paper.png", format!("{base}{first}")),
    ] {
        let shot = artifacts.join(name);
        browser(
            chromium,
            &profile,
            &[&format!("--screenshot={}", s(&shot))],
            &url,
        );
        let png = std::fs::read(&shot).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
        eprintln!("screenshot: {}", shot.display());
    }
}

#[test]
fn the_api_answers_and_bad_input_gets_a_json_4xx() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let (st, body) = get(a, "/api/search?q=diffusion&k=3");
    assert_eq!(st, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["results"].as_array().map(Vec::len), Some(3));
    let id = v["results"][0]["arxiv_id"]
        .as_str()
        .expect("id")
        .to_string();
    let (st, body) = get(a, &format!("/api/papers/{id}"));
    assert_eq!(
        (st, json(&body)["arxiv_id"].as_str()),
        (200, Some(id.as_str()))
    );
    let (st, body) = get(a, &format!("/api/related/{id}?k=4"));
    assert_eq!(st, 200);
    let related = json(&body);
    assert_eq!(related["results"].as_array().map(Vec::len), Some(4));
    assert!(related["results"]
        .as_array()
        .expect("list")
        .iter()
        .all(|r| r["arxiv_id"] != id.as_str()));
    let (st, body) = get(a, "/api/topics");
    assert_eq!((st, json(&body)["k"].as_u64()), (200, Some(3)));
    let topic = json(&body)["topics"][0]["id"].as_u64().expect("topic id");
    let (st, body) = get(a, &format!("/api/topics/{topic}"));
    assert_eq!(st, 200);
    assert!(json(&body)["representative"].is_array());

    let (st, body) = http(
        a,
        "POST",
        "/v1/embeddings",
        br#"{"input": ["query: diffusion", "passage: video"], "model": "e5"}"#,
    );
    assert_eq!(st, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
    let e: Vec<f64> = v["data"][0]["embedding"]
        .as_array()
        .expect("vector")
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    let norm: f64 = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "unit vector, norm {norm}");

    let long_q = format!("/api/search?q={}", "a".repeat(1_000_000));
    let big = vec![b'x'; 10 * 1024 * 1024];
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("GET", "/api/search?q=".into(), vec![], 400),
        ("GET", "/api/search?q=%20%20".into(), vec![], 400),
        (
            "GET",
            format!("/api/search?q={}", "a".repeat(5_000)),
            vec![],
            400,
        ),
        ("GET", "/api/search?q=x&k=0".into(), vec![], 400),
        ("GET", "/api/search?q=x&k=1000000000".into(), vec![], 400),
        ("GET", "/api/search?q=x&k=abc".into(), vec![], 400),
        ("GET", "/api/search?q=x&mode=sparse".into(), vec![], 400),
        ("GET", "/api/papers/9999.99999".into(), vec![], 404),
        (
            "GET",
            "/api/papers/..%2F..%2Fmanifest.json".into(),
            vec![],
            404,
        ),
        (
            "GET",
            "/api/related/..%2F..%2F..%2Fetc%2Fpasswd".into(),
            vec![],
            404,
        ),
        ("GET", "/api/topics/999".into(), vec![], 404),
        ("GET", "/api/nothing".into(), vec![], 404),
        ("DELETE", "/api/search?q=x".into(), vec![], 405),
        ("GET", "/v1/embeddings".into(), vec![], 405),
        ("POST", "/v1/embeddings".into(), b"{not json".to_vec(), 400),
        (
            "POST",
            "/v1/embeddings".into(),
            br#"{"input": []}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/v1/embeddings".into(),
            br#"{"input": 5}"#.to_vec(),
            400,
        ),
        ("POST", "/v1/embeddings".into(), big, 413),
    ];
    for (method, path, body, want) in &cases {
        let (st, text) = http(a, method, path, body);
        assert_eq!(
            st,
            *want,
            "{method} {}: {text}",
            &path[..path.len().min(60)]
        );
        assert!(json(&text)["error"].is_string(), "{method} {path}: {text}");
    }
    // A 1 MB query line is refused by the HTTP layer itself (431, before any handler: the http
    // crate cannot hold a URI over 64 KB at all, so no handler could see it).
    let (st, _) = get(a, &long_q);
    assert_eq!(st, 431, "1 MB q");
    let (st, _) = get(a, "/api/search?q=diffusion");
    assert_eq!(st, 200, "still serving after all that");
}

#[test]
fn an_index_updated_under_a_running_server_is_picked_up_whole() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let (st, body) = get(a, "/api/search?q=diffusion&k=100");
    assert_eq!(st, 200);
    let before = json(&body)["results"].as_array().map(Vec::len);
    assert_eq!(before, Some(68));
    // One more real digest (unmodified copy), indexed while the server runs.
    let extra = common::shared().join("data/archive/2025/01/02.md");
    std::fs::copy(&extra, f.digests.join("2025-01-02.md")).expect("copy digest");
    let o = Command::new(BIN)
        .args(["index", s(&f.digests), "--quiet", "--index", s(&f.index)])
        .args(["--model", s(&f.model)])
        .output()
        .expect("index");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let (st, body) = get(a, "/api/search?q=diffusion&k=100");
        assert_eq!(st, 200, "{body}");
        let n = json(&body)["results"].as_array().map_or(0, Vec::len);
        if n > 68 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        after > 68,
        "the new generation was not picked up: {after} papers"
    );
    // Its topics were computed on the old generation: the topic pages say so and what to run,
    // instead of placing papers in the wrong topics or vanishing without a word.
    let (st, body) = get(a, "/api/topics");
    assert_eq!(st, 404, "{body}");
    let why = json(&body)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.contains("another version of the index") && why.contains("papermap topics"),
        "{why}"
    );
    let (st, page) = get(a, "/topics");
    assert_eq!(st, 404);
    assert!(page.contains("another version of the index"), "{page}");
}

#[test]
fn an_update_of_several_chunks_is_served_from_its_final_commit() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let extra = common::shared().join("data/archive/2025/01/03.md");
    std::fs::copy(&extra, f.digests.join("2025-01-03.md")).expect("copy digest");
    let (papers, _) =
        papermap::corpus::parse_digest(&std::fs::read_to_string(&extra).expect("read"), &extra);
    assert!(papers.len() > 8, "more than two chunks of 4");
    // Chunks of 4, each commit held for 700 ms: the server sees the run's first chunk commit,
    // which shares its generation number with the final one.
    let o = Command::new(BIN)
        .args(["index", s(&f.digests), "--quiet", "--index", s(&f.index)])
        .args(["--model", s(&f.model), "--chunk", "4"])
        .env("PAPERMAP_PAUSE_AT", "chunk-committed")
        .env("PAPERMAP_PAUSE_MS", "700")
        .output()
        .expect("index");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let done = Instant::now();
    let last = &papers[papers.len() - 1].arxiv_id;
    let served = loop {
        let (st, _) = get(a, &format!("/api/papers/{last}"));
        if st == 200 || done.elapsed() > Duration::from_secs(5) {
            break done.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        served < Duration::from_secs(1),
        "the final commit was served after {served:?} (or never)"
    );
    let (st, body) = get(a, "/api/search?q=diffusion&k=100");
    assert_eq!(st, 200);
    assert_eq!(
        json(&body)["results"].as_array().map(Vec::len),
        Some(68 + papers.len())
    );
}

#[test]
fn a_killed_rebuild_leaves_the_server_on_the_previous_generation_quietly() {
    let f = Sample::with_index_and_topics(3);
    let log = f.tmp.path().join("serve.log");
    let server = start_with(
        &f.index,
        &f.model,
        std::fs::File::create(&log).expect("log"),
    );
    let a = server.addr.as_str();
    let o = Command::new(BIN)
        .args(["index", s(&f.digests), "--quiet", "--index", s(&f.index)])
        .args(["--model", s(&f.model), "--chunk", "4", "--rebuild"])
        .args(["--text", "summary"])
        .env("PAPERMAP_CRASH_AT", "chunk-committed")
        .output()
        .expect("index");
    assert!(!o.status.success(), "the rebuild should have died");
    std::thread::sleep(Duration::from_millis(2_000));
    let (st, body) = get(a, "/api/search?q=diffusion&k=100");
    assert_eq!(st, 200, "{body}");
    assert_eq!(json(&body)["results"].as_array().map(Vec::len), Some(68));
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.lines().filter(|l| l.contains("warning")).count() == 0,
        "{text}"
    );
}

#[test]
fn a_web_page_cannot_drive_the_server() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let port = a.rsplit(':').next().expect("port");
    let local = format!("Host: localhost:{port}");
    let search = "GET /api/search?q=diffusion&k=2";
    // DNS rebinding: the attacker's name in Host.
    let (st, body) = raw(a, search, &["Host: evil.example"], b"");
    assert_eq!(st, 403, "{body}");
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("Host")));
    let (st, _) = raw(a, search, &[&format!("Host: evil.example:{port}")], b"");
    assert_eq!(st, 403);
    let (st, body) = raw(a, search, &[&local], b"");
    assert_eq!(st, 200, "{body}");
    // A cross-origin "simple" POST: text/plain, or a foreign Origin.
    let input = br#"{"input": "query: diffusion"}"#;
    let post = "POST /v1/embeddings";
    let (st, body) = raw(a, post, &[&local, "Content-Type: text/plain"], input);
    assert_eq!(st, 415, "{body}");
    assert!(json(&body)["error"].is_string());
    let (st, _) = raw(a, post, &[&local], input);
    assert_eq!(st, 415, "no content type");
    let json_ct = "Content-Type: application/json";
    let (st, body) = raw(
        a,
        post,
        &[&local, json_ct, "Origin: http://evil.example"],
        input,
    );
    assert_eq!(st, 403, "{body}");
    let own = format!("Origin: http://127.0.0.1:{port}");
    let (st, body) = raw(a, post, &[&local, json_ct, &own], input);
    assert_eq!(st, 200, "{body}");
    let (st, body) = raw(a, post, &[&local, json_ct], input);
    assert_eq!(st, 200, "a script without an Origin: {body}");
}

#[test]
fn the_library_is_written_by_same_origin_posts_and_recommends() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let port = a.rsplit(':').next().expect("port");
    let (local, json_ct) = (
        format!("Host: 127.0.0.1:{port}"),
        "Content-Type: application/json",
    );
    let ids: Vec<String> = json(&get(a, "/api/search?q=diffusion&k=4").1)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|h| h["arxiv_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    let post = "POST /api/library";
    let like = format!(r#"{{"id": "{}", "mark": "like"}}"#, ids[0]);
    // A page on another site cannot write it: foreign Origin, or a "simple" text/plain POST.
    let (st, body) = raw(
        a,
        post,
        &[&local, json_ct, "Origin: http://evil.example"],
        like.as_bytes(),
    );
    assert_eq!(st, 403, "{body}");
    let (st, _) = raw(
        a,
        post,
        &[&local, "Content-Type: text/plain"],
        like.as_bytes(),
    );
    assert_eq!(st, 415);
    let (st, _) = raw(a, "GET /api/library", &["Host: evil.example"], b"");
    assert_eq!(st, 403);
    assert_eq!(
        json(&get(a, "/api/library").1)["papers"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // The page's own POSTs do.
    let own = format!("Origin: http://127.0.0.1:{port}");
    for body in [
        like,
        format!(r#"{{"id": "{}", "mark": "save"}}"#, ids[1]),
        format!(r#"{{"id": "{}", "mark": "hide"}}"#, ids[2]),
        r#"{"save_search": "video generation"}"#.to_string(),
        r#"{"follow": "Tri Dao"}"#.to_string(),
    ] {
        let (st, out) = raw(a, post, &[&local, json_ct, &own], body.as_bytes());
        assert_eq!(st, 200, "{body}: {out}");
    }
    let lib = json(&get(a, "/api/library").1);
    assert_eq!(lib["papers"].as_array().map(Vec::len), Some(3), "{lib}");
    assert_eq!(lib["papers"][0]["mark"], "like");
    assert!(lib["papers"][0]["title"].is_string(), "{lib}");
    assert_eq!(lib["searches"][0], "video generation");
    assert_eq!(lib["authors"][0], "Tri Dao");
    // Kept in the index directory, where `papermap library show` reads it.
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.index.join("library/default.json")).expect("file"))
            .expect("json");
    assert_eq!(stored["papers"].as_array().map(Vec::len), Some(3));
    // Recommendations leave the library's papers out and name the liked ones near.
    let recs = json(&get(a, "/api/recommend?k=5").1);
    let recs = recs["recommendations"].as_array().expect("list").clone();
    assert_eq!(recs.len(), 5);
    for r in &recs {
        let id = r["arxiv_id"].as_str().expect("id");
        assert!(!ids[..3].iter().any(|i| i == id), "{r}");
        let near = r["near"][0]["arxiv_id"].as_str().expect("near");
        assert!(ids[..2].iter().any(|i| i == near), "{r}");
    }
    // Unmark with a null mark; bad changes are a JSON 400 or 404.
    let unmark = format!(r#"{{"id": "{}", "mark": null}}"#, ids[2]);
    let (st, _) = raw(a, post, &[&local, json_ct], unmark.as_bytes());
    assert_eq!(st, 200);
    assert_eq!(
        json(&get(a, "/api/library").1)["papers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    for (bad, want) in [
        (r#"{"id": "0000.00000", "mark": "like"}"#, 404),
        (r#"{"mark": "like"}"#, 400),
        (r#"{"follow": "x", "forget": "y"}"#, 400),
        (r#"{"library": "../x", "follow": "x"}"#, 400),
        (r#"{"what": 1}"#, 400),
    ] {
        let (st, body) = raw(a, post, &[&local, json_ct], bad.as_bytes());
        assert_eq!(st, want, "{bad}: {body}");
        assert!(json(&body)["error"].is_string());
    }
    let (st, body) = get(a, "/api/recommend?library=empty");
    assert_eq!(st, 400, "{body}");
}

#[test]
fn embeddings_take_base64_name_the_model_and_refuse_oversized_requests() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let req =
        |body: serde_json::Value| http(a, "POST", "/v1/embeddings", body.to_string().as_bytes());
    let (st, plain) = req(serde_json::json!({"input": ["query: video"], "model": "whatever"}));
    assert_eq!(st, 200, "{plain}");
    let plain = json(&plain);
    assert_ne!(
        plain["model"], "whatever",
        "the server's model, not the request's"
    );
    assert_eq!(plain["model"], "tiny");
    let (st, packed) =
        req(serde_json::json!({"input": ["query: video"], "encoding_format": "base64"}));
    assert_eq!(st, 200, "{packed}");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(
            json(&packed)["data"][0]["embedding"]
                .as_str()
                .expect("base64 string"),
        )
        .expect("decodes");
    let floats: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
        .collect();
    let want: Vec<f64> = plain["data"][0]["embedding"]
        .as_array()
        .expect("floats")
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    assert_eq!(floats.len(), want.len());
    assert!(floats.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-6));
    let (st, body) = req(serde_json::json!({"input": "x", "encoding_format": "int8"}));
    assert_eq!(st, 400, "{body}");
    // Past the token limit (each input cut at the tiny model's 64 tokens: 300 of them hold
    // 19,200), and past the input count.
    let long = "passage: ".to_string() + &"diffusion video model ".repeat(200);
    let many = vec![long; 300];
    let (st, body) = req(serde_json::json!({ "input": many }));
    assert_eq!(st, 413, "{}", &body[..body.len().min(300)]);
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("split it")));
    let (st, body) =
        req(serde_json::json!({ "input": vec!["x"; papermap::serve::MAX_INPUTS + 1] }));
    assert_eq!(st, 413, "{body}");
    // A request at the limit and a search sent beside it both get their answer.
    let near = vec!["passage: ".to_string() + &"diffusion ".repeat(300); 25];
    let bulk = {
        let a = a.to_string();
        std::thread::spawn(move || {
            http(
                &a,
                "POST",
                "/v1/embeddings",
                serde_json::json!({ "input": near }).to_string().as_bytes(),
            )
        })
    };
    let (st, body) = get(a, "/api/search?q=diffusion&k=3");
    assert_eq!(st, 200, "{body}");
    let (st, body) = bulk.join().expect("bulk");
    assert_eq!(st, 200, "{body}");
    assert_eq!(json(&body)["data"].as_array().map(Vec::len), Some(25));
}

#[test]
fn http_details_405_names_the_routes_methods_and_bad_paths_get_json() {
    let f = Sample::with_index_and_topics(3);
    let server = start(&f.index, &f.model);
    let a = server.addr.as_str();
    let host = format!("Host: {a}");
    let allow = |req: &str| {
        let mut c = TcpStream::connect(a).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let head =
            format!("{req} HTTP/1.1\r\n{host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        c.write_all(head.as_bytes()).expect("write");
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("allow: ")
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    assert_eq!(allow("DELETE /api/search?q=x"), "get, head");
    assert_eq!(allow("PUT /papers/2409.17146"), "get, head");
    assert_eq!(allow("GET /v1/embeddings"), "post");
    for path in [
        "/api/papers/%FF%FE",
        "/api/related/%C3%28",
        "/api/topics/%FF",
    ] {
        let (st, body) = get(a, path);
        assert_eq!(st, 400, "{path}: {body}");
        assert!(json(&body)["error"].is_string(), "{path}: {body}");
    }
    let (st, body) = get(a, "/papers/%FF%FE");
    assert_eq!(st, 400);
    assert!(body.contains("<h1>Bad request</h1>"), "{body}");
}

/// `papermap index DIR` into the fixture's index with its tiny model.
fn index_part(f: &Sample, dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["index", s(dir), "--quiet", "--index", s(&f.index)])
        .args(["--model", s(&f.model), "--chunk", "32"])
        .args(extra)
        .output()
        .expect("index")
}

#[test]
fn soak_eight_clients_while_the_archive_is_indexed_in_three_parts_one_killed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let f = Sample::new();
    let parts: Vec<PathBuf> = ["01", "02", "03"]
        .iter()
        .map(|m| {
            let dir = f.tmp.path().join(format!("2024-{m}"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            let src = common::shared().join("data/archive/2024").join(m);
            for e in std::fs::read_dir(&src).expect("archive month") {
                let e = e.expect("entry");
                std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
            }
            dir
        })
        .collect();
    let size = || papermap::index::Index::open(&f.index).expect("open").len();
    assert!(index_part(&f, &parts[0], &[]).status.success());
    let n1 = size();
    let server = start(&f.index, &f.model);
    let addr = server.addr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (addr, stop) = (addr.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let mode = ["hybrid", "lexical", "dense"][(c + i) % 3];
                    let (st, body) = get(
                        &addr,
                        &format!("/api/search?q=video+model&k=20&mode={mode}"),
                    );
                    let papers = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["index"]["papers"].as_u64());
                    seen.push((st, papers));
                    i += 1;
                }
                seen
            })
        })
        .collect();
    assert!(index_part(&f, &parts[1], &[]).status.success());
    let n2 = size();
    // The third part: killed (SIGKILL) after its first chunk commits, then run again.
    let mut killed = Command::new(BIN)
        .args(["index", s(&parts[2]), "--quiet", "--index", s(&f.index)])
        .args(["--model", s(&f.model), "--chunk", "32"])
        .env("PAPERMAP_PAUSE_AT", "chunk-committed")
        .env("PAPERMAP_PAUSE_MS", "300")
        .spawn()
        .expect("index");
    std::thread::sleep(Duration::from_millis(800));
    killed.kill().expect("kill -9");
    let _ = killed.wait();
    assert_eq!(
        size(),
        n2,
        "the killed run left the previous generation whole"
    );
    assert!(index_part(&f, &parts[2], &[]).status.success());
    let committed = Instant::now();
    let n3 = size();
    assert!(n3 > n2 && n2 > n1);
    let lag = loop {
        let (_, body) = get(&addr, "/api/search?q=video&k=1&mode=lexical");
        let papers = json(&body)["index"]["papers"].as_u64();
        if papers == Some(n3 as u64) || committed.elapsed() > Duration::from_secs(10) {
            break committed.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<(u16, Option<u64>)> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect();
    assert!(seen.len() > 100, "{} answers", seen.len());
    let wrong: Vec<_> = seen.iter().filter(|(st, _)| *st != 200).collect();
    assert!(
        wrong.is_empty(),
        "{} non-200 answers: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    let whole = [n1 as u64, n2 as u64, n3 as u64];
    assert!(
        seen.iter()
            .all(|(_, p)| p.is_some_and(|p| whole.contains(&p))),
        "an answer from a half generation"
    );
    assert!(
        lag < Duration::from_secs(1),
        "final generation served after {lag:?}"
    );
    eprintln!(
        "soak: {} answers from generations of {n1}, {n2}, {n3} papers; final one served {lag:?} after its commit",
        seen.len()
    );
}
