//! The CLI reference stays current: every subcommand the binary has is listed in docs/cli.md,
//! and the README links to it.

use std::process::Command;

fn read(rel: &str) -> String {
    let path = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn cli_reference_lists_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_papermap"))
        .arg("--help")
        .output()
        .expect("run papermap --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let reference = read("docs/cli.md");
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 5, "parsed commands: {commands:?}");
    for c in commands {
        assert!(
            reference.contains(&format!("`papermap {c}")),
            "docs/cli.md (the CLI reference) lacks `papermap {c}`"
        );
    }
}

#[test]
fn readme_links_to_the_cli_reference() {
    let readme = read("README.md");
    assert!(
        readme.contains("](docs/cli.md)"),
        "README.md does not link to docs/cli.md (the CLI reference)"
    );
}
