//! Index behaviour with a tiny model: incremental updates, refusal of mixed vectors, the write
//! lock, crash safety at every commit point, and export.

mod common;

use std::path::Path;
use std::process::Command;

use common::Sample as Fixture;
use papermap::index::Index;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

fn papermap(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("PAPERMAP_CRASH_AT");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run papermap")
}

fn index_cmd(
    f: &Fixture,
    model: &Path,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> std::process::Output {
    let mut args = vec![
        "index",
        f.digests.to_str().expect("utf8"),
        "--index",
        f.index.to_str().expect("utf8"),
        "--model",
        model.to_str().expect("utf8"),
        "--chunk",
        "4",
    ];
    args.extend_from_slice(extra);
    papermap(&args, envs)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn embedded_count(o: &std::process::Output) -> usize {
    let s = stdout(o);
    let after = s
        .split("embedded ")
        .nth(1)
        .unwrap_or_else(|| panic!("no count in {s:?} / {}", stderr(o)));
    after
        .split(',')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .expect("number")
}

fn add_archive_digest(f: &Fixture) -> usize {
    let src = common::shared().join("data/archive/2024/03/05.md");
    std::fs::copy(&src, f.digests.join("2024-03-05.md")).expect("copy digest");
    let (papers, _) =
        papermap::corpus::parse_digest(&std::fs::read_to_string(&src).expect("read"), &src);
    papers.len()
}

#[test]
fn second_run_embeds_nothing_and_a_new_digest_embeds_only_its_papers() {
    let f = Fixture::new();
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), 68);
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert_eq!(embedded_count(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("skipped 68 unchanged"),
        "{}",
        stdout(&o)
    );
    let added = add_archive_digest(&f);
    assert!(added > 5);
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert_eq!(embedded_count(&o), added);
    let idx = Index::open(&f.index).expect("open");
    assert_eq!(idx.len(), 68 + added);
    assert_eq!(idx.manifest().text_recipe.name(), "title+summary");
    // Vectors are unit length and belong to their papers (same text, same vector).
    for i in 0..idx.len() {
        let n: f32 = idx.vector(i).iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-4);
    }
}

#[test]
fn another_model_or_recipe_is_refused_unless_rebuild() {
    let f = Fixture::new();
    let model2 = f.other_model(2);
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
    let o = index_cmd(&f, &f.model, &["--quiet", "--text", "summary"], &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("text recipe") && stderr(&o).contains("--rebuild"),
        "{}",
        stderr(&o)
    );
    let o = index_cmd(&f, &model2, &["--quiet"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("model"), "{}", stderr(&o));
    // The refused runs changed nothing.
    assert_eq!(
        Index::open(&f.index).expect("open").manifest().generation,
        1
    );
    let o = index_cmd(
        &f,
        &model2,
        &["--quiet", "--text", "summary", "--rebuild"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), 68);
    let idx = Index::open(&f.index).expect("open");
    assert_eq!(idx.manifest().text_recipe.name(), "summary");
    let chunk_rows: usize = idx.manifest().chunks.iter().map(|c| c.rows).sum();
    assert_eq!(chunk_rows, 68, "old model's vectors are gone");
}

#[test]
fn quantised_vectors_are_recorded_and_never_mixed_with_f32() {
    let f = Fixture::new();
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
    let f32_vecs: Vec<Vec<f32>> = {
        let idx = Index::open(&f.index).expect("open");
        assert_eq!(idx.manifest().mode, papermap::embed::Mode::F32);
        (0..idx.len()).map(|i| idx.vector(i).to_vec()).collect()
    };
    let o = index_cmd(&f, &f.model, &["--quiet", "--quant", "q8"], &[]);
    assert!(!o.status.success(), "q8 over an f32 index must be refused");
    assert!(
        stderr(&o).contains("another numeric mode")
            && stderr(&o).contains("in f32, not with")
            && stderr(&o).contains("--rebuild"),
        "{}",
        stderr(&o)
    );
    let o = index_cmd(
        &f,
        &f.model,
        &["--quiet", "--quant", "q8", "--rebuild"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), 68, "every vector is recomputed in q8");
    let idx = Index::open(&f.index).expect("open");
    assert_eq!(idx.manifest().mode, papermap::embed::Mode::Q8);
    let mut differ = 0;
    for (i, v) in f32_vecs.iter().enumerate() {
        let q = idx.vector(i);
        let dot: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
        assert!(dot > 0.98, "paper {i}: q8 vs f32 cosine {dot}");
        differ += usize::from(q != v.as_slice());
    }
    assert!(
        differ > 60,
        "q8 vectors should not be the f32 ones ({differ} differ)"
    );
    // A plain run keeps the index's q8 mode (nothing to embed); explicit f32 is refused.
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), 0);
    let o = index_cmd(&f, &f.model, &["--quiet", "--quant", "none"], &[]);
    assert!(!o.status.success(), "f32 over a q8 index must be refused");
    assert!(
        stderr(&o).contains("in q8, not with") && stderr(&o).contains("mode (q8)"),
        "{}",
        stderr(&o)
    );
    // Queries follow the index's mode the same way: a search names no mode and works.
    let o = Command::new(BIN)
        .args(["search", "diffusion", "--mode", "dense", "-q", "--index"])
        .arg(&f.index)
        .arg("--model")
        .arg(&f.model)
        .output()
        .expect("search");
    assert!(o.status.success(), "{}", stderr(&o));
    // A mode that makes no sense is refused before anything loads, as a usage error.
    let o = Command::new(BIN)
        .args(["search", "x", "--dtype", "f16", "--quant", "q8", "--index"])
        .arg(&f.index)
        .output()
        .expect("search");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_second_writer_is_kept_out() {
    let f = Fixture::new();
    std::fs::create_dir_all(&f.index).expect("mkdir");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(f.index.join("index.lock"))
        .expect("lock file");
    lock.try_lock().expect("take lock");
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "a locked index has its own exit status"
    );
    assert!(
        stderr(&o).contains("another papermap is writing"),
        "{}",
        stderr(&o)
    );
    drop(lock);
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
}

