//! Topic keywords: terms from titles and summaries, class-based TF-IDF, MMR against centroids.
//!
//! Words come from the one analyser of [`crate::text::words`]: its pieces, its Korean stemmer,
//! its plural folding and its stop words. On top of these, keywords drop what names no topic:
//! English terms need a letter, so numbers alone and sizes or units (`7B`, `10x`) go (keys are
//! lower-case with plurals folded: `LLMs` → `llm`); Korean terms need two syllables; a Hangul
//! piece glued to an English term or number (`LLM의`, `13개의`) is that term's particle.
//!
//! Two lists of this module's own: stock words of research writing (`propose`, `novel`, `제안`,
//! `향상`: dropped, and they break phrases, as stop words do), and generic research words
//! (`model`, `data`, `학습`, `생성`...: dropped alone, but kept inside a phrase). BM25 keeps both
//! (their document frequency already discounts them, and `사전 학습` is a fine query). Two
//! adjacent words separated by one space form a bigram term when not both are generic: English
//! (`video generation`, `reinforcement learning`) and Korean compounds whose first word is bare,
//! without a particle (`강화 학습`, `비디오 생성`).
//!
//! [`ctfidf`] scores terms per topic as BERTopic does: `tf(t, c) / |c| · ln(1 + A / f(t))`, with
//! `|c|` the number of terms in topic `c`, `A` the average of `|c|` and `f(t)` the count of `t`
//! over all topics. [`select`] then keeps the best candidates, diversified by maximal marginal
//! relevance against the topic centroid when a [`TermEmbedder`] is given (query vectors of the
//! terms from the same model as the index), or in c-TF-IDF order without one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use super::kmeans::Rows;
use super::TopicsError;
use crate::text::words::{is_particle, is_stop, pieces, set, stem_english, strip_korean};

/// A term occurrence: the key it is counted under and the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Normalised form (lower-case English with plural folded, stripped Korean).
    pub key: String,
    /// The text as it appeared.
    pub surface: String,
}

/// English stock words of research writing: no topic, and they break phrases.
#[rustfmt::skip]
const EN_STOCK: &[&str] = &[
    "enable", "enabling", "existing", "improve", "improved", "improving", "less", "make",
    "making", "many", "more", "most", "much", "new", "non", "novel", "one", "only", "propose",
    "proposed", "show", "shown", "state-of-the-art", "then", "two", "use", "used", "using", "want",
    "well",
];

/// English words of nearly every paper: dropped alone, kept inside a phrase.
#[rustfmt::skip]
const EN_GENERIC: &[&str] = &[
    "ability", "approach", "based", "benchmark", "capability", "data", "efficient", "framework",
    "understanding", "towards", "evaluation", "analysis", "generation", "models", "tasks",
    "high", "language", "large", "learning", "low", "method", "model", "network", "paper",
    "performance", "quality", "result", "scale", "study", "system", "task", "training", "work",
];

/// Korean stock words and phrases of research writing (after stripping): no topic, and they
/// break phrases.
#[rustfmt::skip]
const KO_STOCK: &[&str] = &[
    "가능", "개선", "관련", "나타냈습니다", "높은", "다양", "다양한", "달성", "대비", "뛰어난", "보여",
    "보여주", "보였습니다", "보입니다", "사항", "새로운", "성과", "세부", "수행", "없는", "우수",
    "우수한", "이상", "저자", "제공", "제안", "제시", "주요", "최근", "최신", "포함", "향상", "현재",
    "활용", "효과", "효과적", "효과적으로", "보였", "보인", "보이", "나타냈", "나타내", "나타난",
    "좋은", "크게", "기존의", "가지", "모델들", "탐구", "발견", "보여줍니다", "도입", "모델인", "최고",
    "자동", "단일", "고품질", "사전", "주제", "계산", "모달", "변환", "중요", "필요", "어려움", "한계",
    "극복", "기여", "측면", "방향", "수준", "정도", "부분", "전반", "전체", "자체", "기준", "목표",
    "목적", "시도", "관점", "중심", "바탕", "여러가지", "특정", "생성할", "능가", "설명", "개의",
    "공개", "미세", "실제", "일반", "기본", "추가적", "따라", "반면", "강조", "종합",
    "최첨단",
];

