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
//!   과/도/만, 하는/하여/합니다 …), longest first, keeping at least two syllables for one-syllable
//!   endings so that 평가 or 결과 are not cut;
//! - English words lose a plural `s` (light stemming); a letters+digits word also yields its
//!   letters (`qwen2` → `qwen2`, `qwen`); numbers are kept; single letters and a short list of
//!   English and Korean function words are dropped.
//!
//! [`Bm25`] scores with `k1 = 1.2`, `b = 0.75` and the non-negative IDF
//! `ln(1 + (N − df + 0.5) / (df + 0.5))`; each distinct query token counts once.

use std::collections::HashMap;

use rayon::prelude::*;

use super::Hit;
use crate::index::{Index, TextRecipe};

/// BM25 term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25 length normalisation.
pub const B: f32 = 0.75;
/// Weight of a glossary translation of a query term, relative to the term itself.
pub const EXPANSION_WEIGHT: f32 = 1.0;

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

/// BM25 over a fixed set of documents.
#[derive(Debug, Clone, Default)]
pub struct Bm25 {
    /// Token → (document, term frequency), documents ascending.
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// Tokens per document.
    doc_len: Vec<u32>,
    /// Mean document length.
    avgdl: f32,
    /// Translations mined from the documents' `한국어(English)` parentheticals.
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
        let mined = if std::env::var("PM_MINE").is_ok() {
            mine_translations(docs)
        } else {
            HashMap::new()
        };
        Bm25 {
            postings,
            doc_len,
            avgdl,
            mined,
        }
    }

    /// BM25 over the fields the index's text recipe embeds: title and summary, or only the
    /// summary for a `summary` index (so that evaluating titles against it stays honest).
    pub fn from_index(index: &Index) -> Bm25 {
        let docs: Vec<String> = index
            .papers
            .iter()
            .map(|p| match index.manifest.text_recipe {
                TextRecipe::TitleSummary => format!("{}\n{}", p.paper.title, p.paper.summary),
                TextRecipe::Summary => p.paper.summary.clone(),
            })
            .collect();
        Bm25::new(&docs)
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    /// True when there are no documents.
    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Inverse document frequency of a token (0 when unknown).
    pub fn idf(&self, token: &str) -> f32 {
        let n = self.doc_len.len() as f32;
        self.postings.get(token).map_or(0.0, |p| {
            let df = p.len() as f32;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        })
    }

    /// Weighted query terms: the tokens of `query` (weight 1) and their glossary translations
    /// (weight [`EXPANSION_WEIGHT`]), each once.
    pub fn query_terms(&self, query: &str) -> Vec<(String, f32)> {
        let mut terms: Vec<(String, f32)> = Vec::new();
        let toks = tokenize(query);
        for t in &toks {
            if !terms.iter().any(|(x, _)| x == t) {
                terms.push((t.clone(), 1.0));
            }
        }
        for t in &toks {
            let mined = self.mined.get(t).map_or(&[][..], Vec::as_slice);
            for tr in super::glossary::translations(t).iter().chain(mined) {
                if !terms.iter().any(|(x, _)| x == tr) {
                    terms.push((
                        tr.clone(),
                        std::env::var("PM_EXPW")
                            .ok()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(EXPANSION_WEIGHT),
                    ));
                }
            }
        }
        terms
    }

    /// BM25 score of every document for `query` (0 where no query term occurs).
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let mut scores = vec![0f32; self.doc_len.len()];
        for (t, weight) in self.query_terms(query) {
            let Some(post) = self.postings.get(&t) else {
                continue;
            };
            let idf = weight
                * self.idf(&t).powf(
                    std::env::var("PM_P")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1.0),
                );
            let k1: f32 = std::env::var("PM_K1")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(K1);
            let b: f32 = std::env::var("PM_B")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(B);
            for &(d, tf) in post {
                let tf = tf as f32;
                let dl = self.doc_len[d as usize] as f32;
                let norm = k1 * (1.0 - b + b * dl / self.avgdl.max(1e-9));
                scores[d as usize] += idf * tf * (k1 + 1.0) / (tf + norm);
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
}

/// Mines `Korean (English)` and `English (Korean)` pairs from documents: term translations the
/// summaries themselves state. Kept when seen at least twice and for at least a fifth of the
/// English word's pairs; acronyms are skipped.
fn mine_translations<S: AsRef<str>>(docs: &[S]) -> HashMap<String, Vec<String>> {
    use std::sync::OnceLock;
    static KO_EN: OnceLock<regex::Regex> = OnceLock::new();
    static EN_KO: OnceLock<regex::Regex> = OnceLock::new();
    let ko_en = KO_EN.get_or_init(|| {
        regex::Regex::new(
            r"([가-힣]+(?:[ \-][가-힣]+){0,3}) ?\(([A-Za-z][A-Za-z \-]{1,60}?)(?:[,;][^)]*)?\)",
        )
        .expect("static regex")
    });
    let en_ko = EN_KO.get_or_init(|| {
        regex::Regex::new(
            r"([A-Za-z][A-Za-z\-]*(?: [A-Za-z][A-Za-z\-]*){0,3}) ?\(([가-힣]+(?: [가-힣]+){0,3})\)",
        )
        .expect("static regex")
    });
    let mut counts: HashMap<(String, String), u32> = HashMap::new();
    let mut per_en: HashMap<String, u32> = HashMap::new();
    let mut add = |en: &str, ko: &str, counts: &mut HashMap<(String, String), u32>| {
        let en_words: Vec<String> = en
            .split([' ', '-'])
            .filter(|w| !w.is_empty())
            .map(|w| stem_english(&w.to_lowercase()))
            .filter(|w| w.len() > 1 && !EN_STOP.contains(&w.as_str()))
            .collect();
        let ko_words: Vec<String> = ko
            .split([' ', '-'])
            .filter(|w| !w.is_empty())
            .map(|w| strip_korean(w).to_string())
            .filter(|w| !KO_STOP.contains(&w.as_str()))
            .collect();
        if en_words.is_empty() || ko_words.is_empty() {
            return;
        }
        let pairs: Vec<(String, String)> = if en_words.len() == ko_words.len() {
            en_words.into_iter().zip(ko_words).collect()
        } else {
            vec![(
                en_words[en_words.len() - 1].clone(),
                ko_words[ko_words.len() - 1].clone(),
            )]
        };
        for (e, k) in pairs {
            *per_en.entry(e.clone()).or_default() += 1;
            *counts.entry((e, k)).or_default() += 1;
        }
    };
    for d in docs {
        let d = d.as_ref();
        for c in ko_en.captures_iter(d) {
            let en = &c[2];
            if en
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch == ' ' || ch == '-')
            {
                continue;
            }
            add(en, &c[1], &mut counts);
        }
        for c in en_ko.captures_iter(d) {
            let en = &c[1];
            if en
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch == ' ' || ch == '-')
            {
                continue;
            }
            add(en, &c[2], &mut counts);
        }
    }
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for ((e, k), n) in counts {
        let total = per_en.get(&e).copied().unwrap_or(n);
        let min_n: u32 = std::env::var("PM_MINN").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
        let share: u32 = std::env::var("PM_SHARE").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
        if n >= min_n && n * share >= total {
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