#[test]
fn a_kill_at_any_commit_point_keeps_the_previous_index_and_a_rerun_completes() {
    for point in [
        "chunk-written",
        "chunk-committed",
        "papers-written",
        "matrix-written",
        "manifest-committed",
    ] {
        let f = Fixture::new();
        assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
        let before = Index::open(&f.index).expect("open");
        let added = add_archive_digest(&f);
        let o = index_cmd(&f, &f.model, &["--quiet"], &[("PAPERMAP_CRASH_AT", point)]);
        assert!(!o.status.success(), "{point}: process should have died");
        let scratch_left = std::fs::read_dir(&f.index).expect("index dir").any(|e| {
            e.expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with("run-papers")
        });
        assert!(
            scratch_left,
            "{point}: the killed run's scratch file is there to clean"
        );
        let after =
            Index::open(&f.index).unwrap_or_else(|e| panic!("{point}: index unreadable: {e}"));
        if point == "manifest-committed" {
            assert_eq!(after.len(), 68 + added, "{point}: new index committed");
        } else {
            assert_eq!(after.len(), before.len(), "{point}: previous index kept");
            assert_eq!(after.vectors(), before.vectors(), "{point}");
        }
        let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
        assert!(o.status.success(), "{point}: rerun: {}", stderr(&o));
        let done = Index::open(&f.index).expect("open");
        assert_eq!(done.len(), 68 + added, "{point}");
        // Work committed before the kill is not redone.
        if point == "chunk-committed" {
            assert_eq!(embedded_count(&o), added - 4, "{point}");
        }
        // Leftovers of the killed run are cleaned up.
        let files: Vec<String> = std::fs::read_dir(f.index.join("vectors"))
            .expect("vectors")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            files.len(),
            done.manifest().chunks.len(),
            "{point}: {files:?}"
        );
        // So are its scratch file of the papers read and its papers file not yet committed.
        let temporary: Vec<String> = std::fs::read_dir(&f.index)
            .expect("index dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(temporary.is_empty(), "{point}: {temporary:?}");
    }
}

#[test]
fn sigkill_during_embedding_is_recoverable() {
    let f = Fixture::new();
    let mut child = Command::new(BIN)
        .args([
            "index",
            f.digests.to_str().expect("utf8"),
            "--index",
            f.index.to_str().expect("utf8"),
            "--model",
            f.model.to_str().expect("utf8"),
            "--chunk",
            "4",
            "--quiet",
        ])
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(400));
    let _ = child.kill();
    let _ = child.wait();
    // Whatever point it reached, what is on disk loads (or is simply absent) and a rerun completes.
    if f.index.join("manifest.json").exists() {
        match Index::open(&f.index) {
            // A first build killed before its papers file is a partial index by design: it
            // says so (exit 4) and the rerun below finishes it.
            Ok(_)
            | Err(papermap::index::IndexError::Missing(_))
            | Err(papermap::index::IndexError::Partial { .. }) => {}
            Err(e) => panic!("index corrupt after kill: {e}"),
        }
    }
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Index::open(&f.index).expect("open").len(), 68);
}