/// Korean words of nearly every paper: dropped alone, kept inside a phrase.
#[rustfmt::skip]
const KO_GENERIC: &[&str] = &[
    "결과", "과제", "기반", "기법", "기술", "논문", "능력", "대규모", "대형", "데이터", "문제",
    "방법", "방식", "분석", "사용", "생성", "성능", "시스템", "언어", "연구", "이해", "작업", "접근",
    "접근법", "처리", "크기", "품질", "프레임워크", "학습", "해결", "효율성", "훈련", "모델",
    "데이터셋", "실험", "가능성", "정보", "입력", "출력", "단계", "구성", "개발", "설계", "적용",
    "영향", "다중", "통합",
];

static STOCK_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| EN_STOCK.iter().chain(KO_STOCK).copied().collect());
static EN_GENERIC_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(EN_GENERIC));
static KO_GENERIC_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| set(KO_GENERIC));

/// Whether a word names no topic: a stop word or a stock word.
fn is_dropped(word: &str) -> bool {
    is_stop(word) || STOCK_SET.contains(word)
}

/// Whether a word (lower-case English, or a stripped Korean word) is on the generic lists.
pub fn is_generic(word: &str) -> bool {
    EN_GENERIC_SET.contains(word)
        || EN_GENERIC_SET.contains(word.strip_suffix('s').unwrap_or(word))
        || KO_GENERIC_SET.contains(word)
}

/// A word that survived the function-word filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// What counts match on: English lower-cased, plurals folded; Korean with particles stripped.
    pub key: String,
    /// The English token as written, or the stripped Korean word.
    pub surface: String,
    /// A generic research word: no term alone, but part of phrases.
    pub generic: bool,
    /// Korean only: a particle or ending was stripped (so it cannot start a compound).
    pub inflected: bool,
}

/// An English token as a [`Word`], or `None` for numbers, units and function words.
pub fn english_word(token: &str) -> Option<Word> {
    let letters = token.chars().filter(|c| c.is_alphabetic()).count();
    if letters == 0 || token.chars().count() < 2 {
        return None;
    }
    // A number with a unit or size (7B, 10x, 100K) is no name; 2D/3D/4D are.
    let starts_with_digit = token.chars().next().is_some_and(|c| c.is_ascii_digit());
    if starts_with_digit && letters < 2 && !token.ends_with('D') {
        return None;
    }
    let lower = token.to_lowercase();
    let key = stem_english(&lower);
    if is_dropped(&key) || is_dropped(&lower) {
        return None;
    }
    let generic = EN_GENERIC_SET.contains(key.as_str()) || EN_GENERIC_SET.contains(lower.as_str());
    Some(Word {
        key,
        surface: token.to_string(),
        generic,
        inflected: false,
    })
}

/// A Hangul word as a [`Word`] with particles/endings stripped, or `None` when nothing is left.
pub fn korean_word(word: &str) -> Option<Word> {
    if is_particle(word) {
        return None; // a particle or ending on its own
    }
    let w = strip_korean(word);
    if w.chars().count() < 2 || is_dropped(w) || is_dropped(word) {
        return None;
    }
    Some(Word {
        key: w.to_string(),
        surface: w.to_string(),
        generic: KO_GENERIC_SET.contains(w),
        inflected: w.len() != word.len(),
    })
}

/// Terms of `text` in order: non-generic words, then (after each word) the bigram it closes.
pub fn terms(text: &str) -> Vec<Term> {
    let mut out = Vec::new();
    // The previous word, whether it is Korean, and where its piece ended, for bigrams.
    let mut prev: Option<(Word, bool, usize)> = None;
    for p in pieces(text) {
        let word = if p.hangul {
            if p.glued {
                prev = None;
                continue; // the particle of an English term or number
            }
            korean_word(p.text)
        } else {
            english_word(p.text)
        };
        let Some(word) = word else {
            prev = None;
            continue;
        };
        if !word.generic {
            out.push(Term {
                key: word.key.clone(),
                surface: word.surface.clone(),
            });
        }
        if let Some((w, w_korean, end)) = prev.take() {
            let adjacent = text.get(end..p.start) == Some(" ");
            // An English word before a Korean noun is a compound too (`KV 캐시`, `GPU 메모리`,
            // `3D 가우시안`), unless the noun is generic: `LLM 기반` is "LLM-based", `LoRA 방법`
            // "the LoRA method". A Korean word before an English one is not (`대형 LLM`).
            let scripts = w_korean == p.hangul || (p.hangul && !word.generic);
            // `기반` makes the word before it an adjective: `LLM 기반 에이전트` is "LLM-based
            // agents", and `기반 에이전트` a fragment.
            let compound =
                scripts && !(w.generic && word.generic) && !w.inflected && w.key != "기반";
            if adjacent && compound {
                out.push(Term {
                    key: format!("{} {}", w.key, word.key),
                    surface: format!("{} {}", w.surface, word.surface),
                });
            }
        }
        prev = Some((word, p.hangul, p.end));
    }
    out
}

