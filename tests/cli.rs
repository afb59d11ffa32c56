//! The CLI as scripts use it: `--json` and `--quiet` on every command, results on stdout only,
//! documented exit codes, the Hugging Face Hub's environment variables, shell completions.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use common::tiny::write_tiny_model;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");
const MODEL_ID: &str = "intfloat/multilingual-e5-small";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A command with no Hub or papermap environment of the developer's machine leaking in.
fn clean(tmp: &Path) -> Command {
    let mut c = Command::new(BIN);
    for v in [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE",
        "PAPERMAP_MODEL",
        "XDG_CACHE_HOME",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", tmp.join("home"))
        .env("PAPERMAP_HOME", tmp.join("papermap-home"));
    c
}

use common::Sample as Fixture;

impl Fixture {
    fn built() -> Fixture {
        let f = Fixture::new();
        let o = f.run(&["index", s(&f.digests), "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
        f
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = clean(self.tmp.path());
        c.args(args);
        if !matches!(
            args[0],
            "papers" | "stats" | "completions" | "model" | "embed"
        ) {
            c.args(["--index", s(&self.index)]);
        }
        if matches!(
            args[0],
            "index" | "search" | "topics" | "report" | "eval" | "embed" | "stats" | "model"
        ) {
            c.args(["--model", s(&self.model)]);
        }
        c.output().expect("run papermap")
    }
}

/// Every line of stdout parses as JSON; returns them.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn json_object(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
    let v: serde_json::Value = serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("{e}: stdout is not one JSON object: {}", stdout(o)));
    assert!(v.is_object(), "{v}");
    v
}

#[test]
fn every_command_speaks_json_on_stdout_only() {
    let f = Fixture::built();
    let digests = s(&f.digests).to_string();
    let papers = f.run(&["papers", &digests, "--json"]);
    assert!(papers.status.success());
    let lines = json_lines(&papers);
    assert_eq!(lines.len(), 68);
    assert!(lines[0]["arxiv_id"].is_string());

    let v = json_object(&f.run(&["stats", &digests, "--json"]));
    assert_eq!(v["unique_papers"], 68);
    assert!(v["papers_per_month"].is_object());

    let v = json_object(&f.run(&["model", "info", "--json"]));
    assert_eq!(v["source"], "--model");
    assert!(v["dim"].as_u64().is_some_and(|d| d > 0));

    let v = json_object(&f.run(&["index", &digests, "--json"]));
    assert_eq!(v["papers"], 68);
    assert_eq!(v["embedded"], 0);
    assert_eq!(v["skipped"], 68);

    let export = f.tmp.path().join("export");
    let v = json_object(&f.run(&["export", "--out", s(&export), "--json"]));
    assert_eq!(v["rows"], 68);
    assert!(Path::new(v["vectors"].as_str().expect("path")).is_file());

    let v = json_object(&f.run(&["topics", "--k", "3", "--json"]));
    assert_eq!(v["topics"].as_array().map(Vec::len), Some(3));

    let v = json_object(&f.run(&["related", "2409.17146", "-k", "3", "--json"]));
    assert_eq!(v["results"].as_array().map(Vec::len), Some(3));

    let all = f.run(&["related", "--all", "-k", "2"]);
    assert!(all.status.success(), "{}", stderr(&all));
    assert_eq!(json_lines(&all).len(), 68, "related --all is JSON Lines");

    let v = json_object(&f.run(&["search", "diffusion", "--json"]));
    assert!(v["results"].as_array().is_some_and(|r| !r.is_empty()));

    let v = json_object(&f.run(&["eval", "titles", "--json"]));
    assert!(v["metrics"].is_array());

    let v = json_object(&f.run(&["check", "--json"]));
    assert_eq!(v["papers"], 68);

    let report = f.tmp.path().join("report");
    let v = json_object(&f.run(&["report", "--out", s(&report), "--json"]));
    assert!(Path::new(v["html"].as_str().expect("path")).is_file());

    let input = f.tmp.path().join("in.jsonl");
    std::fs::write(&input, "\"diffusion\"\n{\"text\": \"확산 모델\"}\n").expect("write");
    let npy = f.tmp.path().join("out.npy");
    let v = json_object(&f.run(&["embed", "--input", s(&input), "--out", s(&npy), "--json"]));
    assert_eq!(v["texts"], 2);
}

#[test]
fn quiet_leaves_stderr_empty_and_warnings_never_reach_stdout() {
    let f = Fixture::built();
    let noisy = f.digests.join("noisy.md");
    std::fs::write(
        &noisy,
        "### [A paper without a link\n\nsome text\n\n### [Another](https://arxiv.org/abs/2501.00001)\n\n요약.\n",
    )
    .expect("write");
    let o = f.run(&["stats", s(&f.digests)]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("warning:"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("warning:"), "warnings go to stderr");
    for args in [
        vec!["papers", s(&f.digests), "--quiet"],
        vec!["stats", s(&f.digests), "-q"],
        vec!["index", s(&f.digests), "--quiet"],
        vec!["search", "diffusion", "-k", "100", "--quiet"],
        vec!["topics", "--k", "3", "--quiet"],
    ] {
        let o = f.run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?} printed on stderr under --quiet");
        assert!(!stdout(&o).is_empty(), "{args:?} printed no result");
    }
}

#[test]
fn exit_codes_tell_usage_from_not_found_from_damage() {
    let f = Fixture::built();
    let code = |args: &[&str]| f.run(args).status.code();
    assert_eq!(code(&["search", "diffusion", "-k", "0"]), Some(2), "usage");
    assert_eq!(code(&["search", "   "]), Some(2), "empty query is usage");
    assert_eq!(
        code(&["embed", "--input", "x", "--out", "y", "--prefix", "p"]),
        Some(2)
    );
    assert_eq!(code(&["related", "9999.99999"]), Some(3), "unknown paper");
    assert_eq!(
        code(&["search", "zzqqxxnotaword", "--mode", "lexical"]),
        Some(3),
        "nothing found"
    );
    let nowhere = f.tmp.path().join("nowhere");
    let o = clean(f.tmp.path())
        .args(["related", "x", "--index", s(&nowhere)])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(3), "no index: {}", stderr(&o));
    assert_eq!(
        clean(f.tmp.path())
            .args(["papers", s(&nowhere)])
            .output()
            .expect("run")
            .status
            .code(),
        Some(3),
        "no such input"
    );
    // Damage: one byte of a chunk's data.
    let chunk = std::fs::read_dir(f.index.join("vectors"))
        .expect("vectors")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a chunk");
    let mut bytes = std::fs::read(&chunk).expect("read");
    let at = bytes.len() - 8;
    bytes[at] ^= 0x55;
    std::fs::write(&chunk, &bytes).expect("write");
    assert_eq!(code(&["check"]), Some(4), "damaged index");
    // What readers read: the matrix of vectors in paper order.
    let matrix = std::fs::read_dir(&f.index)
        .expect("index")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".f32"))
        .expect("a matrix");
    let mut bytes = std::fs::read(&matrix).expect("read");
    bytes[8] ^= 0x55;
    std::fs::write(&matrix, &bytes).expect("write");
    assert_eq!(code(&["related", "2409.17146"]), Some(4));
    let help = stdout(&clean(f.tmp.path()).arg("--help").output().expect("help"));
    assert!(help.contains("Exit status: 0 ok"), "{help}");
}

