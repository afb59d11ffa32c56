//! The README's CLI reference stays current: every subcommand the binary has is listed there.

use std::process::Command;

#[test]
fn readme_lists_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_papermap"))
        .arg("--help")
        .output()
        .expect("run papermap --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
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
            readme.contains(&format!("`papermap {c}")),
            "README's CLI reference lacks `papermap {c}`"
        );
    }
}
