//! The one analyser of Korean and English words, shared by BM25 ([`crate::search`]), topic
//! keywords ([`crate::topics`]) and the translation lexicon ([`super::lexicon`]).
//!
//! - [`pieces`] cuts text into runs of letters and digits; `-`, `_` and `.` stay inside a run
//!   when letters or digits are on both sides (`gpt-4o`, `llama-3.1`, `qwen2.5-vl`), and a run
//!   that changes between Hangul and other letters is cut there (`gpt-4o를` → `gpt-4o`, `를`,
//!   the second piece *glued* to the first);
//! - [`strip_korean`] removes particles and endings (은/는/이/가/을/를/의/에서/으로/하는/합니다
//!   …), the longest that leaves a stem, in up to two layers (`모델들의` → `모델`), keeping two
//!   syllables under a one-syllable ending (평가, 결과 stay whole) and never cutting the nouns of
//!   [`KO_KEEP`] (정확도, 에이전트, 비디오);
//! - [`stem_english`] folds plurals (`models` → `model`, `studies` → `study`);
//! - [`is_stop`] names the function words of both languages (articles, prepositions, particles
//!   standing alone, connectives). Words that are merely common in research writing (`model`,
//!   `제안`, `novel`) are not stop words here: BM25 discounts them by document frequency, and
//!   topic keywords keep their own list of them.
//!
//! [`tokenize`] turns text into BM25's tokens with these rules (see its documentation).

use std::collections::HashSet;
use std::sync::LazyLock;

/// English function words.
#[rustfmt::skip]
const EN_STOP: &[&str] = &[
    "a", "about", "above", "across", "after", "against", "al", "all", "also", "among", "an", "and",
    "any", "are", "as", "at", "be", "been", "being", "between", "beyond", "both", "but", "by",
    "can", "could", "do", "does", "during", "e.g", "each", "et", "etc", "even", "for", "from",
    "further", "has", "have", "how", "however", "i.e", "if", "in", "into", "is", "it", "its",
    "may", "no", "not", "of", "on", "or", "other", "our", "out", "over", "so", "some", "such",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "through", "to", "toward", "towards", "under", "up", "very", "via", "vs", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "why", "will", "with", "within", "without",
    "yet", "you", "your",
];

/// Korean function words and connectives (as they stand after [`strip_korean`]).
#[rustfmt::skip]
const KO_STOP: &[&str] = &[
    "및", "등", "수", "것", "이", "그", "더", "각", "이를", "또한", "통해", "위해", "위한", "대한",
    "대해", "있", "있는", "있다", "있습니다", "있으며", "있도록", "있음을", "있는지", "하는", "한다",
    "합니다", "이러한", "이러", "이는", "기존", "또는", "그러나", "그리고", "하지만", "경우", "때문",
    "동안", "모두", "모든", "매우", "더욱", "가장", "각각", "같은", "다른", "여러", "이후", "이번",
    "동시에", "특히", "어떻게", "해당", "주어진", "것을", "것이", "것은", "것으로",
];

/// Particles and endings stripped from the end of a Korean word.
#[rustfmt::skip]
const KO_SUFFIXES: &[&str] = &[
    "하였습니다", "되었습니다", "시켰습니다", "있습니다", "했습니다", "됩니다", "합니다", "입니다",
    "습니다", "시킵니다", "였습니다", "었습니다", "에서는", "에서도", "에서의", "으로는", "으로도",
    "으로써", "으로서", "으로의", "에게서", "이라는", "이라고", "하였다", "되었다", "시키는", "에서",
    "으로", "에게", "까지", "부터", "보다", "처럼", "마다", "과의", "와의", "로의", "에는", "에도",
    "에의", "로는", "로도", "로써", "로서", "라는", "하는", "하여", "하고", "하며", "하기", "하지",
    "하게", "해서", "했다", "한다", "되는", "되며", "되어", "되고", "된다", "이며", "이고", "이나",
    "이다", "적인", "적으로", "들을", "들이", "들의", "들은", "들과", "들에", "은", "는", "이", "가",
    "을", "를", "의", "에", "로", "와", "과", "도", "만", "한", "된", "들", "며", "나", "적", "성",
    "형",
];

/// Korean nouns that end like a particle or ending; never stripped.
#[rustfmt::skip]
const KO_KEEP: &[&str] = &[
    "정확도", "유사도", "해상도", "난이도", "신뢰도", "복잡도", "속도", "밀도", "온도", "강도",
    "전문가", "평가", "추가", "증가", "참가", "대가", "의도", "제도", "지도", "정도", "태도", "각도",
    "시도", "확률", "데이터", "레이어", "에이전트", "비디오", "오디오", "라디오", "로봇", "메모리",
    "비선형",
];

/// One-syllable endings are cut only from stems of two syllables or more (평가, 결과, 생성 stay).
fn one_syllable(s: &str) -> bool {
    s.chars().count() == 1
}

/// A word list as a set, for the lists of this module and of topic keywords.
pub(crate) fn set(words: &'static [&'static str]) -> HashSet<&'static str> {
    words.iter().copied().collect()
}

