//! Lexical matching: a tokenizer for Korean summaries full of English terms, and BM25 over it.
//!
//! Tokens ([`tokenize`]):
//! - text is lowercased and cut into runs of letters and digits; `-`, `_` and `.` stay inside a
//!   run when letters or digits are on both sides, so `gpt-4o`, `llama-3.1`, `qwen2.5-vl` are
//!   kept whole — and are also split into their parts (`llama`, `3.1`), because a summary may
//!   write `Llama 3.1` where the title says `Llama-3.1`;
//! - a run that changes between Hangul and other letters is cut there (`gpt-4o를` → `gpt-4o`,
//!   `를`), and a particle glued to an English term is dropped;
//! - Korean words lose one common particle or ending (은/는/이/가/을/를/의/에/에서/으로/로/와/
//!   과/도/만, 하는/하여/합니다, 적/성/형 …), the longest that leaves a stem, keeping at least two
//!   syllables for one-syllable endings so that 평가 or 결과 are not cut;
//! - English words lose a plural `s` (light stemming); a letters+digits word also yields its
//!   letters (`qwen2` → `qwen2`, `qwen`); numbers are kept; single letters and a short list of
//!   English and Korean function words are dropped.
//!
//! Queries are expanded across the two languages: each query token becomes a *concept* with its
//! translations from a small glossary of research terms ([`super::glossary`]) and from the
//! `한국어(English)` parentheticals of the indexed texts themselves ([`Bm25::translations`]).
//! [`Bm25`] scores each concept as one term (summed term frequency over its forms, document
//! frequency of any form) with `k1 = 1.2`, `b = 0.75` and the non-negative IDF
//! `ln(1 + (N − df + 0.5) / (df + 0.5))`; each distinct query token counts once.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::Hit;
use crate::index::{Index, TextRecipe};

/// BM25 term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25 length normalisation.
pub const B: f32 = 0.75;
/// A mined translation pair must occur at least this often in the documents ...
const MINED_MIN_COUNT: u32 = 2;
/// ... and make up at least `1 / MINED_MIN_SHARE_INV` of its English word's mined pairs.
const MINED_MIN_SHARE_INV: u32 = 5;

/// English function words that carry no topic.
const EN_STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "in", "into", "is", "it", "its", "of", "on", "or", "our", "than", "that", "the", "their",
    "this", "to", "toward", "towards", "via", "vs", "we", "what", "when", "where", "which", "why",
    "with", "without",
];

/// Korean function words (after ending removal).
const KO_STOP: &[&str] = &[
    "및",
    "등",
    "수",
    "것",
    "이",
    "그",
    "이를",
    "또한",
    "통해",
    "위해",
    "대한",
    "대해",
    "있",
    "있는",
    "있다",
    "있습니다",
    "있으며",
    "하는",
    "한다",
    "합니다",
    "이러한",
    "이는",
    "기존",
    "더",
    "또는",
];

/// Particles and endings stripped from the end of a Korean word, longest first.
const KO_SUFFIXES: &[&str] = &[
    "하였습니다",
    "되었습니다",
    "했습니다",
    "됩니다",
    "합니다",
    "입니다",
    "습니다",
    "에서는",
    "에서도",
    "에서의",
    "으로는",
    "으로도",
    "으로써",
    "으로서",
    "에게서",
    "이라는",
    "이라고",
    "하였다",
    "되었다",
    "에서",
    "으로",
    "에게",
    "까지",
    "부터",
    "보다",
    "처럼",
    "마다",
    "과의",
    "와의",
    "에는",
    "에도",
    "에의",
    "로는",
    "로도",
    "로써",
    "로서",
    "라는",
    "하는",
    "하여",
    "하고",
    "하며",
    "하기",
    "하지",
    "해서",
    "했다",
    "한다",
    "되는",
    "되며",
    "되어",
    "되고",
    "된다",
    "이며",
    "이다",
    "적인",
    "적으로",
    "들을",
    "들이",
    "들의",
    "들은",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
    "한",
    "된",
    "들",
    "적",
    "성",
    "형",
];

/// Particles that, glued to an English term, are dropped whole.
const KO_PARTICLES: &[&str] = &[
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "에서",
    "으로",
    "로",
    "와",
    "과",
    "도",
    "만",
    "에서는",
    "으로는",
    "에는",
    "이나",
    "나",
    "라는",
    "이라는",
    "와의",
    "과의",
    "보다",
    "처럼",
    "까지",
    "부터",
    "에게",
    "들",
    "들을",
    "들이",
    "들의",
    "들은",
    "이며",
    "이다",
    "입니다",
];

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

