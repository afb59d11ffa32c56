//! Faults, tried as a careless disk, a hostile digest, a broken download and a careless user
//! would: every case ends in a clear error naming the file (exit 1, or 4 for a damaged index), a warning, or a repair;
//! never a panic, a hang, a silent wrong answer or lost data. One test per case of docs/reliability.md's
//! "Reliability" table.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::tiny::write_tiny_model;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

use common::Sample as Fixture;

impl Fixture {
    /// `papermap ARGS --index IDX --model MODEL` (the model flag where the command takes one).
    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.args(args).env_remove("PAPERMAP_CRASH_AT");
        let takes_model = matches!(args[0], "index" | "search" | "topics" | "report");
        if args[0] != "papers" && args[0] != "stats" {
            c.args(["--index", s(&self.index)]);
        }
        if takes_model {
            c.args(["--model", s(&self.model)]);
        }
        c.output().expect("run papermap")
    }

    fn index(&self, extra: &[&str]) -> Output {
        let mut a = vec!["index", s(&self.digests), "--chunk", "16", "--quiet"];
        a.extend_from_slice(extra);
        self.run(&a)
    }

    /// A built index, checked.
    fn built() -> Fixture {
        let f = Fixture::new();
        let o = f.index(&[]);
        assert!(o.status.success(), "{}", err(&o));
        f
    }

    fn chunks(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.index.join("vectors"))
            .expect("vectors")
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    }

    fn export(&self) -> Vec<u8> {
        let out = self.tmp.path().join("export");
        let o = self.run(&["export", "--out", s(&out)]);
        assert!(o.status.success(), "{}", err(&o));
        std::fs::read(out.with_extension("npy")).expect("npy")
    }
}

fn manifest(f: &Fixture) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(f.index.join("manifest.json")).expect("manifest"))
        .expect("json")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}
fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A clean failure: the documented exit status (1 error, 4 index damaged), the file named, no
/// panic.
fn fails_naming(o: &Output, code: i32, needle: &str) {
    let e = err(o);
    assert_eq!(o.status.code(), Some(code), "exit {:?}: {e}", o.status);
    assert!(e.contains(needle), "{needle:?} not in: {e}");
    assert!(!e.contains("panicked"), "{e}");
}

