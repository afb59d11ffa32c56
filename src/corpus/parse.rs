//! Parsing of one digest file (no deduplication across files).
//!
//! One pass over the lines, constant work per byte apart from the anchored label regex, so
//! a file of any size parses in linear time.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::{Notes, Paper, SourceLoc, Warning, WarningKind};

/// The bold label removed from the start of a bullet (reference definition, verbatim).
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\*{2,3}[^*\n]{1,80}?\*{1,3}:[ \t]*").expect("label regex is valid")
});

/// `## Daily Papers (YYYY-MM-DD)`; the date is validated separately.
static DATE_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^##\s+Daily Papers\s*\((\d{4}-\d{2}-\d{2})\)\s*$").expect("heading regex")
});

/// A `YYYY-MM-DD` date inside a file name, not part of a longer digit run.
static NAME_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9])(\d{4}-\d{2}-\d{2})(?:[^0-9]|$)").expect("name date regex")
});

/// Parses UTF-8 (or damaged) bytes of one digest; see the module doc for invalid UTF-8.
pub fn parse_bytes(bytes: &[u8], path: &Path) -> (Vec<Paper>, Vec<Warning>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_digest(text, path),
        Err(err) => {
            let offset = err.valid_up_to();
            // Newlines are ASCII and never part of an invalid sequence, so lossy decoding
            // keeps line numbers; the line count of the prefix locates the bad byte.
            let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
            let text = String::from_utf8_lossy(bytes);
            let (papers, mut warnings) = parse_digest(&text, path);
            warnings.insert(
                0,
                Warning {
                    file: path.to_path_buf(),
                    line,
                    kind: WarningKind::InvalidUtf8,
                    message: format!(
                        "invalid UTF-8 at byte offset {offset}; invalid bytes were replaced by U+FFFD"
                    ),
                },
            );
            (papers, warnings)
        }
    }
}

/// Parses the text of one digest file into its entries, in file order, without dedup.
pub fn parse_digest(text: &str, path: &Path) -> (Vec<Paper>, Vec<Warning>) {
    let mut parser = Parser::new(path);
    // A byte order mark is an encoding artefact, not content.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.is_empty() {
        parser.warn(0, WarningKind::EmptyFile, "empty file".to_string());
        return parser.into_parts();
    }
    let mut line_count = 0;
    for (idx, raw) in text.split('\n').enumerate() {
        line_count = idx + 1;
        parser.line(raw.strip_suffix('\r').unwrap_or(raw), idx + 1);
    }
    parser.finish(line_count);
    parser.into_parts()
}

/// Which labelled section a bullet belongs to.
#[derive(Clone, Copy)]
enum Section {
    WhatsNew,
    TechnicalDetails,
    PerformanceHighlights,
}

impl Section {
    /// Maps a bold label's text to a known section, tolerating case and a curly apostrophe.
    fn from_label(label: &str) -> Option<Section> {
        let norm = label.trim().replace('\u{2019}', "'").to_lowercase();
        match norm.as_str() {
            "what's new" => Some(Section::WhatsNew),
            "technical details" => Some(Section::TechnicalDetails),
            "performance highlights" => Some(Section::PerformanceHighlights),
            _ => None,
        }
    }
}

/// An entry being read: everything between its heading and the next heading.
struct Entry {
    line: usize,
    title: String,
    url: String,
    arxiv_id: String,
    date: Option<String>,
    votes: Option<u32>,
    vote_seen: bool,
    authors: Option<Vec<String>>,
    thumbnail: Option<String>,
    sections: [Option<String>; 3],
    current: Option<Section>,
    summary: String,
}