/// The display form of every term key: its most frequent spelling over `docs`.
pub fn display_forms(docs: &[Vec<Term>]) -> HashMap<String, String> {
    surface_counts(docs, None)
        .into_iter()
        .filter_map(|(k, s)| {
            let best = s.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
            Some((k.to_string(), best.0.to_string()))
        })
        .collect()
}

/// How often each key (of `only`, or every key) is written each way, over all `docs`; shards of
/// documents are counted in parallel.
fn surface_counts<'a>(
    docs: &'a [Vec<Term>],
    only: Option<&HashSet<&str>>,
) -> HashMap<&'a str, BTreeMap<&'a str, u32>> {
    use rayon::prelude::*;
    docs.par_chunks(4096)
        .map(|chunk| {
            let mut surfaces: HashMap<&str, BTreeMap<&str, u32>> = HashMap::new();
            for t in chunk.iter().flatten() {
                if only.is_none_or(|o| o.contains(t.key.as_str())) {
                    *surfaces
                        .entry(&t.key)
                        .or_default()
                        .entry(&t.surface)
                        .or_default() += 1;
                }
            }
            surfaces
        })
        .reduce(HashMap::new, |mut a, b| {
            for (key, forms) in b {
                let into = a.entry(key).or_default();
                for (form, n) in forms {
                    *into.entry(form).or_default() += n;
                }
            }
            a
        })
}

/// A candidate keyword of a topic and its c-TF-IDF weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Display form: the most frequent spelling of the key over the whole corpus.
    pub term: String,
    /// The term's [`Term::key`], by which c-TF-IDF counted it.
    pub key: String,
    /// c-TF-IDF weight `tf · ln(1 + A / f)`: `tf` its share of the topic's words, `A` the
    /// mean words per topic, `f` its count over all topics.
    pub score: f64,
}

/// The best `top` c-TF-IDF terms of each of `k` topics; `docs[i]` is the terms of document `i`
/// and `labels[i]` its topic. A term must occur in two documents of a topic of four or more.
pub fn ctfidf(docs: &[Vec<Term>], labels: &[usize], k: usize, top: usize) -> Vec<Vec<Scored>> {
    use rayon::prelude::*;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (d, &c) in labels.iter().enumerate().take(docs.len()) {
        if c < k {
            members[c].push(d);
        }
    }
    // Term and document frequencies of each topic, the topics in parallel.
    type Counts<'a> = (HashMap<&'a str, u32>, HashMap<&'a str, u32>);
    let counts: Vec<Counts<'_>> = members
        .par_iter()
        .map(|rows| {
            let mut tf: HashMap<&str, u32> = HashMap::new();
            let mut df: HashMap<&str, u32> = HashMap::new();
            for &d in rows {
                let mut seen = HashSet::new();
                for t in &docs[d] {
                    *tf.entry(&t.key).or_default() += 1;
                    if seen.insert(t.key.as_str()) {
                        *df.entry(&t.key).or_default() += 1;
                    }
                }
            }
            (tf, df)
        })
        .collect();
    let total: HashMap<&str, u64> = counts
        .par_iter()
        .fold(HashMap::new, |mut acc: HashMap<&str, u64>, (tf, _)| {
            for (&key, &n) in tf {
                *acc.entry(key).or_default() += n as u64;
            }
            acc
        })
        .reduce(HashMap::new, |mut a, b| {
            for (key, n) in b {
                *a.entry(key).or_default() += n;
            }
            a
        });
    let words: Vec<u64> = counts
        .iter()
        .map(|(tf, _)| tf.values().map(|&v| v as u64).sum())
        .collect();
    let avg = words.iter().sum::<u64>() as f64 / k.max(1) as f64;
    let best: Vec<Vec<(&str, f64)>> = counts
        .par_iter()
        .enumerate()
        .map(|(c, (tf, df))| {
            let min_df = if members[c].len() >= 4 { 2 } else { 1 };
            let mut scored: Vec<(&str, f64)> = tf
                .iter()
                .filter(|(key, _)| df.get(*key).copied().unwrap_or(0) >= min_df)
                .map(|(&key, &n)| {
                    let f = total.get(key).copied().unwrap_or(1).max(1) as f64;
                    (
                        key,
                        n as f64 / words[c].max(1) as f64 * (1.0 + avg / f).ln(),
                    )
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            scored.truncate(top);
            scored
        })
        .collect();
    // Display forms only for the terms that made a list: the most frequent spelling overall.
    let kept: HashSet<&str> = best.iter().flatten().map(|&(key, _)| key).collect();
    let surfaces = surface_counts(docs, Some(&kept));
    let display = |key: &str| -> String {
        surfaces
            .get(key)
            .and_then(|s| s.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))))
            .map_or_else(|| key.to_string(), |(s, _)| s.to_string())
    };
    best.into_iter()
        .map(|list| {
            list.into_iter()
                .map(|(key, score)| Scored {
                    term: display(key),
                    key: key.to_string(),
                    score,
                })
                .collect()
        })
        .collect()
}

