//! English↔Korean term pairs an index learns from its own text, for query translation (BM25)
//! and for telling two topic keywords that say one thing (topics).
//!
//! Two sources, both read from the papers alone (no word list picked by hand):
//! - **brackets** ([`Lexicon::mined`]): summaries state translations as `확산 모델(diffusion
//!   models)` or `diffusion models(확산 모델)`; the phrases are paired word by word;
//! - **alignment** ([`super::Alignment`]): title words aligned with summary words by IBM Model 1,
//!   with the index's own model admitting what the two directions do not agree on.
//!
//! Forms of one stem class share their translations, also at lookup: a query word the index
//! never saw (`benchmarking`) gets its class's (`benchmark`). Snowball's classes are derivational
//! as well as inflectional, so a few unrelated words share one (`position`/`positive`,
//! `experiment`/`experience`, `relation`/`relative`) and so their translations: the price of
//! `robotic`, `editable` and `benchmarking` finding theirs, which measured worth it (docs/search.md).

use std::collections::HashMap;

use rayon::prelude::*;

use super::words::{is_stop, stem_english, strip_korean};

/// A bracketed pair must occur at least this often in the documents ...
const MINED_MIN_COUNT: u32 = 2;
/// ... and make up at least `1 / MINED_MIN_SHARE_INV` of its English word's bracketed pairs.
const MINED_MIN_SHARE_INV: u32 = 5;

/// Term pairs, both directions: token → its translations, as [`super::words::tokenize`] tokens.
///
/// English forms of one stem class (see [`stem_class`]) share their translations: a pair
/// learned for `robot` serves `robotic` and `robotics`, and a form the index never saw
/// (`benchmarking` in a query) gets its class's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    map: HashMap<String, Vec<String>>,
    /// English stem class → the translations of all its forms.
    by_stem: HashMap<String, Vec<String>>,
}

impl Lexicon {
    /// The translations of `token` (none when it has no pair): its own and its stem class's.
    pub fn translations(&self, token: &str) -> &[String] {
        if let Some(v) = self.map.get(token) {
            return v;
        }
        stem_class(token)
            .and_then(|c| self.by_stem.get(&c))
            .map_or(&[][..], Vec::as_slice)
    }

    /// Number of tokens with a translation.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no token has a translation.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every pair `(a, b)` with `b` a translation of `a`, sorted (both directions appear).
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = self
            .map
            .iter()
            .flat_map(|(a, bs)| bs.iter().map(move |b| (a.as_str(), b.as_str())))
            .collect();
        out.sort_unstable();
        out
    }

    /// A lexicon of `pairs`, each recorded in both directions.
    pub fn from_pairs<A: AsRef<str>, B: AsRef<str>>(
        pairs: impl IntoIterator<Item = (A, B)>,
    ) -> Lexicon {
        let mut lex = Lexicon::default();
        for (a, b) in pairs {
            lex.insert(a.as_ref(), b.as_ref());
        }
        lex.finish();
        lex
    }

    /// The pairs of both lexicons.
    pub fn union(mut self, other: &Lexicon) -> Lexicon {
        for (a, b) in other.pairs() {
            self.insert(a, b);
        }
        self.finish();
        self
    }

    fn insert(&mut self, a: &str, b: &str) {
        if a == b {
            return;
        }
        self.map
            .entry(a.to_string())
            .or_default()
            .push(b.to_string());
        self.map
            .entry(b.to_string())
            .or_default()
            .push(a.to_string());
    }

    /// Shares translations within each English stem class, keeps the map symmetric (so that
    /// storing [`Lexicon::pairs`] and reading them back gives the same lexicon), and sorts.
    fn finish(&mut self) {
        let mut by_stem: HashMap<String, Vec<String>> = HashMap::new();
        for (a, bs) in &self.map {
            if let Some(c) = stem_class(a) {
                by_stem.entry(c).or_default().extend(bs.iter().cloned());
            }
        }
        for v in by_stem.values_mut() {
            v.sort();
            v.dedup();
        }
        let mut back = Vec::new();
        for (a, bs) in self.map.iter_mut() {
            let Some(shared) = stem_class(a).and_then(|c| by_stem.get(&c)) else {
                continue;
            };
            for b in shared {
                if b != a && !bs.contains(b) {
                    bs.push(b.clone());
                    back.push((b.clone(), a.clone()));
                }
            }
        }
        for (b, a) in back {
            self.map.entry(b).or_default().push(a);
        }
        for v in self.map.values_mut() {
            v.sort();
            v.dedup();
        }
        self.by_stem = by_stem;
    }

    /// Translations the documents state themselves in brackets, `Korean (English)` or
    /// `English (Korean)`, paired word by word (see [`phrase_pairs`]). A pair is kept when
    /// seen at least [`MINED_MIN_COUNT`] times and for at least a fifth of its English word's
    /// pairs.
    pub fn mined<S: AsRef<str> + Sync>(docs: &[S]) -> Lexicon {
        let Some((ko_en, en_ko)) = paren_patterns() else {
            return Lexicon::default();
        };
        let pairs: Vec<Vec<(String, String)>> = docs
            .par_iter()
            .map(|d| {
                let d = d.as_ref();
                let mut out = Vec::new();
                for c in ko_en.captures_iter(d) {
                    phrase_pairs(&c[2], &c[1], &mut out);
                }
                for c in en_ko.captures_iter(d) {
                    phrase_pairs(&c[1], &c[2], &mut out);
                }
                out
            })
            .collect();
        let mut counts: HashMap<(String, String), u32> = HashMap::new();
        let mut per_en: HashMap<String, u32> = HashMap::new();
        for (e, k) in pairs.into_iter().flatten() {
            *per_en.entry(e.clone()).or_default() += 1;
            *counts.entry((e, k)).or_default() += 1;
        }
        Lexicon::from_pairs(counts.into_iter().filter_map(|((e, k), n)| {
            let total = per_en.get(&e).copied().unwrap_or(n);
            (n >= MINED_MIN_COUNT && n * MINED_MIN_SHARE_INV >= total).then_some((e, k))
        }))
    }
}

