//! Text from digests made safe to show: control characters and bidirectional overrides out.
//!
//! A title can carry ESC and OSC sequences (which a terminal executes: retitle the window,
//! rewrite the screen, write a hyperlink), NUL or BEL (invalid in HTML, noise in Markdown), or
//! U+202E and its kin (which make text read backwards, hiding what a link or a name says). As
//! ripgrep and git do, they are shown, not obeyed: each becomes `\x1b`-style text (`\u{202e}`
//! for the Unicode ones). The stored text is not touched; only what is printed or rendered.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a page as it is: a C0 or C1 control other than
/// tab and newline, DEL, or a bidirectional embedding, override or isolate.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with each unsafe character written out as an escape; borrowed when there is none.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// [`printable`] on one line: tabs and line breaks become spaces too (a table row).
pub fn one_line(s: &str) -> Cow<'_, str> {
    let p = printable(s);
    if p.contains(['\n', '\t', '\r']) {
        Cow::Owned(p.replace(['\n', '\t', '\r'], " "))
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_shown_not_obeyed() {
        assert!(matches!(printable("Plain 한국어 title"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\u{1b}]0;owned\u{7}b\u{0}c"),
            "a\\x1b]0;owned\\x07b\\x00c"
        );
        assert_eq!(printable("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
        assert_eq!(printable("x\u{9b}31m"), "x\\x9b31m");
        assert_eq!(printable("two\nlines\tkept"), "two\nlines\tkept");
        assert_eq!(
            one_line("two\nlines\tjoined\u{1b}"),
            "two lines joined\\x1b"
        );
    }
}