/// Line-by-line state for one file.
struct Parser<'a> {
    path: &'a Path,
    path_date: Option<String>,
    /// Whether the path's date has been judged plausible or not (once per file).
    path_date_checked: bool,
    heading_date: Option<String>,
    entry: Option<Entry>,
    /// True between a heading that was skipped and the next heading: its lines belong to
    /// the skipped entry (already warned about), not to "outside any entry".
    in_skipped: bool,
    headings: usize,
    stray_bullets: usize,
    first_stray: usize,
    undated_first: Option<usize>,
    undated: usize,
    papers: Vec<Paper>,
    notes: Notes,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path) -> Self {
        Parser {
            path,
            path_date: date_from_path(path),
            path_date_checked: false,
            heading_date: None,
            entry: None,
            in_skipped: false,
            headings: 0,
            stray_bullets: 0,
            first_stray: 0,
            undated_first: None,
            undated: 0,
            papers: Vec::new(),
            notes: Notes::new(path),
        }
    }

    fn warn(&mut self, line: usize, kind: WarningKind, message: String) {
        self.notes.warn(line, kind, message);
    }

    /// The papers and the warnings, in line order.
    fn into_parts(self) -> (Vec<Paper>, Vec<Warning>) {
        let mut warnings = self.notes.finish();
        warnings.sort_by_key(|w| w.line);
        (self.papers, warnings)
    }

    fn line(&mut self, line: &str, lineno: usize) {
        if let Some(rest) = line.strip_prefix("### ") {
            self.close_entry();
            self.headings += 1;
            self.open_entry(rest, lineno);
        } else if line.starts_with("## ") {
            self.close_entry();
            self.in_skipped = false;
            self.date_heading(line, lineno);
        } else if let Some(entry) = self.entry.as_mut() {
            if let Some(kind_msg) = entry.add_line(line) {
                self.warn(lineno, kind_msg.0, kind_msg.1);
            }
        } else if !self.in_skipped && bullet_text(line).is_some_and(|b| !b.trim().is_empty()) {
            if self.stray_bullets == 0 {
                self.first_stray = lineno;
            }
            self.stray_bullets += 1;
        }
    }

    /// Handles a `## ` line: a date heading sets the date of the entries below it.
    fn date_heading(&mut self, line: &str, lineno: usize) {
        if !line["## ".len()..].trim_start().starts_with("Daily Papers") {
            return;
        }
        let date = DATE_HEADING
            .captures(line)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str())
            .filter(|d| valid_date(d));
        match date {
            Some(d) => {
                self.check_plausible(d, lineno);
                if let Some(pd) = self.path_date.as_deref().filter(|pd| *pd != d) {
                    let msg = format!(
                        "heading date {d} differs from the date {pd} in the path; using {d}"
                    );
                    self.warn(lineno, WarningKind::DateMismatch, msg);
                }
                self.heading_date = Some(d.to_string());
            }
            None => {
                self.heading_date = None;
                let msg = format!(
                    "`## Daily Papers` heading without a valid (YYYY-MM-DD) date: {}",
                    clip(line, 80)
                );
                self.warn(lineno, WarningKind::BadDateHeading, msg);
            }
        }
    }

    /// Warns about a date no paper can bear (once per date and file).
    fn check_plausible(&mut self, date: &str, lineno: usize) {
        if super::dates::plausible_day(date).is_none() {
            let msg = format!(
                "date {date} is before arXiv began ({}) or after today: its papers keep it, \
                 but trends and the brief's default day leave them out",
                super::dates::FIRST_DAY
            );
            self.warn(lineno, WarningKind::ImplausibleDate, msg);
        }
    }

    fn open_entry(&mut self, rest: &str, lineno: usize) {
        let Some((title, url)) = split_heading(rest) else {
            self.in_skipped = true;
            let msg = format!(
                "heading without a [title](link); entry skipped: {}",
                clip(rest, 80)
            );
            self.warn(lineno, WarningKind::HeadingWithoutLink, msg);
            return;
        };
        if title.is_empty() {
            let msg = format!("heading with an empty title (link {})", clip(url, 80));
            self.warn(lineno, WarningKind::EmptyTitle, msg);
        }
        // Only web links become links downstream: a `javascript:` or `data:` target would run
        // in the report. The entry is kept, its link as text in the warning, and its id a
        // digest of the title (the link is no id anyone can follow).
        let (url, arxiv_id) = if is_web_link(url) {
            (url.to_string(), id_from_url(url))
        } else {
            let msg = format!(
                "link `{}` is not http(s): kept as text, not as a link",
                clip(url, 80)
            );
            self.warn(lineno, WarningKind::UnsafeLink, msg);
            (String::new(), untrusted_link_id(title))
        };
        let date = self.heading_date.clone().or_else(|| self.path_date.clone());
        if self.heading_date.is_none() && !self.path_date_checked {
            self.path_date_checked = true;
            if let Some(d) = self.path_date.clone() {
                self.check_plausible(&d, lineno);
            }
        }
        if date.is_none() {
            // One warning per file, not per paper: the cause is the same for all of them.
            self.undated_first.get_or_insert(lineno);
            self.undated += 1;
        }
        self.in_skipped = false;
        self.entry = Some(Entry {
            line: lineno,
            title: title.to_string(),
            url,
            arxiv_id,
            date,
            votes: None,
            vote_seen: false,
            authors: None,
            thumbnail: None,
            sections: [None, None, None],
            current: None,
            summary: String::new(),
        });
    }

    fn close_entry(&mut self) {
        let Some(e) = self.entry.take() else {
            return;
        };
        if e.summary.is_empty() {
            let msg = format!("paper {} has no summary bullets", e.arxiv_id);
            self.warn(e.line, WarningKind::NoSummary, msg);
        }
        let [whats_new, technical_details, performance_highlights] = e.sections;
        self.papers.push(Paper {
            arxiv_id: e.arxiv_id,
            title: e.title,
            url: e.url,
            dates: e.date.iter().cloned().collect(),
            date: e.date,
            votes: e.votes,
            authors: e.authors.unwrap_or_default(),
            thumbnail: e.thumbnail,
            whats_new,
            technical_details,
            performance_highlights,
            summary: e.summary,
            abstract_text: None,
            categories: Vec::new(),
            source: SourceLoc {
                file: self.path.to_path_buf(),
                line: e.line,
            },
        });
    }

    fn finish(&mut self, line_count: usize) {
        self.close_entry();
        if self.stray_bullets > 0 {
            let msg = format!(
                "{} bullet line(s) outside any paper entry ignored",
                self.stray_bullets
            );
            self.warn(self.first_stray, WarningKind::StrayBullets, msg);
        }
        if self.headings == 0 {
            let msg = format!(
                "no `### [Title](link)` paper heading in {line_count} line(s); not a digest?"
            );
            self.warn(0, WarningKind::NoPapers, msg);
        }
        if let Some(line) = self.undated_first {
            let msg = format!(
                "{} paper(s) without a date (first at this line): no `## Daily Papers \
                 (YYYY-MM-DD)` heading above them and no date in the file's path",
                self.undated
            );
            self.warn(line, WarningKind::NoDate, msg);
        }
    }
}

