//! Lexical matching: BM25 over the tokens of [`crate::text::words::tokenize`], with queries
//! expanded across English and Korean.
//!
//! Each query token becomes a *concept* with its translations: those the index learned from its
//! own papers ([`crate::text::Lexicon`]: bracketed pairs and the title↔summary alignment) and,
//! unless turned off, those of a small glossary of research terms ([`crate::text::glossary`]).
//! [`Bm25`] scores each concept as one term (summed term frequency over its forms, document
//! frequency of any form) with `k1 = 1.2`, `b = 0.75` and the non-negative IDF
//! `ln(1 + (N − df + 0.5) / (df + 0.5))`; each distinct query token counts once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::lexical_store::StoredPostings;
use super::lexical_top;
pub(crate) use super::lexical_top::ListView;
use super::Hit;
use crate::embed::{EmbedError, Encoder, Prefix};
use crate::index::Index;
pub use crate::text::words::tokenize;
use crate::text::{Alignment, Lexicon, WordVectors};

/// Most papers the learned lexicon is learned from (see [`learn_lexicon`]).
pub const LEXICON_SAMPLE: usize = 50_000;

/// BM25 term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25 length normalisation.
pub const B: f32 = 0.75;

/// The lexicon learned from the index's papers: the brackets of their summaries and the
/// alignment of their titles with their summaries, with `encoder` (the index's model) admitting
/// the alignment's wider candidates it confirms (see [`lexicon_from_parts`]).
///
/// An index of more than [`LEXICON_SAMPLE`] papers learns from that many, evenly spaced: the
/// alignment's pair table grows with every title word times every summary word, and a lexicon
/// of research terms is settled long before a million papers.
pub fn learn_lexicon(index: &Index, encoder: Option<&Encoder>) -> Result<Lexicon, EmbedError> {
    let n = index.len();
    let step = n.div_ceil(LEXICON_SAMPLE).max(1);
    // Only the sampled rows are parsed (an index opened by row is not read whole).
    let owned: Vec<(String, String)> = (0..n)
        .step_by(step)
        .map(|i| {
            let r = index.record(i);
            (r.paper.title.clone(), r.paper.summary.clone())
        })
        .collect();
    let papers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(t, s)| (t.as_str(), s.as_str()))
        .collect();
    let summaries: Vec<&str> = papers.iter().map(|&(_, s)| s).collect();
    lexicon_from_parts(&Lexicon::mined(&summaries), &papers, encoder)
}

/// The `brackets` mined from `papers`' summaries and the alignment of `papers` (title,
/// summary), whose wider candidates are put to `encoder`'s word vectors when one is given
/// ([`Alignment::lexicon`]). The brackets are not put to the model: dropping the pairs it puts
/// below cosine 0.83 cost 0.5 points of title hybrid Recall@1 on the archive (0.816 → 0.811) and
/// helped no typed query.
pub fn lexicon_from_parts(
    brackets: &Lexicon,
    papers: &[(&str, &str)],
    encoder: Option<&Encoder>,
) -> Result<Lexicon, EmbedError> {
    let alignment = Alignment::fit(papers);
    let vectors = match encoder {
        Some(encoder) => {
            let words: Vec<String> = alignment
                .words_to_check()
                .into_iter()
                .map(str::to_string)
                .collect();
            let embedded = encoder.embed(&words, Prefix::Query, &mut |_, _| {})?;
            // `None` only when there is nothing to check: the encoder gives a row per word.
            let vectors = WordVectors::new(&words, &embedded.vectors);
            debug_assert!(vectors.is_some() || words.is_empty());
            vectors
        }
        None => None,
    };
    Ok(brackets.clone().union(&alignment.lexicon(vectors.as_ref())))
}

/// Papers whose texts are tokenised at a time when statistics are built from an index.
const TEXT_GROUP: usize = 65_536;

