//! What keeps a web page in the user's browser from driving the local server.
//!
//! Two ways in, two checks:
//!
//! - **DNS rebinding.** A page on `evil.example` re-points its own name at 127.0.0.1 and then
//!   reads the server's answers as same-origin. Its requests still carry `Host: evil.example`:
//!   every request must name the server by an IP address, `localhost`, or a name given with
//!   `--allow-host`, and the port it listens on.
//! - **Cross-origin posts.** A page may send a "simple" POST (`text/plain`, a form) to any
//!   origin without a preflight. `POST` is taken only as `application/json` (which a page can
//!   send cross-origin only after a preflight this server never grants), and never with an
//!   `Origin` header naming another host.
//!
//! Refusals are 403 (415 for a wrong content type) with a JSON error naming what to do.

use std::net::IpAddr;

/// Which hosts the server answers to, and on which port.
#[derive(Debug, Clone)]
pub struct Guard {
    port: u16,
    names: Vec<String>,
}

impl Guard {
    /// A guard for a server listening on `port`; `names` are extra host names to accept
    /// (lower-case comparison).
    pub fn new(port: u16, names: &[String]) -> Guard {
        Guard {
            port,
            names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) names this server.
    pub fn host_ok(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host.trim()) else {
            return false;
        };
        // A Host without a port means the scheme's default: 80 for plain HTTP.
        if port.unwrap_or(80) != self.port {
            return false;
        }
        let name = name.to_ascii_lowercase();
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.names.contains(&name)
    }

    /// Whether an `Origin` header value (`http://host[:port]`) is this server itself.
    pub fn origin_ok(&self, origin: &str) -> bool {
        match origin.trim().strip_prefix("http://") {
            Some(rest) => !rest.contains('/') && self.host_ok(rest),
            None => false,
        }
    }
}

/// `name[:port]` or `[v6][:port]` into the name (without brackets) and the port; `None` for a
/// malformed value (an empty name, a port that is not a number).
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return (!name.is_empty()).then_some((name, port));
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p.parse().ok()?)),
        None => (host, None),
    };
    (!name.is_empty() && !name.contains(':')).then_some((name, port))
}

/// Whether a `Content-Type` value is JSON (`application/json`, any parameters).
pub fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_must_name_this_server() {
        let g = Guard::new(8080, &["papers.lan".to_string()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "192.168.1.20:8080",
            "papers.lan:8080",
            "app.localhost:8080",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "evil.example",
            "127.0.0.1:9090",
            "127.0.0.1",
            "localhost.evil.example:8080",
            "",
            ":8080",
            "[::1",
            "127.0.0.1:80x",
        ] {
            assert!(!g.host_ok(bad), "{bad}");
        }
        assert!(Guard::new(80, &[]).host_ok("localhost"));
        assert!(g.origin_ok("http://127.0.0.1:8080"));
        for bad in [
            "http://evil.example:8080",
            "null",
            "https://127.0.0.1:8080",
            "http://127.0.0.1:8080/x",
        ] {
            assert!(!g.origin_ok(bad), "{bad}");
        }
        assert!(is_json("application/json; charset=utf-8") && is_json("Application/JSON"));
        assert!(!is_json("text/plain") && !is_json("application/x-www-form-urlencoded"));
    }
}