fn is_connector(c: char) -> bool {
    matches!(c, '-' | '_' | '.')
}

/// Maximal runs of letters/digits with inner connectors, lowercased.
fn raw_runs(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut runs = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if is_connector(c)
            && !cur.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
        {
            cur.push(c);
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

/// Cuts a run where it switches between Hangul and other characters; connectors at a cut go.
fn script_pieces(run: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    for c in run.chars() {
        let h = is_hangul(c);
        match out.last_mut() {
            Some((lh, s)) if is_connector(c) || *lh == h => s.push(c),
            _ => out.push((h, c.to_string())),
        }
    }
    out.into_iter()
        .map(|(h, s)| (h, s.trim_matches(is_connector).to_string()))
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// Removes the longest particle or ending that leaves a stem (two syllables for one-syllable
/// endings, so 평가 and 결과 stay whole).
fn strip_korean(word: &str) -> &str {
    let syllables = word.chars().count();
    let mut best = word;
    for suf in KO_SUFFIXES {
        if let Some(stem) = word.strip_suffix(suf) {
            let stem_len = stem.chars().count();
            let min = if suf.chars().count() == 1 { 2 } else { 1 };
            if stem_len >= min && stem_len < syllables && stem.len() < best.len() {
                best = stem;
            }
        }
    }
    best
}

/// Light English stemming: plural `s`/`es`/`ies`.
fn stem_english(w: &str) -> String {
    if w.len() <= 3 || !w.bytes().all(|b| b.is_ascii_lowercase()) {
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

/// Emits a non-Hangul word (no connectors) after stop-word removal and stemming.
fn push_word(w: &str, out: &mut Vec<String>) {
    let single_letter = w.chars().count() == 1 && !w.chars().all(|c| c.is_numeric());
    if w.is_empty() || single_letter || EN_STOP.contains(&w) {
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

/// Emits a non-Hangul piece: a compound (`llama-3.1`) whole and then its parts.
fn push_latin(piece: &str, out: &mut Vec<String>) {
    let parts = compound_parts(piece);
    if parts.len() > 1 {
        out.push(piece.to_string());
    }
    for p in &parts {
        push_word(p, out);
    }
}

/// Tokens of `text` for BM25 (see the module documentation for the rules).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in raw_runs(text) {
        let pieces = script_pieces(&run);
        for (i, (hangul, piece)) in pieces.iter().enumerate() {
            if !hangul {
                push_latin(piece, &mut out);
                continue;
            }
            let glued = i > 0 && !pieces[i - 1].0;
            if glued && KO_PARTICLES.contains(&piece.as_str()) {
                continue;
            }
            // Hyphenated Korean compounds (`텍스트-이미지`) count as their words.
            for word in piece.split(is_connector).filter(|w| !w.is_empty()) {
                let stem = strip_korean(word);
                if !KO_STOP.contains(&stem) && !KO_STOP.contains(&word) {
                    out.push(stem.to_string());
                }
            }
        }
    }
    out
}

/// BM25's non-negative inverse document frequency: `ln(1 + (N − df + 0.5) / (df + 0.5))`.
fn idf(n: usize, df: usize) -> f32 {
    let (n, df) = (n as f32, df as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// BM25 over a fixed set of documents, with cross-language query expansion.
#[derive(Debug, Clone, Default)]
pub struct Bm25 {
    /// Token → (document, term frequency), documents ascending.
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// Tokens per document.
    doc_len: Vec<u32>,
    /// Mean document length.
    avgdl: f32,
    /// Translations the documents state themselves (see [`mine_translations`]).
    mined: HashMap<String, Vec<String>>,
}

impl Bm25 {
    /// Builds the statistics of `docs`; document `i` is row `i` of the results.
    pub fn new<S: AsRef<str> + Sync>(docs: &[S]) -> Bm25 {
        let tokenized: Vec<Vec<String>> = docs.par_iter().map(|d| tokenize(d.as_ref())).collect();
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut doc_len = Vec::with_capacity(tokenized.len());
        for (d, toks) in tokenized.into_iter().enumerate() {
            doc_len.push(toks.len() as u32);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in toks {
                *tf.entry(t).or_insert(0) += 1;
            }
            for (t, n) in tf {
                postings.entry(t).or_default().push((d as u32, n));
            }
        }
        for p in postings.values_mut() {
            p.sort_unstable();
        }
        let total: u64 = doc_len.iter().map(|&l| l as u64).sum();
        let avgdl = if doc_len.is_empty() {
            0.0
        } else {
            total as f32 / doc_len.len() as f32
        };
        Bm25 {
            postings,
            doc_len,
            avgdl,
            mined: mine_translations(docs),
        }
    }

    /// BM25 over the fields the index's text recipe embeds: title and summary, or only the
    /// summary for a `summary` index (so that evaluating titles against it stays honest).
    pub fn from_index(index: &Index) -> Bm25 {
        let docs: Vec<String> = index
            .papers()
            .iter()
            .map(|p| match index.manifest().text_recipe {
                TextRecipe::TitleSummary => format!("{}\n{}", p.paper.title, p.paper.summary),
                TextRecipe::Summary => p.paper.summary.clone(),
            })
            .collect();
        Bm25::new(&docs)
    }

    /// The statistics, for storing them ([`super::lexical_store`]).
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> (
        &HashMap<String, Vec<(u32, u32)>>,
        &[u32],
        f32,
        &HashMap<String, Vec<String>>,
    ) {
        (&self.postings, &self.doc_len, self.avgdl, &self.mined)
    }

    /// Statistics read back from [`Bm25::parts`].
    pub(crate) fn from_parts(
        postings: HashMap<String, Vec<(u32, u32)>>,
        doc_len: Vec<u32>,
        avgdl: f32,
        mined: HashMap<String, Vec<String>>,
    ) -> Bm25 {
        Bm25 {
            postings,
            doc_len,
            avgdl,
            mined,
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    /// True when there are no documents.
    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Inverse document frequency of a token (0 when no document holds it).
    pub fn idf(&self, token: &str) -> f32 {
        self.postings
            .get(token)
            .map_or(0.0, |p| idf(self.doc_len.len(), p.len()))
    }

    /// Translations of a token: the glossary's and those mined from the documents.
    pub fn translations(&self, token: &str) -> Vec<String> {
        let mined = self.mined.get(token).map_or(&[][..], Vec::as_slice);
        let mut out: Vec<String> = Vec::new();
        for t in super::glossary::translations(token).iter().chain(mined) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    /// The query's concepts: each distinct query token followed by its translations. A form
    /// that is itself a query token, or already belongs to an earlier concept, is not repeated.
    pub fn concepts(&self, query: &str) -> Vec<Vec<String>> {
        let toks = tokenize(query);
        let mut claimed: HashSet<String> = toks.iter().cloned().collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for t in &toks {
            if !seen.insert(t.as_str()) {
                continue;
            }
            let mut forms = vec![t.clone()];
            for tr in self.translations(t) {
                if claimed.insert(tr.clone()) {
                    forms.push(tr);
                }
            }
            out.push(forms);
        }
        out
    }

    /// BM25 score of every document for `query` (0 where no query concept occurs).
    ///
    /// A concept is scored as one term whose forms are synonyms (as Lucene's `SynonymQuery`
    /// does): its term frequency in a document is the sum over its forms, its document frequency
    /// the number of documents holding any form. A paper that says `video` and `비디오` thus
    /// counts one matched concept, not two, and a rare name in the query keeps its weight
    /// against many common words matched in two languages.
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let mut scores = vec![0f32; self.doc_len.len()];
        let mut tfs: HashMap<u32, u32> = HashMap::new();
        for forms in self.concepts(query) {
            tfs.clear();
            for t in &forms {
                for &(d, tf) in self.postings.get(t).map_or(&[][..], Vec::as_slice) {
                    *tfs.entry(d).or_insert(0) += tf;
                }
            }
            let idf = idf(self.doc_len.len(), tfs.len());
            for (&d, &tf) in &tfs {
                let tf = tf as f32;
                let dl = self.doc_len[d as usize] as f32;
                let norm = K1 * (1.0 - B + B * dl / self.avgdl.max(1e-9));
                scores[d as usize] += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        scores
    }

    /// Top `k` documents with a positive score, best first (ties: lower row); `exclude` is left
    /// out.
    pub fn search(&self, query: &str, k: usize, exclude: Option<usize>) -> Vec<Hit> {
        let scores = self.scores(query);
        let mut hits: Vec<Hit> = scores
            .iter()
            .enumerate()
            .filter(|&(i, &s)| s > 0.0 && Some(i) != exclude)
            .map(|(row, &score)| Hit { row, score })
            .collect();
        let by_rank = |a: &Hit, b: &Hit| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row));
        if hits.len() > k && k > 0 {
            hits.select_nth_unstable_by(k - 1, by_rank);
            hits.truncate(k);
        }
        hits.sort_by(by_rank);
        hits.truncate(k);
        hits
    }
}

/// `Korean (English)`: a Korean phrase of up to four words, then an English one in parentheses
/// (text after a comma or semicolon inside them, e.g. an acronym, is ignored).
const KO_EN: &str =
    r"([가-힣]+(?:[ \-][가-힣]+){0,3}) ?\(([A-Za-z][A-Za-z \-]{1,60}?)(?:[,;][^)]*)?\)";
/// `English (Korean)`.
const EN_KO: &str =
    r"([A-Za-z][A-Za-z\-]*(?: [A-Za-z][A-Za-z\-]*){0,3}) ?\(([가-힣]+(?: [가-힣]+){0,3})\)";

/// The two parenthetical patterns, compiled once.
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

/// Word pairs of one `Korean (English)` phrase pair: word by word when both phrases have as
/// many words, else the two last words (the heads of the noun phrases). Acronyms are skipped:
/// `대형 언어 모델(LLM)` would pair `llm` with `모델`.
fn phrase_pairs(en: &str, ko: &str, out: &mut Vec<(String, String)>) {
    if en
        .chars()
        .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '-')
    {
        return;
    }
    let en_words: Vec<String> = en
        .split([' ', '-'])
        .map(|w| stem_english(&w.to_lowercase()))
        .filter(|w| w.len() > 1 && !EN_STOP.contains(&w.as_str()))
        .collect();
    let ko_words: Vec<String> = ko
        .split([' ', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| strip_korean(w).to_string())
        .filter(|w| !KO_STOP.contains(&w.as_str()))
        .collect();
    match (en_words.last(), ko_words.last()) {
        (Some(e), Some(k)) if en_words.len() != ko_words.len() => out.push((e.clone(), k.clone())),
        (Some(_), Some(_)) => out.extend(en_words.into_iter().zip(ko_words)),
        _ => {}
    }
}

/// Translations the documents state themselves: `신경 복사 필드(NeRF)`-style parentheticals,
/// `Korean (English)` or `English (Korean)`, paired word by word (see [`phrase_pairs`]). A pair
/// is kept when seen at least [`MINED_MIN_COUNT`] times and for at least a fifth of its English
/// word's pairs; both directions are recorded. Built from the indexed texts only.
pub(crate) fn mine_translations<S: AsRef<str> + Sync>(docs: &[S]) -> HashMap<String, Vec<String>> {
    let Some((ko_en, en_ko)) = paren_patterns() else {
        return HashMap::new();
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
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for ((e, k), n) in counts {
        let total = per_en.get(&e).copied().unwrap_or(n);
        if n >= MINED_MIN_COUNT && n * MINED_MIN_SHARE_INV >= total {
            out.entry(e.clone()).or_default().push(k.clone());
            out.entry(k).or_default().push(e);
        }
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
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
    fn korean_particles_and_endings_are_stripped() {
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
    }

    #[test]
    fn bm25_ranks_the_matching_document_first() {
        let docs = [
            "Diffusion 모델을 이용한 이미지 생성",
            "LLM 에이전트의 추론 능력 평가",
            "비디오 diffusion 모델과 GPT-4o 비교",
        ];
        let bm = Bm25::new(&docs);
        let hits = bm.search("GPT-4o video diffusion", 3, None);
        assert_eq!(hits[0].row, 2);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(bm.search("nothing matches", 3, None).is_empty());
        assert_eq!(
            bm.search("diffusion", 5, Some(2))
                .iter()
                .map(|h| h.row)
                .collect::<Vec<_>>(),
            vec![0]
        );
        assert!(bm.idf("diffusion") < bm.idf("gpt-4o"));
    }

    #[test]
    fn translations_are_mined_from_parentheticals_and_concepts_group_them() {
        let docs = [
            "확산 모델(diffusion models)을 이용한 비디오 생성",
            "새로운 확산 모델(Diffusion Model) 기반 방법과 LLM",
            "대형 언어 모델(LLM)의 추론",
            "이미지 편집을 위한 확산",
        ];
        let bm = Bm25::new(&docs);
        assert!(
            bm.translations("diffusion").iter().any(|t| t == "확산"),
            "{:?}",
            bm.translations("diffusion")
        );
        assert!(bm.translations("확산").iter().any(|t| t == "diffusion"));
        // Acronyms are not paired with the head noun.
        assert!(!bm.translations("llm").iter().any(|t| t == "모델"));
        let concepts = bm.concepts("Diffusion video models");
        assert_eq!(concepts[0][0], "diffusion");
        assert!(concepts[0].contains(&"확산".to_string()));
        // The Korean-only document is found through the translation.
        let hits = bm.search("image editing diffusion", 4, None);
        assert_eq!(hits[0].row, 3, "{hits:?}");
    }
}