#[test]
fn export_writes_npy_and_metadata() {
    let f = Fixture::new();
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
    let out = f.index.parent().expect("parent").join("exp");
    let o = papermap(
        &[
            "export",
            "--format",
            "npy",
            "--index",
            f.index.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Read by hand, not through the crate that wrote it: NumPy's v1.0 layout, a C-order
    // little-endian float32 [68, 32] matrix whose data starts 64-aligned.
    let npy = std::fs::read(out.with_extension("npy")).expect("npy");
    assert!(npy.starts_with(b"\x93NUMPY\x01\x00"), "npy v1.0");
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0, "data is 64-aligned");
    let header = std::str::from_utf8(&npy[10..10 + header_len]).expect("ascii header");
    assert!(header.ends_with('\n'), "{header:?}");
    for want in [
        "'descr': '<f4'",
        "'fortran_order': False",
        "'shape': (68, 32)",
    ] {
        assert!(header.contains(want), "{want} missing from {header:?}");
    }
    assert_eq!(npy.len(), 10 + header_len + 68 * 32 * 4);
    let idx = Index::open(&f.index).expect("open");
    let data: Vec<f32> = npy[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
        .collect();
    assert_eq!(data[0], idx.vector(0)[0]);
    assert_eq!(data, idx.vectors(), "every vector, row after row");
    let meta = std::fs::read_to_string(out.with_extension("jsonl")).expect("jsonl");
    assert_eq!(meta.lines().count(), 68);
    assert!(meta.lines().next().expect("line").contains("\"arxiv_id\""));
}

#[test]
fn opening_a_missing_index_says_how_to_build_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let nope = tmp.path().join("nope");
    let err = Index::open(&nope).expect_err("missing");
    assert!(err.to_string().contains("no index at"), "{err}");
    let o = papermap(
        &["related", "x", "--index", nope.to_str().expect("utf8")],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "no index is 'not found'");
    assert!(
        stderr(&o).contains("hint: build one with `papermap index"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn vectors_of_papers_that_are_gone_are_dropped() {
    let f = Fixture::new();
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
    // Replace the sample with one other digest: every stored vector becomes garbage.
    for e in std::fs::read_dir(&f.digests).expect("digests") {
        std::fs::remove_file(e.expect("entry").path()).expect("rm");
    }
    let added = add_archive_digest(&f);
    // Every stored paper's digest is gone: far more than an update removes unasked.
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("would remove 68 of the 68 stored papers")
            && stderr(&o).contains("--prune"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        Index::open(&f.index).expect("open").len(),
        68,
        "nothing changed"
    );
    let o = index_cmd(&f, &f.model, &["--quiet", "--prune"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), added);
    let idx = Index::open(&f.index).expect("open");
    assert_eq!(idx.len(), added);
    let rows: usize = idx.manifest().chunks.iter().map(|c| c.rows).sum();
    assert_eq!(rows, added, "the sample's chunks are gone");
    // Their files stay one run longer, for readers of the previous generation.
    let files = || {
        std::fs::read_dir(f.index.join("vectors"))
            .expect("vectors")
            .count()
    };
    assert!(files() > idx.manifest().chunks.len());
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert_eq!(embedded_count(&o), 0);
    assert_eq!(files(), idx.manifest().chunks.len());
}

/// `papermap index` on the given paths (not the fixture's directory), with the tiny model.
fn index_paths(f: &Fixture, paths: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = vec!["index"];
    args.extend(paths.iter().map(|p| p.to_str().expect("utf8")));
    args.extend([
        "--index",
        f.index.to_str().expect("utf8"),
        "--model",
        f.model.to_str().expect("utf8"),
        "--chunk",
        "4",
        "--quiet",
    ]);
    args.extend_from_slice(extra);
    papermap(&args, &[])
}

#[test]
fn indexing_one_digest_adds_it_and_keeps_everything_else() {
    let f = Fixture::new();
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
    let before = Index::open(&f.index).expect("open");
    // The daily workflow: today's digest alone, into the archive's index.
    let today = f.tmp.path().join("today.md");
    std::fs::copy(common::shared().join("data/archive/2024/03/05.md"), &today).expect("copy");
    let o = index_paths(&f, &[&today], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let added = embedded_count(&o);
    assert!(added > 5);
    assert!(
        stdout(&o).contains("kept 68 stored papers"),
        "{}",
        stdout(&o)
    );
    let after = Index::open(&f.index).expect("open");
    assert_eq!(after.len(), 68 + added);
    for i in 0..before.len() {
        assert_eq!(after.paper(i).arxiv_id, before.paper(i).arxiv_id);
        assert_eq!(
            after.vector(i),
            before.vector(i),
            "paper {i} kept with its vector"
        );
    }
    // The same digest again changes nothing; --prune with it alone keeps only its papers.
    let o = index_paths(&f, &[&today], &[]);
    assert_eq!(embedded_count(&o), 0);
    assert_eq!(Index::open(&f.index).expect("open").len(), 68 + added);
    let o = index_paths(&f, &[&today], &["--prune"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Index::open(&f.index).expect("open").len(), added);
}

#[test]
fn a_deleted_digest_takes_its_papers_only_within_the_limit() {
    let f = Fixture::new();
    // An archive month: enough papers that one day is under 5% of them.
    let month = f.tmp.path().join("month");
    let src = common::shared().join("data/archive/2024/03");
    std::fs::create_dir_all(&month).expect("mkdir");
    for e in std::fs::read_dir(&src).expect("archive") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), month.join(e.file_name())).expect("copy");
    }
    assert!(index_paths(&f, &[&month], &[]).status.success());
    let stored = Index::open(&f.index).expect("open").len();
    let days: Vec<(std::path::PathBuf, usize)> = std::fs::read_dir(&month)
        .expect("month")
        .map(|e| {
            let p = e.expect("entry").path();
            let text = std::fs::read_to_string(&p).expect("read");
            let n = papermap::corpus::parse_digest(&text, &p).0.len();
            (p, n)
        })
        .collect();
    let (small, n) = days
        .iter()
        .filter(|(_, n)| *n > 0)
        .min_by_key(|(_, n)| *n)
        .cloned()
        .expect("a day");
    assert!((n as f64) <= papermap::index::MAX_SILENT_REMOVAL * stored as f64);
    std::fs::remove_file(&small).expect("rm");
    let o = index_paths(&f, &[&month], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("removed {n}")),
        "{}",
        stdout(&o)
    );
    let left = Index::open(&f.index).expect("open").len();
    assert_eq!(left, stored - n);
    // Deleting half the month is refused without --prune, and done with it.
    let mut gone = 0;
    for (p, k) in days
        .iter()
        .filter(|(p, _)| p != &small)
        .take(days.len() / 2)
    {
        std::fs::remove_file(p).expect("rm");
        gone += k;
    }
    let o = index_paths(&f, &[&month], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("would remove"), "{}", stderr(&o));
    assert_eq!(Index::open(&f.index).expect("open").len(), left);
    let o = index_paths(&f, &[&month], &["--prune"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Index::open(&f.index).expect("open").len(), left - gone);
}

#[test]
fn a_killed_rebuild_keeps_the_previous_index_and_its_rerun_resumes() {
    let f = Fixture::new();
    assert!(index_cmd(&f, &f.model, &["--quiet"], &[]).status.success());
    let before = Index::open(&f.index).expect("open");
    let rebuild = ["--quiet", "--rebuild", "--text", "summary"];
    let o = index_cmd(
        &f,
        &f.model,
        &rebuild,
        &[("PAPERMAP_CRASH_AT", "chunk-committed")],
    );
    assert!(!o.status.success(), "the process should have died");
    // The previous generation is still the index: it opens, checks and takes a plain update.
    let after = Index::open(&f.index).expect("the previous index opens");
    assert_eq!(after.manifest().text_recipe.name(), "title+summary");
    assert_eq!(after.vectors(), before.vectors());
    let check = papermap(&["check", "--index", f.index.to_str().expect("utf8")], &[]);
    assert!(check.status.success(), "{}", stdout(&check));
    let o = index_cmd(&f, &f.model, &["--quiet"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), 0);
    // The rebuild again: the chunk committed before the kill is not embedded again.
    let o = index_cmd(
        &f,
        &f.model,
        &rebuild,
        &[("PAPERMAP_CRASH_AT", "chunk-committed")],
    );
    assert!(!o.status.success());
    let o = index_cmd(&f, &f.model, &rebuild, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(embedded_count(&o), 68 - 4);
    let done = Index::open(&f.index).expect("open");
    assert_eq!(done.manifest().text_recipe.name(), "summary");
    assert_eq!(done.len(), 68);
    assert!(!f.index.join("manifest.rebuild.json").exists());
}