/// A Hub cache as huggingface_hub lays it out, holding the tiny model under the default id.
fn hub_cache(root: &Path) {
    let repo = root.join(format!("models--{}", MODEL_ID.replace('/', "--")));
    let snap = repo.join("snapshots").join("0123abcd");
    write_tiny_model(&snap, 2);
    std::fs::create_dir_all(repo.join("refs")).expect("refs");
    std::fs::write(repo.join("refs").join("main"), "0123abcd").expect("ref");
}

fn model_info(c: &mut Command) -> (Output, serde_json::Value) {
    let o = c.args(["model", "info", "--json"]).output().expect("run");
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(serde_json::Value::Null);
    (o, v)
}

#[test]
fn hf_home_and_hf_hub_cache_locate_the_hub_cache() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("hf-home");
    hub_cache(&home.join("hub"));
    let (o, v) = model_info(
        clean(tmp.path())
            .env("HF_HOME", &home)
            .env("HF_HUB_OFFLINE", "1"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v["source"], "Hugging Face cache");
    assert!(
        v["path"].as_str().is_some_and(|p| p.starts_with(s(&home))),
        "{v}"
    );

    // HF_HUB_CACHE wins over HF_HOME/hub.
    let cache = tmp.path().join("elsewhere");
    hub_cache(&cache);
    let (o, v) = model_info(
        clean(tmp.path())
            .env("HF_HOME", tmp.path().join("empty-home"))
            .env("HF_HUB_CACHE", &cache)
            .env("HF_HUB_OFFLINE", "1"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        v["path"].as_str().is_some_and(|p| p.starts_with(s(&cache))),
        "{v}"
    );
}

/// A one-shot HTTP server on loopback that records each request head and answers 404.
fn recorder() -> (String, std::sync::mpsc::Receiver<String>, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    let l = listener.try_clone().expect("clone");
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (format!("http://{addr}"), rx, listener)
}

#[test]
fn hf_endpoint_and_hf_token_reach_the_download() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (endpoint, requests, _l) = recorder();
    let (o, _) = model_info(
        clean(tmp.path())
            .env("HF_HOME", tmp.path().join("hf"))
            .env("HF_ENDPOINT", &endpoint)
            .env("HF_TOKEN", "hf_test_token"),
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "no model anywhere: {}",
        stderr(&o)
    );
    let head = requests
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a request reached HF_ENDPOINT");
    assert!(
        head.contains(&format!("/{MODEL_ID}/resolve/main/config.json")),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer hf_test_token"),
        "{head}"
    );

    // Without HF_TOKEN, the token file in HF_HOME.
    let hf = tmp.path().join("hf2");
    std::fs::create_dir_all(&hf).expect("mkdir");
    std::fs::write(hf.join("token"), "hf_file_token\n").expect("token");
    let (o, _) = model_info(
        clean(tmp.path())
            .env("HF_HOME", &hf)
            .env("HF_ENDPOINT", &endpoint),
    );
    assert_eq!(o.status.code(), Some(3));
    let head = requests
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a request");
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer hf_file_token"),
        "{head}"
    );
}

#[test]
fn hf_hub_offline_never_touches_the_network() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (endpoint, requests, _l) = recorder();
    for v in ["1", "TRUE", "yes"] {
        let (o, _) = model_info(
            clean(tmp.path())
                .env("HF_ENDPOINT", &endpoint)
                .env("HF_HUB_OFFLINE", v),
        );
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains("offline"), "{}", stderr(&o));
    }
    assert!(
        requests
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "an offline run made a request"
    );
}

#[test]
fn completions_for_each_shell() {
    let tmp = tempfile::tempdir().expect("tmp");
    for shell in ["bash", "zsh", "fish"] {
        let o = clean(tmp.path())
            .args(["completions", shell])
            .output()
            .expect("run");
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for word in ["search", "related", "merge-to", "json"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
}
