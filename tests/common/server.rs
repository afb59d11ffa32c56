//! `papermap serve` started for a test on a free port, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running server and the address it listens on.
pub struct Server {
    child: Child,
    /// `host:port`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `papermap serve` on `index` with `model`, its stderr dropped.
pub fn start(index: &Path, model: &Path) -> Server {
    start_with(index, model, Stdio::null())
}

/// [`start`] with the server's stderr going to `stderr`.
pub fn start_with(index: &Path, model: &Path, stderr: impl Into<Stdio>) -> Server {
    spawn(index, Some(model), stderr)
}

/// `papermap serve` on `index` with the model its manifest names (the provisioned one), its
/// stderr going to `stderr`: what the benches serve.
pub fn start_default_model(index: &Path, stderr: impl Into<Stdio>) -> Server {
    spawn(index, None, stderr)
}

fn spawn(index: &Path, model: Option<&Path>, stderr: impl Into<Stdio>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_papermap"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--index"])
        .arg(index);
    if let Some(model) = model {
        cmd.arg("--model").arg(model);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read address");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, addr }
}