static STOP: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| EN_STOP.iter().chain(KO_STOP).copied().collect());
static SUFFIXES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(KO_SUFFIXES));
static KEEP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(KO_KEEP));

/// Whether `word` (lower-case English, or a Korean word before or after stripping) is a
/// function word of either language.
pub fn is_stop(word: &str) -> bool {
    STOP.contains(word)
}

/// Whether a Hangul piece is only a particle or ending (`를`, `에서는`, `입니다`): what is left
/// of `GPT-4o를` after the English term.
pub fn is_particle(piece: &str) -> bool {
    SUFFIXES.contains(piece)
}

/// Whether `c` is a Hangul syllable or jamo.
pub fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

fn is_connector(c: char) -> bool {
    matches!(c, '-' | '_' | '.')
}

/// A run of letters and digits of one script, as written in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The piece as written (case kept), inner connectors included.
    pub text: &'a str,
    /// Byte offset of the piece in the text.
    pub start: usize,
    /// Byte offset just past the piece.
    pub end: usize,
    /// Hangul (else Latin letters, digits or other scripts).
    pub hangul: bool,
    /// Written against the previous piece with no separator (`를` in `GPT-4o를`).
    pub glued: bool,
}

/// The pieces of `text` in order (see the module documentation).
pub fn pieces<'a>(text: &'a str) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    // Current piece: start, end, script; `run` says whether it continues a run (glued).
    let mut cur: Option<(usize, usize, bool)> = None;
    let mut glued = false;
    let mut chars = text.char_indices().peekable();
    let flush = |cur: &mut Option<(usize, usize, bool)>, glued: bool, out: &mut Vec<Piece<'a>>| {
        if let Some((s, e, h)) = cur.take() {
            // A connector that ended up at a cut between scripts is no part of either piece.
            let piece = text[s..e].trim_end_matches(is_connector);
            let lead = piece.len() - piece.trim_start_matches(is_connector).len();
            let piece = &piece[lead..];
            if !piece.is_empty() {
                out.push(Piece {
                    text: piece,
                    start: s + lead,
                    end: s + lead + piece.len(),
                    hangul: h,
                    glued,
                });
            }
        }
    };
    while let Some((i, c)) = chars.next() {
        let next_alnum = chars.peek().is_some_and(|&(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() {
            let h = is_hangul(c);
            match cur {
                Some((s, _, ch)) if ch == h => cur = Some((s, i + c.len_utf8(), h)),
                Some(_) => {
                    flush(&mut cur, glued, &mut out);
                    glued = true;
                    cur = Some((i, i + c.len_utf8(), h));
                }
                None => {
                    glued = false;
                    cur = Some((i, i + c.len_utf8(), h));
                }
            }
        } else if is_connector(c) && cur.is_some() && next_alnum {
            if let Some((s, _, h)) = cur {
                cur = Some((s, i + c.len_utf8(), h));
            }
        } else {
            flush(&mut cur, glued, &mut out);
            glued = false;
        }
    }
    flush(&mut cur, glued, &mut out);
    out
}

/// A Korean word without its particles and endings (see the module documentation); the word
/// itself when nothing can be cut.
pub fn strip_korean(word: &str) -> &str {
    let mut w = word;
    for _ in 0..2 {
        if KEEP.contains(w) || STOP.contains(w) {
            break;
        }
        let syllables = w.chars().count();
        let mut best: Option<&str> = None;
        for (at, _) in w.char_indices().skip(1) {
            let (stem, suffix) = w.split_at(at);
            if !SUFFIXES.contains(suffix) {
                continue;
            }
            let min_stem = if one_syllable(suffix) { 2 } else { 1 };
            let stem_len = syllables - suffix.chars().count();
            if stem_len >= min_stem {
                best = Some(stem); // the first cut from the left is the longest suffix
                break;
            }
        }
        match best {
            Some(stem) => w = stem,
            None => break,
        }
    }
    w
}

/// Plural folding of a lower-case English word: `models` → `model`, `studies` → `study`,
/// `losses` → `loss`; words of three letters or fewer, and `-ss`/`-us`/`-is` words, stay.
pub fn stem_english(w: &str) -> String {
    if w.len() <= 3 || !w.bytes().all(|b| b.is_ascii_lowercase()) {
        return w.to_string();
    }
    if matches!(w, "series" | "species") {
        return w.to_string();
    }
    if let Some(s) = w.strip_suffix("ies") {
        if s.len() >= 2 {
            return format!("{s}y");
        }
    }
    if let Some(s) = w.strip_suffix("sses") {
        return format!("{s}ss");
    }
    if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// Emits a Latin word (no connectors) after stop-word removal and stemming.
fn push_word(w: &str, out: &mut Vec<String>) {
    let single_letter = w.chars().count() == 1 && !w.chars().all(|c| c.is_numeric());
    if w.is_empty() || single_letter || is_stop(w) {
        return;
    }
    let has_digit = w.chars().any(|c| c.is_ascii_digit());
    let has_alpha = w.chars().any(char::is_alphabetic);
    if has_digit && has_alpha {
        out.push(w.to_string());
        let letters: String = w.chars().take_while(|c| c.is_alphabetic()).collect();
        if letters.chars().count() >= 2 && letters.len() < w.len() {
            out.push(letters);
        }
    } else {
        out.push(stem_english(w));
    }
}

/// Parts of a compound: split on `-`/`_`, and on `.` unless the dot sits between digits.
fn compound_parts(piece: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for part in piece.split(['-', '_']) {
        let chars: Vec<char> = part.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let numeric_dot = c == '.'
                && i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if c == '.' && !numeric_dot {
                parts.push(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
        }
        parts.push(cur);
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// BM25's tokens of `text`, lower-case:
/// - a Latin compound (`llama-3.1-8b`) whole and then its parts (`llama`, `3.1`, `8b`),
///   because a summary may write `Llama 3.1` where the title says `Llama-3.1`; a
///   letters+digits word also yields its letters (`qwen2` → `qwen2`, `qwen`); other words are
///   plural-folded; numbers are kept; single letters and stop words are dropped;
/// - a Korean word is stripped of its particles and endings and dropped when a stop word;
///   a particle glued to an English term is dropped whole; a hyphenated Korean compound
///   (`텍스트-이미지`) counts as its words.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for p in pieces(text) {
        let lower = p.text.to_lowercase();
        if !p.hangul {
            let parts = compound_parts(&lower);
            if parts.len() > 1 {
                out.push(lower.clone());
            }
            for part in &parts {
                push_word(part, &mut out);
            }
            continue;
        }
        if p.glued && is_particle(&lower) {
            continue;
        }
        for word in lower.split(is_connector).filter(|w| !w.is_empty()) {
            let stem = strip_korean(word);
            if !is_stop(stem) && !is_stop(word) {
                out.push(stem.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(toks: &[String], t: &str) -> bool {
        toks.iter().any(|x| x == t)
    }

    #[test]
    fn pieces_cut_at_scripts_and_keep_inner_connectors() {
        let p = pieces("GPT-4o를 (Qwen2.5-VL), 텍스트-이미지 a_b. end-");
        let texts: Vec<&str> = p.iter().map(|p| p.text).collect();
        assert_eq!(
            texts,
            ["GPT-4o", "를", "Qwen2.5-VL", "텍스트-이미지", "a_b", "end"]
        );
        assert!(p[1].glued && p[1].hangul && !p[0].glued && !p[2].glued);
        let text = "x 모델이";
        let m = pieces(text)[1];
        assert_eq!(&text[m.start..m.end], "모델이");
    }

    #[test]
    fn korean_particles_and_endings_are_stripped_in_two_layers() {
        for (word, stem) in [
            ("에이전트를", "에이전트"),
            ("강화학습에서", "강화학습"),
            ("생성하는", "생성"),
            ("정확도", "정확도"),
            ("평가를", "평가"),
            ("이미지들의", "이미지"),
            ("모델이", "모델"),
            ("데이터를", "데이터"),
            ("결과와", "결과"),
            ("안정적으로", "안정"),
            ("평가", "평가"),
        ] {
            assert_eq!(strip_korean(word), stem, "{word}");
        }
        assert!(is_particle("를") && is_particle("에서는") && !is_particle("모델"));
    }

    #[test]
    fn model_names_are_kept_whole_and_split() {
        let t = tokenize("We compare GPT-4o and Llama-3.1-8B with Qwen2.5-VL.");
        for want in [
            "gpt-4o",
            "gpt",
            "4o",
            "llama-3.1-8b",
            "llama",
            "3.1",
            "8b",
            "qwen2.5-vl",
            "qwen2.5",
            "qwen",
            "vl",
            "compare",
        ] {
            assert!(has(&t, want), "{want} missing from {t:?}");
        }
        assert!(!has(&t, "we") && !has(&t, "and"));
    }

    #[test]
    fn korean_tokens_lose_particles_and_glued_particles_go() {
        let t = tokenize("모델이 데이터를 생성하는 방법을 제안합니다. GPT-4o를 평가 결과와 비교");
        for want in [
            "모델",
            "데이터",
            "생성",
            "방법",
            "제안",
            "gpt-4o",
            "평가",
            "결과",
            "비교",
        ] {
            assert!(has(&t, want), "{want} missing from {t:?}");
        }
        assert!(!has(&t, "를") && !has(&t, "평"), "{t:?}");
    }

    #[test]
    fn numbers_plurals_and_punctuation() {
        let t =
            tokenize("Scaling laws (2024): 7B models, 3.5 points; e.g. diffusion-based studies");
        for want in [
            "scaling",
            "law",
            "2024",
            "7b",
            "model",
            "3.5",
            "diffusion-based",
            "diffusion",
            "based",
            "study",
        ] {
            assert!(has(&t, want), "{want} missing from {t:?}");
        }
        assert!(tokenize("   ").is_empty());
        assert_eq!(stem_english("series"), "series");
        assert_eq!(stem_english("losses"), "loss");
    }
}