/// Something that turns keywords into vectors comparable with the topic centroids.
pub trait TermEmbedder {
    /// Row-major vectors of `terms`, one row each, in order.
    fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError>;
}

impl TermEmbedder for crate::embed::Encoder {
    fn embed_terms(&self, terms: &[String]) -> Result<Vec<f32>, TopicsError> {
        Ok(self
            .embed(terms, crate::embed::Prefix::Query, &mut |_, _| {})?
            .vectors)
    }
}

/// How keywords are chosen from the c-TF-IDF candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordOptions {
    /// Candidates per topic taken from c-TF-IDF.
    pub candidates: usize,
    /// Keywords kept per topic.
    pub keep: usize,
    /// MMR trade-off: 0 = pure relevance to the centroid, 1 = pure diversity.
    pub diversity: f32,
}

impl Default for KeywordOptions {
    fn default() -> Self {
        KeywordOptions {
            candidates: 40,
            keep: 10,
            diversity: 0.5,
        }
    }
}

/// Whether `a` and `b` repeat each other (one's words contain the other's).
fn redundant(a: &str, b: &str) -> bool {
    let wa: Vec<&str> = a.split(' ').collect();
    let wb: Vec<&str> = b.split(' ').collect();
    let contains = |long: &[&str], short: &[&str]| short.iter().all(|w| long.contains(w));
    contains(&wa, &wb) || contains(&wb, &wa)
}

use crate::text::vector::{dot, normalise};

