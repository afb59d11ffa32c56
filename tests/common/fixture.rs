//! The one fixture of the tests that run the binary: the three sample digests and the tiny
//! model in a temporary directory, with the path an index goes to, and the few steps every
//! test file takes on it (another model, an index, topics). Each test file adds its own way of
//! running papermap on top (`impl Sample` in that file), as its commands need.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::tiny::write_tiny_model;

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

/// The sample digests, shipped in the crate.
pub const SAMPLE_DIGESTS: [&str; 3] = ["2024-09-26.md", "2024-12-13.md", "2025-02-21.md"];

/// Copies the three sample digests into `dir/digests` (a directory tests may add digests to).
pub fn copy_sample_digests(dir: &Path) -> PathBuf {
    let digests = dir.join("digests");
    std::fs::create_dir_all(&digests).expect("mkdir");
    for f in SAMPLE_DIGESTS {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/sample")
                .join(f),
            digests.join(f),
        )
        .expect("copy sample");
    }
    digests
}

/// The sample digests and the tiny model in a temporary directory, with the path an index goes
/// to (not built by `new`: each test file builds it the way it runs papermap, or with
/// [`Sample::build_index`]).
pub struct Sample {
    /// Holds everything; removed on drop.
    pub tmp: tempfile::TempDir,
    /// The tiny model directory (seed 1).
    pub model: PathBuf,
    /// The copied sample digests.
    pub digests: PathBuf,
    /// Where the index goes.
    pub index: PathBuf,
}

impl Sample {
    /// Writes the tiny model (seed 1) and copies the sample digests.
    pub fn new() -> Sample {
        let tmp = tempfile::tempdir().expect("tmp");
        let model = tmp.path().join("tiny");
        write_tiny_model(&model, 1);
        let digests = copy_sample_digests(tmp.path());
        let index = tmp.path().join("idx");
        Sample {
            tmp,
            model,
            digests,
            index,
        }
    }

    /// The sample indexed with the tiny model, with `k` topics.
    pub fn with_index_and_topics(k: usize) -> Sample {
        let f = Sample::new();
        f.build_index();
        f.papermap_ok(&["topics", "--k", &k.to_string()]);
        f
    }

    /// The temporary directory that holds everything.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// Another tiny model, with `seed`'s weights (so another model to papermap), written at
    /// `tiny<seed>` beside the first; returns its directory.
    pub fn other_model(&self, seed: u64) -> PathBuf {
        let dir = self.root().join(format!("tiny{seed}"));
        write_tiny_model(&dir, seed);
        dir
    }

    /// `papermap ARGS --index INDEX --model MODEL --quiet`, which must succeed.
    pub fn papermap_ok(&self, args: &[&str]) -> Output {
        let o = Command::new(BIN)
            .args(args)
            .args([
                "--index",
                s(&self.index),
                "--model",
                s(&self.model),
                "--quiet",
            ])
            .env_remove("PAPERMAP_CRASH_AT")
            .output()
            .expect("run papermap");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    /// Indexes the digests with the tiny model.
    pub fn build_index(&self) {
        self.papermap_ok(&["index", s(&self.digests)]);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