fn embedded(o: &Output) -> usize {
    let s = out(o);
    s.split("embedded ")
        .nth(1)
        .and_then(|a| a.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {s:?} / {}", err(o)))
}

/// Byte offset where a safetensors file's data begins.
fn data_start(bytes: &[u8]) -> usize {
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    8 + u64::from_le_bytes(n) as usize
}

#[test]
fn overwritten_vector_bytes_are_detected_and_repaired_bit_exactly() {
    let f = Fixture::built();
    let before = f.export();
    let chunk = f.chunks()[1].clone();
    let mut bytes = std::fs::read(&chunk).expect("chunk");
    let at = data_start(&bytes) + 16 * 32 + 100; // inside the vectors, past the keys
    bytes[at..at + 16].copy_from_slice(&[0x7f; 16]);
    std::fs::write(&chunk, &bytes).expect("write");
    let name = chunk.file_name().and_then(|n| n.to_str()).expect("name");
    // The readers' vectors come from the matrix, written from verified chunks: still right.
    assert_eq!(
        f.export(),
        before,
        "a damaged chunk does not reach the readers"
    );
    fails_naming(&f.run(&["check"]), 4, "damaged");
    assert!(out(&f.run(&["check"])).contains(name));
    // Damage to what the readers read is refused, naming the file and the repair.
    let matrix = f.index.join(
        manifest(&f)["matrix"]["file"]
            .as_str()
            .expect("matrix file"),
    );
    let mut m = std::fs::read(&matrix).expect("matrix");
    m[100..116].copy_from_slice(&[0x7f; 16]);
    std::fs::write(&matrix, &m).expect("write");
    let mname = matrix.file_name().and_then(|n| n.to_str()).expect("name");
    let export_to = f.tmp.path().join("e2");
    for args in [
        vec!["related", "2409.17146"],
        vec!["export", "--out", s(&export_to)],
        vec!["search", "video"],
    ] {
        let o = f.run(&args);
        fails_naming(&o, 4, mname);
        assert!(err(&o).contains("papermap index"), "{}", err(&o));
    }
    let o = f.index(&[]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        embedded(&o),
        16,
        "only the damaged chunk's papers: {}",
        out(&o)
    );
    assert!(err(&o).contains("repaired"), "{}", err(&o));
    assert_eq!(f.export(), before, "repaired vectors equal the originals");
    assert!(f.run(&["check"]).status.success());
}

#[test]
fn a_damaged_manifest_is_rebuilt_from_the_chunks_that_verify() {
    for damage in ["truncate", "garble"] {
        let f = Fixture::built();
        let before = f.export();
        let m = f.index.join("manifest.json");
        let mut bytes = std::fs::read(&m).expect("manifest");
        match damage {
            "truncate" => bytes.truncate(bytes.len() / 2),
            _ => {
                // Still JSON, a wrong number: only the checksum can tell.
                let text = String::from_utf8(bytes).expect("utf8");
                bytes = text
                    .replacen("\"rows\": 16", "\"rows\": 15", 1)
                    .into_bytes();
            }
        }
        std::fs::write(&m, &bytes).expect("write");
        fails_naming(&f.run(&["related", "2409.17146"]), 4, "manifest.json");
        let o = f.index(&[]);
        assert!(o.status.success(), "{damage}: {}", err(&o));
        assert_eq!(
            embedded(&o),
            0,
            "{damage}: every chunk verified: {}",
            out(&o)
        );
        assert!(err(&o).contains("manifest.json was damaged"), "{}", err(&o));
        assert_eq!(f.export(), before, "{damage}");
    }
}

#[test]
fn a_truncated_or_deleted_chunk_costs_only_its_papers() {
    for damage in ["truncate", "delete"] {
        let f = Fixture::built();
        let chunk = f.chunks()[2].clone();
        if damage == "truncate" {
            let bytes = std::fs::read(&chunk).expect("chunk");
            std::fs::write(&chunk, &bytes[..bytes.len() - 37]).expect("write");
        } else {
            std::fs::remove_file(&chunk).expect("rm");
        }
        let name = chunk.file_name().and_then(|n| n.to_str()).expect("name");
        // Readers read the matrix, which holds the vectors verified when it was written: their
        // answers stand; check names the chunk, and the next update embeds its papers again.
        let answer = f.run(&["related", "2409.17146"]);
        assert!(answer.status.success(), "{}", err(&answer));
        let o = f.run(&["check"]);
        fails_naming(&o, 4, "damaged");
        assert!(out(&o).contains(name), "{}", out(&o));
        let o = f.index(&[]);
        assert!(o.status.success(), "{damage}: {}", err(&o));
        assert_eq!(embedded(&o), 16, "{damage}: {}", out(&o));
        assert!(f.run(&["check"]).status.success());
    }
}

#[test]
fn check_lists_damage_and_changes_nothing() {
    let f = Fixture::built();
    assert!(f.run(&["check"]).status.success());
    let chunk = f.chunks()[0].clone();
    let mut bytes = std::fs::read(&chunk).expect("chunk");
    let n = bytes.len();
    bytes[n - 5] ^= 0x40;
    std::fs::write(&chunk, &bytes).expect("write");
    let snapshot = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut v = Vec::new();
        for e in walk(dir) {
            v.push((e.clone(), std::fs::read(&e).unwrap_or_default()));
        }
        v.sort();
        v
    };
    let before = snapshot(&f.index);
    let o = f.run(&["check"]);
    fails_naming(&o, 4, "damaged");
    let report = out(&o);
    assert!(report.contains("DAMAGED: checksum mismatch"), "{report}");
    assert_eq!(report.matches("DAMAGED").count(), 1, "{report}");
    assert_eq!(snapshot(&f.index), before, "check changed the index");
    let o = f.run(&["check", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert!(v["files"]
        .as_array()
        .expect("files")
        .iter()
        .any(|c| c["status"] == "damaged"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn rebuild_succeeds_from_any_state_of_the_directory() {
    let f = Fixture::built();
    // Garbage manifest, a file where vectors/ was, a directory where the lock file goes, a
    // stray papers file.
    std::fs::write(f.index.join("manifest.json"), b"{ not json").expect("w");
    std::fs::remove_dir_all(f.index.join("vectors")).expect("rm");
    std::fs::write(f.index.join("vectors"), b"not a directory").expect("w");
    std::fs::remove_file(f.index.join("index.lock")).expect("rm lock");
    std::fs::create_dir(f.index.join("index.lock")).expect("mkdir");
    std::fs::write(f.index.join("papers-999999.jsonl"), b"\xff\xfe garbage").expect("w");
    let o = f.index(&["--rebuild"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(embedded(&o), 68);
    assert!(err(&o).contains("moved"), "{}", err(&o));
    assert!(f.run(&["check"]).status.success());
    // What was in the way is kept, not deleted.
    let aside = std::fs::read_dir(&f.index)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("moved-aside"))
        .count();
    assert_eq!(aside, 2);
}

#[test]
fn papers_file_damage_names_the_line_or_the_count() {
    let f = Fixture::built();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.index.join("manifest.json")).expect("manifest"))
            .expect("json");
    let papers = f
        .index
        .join(m["papers_file"].as_str().expect("papers file"));
    let text = std::fs::read_to_string(&papers).expect("papers");
    // A deleted line: the checksum (and the count) catch it.
    let short: Vec<&str> = text.lines().skip(1).collect();
    std::fs::write(&papers, short.join("\n") + "\n").expect("w");
    fails_naming(&f.run(&["related", "2409.17146"]), 4, "papers-");
    // Invalid UTF-8 in an index written before checksums: the line is named.
    let mut m2 = m.clone();
    m2.as_object_mut().expect("obj").remove("papers_crc32");
    m2.as_object_mut().expect("obj").remove("checksum");
    std::fs::write(
        f.index.join("manifest.json"),
        serde_json::to_vec_pretty(&m2).expect("json"),
    )
    .expect("w");
    let mut bytes = text.clone().into_bytes();
    let third = text.lines().take(2).map(|l| l.len() + 1).sum::<usize>() + 5;
    bytes[third] = 0xff;
    std::fs::write(&papers, &bytes).expect("w");
    let o = f.run(&["related", "2409.17146"]);
    fails_naming(&o, 4, "line 3: invalid UTF-8");
    // An old manifest (no checksums) with intact files still loads.
    std::fs::write(&papers, text.as_bytes()).expect("w");
    assert!(f.run(&["related", "2409.17146"]).status.success());
}

#[test]
fn an_interrupted_first_build_says_partial_and_how_to_finish() {
    let f = Fixture::new();
    let o = Command::new(BIN)
        .args([
            "index",
            s(&f.digests),
            "--index",
            s(&f.index),
            "--model",
            s(&f.model),
        ])
        .args(["--chunk", "16", "--quiet"])
        .env("PAPERMAP_CRASH_AT", "chunk-committed")
        .output()
        .expect("run");
    assert!(!o.status.success());
    let o = f.run(&["related", "2409.17146"]);
    fails_naming(&o, 4, "partial index");
    assert!(err(&o).contains("again to finish"), "{}", err(&o));
    let o = f.index(&[]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(embedded(&o), 68 - 16);
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_the_index_intact() {
    let f = Fixture::built();
    let before = f.export();
    let mut extra = std::fs::read_to_string(f.digests.join("2024-09-26.md")).expect("digest");
    extra = extra
        .replace("2409.", "2499.")
        .replace("2024-09-26", "2024-10-01");
    std::fs::write(f.digests.join("2024-10-01.md"), extra).expect("w");
    // Writes beyond 64 KiB fail with EFBIG, as on a full disk (SIGXFSZ ignored so the write
    // returns the error instead of killing the process).
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 64; exec {BIN} index {} --index {} --model {} --chunk 16 --quiet",
            s(&f.digests),
            s(&f.index),
            s(&f.model)
        ))
        .output()
        .expect("sh");
    let e = err(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("File too large") || e.contains("No space"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(
        f.export(),
        before,
        "the previous index still answers, unchanged"
    );
    assert!(
        f.run(&["check"]).status.success(),
        "no orphans that count as damage"
    );
}

#[test]
fn a_reader_during_a_write_answers_from_a_whole_generation() {
    let f = Fixture::built();
    let src = common::shared().join("data/archive/2024/03/05.md");
    std::fs::copy(&src, f.digests.join("2024-03-05.md")).expect("copy");
    let mut writer = Command::new(BIN)
        .args([
            "index",
            s(&f.digests),
            "--index",
            s(&f.index),
            "--model",
            s(&f.model),
        ])
        .args(["--chunk", "2", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("writer");
    let mut reads = 0;
    while writer.try_wait().expect("wait").is_none() && reads < 200 {
        let o = f.run(&["related", "2409.17146", "--json"]);
        assert!(o.status.success(), "read during write failed: {}", err(&o));
        reads += 1;
    }
    assert!(writer.wait().expect("wait").success());
    assert!(reads > 0);
    assert!(f.run(&["check"]).status.success());
}

#[test]
fn links_that_are_not_http_never_become_links() {
    let f = Fixture::new();
    let digest = f.digests.join("2025-03-01.md");
    std::fs::write(
        &digest,
        "## Daily Papers (2025-03-01)\n\n### [Evil](javascript:alert(6))\n\n\
         ![](javascript:alert(7))\n\n- 요약 문장입니다.\n\n### [Good](https://arxiv.org/abs/2503.00001)\n\n- 좋은 요약.\n",
    )
    .expect("w");
    let o = f.run(&["papers", s(&digest), "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let papers: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(papers.len(), 2);
    assert_eq!(papers[0]["url"], "");
    assert!(papers[0]["thumbnail"].is_null());
    let id = papers[0]["arxiv_id"].as_str().expect("id");
    assert!(
        id.starts_with("untrusted-link-") && !id.contains("javascript"),
        "{id}"
    );
    assert_eq!(papers[1]["arxiv_id"], "2503.00001");
    let e = err(&o);
    assert!(
        e.contains("2025-03-01.md:3:") && e.contains("not http(s)"),
        "{e}"
    );
    assert!(e.contains("image link"), "{e}");
}

#[test]
fn no_panic_on_damaged_model_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let good = tmp.path().join("good");
    write_tiny_model(&good, 1);
    let input = tmp.path().join("in.jsonl");
    std::fs::write(&input, "\"the model\"\n").expect("w");
    let mut cases = 0;
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let original = std::fs::read(good.join(file)).expect("read");
        let n = original.len();
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in [0, 1, 7, 100, 1000, n / 3, n / 2, n - 1] {
            if cut < n {
                variants.push((format!("truncated at {cut}"), original[..cut].to_vec()));
            }
        }
        for at in [0, 9, n / 4, n / 2, n - 2] {
            let mut b = original.clone();
            b[at] ^= 0xa5;
            variants.push((format!("byte {at} flipped"), b));
        }
        if file == "config.json" {
            let text = String::from_utf8(original.clone()).expect("utf8");
            variants.push((
                "wrong type".into(),
                text.replace("\"hidden_size\": 32", "\"hidden_size\": \"32\"")
                    .into_bytes(),
            ));
            variants.push((
                "heads not dividing".into(),
                text.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5")
                    .into_bytes(),
            ));
            variants.push((
                "huge sizes".into(),
                text.replace("\"hidden_size\": 32", "\"hidden_size\": 99999999999")
                    .into_bytes(),
            ));
        }
        for (what, bytes) in variants {
            let dir = tmp.path().join(format!("m{cases}"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            for f in ["config.json", "tokenizer.json", "model.safetensors"] {
                std::fs::copy(good.join(f), dir.join(f)).expect("copy");
            }
            std::fs::write(dir.join(file), &bytes).expect("w");
            let o = Command::new(BIN)
                .args(["embed", "--input", s(&input), "--out"])
                .arg(tmp.path().join("o.npy"))
                .args(["--model", s(&dir)])
                .output()
                .expect("run");
            let e = err(&o);
            // A flipped byte inside weights or a tokenizer string may still load: then the
            // run succeeds; otherwise a clean error. Never a panic or an abort.
            assert!(
                matches!(o.status.code(), Some(0) | Some(1)),
                "{file} {what}: exit {:?}: {e}",
                o.status
            );
            assert!(
                !e.contains("panicked") && !e.contains("internal error"),
                "{file} {what}: {e}"
            );
            if o.status.code() == Some(1) {
                assert!(
                    e.contains(file) || e.contains("model"),
                    "{file} {what}: {e}"
                );
            }
            cases += 1;
        }
    }
    assert!(cases >= 35, "{cases}");
}

#[test]
fn no_panic_on_damaged_index_files() {
    let base = Fixture::built();
    let clean_answer = out(&base.run(&["related", "2409.17146"]));
    let mut cases = 0;
    let files: Vec<PathBuf> = walk(&base.index)
        .into_iter()
        .filter(|p| !p.ends_with("index.lock"))
        .collect();
    for file in files {
        let original = std::fs::read(&file).expect("read");
        let n = original.len();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for cut in [0, 1, 8, n / 3, n / 2, n - 1] {
            variants.push(original[..cut.min(n)].to_vec());
        }
        for at in [0, 3, 8, n / 2, n - 2] {
            let mut b = original.clone();
            b[at.min(n - 1)] ^= 0x5a;
            variants.push(b);
        }
        for bytes in variants {
            std::fs::write(&file, &bytes).expect("w");
            for args in [
                vec!["related", "2409.17146"],
                vec!["check"],
                vec!["topics", "--k", "3", "--no-model", "--no-save"],
            ] {
                let o = base.run(&args);
                let e = err(&o);
                assert!(
                    matches!(o.status.code(), Some(0) | Some(1) | Some(4)),
                    "{} {args:?}: exit {:?}: {e}",
                    file.display(),
                    o.status
                );
                assert!(
                    !e.contains("panicked") && !e.contains("internal error"),
                    "{e}"
                );
                // Damage is never silent: a read either fails, or the check passes, or the
                // damage is in a chunk (the writer's store, which readers do not read) and the
                // answer is the undamaged index's.
                if args[0] == "related" && o.status.success() {
                    let chunk = file.parent().is_some_and(|d| d.ends_with("vectors"));
                    assert!(
                        base.run(&["check"]).status.success() || (chunk && out(&o) == clean_answer),
                        "{} read but check fails",
                        file.display()
                    );
                }
            }
            cases += 1;
        }
        std::fs::write(&file, &original).expect("restore");
    }
    assert!(cases >= 40, "{cases}");
}

#[test]
fn bad_cli_values_are_usage_errors() {
    let f = Fixture::new();
    for args in [
        vec!["index", s(&f.digests), "--chunk", "0"],
        vec!["index", s(&f.digests), "--batch-tokens", "0"],
        vec!["topics", "--diversity", "5"],
        vec!["topics", "--threshold", "2"],
        vec!["related", "x", "-k", "0"],
        vec!["search", "x", "-k", "0"],
    ] {
        let o = f.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
    }
}

/// Runs papermap with a deadline; a hang fails the test instead of blocking CI.
fn run_with_deadline(args: &[&str], secs: u64) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("papermap {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut o = Output {
        status: child.wait().expect("wait"),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut o.stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut o.stderr);
    }
    o
}

#[test]
fn fifos_and_devices_are_refused_or_skipped_never_read() {
    let f = Fixture::new();
    let fifo = f.digests.join("x.md");
    let mk = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(mk.success());
    for cmd in ["papers", "stats"] {
        let o = run_with_deadline(&[cmd, s(&fifo)], 20);
        fails_naming(&o, 1, "not a regular file");
        let o = run_with_deadline(&[cmd, s(&f.digests)], 20);
        assert!(o.status.success(), "{cmd}: {}", err(&o));
        assert!(
            err(&o).contains("x.md:0: not a regular file; skipped"),
            "{}",
            err(&o)
        );
    }
    let o = run_with_deadline(
        &[
            "index",
            s(&f.digests),
            "--index",
            s(&f.index),
            "--model",
            s(&f.model),
            "--quiet",
        ],
        60,
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = run_with_deadline(&["papers", "/dev/zero"], 20);
    fails_naming(&o, 1, "/dev/zero");
}

#[test]
fn a_digest_above_the_size_limit_is_refused_unread() {
    let f = Fixture::new();
    let big = f.digests.join("huge.md");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(papermap::corpus::MAX_DIGEST_BYTES + 1)
        .expect("sparse");
    let o = run_with_deadline(&["papers", s(&big)], 20);
    fails_naming(&o, 1, "larger than a digest can be");
}

#[test]
fn os_errors_are_printed_once() {
    let o = run_with_deadline(&["papers", "/nonexistent/digests"], 20);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(3), "not found: {e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let f = Fixture::new();
    let o = f.run(&["related", "x"]);
    assert_eq!(err(&o).matches("no index at").count(), 1, "{}", err(&o));
}

#[test]
fn hostile_fields_are_escaped_in_report_md() {
    let f = Fixture::new();
    let digest = f.digests.join("2025-03-02.md");
    let mut d = std::fs::File::create(&digest).expect("create");
    write!(
        d,
        "## Daily Papers (2025-03-02)\n\n### [<script>alert(1)</script> | *x* [y](z)](https://arxiv.org/abs/2503.00002)\n\n\
         Authors: <img src=x onerror=alert(2)>, Bob\n\n- <b>bold</b> & \"quotes\" `code`\n"
    )
    .expect("w");
    drop(d);
    assert!(f.index(&[]).status.success());
    let o = f.run(&["topics", "--k", "3", "--no-model"]);
    assert!(o.status.success(), "{}", err(&o));
    let outdir = f.tmp.path().join("report");
    let o = f.run(&["report", "--out", s(&outdir)]);
    assert!(o.status.success(), "{}", err(&o));
    let md = std::fs::read_to_string(outdir.join("report.md")).expect("md");
    let html = std::fs::read_to_string(outdir.join("report.html")).expect("html");
    for text in [&md, &html] {
        assert!(!text.contains("<script>alert"), "raw script tag");
        assert!(!text.contains("<img src=x"), "raw img tag");
        assert!(!text.contains("javascript:"), "script link");
    }
    assert!(
        md.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
        "escaped title"
    );
}

#[test]
fn index_cleanup_leaves_another_processs_temporary_files() {
    let f = Fixture::built();
    // A live process's temporary file (a `topics` run saving), and a dead one's.
    let mut live = Command::new("sleep").arg("30").spawn().expect("sleep");
    let mut dead = Command::new("true").spawn().expect("true");
    let dead_pid = dead.id();
    dead.wait().expect("wait");
    let theirs = f.index.join(format!("topics.json.{}.tmp", live.id()));
    let left = f.index.join(format!("topics.json.{dead_pid}.tmp"));
    std::fs::write(&theirs, b"{\"half\":").expect("w");
    std::fs::write(&left, b"{\"half\":").expect("w");
    let extra = std::fs::read_to_string(f.digests.join("2024-09-26.md"))
        .expect("digest")
        .replace("2409.", "2498.");
    std::fs::write(f.digests.join("2024-10-02.md"), extra).expect("w");
    let o = f.index(&[]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(theirs.exists(), "a live process's file was deleted");
    assert!(!left.exists(), "a dead process's file was kept");
    let _ = live.kill();
    let _ = live.wait();
}

#[test]
fn export_replaces_both_files_or_neither_and_refuses_paths_that_name_no_file() {
    let f = Fixture::built();
    let out = f.tmp.path().join("good");
    let (npy, jsonl) = (out.with_extension("npy"), out.with_extension("jsonl"));
    let o = f.run(&["export", "--out", s(&out)]);
    assert!(o.status.success(), "{}", err(&o));
    let before = (
        std::fs::read(&npy).expect("npy"),
        std::fs::read(&jsonl).expect("jsonl"),
    );
    // The index grows; the next export dies of a full disk part-way (past 16 KiB).
    let extra = std::fs::read_to_string(f.digests.join("2024-09-26.md"))
        .expect("digest")
        .replace("2409.", "2497.");
    std::fs::write(f.digests.join("2024-10-03.md"), extra).expect("w");
    assert!(f.index(&[]).status.success());
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 16; exec {BIN} export --index {} --out {}",
            s(&f.index),
            s(&out)
        ))
        .output()
        .expect("sh");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("good."), "the file is named: {}", err(&o));
    let after = (
        std::fs::read(&npy).expect("npy"),
        std::fs::read(&jsonl).expect("jsonl"),
    );
    assert!(after == before, "both files are the previous export");
    let leftovers: Vec<_> = walk(f.tmp.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Paths that name a directory or a device.
    let dir = f.tmp.path().join("exports");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for bad in [
        format!("{}/", s(&dir)),
        s(&dir).to_string(),
        "/dev/full".into(),
    ] {
        let o = f.run(&["export", "--out", &bad]);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", err(&o));
        assert!(
            err(&o).contains("hint: give --out a file path"),
            "{}",
            err(&o)
        );
    }
    assert!(
        std::fs::read_dir(&dir).expect("dir").next().is_none(),
        "nothing written"
    );
    assert!(!Path::new("/dev/full.npy").exists());
}

#[test]
fn a_killed_report_leaves_the_previous_set_whole() {
    let f = Fixture::built();
    assert!(f
        .run(&["topics", "--k", "3", "--no-model"])
        .status
        .success());
    let outdir = f.tmp.path().join("report");
    let o = f.run(&["report", "--out", s(&outdir), "--no-summary-check"]);
    assert!(o.status.success(), "{}", err(&o));
    let read = || {
        ["map.svg", "report.md", "report.html"]
            .map(|n| std::fs::read(outdir.join(n)).expect("report file"))
    };
    let before = read();
    // New topics, then a report killed after writing its new map.
    assert!(f
        .run(&["topics", "--k", "4", "--no-model"])
        .status
        .success());
    let o = Command::new(BIN)
        .args(["report", "--index", s(&f.index), "--out", s(&outdir)])
        .args(["--no-summary-check", "--model", s(&f.model)])
        .env("PAPERMAP_CRASH_AT", "report-map-written")
        .output()
        .expect("report");
    assert!(!o.status.success(), "the report should have died");
    assert!(
        read() == before,
        "the three files are the previous report's"
    );
    let o = f.run(&["report", "--out", s(&outdir), "--no-summary-check"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(read() != before);
    let tmp: Vec<_> = walk(&outdir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        tmp.is_empty(),
        "the killed run's temporaries are cleaned: {tmp:?}"
    );
    // An --out that is a file says what to do.
    let file = f.tmp.path().join("a-file");
    std::fs::write(&file, b"x").expect("w");
    let o = f.run(&["report", "--out", s(&file), "--no-summary-check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("not a directory") && err(&o).contains("hint: give --out a directory"),
        "{}",
        err(&o)
    );
}

#[test]
fn terminal_escapes_and_bidi_overrides_in_digests_are_shown_not_obeyed() {
    let f = Fixture::new();
    let digest = f.digests.join("2025-03-03.md");
    std::fs::write(
        &digest,
        "## Daily Papers (2025-03-03)\n\n\
         ### [Evil \u{1b}]0;pwned\u{7}title \u{1b}[2J with gpj.\u{202e}exe and \u{0}NUL](https://arxiv.org/abs/2503.00003)\n\n\
         - summary \u{1b}[31mred\u{1b}[0m text\n",
    )
    .expect("w");
    assert!(f.index(&[]).status.success());
    let clean = |text: &str, what: &str| {
        for bad in ['\u{1b}', '\u{7}', '\u{0}', '\u{202e}'] {
            assert!(!text.contains(bad), "{what} carries {:?}: {text:?}", bad);
        }
    };
    let o = f.run(&["papers", s(&f.digests)]);
    clean(&out(&o), "papers");
    assert!(
        out(&o).contains("Evil \\x1b]0;pwned\\x07title"),
        "{}",
        out(&o)
    );
    let o = f.run(&["search", "Evil title", "--mode", "lexical"]);
    clean(&out(&o), "search");
    let o = f.run(&["related", "2503.00003"]);
    clean(&out(&o), "related");
    let o = f.run(&["topics", "--k", "3", "--no-model"]);
    clean(&out(&o), "topics");
    let outdir = f.tmp.path().join("report");
    assert!(f
        .run(&["report", "--out", s(&outdir), "--no-summary-check"])
        .status
        .success());
    for name in ["report.md", "report.html", "map.svg"] {
        let text = std::fs::read_to_string(outdir.join(name)).expect("report");
        clean(&text, name);
    }
}

#[test]
fn implausible_dates_are_warned_about_and_stay_out_of_trends_and_the_brief() {
    let f = Fixture::new();
    let sample = std::fs::read_to_string(f.digests.join("2024-09-26.md")).expect("digest");
    for (date, prefix) in [("9999-12-31", "2498."), ("1900-01-01", "2497.")] {
        let d = sample.replace("2024-09-26", date).replace("2409.", prefix);
        std::fs::write(f.digests.join(format!("odd-{prefix}md")), d).expect("w");
    }
    let o = f.run(&["papers", s(&f.digests)]);
    let e = err(&o);
    assert!(
        e.contains("date 9999-12-31 is before arXiv began") && e.contains("date 1900-01-01"),
        "{e}"
    );
    assert!(e.contains("odd-2498.md:1"), "file and line named: {e}");
    assert!(f.index(&[]).status.success());
    let o = f.run(&["topics", "--k", "3", "--no-model", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let t: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(
        t["archive_last_date"], "2025-02-21",
        "the trend ends on the last real day"
    );
    let brief = f.tmp.path().join("brief");
    let o = f.run(&["brief", "--out", s(&brief), "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let b: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(b["date"], "2025-02-21");
    // A paper dated 1900 is not an "earlier paper" of the day either.
    let related = b["papers"].as_array().expect("papers").iter();
    assert!(related
        .flat_map(|p| p["related"].as_array().cloned().unwrap_or_default())
        .all(|r| r["date"] != "1900-01-01"));
    // Asked for by name, the odd day is still there: nothing is dropped.
    let o = f.run(&["brief", "--date", "9999-12-31", "--out", s(&brief)]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn a_bad_model_file_is_a_short_error_even_with_rust_backtrace_set() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("m");
    write_tiny_model(&dir, 1);
    // A config that does not fit the weights: candle's shape-mismatch error carries a
    // backtrace (98 lines with the real model) when RUST_BACKTRACE is set.
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("config")).expect("json");
    let ffn = config["intermediate_size"].as_u64().expect("ffn size");
    config["intermediate_size"] = (ffn / 2).into();
    std::fs::write(&path, config.to_string()).expect("w");
    let input = tmp.path().join("in.jsonl");
    std::fs::write(&input, "\"the model\"\n").expect("w");
    let o = Command::new(BIN)
        .args(["embed", "--input", s(&input), "--out"])
        .arg(tmp.path().join("o.npy"))
        .args(["--model", s(&dir)])
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run");
    let e = err(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("model.safetensors") && e.contains("shape"),
        "{e}"
    );
    assert!(e.lines().count() <= 4, "{} lines:\n{e}", e.lines().count());
}