impl Entry {
    /// Takes one line of the entry's body; returns a warning if the line is malformed.
    fn add_line(&mut self, line: &str) -> Option<(WarningKind, String)> {
        if let Some(bullet) = bullet_text(line) {
            self.add_bullet(bullet);
            return None;
        }
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Vote:") {
            if self.vote_seen {
                return None;
            }
            self.vote_seen = true;
            let v = v.trim();
            if v == "-" {
                return None;
            }
            match v.parse::<u32>() {
                Ok(n) => self.votes = Some(n),
                Err(_) => {
                    let msg = format!(
                        "paper {}: vote `{}` is not a number; treated as unknown",
                        self.arxiv_id,
                        clip(v, 40)
                    );
                    return Some((WarningKind::BadVote, msg));
                }
            }
        } else if let Some(a) = t.strip_prefix("Authors:") {
            if self.authors.is_none() {
                self.authors = Some(parse_authors(a));
            }
        } else if self.thumbnail.is_none() && t.starts_with("![") {
            match image_url(t) {
                // The digests' own avatars are relative (`/avatars/…`): no scheme, no harm.
                Some(u) if is_web_link(u) || is_relative_link(u) => {
                    self.thumbnail = Some(u.to_string())
                }
                Some(u) => {
                    let msg = format!(
                        "paper {}: image link `{}` is not http(s); dropped",
                        self.arxiv_id,
                        clip(u, 80)
                    );
                    return Some((WarningKind::UnsafeLink, msg));
                }
                None => {}
            }
        }
        None
    }

    /// Applies the reference summary rules to one bullet and tracks labelled sections.
    fn add_bullet(&mut self, bullet: &str) {
        let text = match LABEL.find(bullet) {
            Some(m) => {
                // The label text sits between the leading stars and the next star.
                let label = m.as_str().trim_start_matches('*');
                let label = label.split('*').next().unwrap_or(label);
                self.current = Section::from_label(label);
                &bullet[m.end()..]
            }
            None => bullet,
        };
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        if !self.summary.is_empty() {
            self.summary.push('\n');
        }
        self.summary.push_str(text);
        // Unlabelled bullets after a known label (nested points) belong to its section.
        if let Some(section) = self.current {
            let slot = &mut self.sections[section as usize];
            match slot {
                Some(s) => {
                    s.push('\n');
                    s.push_str(text);
                }
                None => *slot = Some(text.to_string()),
            }
        }
    }
}