/// The English stem class of a token (Snowball's English stemmer): `robot`, `robotic` and
/// `robotics` are `robot`; `None` for a token that is not a plain lower-case English word of
/// four letters or more (Korean words, names with digits, acronyms such as `llm`).
pub fn stem_class(token: &str) -> Option<String> {
    static STEMMER: std::sync::OnceLock<rust_stemmers::Stemmer> = std::sync::OnceLock::new();
    if token.len() < 4 || !token.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let stemmer =
        STEMMER.get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
    Some(stemmer.stem(token).into_owned())
}

/// `Korean (English)`: a Korean phrase of up to four words, then an English one in parentheses
/// (text after a comma or semicolon inside them, e.g. an acronym, is ignored).
const KO_EN: &str =
    r"([가-힣]+(?:[ \-][가-힣]+){0,3}) ?\(([A-Za-z][A-Za-z \-]{1,60}?)(?:[,;][^)]*)?\)";
/// `English (Korean)`: an English phrase of up to four words, then a Korean one of up to four
/// words in parentheses.
const EN_KO: &str =
    r"([A-Za-z][A-Za-z\-]*(?: [A-Za-z][A-Za-z\-]*){0,3}) ?\(([가-힣]+(?: [가-힣]+){0,3})\)";

/// The two bracket patterns, compiled once.
fn paren_patterns() -> Option<&'static (regex::Regex, regex::Regex)> {
    static RE: std::sync::OnceLock<Option<(regex::Regex, regex::Regex)>> =
        std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Some((
            regex::Regex::new(KO_EN).ok()?,
            regex::Regex::new(EN_KO).ok()?,
        ))
    })
    .as_ref()
}

/// Word pairs of one `Korean (English)` phrase pair: word by word from the end when the Korean
/// phrase has as many words or more, else the two last words (the heads of the noun phrases).
/// Acronyms, plural ones too, are skipped: `대형 언어 모델(LLMs)` would pair `llm` with `모델`.
fn phrase_pairs(en: &str, ko: &str, out: &mut Vec<(String, String)>) {
    let acronym = |w: &str| {
        let w = w.strip_suffix('s').unwrap_or(w);
        w.chars().any(|c| c.is_ascii_uppercase())
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if en.split([' ', '-']).filter(|w| !w.is_empty()).all(acronym) {
        return;
    }
    let en_words: Vec<String> = en
        .split([' ', '-'])
        .map(|w| stem_english(&w.to_lowercase()))
        .filter(|w| w.len() > 1 && !is_stop(w))
        .collect();
    let ko_words: Vec<String> = ko
        .split([' ', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| strip_korean(w).to_string())
        .filter(|w| !is_stop(w))
        .collect();
    if ko_words.len() >= en_words.len() {
        // Korean modifiers come first (`새로운 확산 모델(diffusion model)`): align from the end.
        let skip = ko_words.len() - en_words.len();
        out.extend(en_words.into_iter().zip(ko_words.into_iter().skip(skip)));
    } else if let (Some(e), Some(k)) = (en_words.last(), ko_words.last()) {
        out.push((e.clone(), k.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_are_mined_in_both_directions_and_acronyms_skipped() {
        let docs = [
            "확산 모델(diffusion models)을 이용한 비디오 생성",
            "새로운 확산 모델(Diffusion Model) 기반 방법과 LLM",
            "텍스트 기반 이미지 생성(text-to-image generation)",
            "대규모 이미지 생성(image generation)",
            "대형 언어 모델(LLM)의 추론",
            "대형 언어 모델(LLMs)과 시각-언어 모델(VLMs)",
            "대형 언어 모델(LLMs)",
            "이미지 편집을 위한 확산",
        ];
        let lex = Lexicon::mined(&docs);
        assert!(lex.translations("diffusion").iter().any(|t| t == "확산"));
        assert!(lex.translations("확산").iter().any(|t| t == "diffusion"));
        assert!(
            !lex.translations("llm").iter().any(|t| t == "모델"),
            "{:?}",
            lex.pairs()
        );
        assert!(lex.translations("vlm").is_empty());
        // Right-aligned: the modifier 새로운 pairs with nothing.
        assert_eq!(lex.translations("model"), ["모델"]);
        assert_eq!(lex.translations("generation"), ["생성"]);
        assert_eq!(lex.translations("image"), ["이미지"]);
    }

    #[test]
    fn forms_of_one_stem_share_translations_and_the_pairs_read_back_the_same() {
        let lex =
            Lexicon::from_pairs([("robot", "로봇"), ("robotic", "로봇공학"), ("edit", "편집")]);
        assert_eq!(lex.translations("robot"), ["로봇", "로봇공학"]);
        assert_eq!(lex.translations("robotic"), ["로봇", "로봇공학"]);
        // Forms the lexicon never saw get their class's translations ...
        assert_eq!(lex.translations("robotics"), ["로봇", "로봇공학"]);
        assert_eq!(lex.translations("editing"), ["편집"]);
        // ... and the Korean side knows every English form it was given.
        assert_eq!(lex.translations("로봇공학"), ["robot", "robotic"]);
        assert!(lex.translations("editorial").is_empty(), "another stem");
        assert!(lex.translations("llm").is_empty());
        assert_eq!(Lexicon::from_pairs(lex.pairs()), lex);
    }
}