/// Keywords of every topic: MMR against `centroids[c]` over the candidates' term vectors when
/// `embedder` is given, c-TF-IDF order otherwise; terms repeating a kept one are skipped.
pub fn select(
    candidates: &[Vec<Scored>],
    centroids: Rows<'_>,
    embedder: Option<&dyn TermEmbedder>,
    opts: &KeywordOptions,
) -> Result<Vec<Vec<String>>, TopicsError> {
    let Some(embedder) = embedder else {
        return Ok(candidates
            .iter()
            .map(|cands| {
                let mut kept: Vec<&Scored> = Vec::new();
                for s in cands {
                    if kept.len() < opts.keep && !kept.iter().any(|k| redundant(&k.key, &s.key)) {
                        kept.push(s);
                    }
                }
                kept.iter().map(|s| s.term.clone()).collect()
            })
            .collect());
    };
    let mut unique: Vec<String> = candidates
        .iter()
        .flatten()
        .map(|s| s.term.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    unique.shrink_to_fit();
    let flat = if unique.is_empty() {
        Vec::new()
    } else {
        embedder.embed_terms(&unique)?
    };
    let dim = centroids.dim();
    if flat.len() != unique.len() * dim {
        return Err(TopicsError::BadParam(format!(
            "keyword vectors have {} values for {} terms; the model's dimension differs from the \
             index's {dim} (use the index's model or --no-model)",
            flat.len(),
            unique.len()
        )));
    }
    let mut vecs: HashMap<&str, Vec<f32>> = HashMap::new();
    for (i, t) in unique.iter().enumerate() {
        let mut v = flat[i * dim..(i + 1) * dim].to_vec();
        normalise(&mut v);
        vecs.insert(t.as_str(), v);
    }
    let lambda = 1.0 - opts.diversity.clamp(0.0, 1.0);
    Ok(candidates
        .iter()
        .enumerate()
        .map(|(c, cands)| {
            let mut centroid = centroids.row(c).to_vec();
            normalise(&mut centroid);
            let rel: Vec<f32> = cands
                .iter()
                .map(|s| vecs.get(s.term.as_str()).map_or(0.0, |v| dot(v, &centroid)))
                .collect();
            let mut chosen: Vec<usize> = Vec::new();
            let mut open: Vec<usize> = (0..cands.len()).collect();
            while chosen.len() < opts.keep {
                open.retain(|&i| {
                    !chosen
                        .iter()
                        .any(|&j| redundant(&cands[j].key, &cands[i].key))
                });
                let pick = open
                    .iter()
                    .map(|&i| {
                        let v = vecs.get(cands[i].term.as_str());
                        let sim = chosen
                            .iter()
                            .filter_map(|&j| Some(dot(v?, vecs.get(cands[j].term.as_str())?)))
                            .fold(f32::NEG_INFINITY, f32::max);
                        let penalty = if sim.is_finite() { sim } else { 0.0 };
                        (i, lambda * rel[i] - (1.0 - lambda) * penalty)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
                match pick {
                    Some((i, _)) => chosen.push(i),
                    None => break,
                }
            }
            chosen.iter().map(|&i| cands[i].term.clone()).collect()
        })
        .collect())
}

/// A short label from the first keywords: up to three, about 40 characters at most.
pub fn label(keywords: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut len = 0;
    for k in keywords {
        let l = k.chars().count();
        if parts.len() == 3 || (!parts.is_empty() && len + l > 40) {
            break;
        }
        len += l + 3;
        parts.push(k);
    }
    if parts.is_empty() {
        "(no keywords)".to_string()
    } else {
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        terms(text).into_iter().map(|t| t.key).collect()
    }

    fn stem(w: &str) -> Option<String> {
        korean_word(w).map(|w| w.key)
    }

    #[test]
    fn korean_particles_and_endings_are_stripped() {
        assert_eq!(stem("에이전트를").as_deref(), Some("에이전트"));
        assert_eq!(stem("강화학습에서").as_deref(), Some("강화학습"));
        assert_eq!(stem("생성하는").as_deref(), Some("생성"));
        assert_eq!(stem("정확도").as_deref(), Some("정확도"));
        assert_eq!(stem("평가를").as_deref(), Some("평가"));
        assert_eq!(stem("이미지들의").as_deref(), Some("이미지"));
        assert_eq!(stem("제안합니다"), None);
        assert_eq!(stem("는"), None);
        assert_eq!(stem("에서"), None);
        assert_eq!(stem("이러한"), None);
        assert_eq!(stem("보였습니다"), None);
        assert_eq!(stem("안정적으로").as_deref(), Some("안정"));
        assert_eq!(stem("멀티모달적인").as_deref(), Some("멀티모달"));
        assert!(korean_word("모델의").is_some_and(|w| w.generic && w.inflected));
    }

    #[test]
    fn korean_compounds_and_glued_particles() {
        let k = keys("강화 학습을 위한 비디오 생성 모델이 LLM의 13개의 작업에서");
        assert!(k.contains(&"강화 학습".to_string()), "{k:?}");
        assert!(k.contains(&"비디오 생성".to_string()), "{k:?}");
        assert!(!k.contains(&"학습".to_string()), "generic alone: {k:?}");
        assert!(
            !k.iter().any(|t| t.starts_with("개")),
            "glued particle: {k:?}"
        );
        assert!(!k.contains(&"생성 모델".to_string()), "both generic: {k:?}");
    }

    #[test]
    fn an_english_word_before_a_korean_noun_is_a_compound() {
        let k = keys("KV 캐시를 줄이고 GPU 메모리를 아끼는 LLM 기반 LoRA 방법과 대형 LLM, 텍스트 기반 에이전트");
        for want in ["kv 캐시", "gpu 메모리"] {
            assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
        }
        // A generic noun after an English word, a Korean word before an English one, and what
        // follows `기반` ("-based").
        for gone in ["llm 기반", "lora 방법", "대형 llm", "기반 에이전트"] {
            assert!(!k.contains(&gone.to_string()), "{gone} kept in {k:?}");
        }
    }

    #[test]
    fn english_names_keep_their_numbers() {
        let k = keys("GPT-4o and LLaMA-3 beat Qwen2.5-VL on 3D scenes in 2024 with 7B params.");
        for want in ["gpt-4o", "llama-3", "qwen2.5-vl", "3d", "scene", "param"] {
            assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
        }
        for gone in ["2024", "7b", "and", "on", "in"] {
            assert!(!k.contains(&gone.to_string()), "{gone} kept in {k:?}");
        }
        assert!(k.contains(&"3d scene".to_string()), "{k:?}");
    }
}
