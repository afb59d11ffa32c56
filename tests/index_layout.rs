//! The index read by row: a rows file (where each paper's line starts) and a matrix (the vectors
//! in paper order) let `Index::open` map the index instead of reading it, with the same answers
//! as reading it whole; indexes written before them still open whole, and the next update
//! writes them.

mod common;

use std::path::Path;
use std::process::Command;

use common::Sample as Fixture;
use papermap::index::{Index, IndexError, Manifest};

const BIN: &str = env!("CARGO_BIN_EXE_papermap");

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
        .expect("manifest json")
}

/// Rewrites the manifest as an index written before rows and matrix (no checksum of its own,
/// which such a manifest may lack).
fn as_old_layout(dir: &Path) {
    let mut m = manifest(dir);
    m.rows = None;
    m.matrix = None;
    m.checksum = None;
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&m).expect("json"),
    )
    .expect("write manifest");
}

fn related(dir: &Path, id: &str) -> String {
    let o = Command::new(BIN)
        .args(["related", id, "-k", "5", "--json", "--index"])
        .arg(dir)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn an_index_read_by_row_answers_as_one_read_whole() {
    let f = Fixture::new();
    f.build_index();
    let m = manifest(&f.index);
    assert!(m.rows.is_some() && m.matrix.is_some(), "{m:?}");
    let lazy = Index::open(&f.index).expect("open");
    assert!(lazy.is_lazy());
    // Rows by id and records by row, before anything parses every paper.
    let ids: Vec<String> = (0..lazy.len())
        .map(|i| lazy.record(i).paper.arxiv_id.clone())
        .collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(lazy.row_of(id), Some(i), "{id}");
    }
    assert_eq!(
        lazy.row_of("2409.1714"),
        None,
        "a prefix of an id is not the id"
    );
    assert_eq!(lazy.row_of("nowhere"), None);

    let copy = f.root().join("old");
    std::fs::create_dir_all(copy.join("vectors")).expect("mkdir");
    for e in std::fs::read_dir(&f.index).expect("dir").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), copy.join(e.file_name())).expect("copy");
        }
    }
    for e in std::fs::read_dir(f.index.join("vectors"))
        .expect("dir")
        .flatten()
    {
        std::fs::copy(e.path(), copy.join("vectors").join(e.file_name())).expect("copy");
    }
    as_old_layout(&copy);
    let whole = Index::open(&copy).expect("open old layout");
    assert!(!whole.is_lazy());
    assert_eq!(lazy.dates(), whole.dates());
    assert_eq!(whole.papers(), lazy.papers());
    assert_eq!(whole.vectors(), lazy.vectors());
    assert_eq!(whole.stamp(), lazy.stamp());
    assert_eq!(
        related(&copy, "2409.17146"),
        related(&f.index, "2409.17146")
    );

    // The next update of the old layout writes rows and matrix, embedding nothing.
    let o = Command::new(BIN)
        .args(["index"])
        .arg(&f.digests)
        .arg("--index")
        .arg(&copy)
        .arg("--model")
        .arg(&f.model)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("embedded 0,"));
    let upgraded = Index::open(&copy).expect("open");
    assert!(upgraded.is_lazy());
    assert_eq!(upgraded.vectors(), lazy.vectors());
}

#[test]
fn damaged_rows_or_matrix_are_refused_naming_the_file() {
    let f = Fixture::new();
    f.build_index();
    let m = manifest(&f.index);
    for file in [m.rows.expect("rows").file, m.matrix.expect("matrix").file] {
        let path = f.index.join(&file);
        let original = std::fs::read(&path).expect("read");
        let mut damaged = original.clone();
        damaged[9] ^= 0x01;
        for bytes in [damaged, original[..original.len() - 4].to_vec()] {
            std::fs::write(&path, &bytes).expect("write");
            match Index::open(&f.index) {
                Err(IndexError::Damaged { path: p, .. }) => assert!(p.ends_with(&file), "{p:?}"),
                other => panic!("{file}: {other:?}"),
            }
        }
        std::fs::write(&path, &original).expect("restore");
        assert!(Index::open(&f.index).is_ok());
    }
}