/// The posting lists (term → (document, term frequency), in document order) and lengths of
/// `docs`, numbered from `first`.
#[allow(clippy::type_complexity)]
fn term_lists<S: AsRef<str> + Sync>(
    docs: &[S],
    first: u32,
) -> (HashMap<String, Vec<(u32, u32)>>, Vec<u32>) {
    crate::text::postings::build(docs, |d, doc| {
        let toks = tokenize(doc.as_ref());
        let len = toks.len() as u32;
        let mut tf: HashMap<String, u32> = HashMap::new();
        for t in toks {
            *tf.entry(t).or_insert(0) += 1;
        }
        (
            tf.into_iter().map(|(t, n)| (t, (first + d, n))).collect(),
            len,
        )
    })
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
    postings: Postings,
    /// Tokens per document, in index row order; its length is the number of documents.
    doc_len: Vec<u32>,
    /// Mean of `doc_len` in tokens: BM25's `avgdl`, which lengths are normalised by.
    avgdl: f32,
    /// Translations learned from the documents (see [`Lexicon`]).
    lexicon: Lexicon,
    /// Whether the glossary's translations are added to the lexicon's.
    glossary: bool,
    /// Each document's length term `K1 · (1 − B + B · len / avgdl)`, made on the first
    /// query: at a million papers a query scores millions of postings, and the division per
    /// posting was a third of it.
    norms: std::sync::OnceLock<(Vec<f32>, f32)>,
    /// Document frequencies of multi-form concepts, by their forms ([`Bm25::union_df`]).
    union_df: Arc<Mutex<HashMap<Vec<String>, usize>>>,
    /// Largest term frequencies of built lists, by term ([`Bm25::most`]).
    most_tf: Arc<Mutex<HashMap<String, u32>>>,
}

impl Bm25 {
    /// Builds the statistics of `docs`, translating with the glossary and the pairs the
    /// documents state in brackets; document `i` is row `i` of the results.
    pub fn new<S: AsRef<str> + Sync>(docs: &[S]) -> Bm25 {
        let mut bm = Bm25::statistics(docs);
        bm.lexicon = Lexicon::mined(docs);
        bm
    }

    /// Postings and lengths of `docs`, with the glossary and no learned lexicon.
    fn statistics<S: AsRef<str> + Sync>(docs: &[S]) -> Bm25 {
        let (postings, doc_len) = term_lists(docs, 0);
        Bm25::from_lists(postings, doc_len)
    }

    /// BM25 of posting lists and document lengths.
    fn from_lists(postings: HashMap<String, Vec<(u32, u32)>>, doc_len: Vec<u32>) -> Bm25 {
        let total: u64 = doc_len.iter().map(|&l| l as u64).sum();
        let avgdl = if doc_len.is_empty() {
            0.0
        } else {
            total as f32 / doc_len.len() as f32
        };
        Bm25 {
            postings: Postings::Built(postings),
            doc_len,
            avgdl,
            lexicon: Lexicon::default(),
            glossary: true,
            norms: std::sync::OnceLock::new(),
            union_df: Arc::default(),
            most_tf: Arc::default(),
        }
    }

    /// BM25 over the text the index embeds (title and summary, or only the summary for a
    /// `summary` index, so that evaluating titles against it stays honest), translating with
    /// the glossary and the lexicon learned from all the index's papers (confirmed with
    /// the candidates `encoder`'s word vectors admit when given, see [`learn_lexicon`]).
    pub fn from_index(index: &Index, encoder: Option<&Encoder>) -> Result<Bm25, EmbedError> {
        let mut bm = Bm25::from_index_text(index);
        bm.lexicon = learn_lexicon(index, encoder)?;
        Ok(bm)
    }

    /// BM25 over the text the index embeds, with the glossary and no learned lexicon (set one
    /// with [`Bm25::set_translations`]).
    pub fn from_index_text(index: &Index) -> Bm25 {
        use rayon::prelude::*;
        let recipe = index.manifest().text_recipe;
        let n = index.len();
        // A group of papers is parsed at a time and its lists appended: a million papers' texts
        // (and their parsed records) are never held at once, only the lists.
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut doc_len = Vec::with_capacity(n);
        for start in (0..n).step_by(TEXT_GROUP) {
            let end = (start + TEXT_GROUP).min(n);
            let docs: Vec<String> = (start..end)
                .into_par_iter()
                .map(|i| recipe.text(&index.record(i).paper))
                .collect();
            let (lists, lens) = term_lists(&docs, start as u32);
            for (term, mut list) in lists {
                postings.entry(term).or_default().append(&mut list);
            }
            doc_len.extend(lens);
        }
        Bm25::from_lists(postings, doc_len)
    }

    /// Replaces the query translations: `lexicon`'s pairs, and the glossary's when `glossary`.
    pub fn set_translations(&mut self, lexicon: Lexicon, glossary: bool) {
        self.lexicon = lexicon;
        self.glossary = glossary;
    }

    /// The translations learned from the documents, without the glossary's.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// The statistics, for storing them ([`super::lexical_store`]); `None` for statistics read
    /// from a file (they are stored already).
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> Option<(&HashMap<String, Vec<(u32, u32)>>, &[u32], f32, &Lexicon)> {
        match &self.postings {
            Postings::Built(p) => Some((p, &self.doc_len, self.avgdl, &self.lexicon)),
            Postings::Stored(_) => None,
        }
    }

