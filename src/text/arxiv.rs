//! arXiv ids: one normaliser for digest links and for ids people type.

use std::sync::LazyLock;

use regex::Regex;

/// An arXiv abstract or PDF link; group 1 is the id with any version, query or suffix.
static ARXIV_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)([^?#]+)")
        .expect("arxiv regex")
});

/// An arXiv id, new-style or old-style (`hep-th/9901001`, `math.AG/0101001`), with a version
/// suffix, which is dropped so versions dedup.
static VERSIONED_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})v\d+$").expect("version regex")
});

/// The id in an `arxiv.org/abs|pdf/` link, without version or `.pdf`; `None` for other links.
pub fn id_from_url(url: &str) -> Option<String> {
    let m = ARXIV_URL.captures(url.trim())?.get(1)?;
    bare_id(m.as_str())
}

/// An arXiv reference as a paper id: a link ([`id_from_url`]) or a typed id (`arXiv:2407.17398v2`,
/// `abs/2407.17398`), without version; anything else comes back trimmed.
pub fn normalise(reference: &str) -> String {
    let s = reference.trim();
    if let Some(id) = id_from_url(s) {
        return id;
    }
    let mut rest = s;
    for pre in ["www.arxiv.org/", "arxiv.org/", "abs/", "pdf/"] {
        rest = rest.strip_prefix(pre).unwrap_or(rest);
    }
    if rest.len() > 6 && rest[..6].eq_ignore_ascii_case("arxiv:") {
        rest = &rest[6..];
    }
    bare_id(rest).unwrap_or_else(|| s.to_string())
}

/// Whether `s` is a new-style arXiv id (`YYMM.NNNNN`, no version).
pub fn is_new_style(s: &str) -> bool {
    let Some((head, tail)) = s.split_once('.') else {
        return false;
    };
    head.len() == 4
        && head.bytes().all(|b| b.is_ascii_digit())
        && (4..=5).contains(&tail.len())
        && tail.bytes().all(|b| b.is_ascii_digit())
}

fn bare_id(raw: &str) -> Option<String> {
    let raw = raw.trim_end_matches('/');
    let raw = raw.strip_suffix(".pdf").unwrap_or(raw);
    let id = VERSIONED_ID
        .captures(raw)
        .and_then(|c| c.get(1))
        .map_or(raw, |m| m.as_str());
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_typed_ids_give_one_id() {
        for s in [
            "2407.17398",
            " 2407.17398v2 ",
            "arXiv:2407.17398v1",
            "arxiv:2407.17398",
            "abs/2407.17398",
            "https://arxiv.org/abs/2407.17398",
            "https://arxiv.org/pdf/2407.17398v1.pdf",
            "HTTPS://www.arXiv.org/abs/2407.17398v3/",
            "https://export.arxiv.org/abs/2407.17398",
        ] {
            assert_eq!(normalise(s), "2407.17398", "{s}");
        }
        assert_eq!(normalise("hep-th/9901001v2"), "hep-th/9901001");
        assert_eq!(normalise("math.AG/0101001v1"), "math.AG/0101001");
        assert_eq!(
            normalise("http://arxiv.org/abs/hep-th/9901001"),
            "hep-th/9901001"
        );
        assert_eq!(id_from_url("https://example.com/abs/2407.17398"), None);
        assert_eq!(id_from_url("https://arxiv.org/abs/"), None);
        assert_eq!(normalise("some title"), "some title");
        assert!(is_new_style("2407.17398") && !is_new_style("2407.17398v2"));
    }
}