/// The text after `- ` of a bullet line (leading spaces allowed), if it is one.
fn bullet_text(line: &str) -> Option<&str> {
    line.trim_start_matches(' ').strip_prefix("- ")
}

/// Splits `[Title](link)` (the part after `### `) into trimmed title and link.
///
/// The title ends at the LAST `](` so that titles containing `](` stay whole; the link
/// ends at the last `)`. Returns `None` without a link or with an empty one.
fn split_heading(rest: &str) -> Option<(&str, &str)> {
    let inner = rest.trim_start().strip_prefix('[')?;
    let pos = inner.rfind("](")?;
    let after = &inner[pos + 2..];
    let close = after.rfind(')')?;
    let url = after[..close].trim();
    if url.is_empty() {
        return None;
    }
    Some((inner[..pos].trim(), url))
}

/// Whether `url` is an `http(s)` link without characters that could leave an attribute or a
/// Markdown link (whitespace, quotes, angle brackets, backslashes, control characters).
pub fn is_web_link(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c))
}

/// Whether `url` is a relative path (no scheme before its first `/`, `?` or `#`) made only of
/// characters a link can hold.
fn is_relative_link(url: &str) -> bool {
    let head = url.split(['/', '?', '#']).next().unwrap_or("");
    !head.contains(':')
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c))
}

/// Id of an entry whose link is not a web link: `untrusted-link-` and 12 hex digits of the
/// title's SHA-256, stable across runs and digests.
fn untrusted_link_id(title: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(title.as_bytes());
    let hex: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("untrusted-link-{hex}")
}

/// The paper id of a heading link: the arXiv id without version, else the link itself.
fn id_from_url(url: &str) -> String {
    crate::text::arxiv::id_from_url(url).unwrap_or_else(|| url.to_string())
}

/// The link of an image line `![alt](link)`.
fn image_url(line: &str) -> Option<&str> {
    let after = &line[line.find("](")? + 2..];
    let url = after[..after.rfind(')')?].trim();
    (!url.is_empty()).then_some(url)
}

/// Author names from `a, b, +, c` or a Python list literal `['a', "b"]`; `+` is dropped.
fn parse_authors(list: &str) -> Vec<String> {
    let list = list.trim();
    let names = match list.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        Some(inner) => python_strings(inner).unwrap_or_else(|| split_commas(inner)),
        None => split_commas(list),
    };
    names
        .into_iter()
        .filter(|n| !n.is_empty() && n != "+")
        .collect()
}

fn split_commas(list: &str) -> Vec<String> {
    list.split(',').map(|s| s.trim().to_string()).collect()
}