    /// Statistics whose posting lists stay in the file and are read by term (with the glossary).
    pub(crate) fn from_stored(
        postings: StoredPostings,
        doc_len: Vec<u32>,
        avgdl: f32,
        lexicon: Lexicon,
    ) -> Bm25 {
        Bm25 {
            postings: Postings::Stored(postings),
            doc_len,
            avgdl,
            lexicon,
            glossary: true,
            norms: std::sync::OnceLock::new(),
            union_df: Arc::default(),
            most_tf: Arc::default(),
        }
    }

    /// True once a posting list read from the file failed its checksum (that term then
    /// matched nothing): the caller searches again on statistics built anew
    /// ([`super::lexical_store::with_repair`]).
    pub fn damaged(&self) -> bool {
        match &self.postings {
            Postings::Built(_) => false,
            Postings::Stored(s) => s.damaged(),
        }
    }

    /// `token`'s posting list (for tests of the stored form).
    #[cfg(test)]
    pub(crate) fn list(&self, token: &str) -> std::borrow::Cow<'_, [(u32, u32)]> {
        self.postings.list(token)
    }

    /// Number of documents: one per index row the statistics were built from.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    /// True when there are no documents.
    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Inverse document frequency of a token (0 when no document holds it).
    pub fn idf(&self, token: &str) -> f32 {
        match self.postings.df(token) {
            0 => 0.0,
            df => idf(self.doc_len.len(), df),
        }
    }

    /// Translations of a token: the glossary's (when used) and the lexicon's.
    pub fn translations(&self, token: &str) -> Vec<String> {
        let glossary = if self.glossary {
            crate::text::glossary::translations(token)
        } else {
            &[]
        };
        let mut out: Vec<String> = Vec::new();
        for t in glossary.iter().chain(self.lexicon.translations(token)) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    /// The query's concepts: each distinct query token followed by its translations, in query
    /// order. A form that is itself a query token is not repeated, and a translation that two
    /// query tokens offer goes to the one in more documents, the earlier on a tie (`공격` to
    /// `attack`, not `jailbreak`): the broader word's translation in a narrower word's list
    /// would make the narrow concept as common as the broad one and take away the weight that
    /// its rarity earns.
    pub fn concepts(&self, query: &str) -> Vec<Vec<String>> {
        let mut toks = tokenize(query);
        let mut seen = HashSet::new();
        toks.retain(|t| seen.insert(t.clone()));
        let mut claimed: HashSet<String> = toks.iter().cloned().collect();
        let df = |t: &str| self.postings.df(t);
        let mut by_df: Vec<usize> = (0..toks.len()).collect();
        by_df.sort_by_key(|&i| std::cmp::Reverse(df(&toks[i])));
        let mut out: Vec<Vec<String>> = toks.iter().map(|t| vec![t.clone()]).collect();
        for i in by_df {
            for tr in self.translations(&toks[i]) {
                if claimed.insert(tr.clone()) {
                    out[i].push(tr);
                }
            }
        }
        out
    }

    /// BM25 score of every document for `query` (0 where no query concept occurs).
    ///
    /// A concept is scored as one term whose forms are synonyms (as Lucene's `SynonymQuery`
    /// does): its term frequency in a document is the sum over its forms, its document frequency
    /// the number of documents holding any form. A paper that says `video` and `비디오` thus
    /// counts one matched concept, not two, and a rare name in the query keeps its weight
    /// against many common words matched in two languages. A document's concepts are summed
    /// best bound first ([`lexical_top::order`]), as [`Bm25::search`] sums them.
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let concepts = self.scored_concepts(query);
        lexical_top::all_scores(&concepts, self.norms())
    }

    /// Top `k` documents with a positive score, best first (ties: lower row); `exclude` is left
    /// out. The same hits and scores as ranking [`Bm25::scores`], without scoring every
    /// document a common query word holds ([`lexical_top`]).
    pub fn search(&self, query: &str, k: usize, exclude: Option<usize>) -> Vec<Hit> {
        if k == 0 {
            return Vec::new();
        }
        let concepts = self.scored_concepts(query);
        lexical_top::top_k(
            &concepts,
            self.norms(),
            k,
            exclude,
            lexical_top::Cut::WherePays,
        )
    }

    /// Each document's length term `K1 · (1 − B + B · len / avgdl)`.
    fn norms(&self) -> &[f32] {
        &self
            .norms
            .get_or_init(|| {
                let avgdl = self.avgdl.max(1e-9);
                let norms: Vec<f32> = self
                    .doc_len
                    .iter()
                    .map(|&dl| K1 * (1.0 - B + B * dl as f32 / avgdl))
                    .collect();
                let least = norms.iter().copied().fold(f32::INFINITY, f32::min);
                (norms, least)
            })
            .0
    }

    /// The smallest length term of any document (infinite for none).
    fn least_norm(&self) -> f32 {
        self.norms();
        self.norms.get().map_or(f32::INFINITY, |n| n.1)
    }

    /// The query's concepts with their lists, IDFs and bounds, in the order they are summed.
    fn scored_concepts(&self, query: &str) -> Vec<lexical_top::Concept<'_>> {
        let n = self.doc_len.len();
        let least = self.least_norm();
        let mut out: Vec<lexical_top::Concept<'_>> = self
            .concepts(query)
            .into_iter()
            .filter_map(|forms| {
                let lists: Vec<(ListView<'_>, u32)> = forms
                    .iter()
                    .map(|t| (t, self.postings.view(t)))
                    .filter(|(_, l)| !l.0.is_empty())
                    .map(|(t, (list, most))| (list, most.unwrap_or_else(|| self.most(t, list))))
                    .collect();
                let df = match lists.as_slice() {
                    [] => return None,
                    [one] => one.0.len(),
                    _ => self.union_df(&forms, &lists),
                };
                Some(lexical_top::Concept::new(lists, idf(n, df), least))
            })
            .collect();
        lexical_top::order(&mut out);
        out
    }

    /// The largest term frequency in `token`'s built `list`; remembered, since reading a
    /// common word's list for it at every query cost as much as scoring it.
    fn most(&self, token: &str, list: ListView<'_>) -> u32 {
        if let Some(most) = self.most_tf.lock().ok().and_then(|c| c.get(token).copied()) {
            return most;
        }
        let mut most = 0;
        list.for_each(|_, tf| most = most.max(tf));
        if let Ok(mut c) = self.most_tf.lock() {
            if c.len() >= UNION_DF_KEPT {
                c.clear();
            }
            c.insert(token.to_string(), most);
        }
        most
    }

    /// Documents holding any of `forms` (whose non-empty `lists` are given); remembered, since
    /// the same concepts come back query after query and a common word's lists are long.
    fn union_df(&self, forms: &[String], lists: &[(ListView<'_>, u32)]) -> usize {
        if let Some(df) = self
            .union_df
            .lock()
            .ok()
            .and_then(|c| c.get(forms).copied())
        {
            return df;
        }
        let df = lexical_top::union_len(lists.iter().map(|l| l.0), self.doc_len.len());
        if let Ok(mut c) = self.union_df.lock() {
            if c.len() >= UNION_DF_KEPT {
                c.clear();
            }
            c.insert(forms.to_vec(), df);
        }
        df
    }
}

/// Most concepts (and terms) whose document frequency (largest term frequency) is
/// remembered ([`Bm25::union_df`], [`Bm25::most`]).
const UNION_DF_KEPT: usize = 4096;

/// One concept's share of a document's score: BM25 of term frequency `tf` in a document
/// whose length term is `norm`.
#[inline]
pub(crate) fn term_score(idf: f32, tf: u32, norm: f32) -> f32 {
    let tf = tf as f32;
    idf * tf * (K1 + 1.0) / (tf + norm)
}

/// Posting lists built in memory, or kept in `lexical.bin` and read by term.
#[derive(Debug, Clone)]
enum Postings {
    Built(HashMap<String, Vec<(u32, u32)>>),
    Stored(StoredPostings),
}

impl Default for Postings {
    fn default() -> Self {
        Postings::Built(HashMap::new())
    }
}

impl Postings {
    /// Documents holding `token` (its document frequency); 0 for a token no document has.
    fn df(&self, token: &str) -> usize {
        match self {
            Postings::Built(p) => p.get(token).map_or(0, Vec::len),
            Postings::Stored(s) => s.df(token),
        }
    }

    /// `token`'s list, documents ascending, and its largest term frequency where known
    /// without reading the list (a stored list's, found when it was checked).
    fn view(&self, token: &str) -> (ListView<'_>, Option<u32>) {
        match self {
            Postings::Built(p) => (
                ListView::Pairs(p.get(token).map_or(&[][..], Vec::as_slice)),
                None,
            ),
            Postings::Stored(s) => {
                let (list, most) = s.view(token);
                (list, Some(most))
            }
        }
    }

    /// `token`'s (document, term frequency) pairs, documents ascending.
    #[cfg(test)]
    fn list(&self, token: &str) -> std::borrow::Cow<'_, [(u32, u32)]> {
        match self {
            Postings::Built(p) => {
                std::borrow::Cow::Borrowed(p.get(token).map_or(&[][..], Vec::as_slice))
            }
            Postings::Stored(_) => {
                let mut pairs = Vec::new();
                self.view(token).0.for_each(|d, tf| pairs.push((d, tf)));
                std::borrow::Cow::Owned(pairs)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_translation_two_query_words_offer_goes_to_the_more_frequent_word() {
        // `attack` is in three documents, `jailbreak` in one; both lists offer 공격.
        let docs = [
            "jailbreak 탈옥 공격",
            "adversarial attack 공격",
            "attack on agents 공격",
            "backdoor attack 공격",
        ];
        let mut bm = Bm25::statistics(&docs);
        let lexicon = Lexicon::from_pairs([
            ("jailbreak", "탈옥"),
            ("jailbreak", "공격"),
            ("attack", "공격"),
        ]);
        bm.set_translations(lexicon, false);
        let expected = [vec!["jailbreak", "탈옥"], vec!["attack", "공격"]];
        assert_eq!(bm.concepts("jailbreak attacks"), expected);
        // Query order is kept whichever word claims first.
        assert_eq!(
            bm.concepts("attack jailbreak"),
            [vec!["attack", "공격"], vec!["jailbreak", "탈옥"]]
        );
        // The narrow concept keeps the rarity that ranks the jailbreak paper first.
        assert_eq!(bm.search("jailbreak attacks", 1, None)[0].row, 0);
    }

    /// Words of a Zipf-like vocabulary, letters only (`qa`, `qb`, …, by rank).
    fn word(rank: usize) -> String {
        let mut w = String::from("q");
        let mut r = rank;
        loop {
            w.push((b'a' + (r % 26) as u8) as char);
            r /= 26;
            if r == 0 {
                break w;
            }
        }
    }

    #[test]
    fn pruned_search_equals_ranking_every_score() {
        // 3,000 documents over a Zipf vocabulary: common words hold most documents, rare ones
        // a few, so some queries are cut short and some are not.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let docs: Vec<String> = (0..3000)
            .map(|_| {
                let len = 8 + (next() % 33) as usize;
                (0..len)
                    .map(|_| {
                        word(((next() % 600) as f64 / 600.0).powi(3).mul_add(600.0, 0.0) as usize)
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let mut bm = Bm25::statistics(&docs);
        // Two words with translations, so concepts of several forms are cut short too.
        bm.set_translations(
            Lexicon::from_pairs([
                (word(1).as_str(), word(301).as_str()),
                (word(1).as_str(), word(2).as_str()),
                (word(40).as_str(), word(3).as_str()),
            ]),
            false,
        );
        let splits_before = lexical_top::SPLITS.with(|s| s.get());
        let mut queries = 0;
        for q in 0..60usize {
            let words: Vec<String> = (0..2 + q % 4)
                // A rare word first in two queries of three; common words only in the rest.
                .map(|i| {
                    word(if i == 0 && q % 3 != 0 {
                        100 + q * 7
                    } else {
                        (q * 13 + i * 5) % 30
                    })
                })
                .collect();
            let query = words.join(" ");
            let scores = bm.scores(&query);
            for k in [1, 5, 10, 50] {
                for exclude in [None, Some(q * 41 % docs.len())] {
                    let mut expected: Vec<Hit> = scores
                        .iter()
                        .enumerate()
                        .filter(|&(row, &score)| score > 0.0 && Some(row) != exclude)
                        .map(|(row, &score)| Hit { row, score })
                        .collect();
                    expected.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
                    expected.truncate(k);
                    let bits = |h: &[Hit]| -> Vec<(usize, u32)> {
                        h.iter().map(|h| (h.row, h.score.to_bits())).collect()
                    };
                    let got = bm.search(&query, k, exclude);
                    assert_eq!(bits(&got), bits(&expected), "{query:?} k {k} {exclude:?}");
                    // Cut short wherever the bounds allow, not only where it pays.
                    let concepts = bm.scored_concepts(&query);
                    let eager = lexical_top::top_k(
                        &concepts,
                        bm.norms(),
                        k,
                        exclude,
                        lexical_top::Cut::WheneverBounded,
                    );
                    assert_eq!(
                        bits(&eager),
                        bits(&expected),
                        "eager: {query:?} k {k} {exclude:?}"
                    );
                    queries += 1;
                }
            }
        }
        let splits = lexical_top::SPLITS.with(|s| s.get()) - splits_before;
        assert!(
            splits > 0 && splits < queries,
            "{splits} of {queries} queries cut short"
        );
    }
}
