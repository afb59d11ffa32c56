//! Headless Chromium driven through the Chrome DevTools Protocol, for tests that use a page
//! as a person does: load it, scroll to zoom, move the mouse, type, click, and take
//! screenshots. One websocket to the page target (tungstenite), one request at a time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A headless Chromium with one page.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts `chromium` headless with a `width` × `height` window and software WebGL.
    pub fn start(chromium: &str, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("profile");
        let mut child = Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end, so a chatty browser never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium's DevTools address");
        let port = browser_url
            .trim_start_matches("ws://")
            .split(['/', ':'])
            .nth(1)
            .expect("port")
            .to_string();
        let page = page_target(&port);
        let (ws, _) = tungstenite::connect(page.as_str()).expect("connect to the page");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            // A command the browser never answers fails the test instead of hanging it.
            s.set_read_timeout(Some(Duration::from_secs(120)))
                .expect("timeout");
        }
        Browser {
            child,
            ws,
            next: 0,
            _profile: profile,
        }
    }

    /// Sends one command and waits for its answer (events in between are dropped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(msg)).expect("send");
        loop {
            let m = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("{method}: no answer: {e}"));
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).expect("json");
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression (promises awaited).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{expr}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is truthy; its value.
    pub fn wait_for(&mut self, expr: &str, secs: u64) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(expr);
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "waited {secs} s for {expr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens `url` in the page.
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
    }

    /// A mouse event at (`x`, `y`) of the viewport: `mouseMoved`, `mousePressed`, `mouseReleased`.
    pub fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": if kind == "mouseMoved" { "none" } else { "left" }, "clickCount": 1}),
        );
    }

    /// A drag along `path` with Shift held (a lasso on the map), pausing between moves as a
    /// hand would, since the lasso ignores moves closer together than a few milliseconds.
    pub fn shift_drag(&mut self, path: &[(f64, f64)]) {
        const SHIFT: u32 = 8;
        let event = |kind: &str, (x, y): (f64, f64)| {
            json!({"type": kind, "x": x, "y": y, "modifiers": SHIFT,
                   "button": if kind == "mouseMoved" { "none" } else { "left" },
                   "buttons": if kind == "mouseReleased" { 0 } else { 1 }, "clickCount": 1})
        };
        let (Some(&first), Some(&last)) = (path.first(), path.last()) else {
            return;
        };
        self.call("Input.dispatchMouseEvent", event("mousePressed", first));
        for &p in path {
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.call("Input.dispatchMouseEvent", event("mouseMoved", p));
        }
        self.call("Input.dispatchMouseEvent", event("mouseReleased", last));
    }

    /// A scroll of the wheel at (`x`, `y`): negative `dy` zooms in on a map.
    pub fn wheel(&mut self, x: f64, y: f64, dy: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": dy}),
        );
    }

    /// Types `text` into the focused element.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Writes a PNG of the viewport to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("data"))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("artifacts directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

/// The websocket address of the browser's first page, from its `/json/list`.
fn page_target(port: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(mut c) = TcpStream::connect(format!("127.0.0.1:{port}")) {
            let req = format!("GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
            // DevTools keeps the connection open: read until the body is whole JSON.
            c.set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            if c.write_all(req.as_bytes()).is_ok() {
                let (mut bytes, mut buf) = (Vec::new(), [0u8; 8192]);
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    bytes.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&bytes);
                    let Some((_, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    if let Ok(Value::Array(targets)) = serde_json::from_str::<Value>(body) {
                        if let Some(url) = targets
                            .iter()
                            .find(|t| t["type"] == "page")
                            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                        {
                            return url.to_string();
                        }
                        break;
                    }
                }
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no page target");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where screenshots of tests go: `$PAPERMAP_ARTIFACTS`, else `~/.cache/papermap/artifacts`.
pub fn artifacts() -> std::path::PathBuf {
    std::env::var_os("PAPERMAP_ARTIFACTS")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".cache/papermap/artifacts"))
        })
        .unwrap_or_else(std::env::temp_dir)
}