/// The items of a Python list of string literals, or `None` if it is not one.
fn python_strings(inner: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = inner.trim().chars().peekable();
    while chars.peek().is_some() {
        let quote = chars.next().filter(|&q| q == '\'' || q == '"')?;
        let mut item = String::new();
        loop {
            match chars.next()? {
                '\\' => item.push(chars.next()?),
                c if c == quote => break,
                c => item.push(c),
            }
        }
        out.push(item.trim().to_string());
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            Some(_) => return None,
        }
    }
    Some(out)
}

/// The date of a digest from its path: `.../YYYY/MM/DD.md`, else `YYYY-MM-DD` in the name.
fn date_from_path(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let month_dir = path.parent()?;
    let year_dir = month_dir.parent();
    let comp = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string);
    if let (Some(m), Some(y)) = (comp(month_dir), year_dir.and_then(comp)) {
        let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if all_digits(&y, 4) && all_digits(&m, 2) && all_digits(stem, 2) {
            let d = format!("{y}-{m}-{stem}");
            if valid_date(&d) {
                return Some(d);
            }
        }
    }
    NAME_DATE
        .captures(stem)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
        .filter(|d| valid_date(d))
        .map(str::to_string)
}

/// Checks a `YYYY-MM-DD` string for a plausible month and day (not a full calendar check).
fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |s: &str| s.parse::<u32>().ok();
    matches!(
        (
            d.get(0..4).and_then(num),
            d.get(5..7).and_then(num),
            d.get(8..10).and_then(num)
        ),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

/// At most `max` characters of `s`, for messages that quote input.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_split_uses_last_link_opener() {
        assert_eq!(
            split_heading("[A [b](c) d](https://arxiv.org/abs/1)"),
            Some(("A [b](c) d", "https://arxiv.org/abs/1"))
        );
        assert_eq!(split_heading("No link"), None);
        assert_eq!(split_heading("[T]()"), None);
    }

    #[test]
    fn ids_from_urls() {
        assert_eq!(
            id_from_url("https://arxiv.org/abs/2409.17146"),
            "2409.17146"
        );
        assert_eq!(
            id_from_url("https://arxiv.org/abs/2409.17146v3"),
            "2409.17146"
        );
        assert_eq!(
            id_from_url("https://arxiv.org/pdf/2409.17146.pdf"),
            "2409.17146"
        );
        assert_eq!(
            id_from_url("http://arxiv.org/abs/hep-th/9901001"),
            "hep-th/9901001"
        );
        assert_eq!(
            id_from_url("https://example.org/p"),
            "https://example.org/p"
        );
        assert_eq!(
            id_from_url("https://arxiv.org/abs/"),
            "https://arxiv.org/abs/"
        );
    }

    #[test]
    fn authors_in_both_notations() {
        assert_eq!(parse_authors(" a, b , +, c"), vec!["a", "b", "c"]);
        assert_eq!(
            parse_authors("['a b', \"O'Neil\", '+']"),
            vec!["a b", "O'Neil"]
        );
        // A broken list literal falls back to comma splitting instead of losing names.
        assert_eq!(parse_authors("['a', b]"), vec!["'a'", "b"]);
        assert!(parse_authors("").is_empty());
    }

    #[test]
    fn dates_from_paths() {
        let d = |p: &str| date_from_path(Path::new(p));
        assert_eq!(d("x/2024/03/05.md").as_deref(), Some("2024-03-05"));
        assert_eq!(d("2024-09-26.md").as_deref(), Some("2024-09-26"));
        assert_eq!(d("digest_2024-09-26.txt").as_deref(), Some("2024-09-26"));
        assert_eq!(d("x/2024/13/05.md"), None);
        assert_eq!(d("12024-09-26.md"), None);
        assert_eq!(d("000_07342052cedade6e.txt"), None);
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("가나다라", 2), "가나…");
        assert_eq!(clip("ab", 5), "ab");
    }
}
