//! Reading `tokenizer.json` without the detours of the tokenizers crate's own reader.
//!
//! `Tokenizer::from_file` takes 0.8 s for the XLM-R tokenizer (250,002 pieces, 17 MB): its model
//! deserialiser buffers the whole model object twice (serde's untagged-enum buffer, then a
//! `serde_json::Value`) before building the Unigram model from it. A search embeds one query, so
//! that was most of its start-up. Here the file is split into its parts without parsing them
//! ([`RawValue`]), the Unigram vocabulary is read straight into the `Vec<(String, f64)>` that
//! [`Unigram::from`] takes, and the small parts (normalizer, pre-tokenizer, post-processor,
//! decoder) go through the crate's own deserialisers. Anything this reader does not know (another
//! model type, truncation or padding settings, an added token whose id would differ) falls back to
//! the crate's reader, so the result is always the tokenizer the file describes.
//!
//! Most of what remains is building the model's trie of 250,002 pieces. [`load_for`] builds a
//! tokenizer for a few known inputs (a search query) from only the pieces that can occur in
//! them: a Unigram model segments a word by the pieces that are substrings of it, so the lattice,
//! the scores (every piece keeps its id and score; the others become one placeholder string that
//! does not occur in the inputs) and the ids are those of the whole tokenizer. Tests compare the
//! two on real titles, summaries and queries.

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokenizers::models::unigram::Unigram;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizedString, Normalizer, NormalizerWrapper,
    PostProcessorWrapper, PreTokenizerWrapper, Tokenizer,
};

#[derive(Deserialize)]
struct Parts<'a> {
    #[serde(default)]
    version: Option<String>,
    #[serde(borrow)]
    model: &'a RawValue,
    #[serde(borrow, default)]
    normalizer: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pre_tokenizer: Option<&'a RawValue>,
    #[serde(borrow, default)]
    post_processor: Option<&'a RawValue>,
    #[serde(borrow, default)]
    decoder: Option<&'a RawValue>,
    #[serde(borrow, default)]
    truncation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    padding: Option<&'a RawValue>,
    #[serde(default)]
    added_tokens: Vec<Added>,
}

#[derive(Deserialize)]
struct UnigramParts<'a> {
    #[serde(rename = "type")]
    kind: String,
    unk_id: Option<usize>,
    #[serde(borrow)]
    vocab: Vec<Piece<'a>>,
    #[serde(default)]
    byte_fallback: bool,
}

/// One vocabulary entry, borrowed from the file when it has no escapes (nearly all do not).
#[derive(Deserialize)]
struct Piece<'a>(#[serde(borrow)] Cow<'a, str>, f64);

#[derive(Deserialize)]
struct Added {
    id: u32,
    content: String,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default = "yes")]
    normalized: bool,
    #[serde(default)]
    special: bool,
}

fn yes() -> bool {
    true
}

/// Loads `path` as the tokenizers crate would, taking the fast route for Unigram models.
pub fn load(path: &Path) -> tokenizers::Result<Tokenizer> {
    let bytes = std::fs::read(path)?;
    match parse(&bytes).and_then(|f| f.build(None)) {
        Some(t) => Ok(t),
        None => Tokenizer::from_bytes(&bytes),
    }
}

/// A tokenizer that encodes each of `inputs` exactly as [`load`]'s does, built from only the
/// pieces that can occur in them; for other inputs its ids are wrong. Falls back to [`load`]
/// where the fast route does not apply.
pub fn load_for(path: &Path, inputs: &[String]) -> tokenizers::Result<Tokenizer> {
    let bytes = std::fs::read(path)?;
    match parse(&bytes).and_then(|f| f.build(Some(inputs))) {
        Some(t) => Ok(t),
        None => Tokenizer::from_bytes(&bytes),
    }
}

/// A Unigram `tokenizer.json` without truncation or padding, split into its parts; `None` for
/// anything else (the caller then uses the crate's reader, which also gives the precise error).
struct File<'a> {
    parts: Parts<'a>,
    model: UnigramParts<'a>,
    normalizer: Option<NormalizerWrapper>,
}

fn parse(bytes: &[u8]) -> Option<File<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let parts: Parts = serde_json::from_str(text).ok()?;
    let is_null = |v: Option<&RawValue>| v.is_none_or(|v| v.get() == "null");
    if parts.version.as_deref().is_some_and(|v| v != "1.0")
        || !is_null(parts.truncation)
        || !is_null(parts.padding)
    {
        return None;
    }
    let model: UnigramParts = serde_json::from_str(parts.model.get()).ok()?;
    if model.kind != "Unigram" {
        return None;
    }
    let normalizer = part(parts.normalizer)?;
    Some(File {
        parts,
        model,
        normalizer,
    })
}

/// A small part of the file through the crate's own deserialiser; `Some(None)` when absent.
fn part<T: for<'de> Deserialize<'de>>(v: Option<&RawValue>) -> Option<Option<T>> {
    match v {
        None => Some(None),
        Some(v) if v.get() == "null" => Some(None),
        Some(v) => serde_json::from_str(v.get()).ok().map(Some),
    }
}

impl File<'_> {
    /// The text a piece must occur in to be kept: each input normalised whole and word by word,
    /// with spaces and the metaspace mark removed (pieces are matched without them too), all in
    /// one string (a piece spanning two of them is kept needlessly, never lost).
    fn haystack(&self, inputs: &[String]) -> Option<String> {
        let normalise = |s: &str| -> Option<String> {
            let mut n = NormalizedString::from(s);
            if let Some(norm) = &self.normalizer {
                norm.normalize(&mut n).ok()?;
            }
            Some(n.get().chars().filter(|c| !is_space(*c)).collect())
        };
        let mut out = String::new();
        for s in inputs {
            out.push_str(&normalise(s)?);
            for w in s.split_whitespace() {
                out.push_str(&normalise(w)?);
            }
        }
        Some(out)
    }

    fn build(&self, only: Option<&[String]>) -> Option<Tokenizer> {
        let vocab: Vec<(String, f64)> = match only {
            None => self
                .model
                .vocab
                .iter()
                .map(|Piece(s, score)| (s.to_string(), *score))
                .collect(),
            Some(inputs) => {
                let hay = self.haystack(inputs)?;
                let added: Vec<&str> = self
                    .parts
                    .added_tokens
                    .iter()
                    .map(|a| a.content.as_str())
                    .collect();
                let placeholder = (0xE000u32..0xF8FF)
                    .filter_map(char::from_u32)
                    .map(String::from)
                    .find(|p| !hay.contains(p.as_str()))?;
                let unk = self.model.unk_id;
                self.model
                    .vocab
                    .iter()
                    .enumerate()
                    .map(|(id, Piece(s, score))| {
                        let bare = bare(s);
                        let keep = bare.is_empty()
                            || Some(id) == unk
                            || added.contains(&s.as_ref())
                            || hay.contains(bare.as_ref());
                        let piece = if keep {
                            s.to_string()
                        } else {
                            placeholder.clone()
                        };
                        (piece, *score)
                    })
                    .collect()
            }
        };
        let unigram = Unigram::from(vocab, self.model.unk_id, self.model.byte_fallback).ok()?;
        let mut tokenizer = Tokenizer::new(unigram);
        let pre: Option<PreTokenizerWrapper> = part(self.parts.pre_tokenizer)?;
        let post: Option<PostProcessorWrapper> = part(self.parts.post_processor)?;
        let decoder: Option<DecoderWrapper> = part(self.parts.decoder)?;
        tokenizer.with_normalizer(self.normalizer.clone()).ok()?;
        tokenizer.with_pre_tokenizer(pre);
        tokenizer.with_post_processor(post);
        tokenizer.with_decoder(decoder);
        let added: Vec<AddedToken> = self
            .parts
            .added_tokens
            .iter()
            .map(|a| {
                AddedToken::from(a.content.clone(), a.special)
                    .single_word(a.single_word)
                    .lstrip(a.lstrip)
                    .rstrip(a.rstrip)
                    .normalized(a.normalized)
            })
            .collect();
        tokenizer.add_tokens(added).ok()?;
        // The file's ids are the truth; the crate's reader warns and goes on when they disagree,
        // we let it decide.
        self.parts
            .added_tokens
            .iter()
            .all(|a| tokenizer.token_to_id(&a.content) == Some(a.id))
            .then_some(tokenizer)
    }
}

/// A piece without its spaces and metaspace marks (nearly always only a leading `▁`).
fn bare(piece: &str) -> Cow<'_, str> {
    let rest = piece.trim_start_matches('\u{2581}');
    if rest.chars().any(is_space) {
        Cow::Owned(rest.chars().filter(|c| !is_space(*c)).collect())
    } else {
        Cow::Borrowed(rest)
    }
}

/// Spaces and the metaspace mark `▁`, which pieces and normalised text carry differently.
fn is_space(c: char) -> bool {
    c == '\u{2581}' || c.is_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Option<std::path::PathBuf> {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/tokenizer.json");
        p.is_file().then_some(p)
    }

    #[test]
    fn fast_reader_equals_the_crates_reader() {
        let Some(path) = reference() else {
            eprintln!("skipped: ../shared/reference/tokenizer.json not here");
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let ours = parse(&bytes)
            .and_then(|f| f.build(None))
            .expect("the reference is a plain Unigram tokenizer");
        let theirs = Tokenizer::from_bytes(&bytes).unwrap();
        assert_eq!(ours.get_vocab_size(true), theirs.get_vocab_size(true));
        for s in [
            "passage: Diffusion Transformer로 비디오를 생성합니다.",
            "query: 확산 모델  GPT-4o   <mask> ０１２ ｱｲｳ ﬁ café",
            "  leading and trailing  ",
            "<s>raw specials</s> and <unk>",
            "",
        ] {
            let a = ours.encode(s, true).unwrap();
            let b = theirs.encode(s, true).unwrap();
            assert_eq!(a.get_ids(), b.get_ids(), "{s:?}");
            assert_eq!(a.get_offsets(), b.get_offsets(), "{s:?}");
        }
    }

    #[test]
    fn other_files_fall_back_to_the_crates_reader() {
        assert!(
            parse(b"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}").is_none()
        );
        assert!(parse(b"not json").is_none());
        let truncated = b"{\"version\":\"1.0\",\"truncation\":{\"max_length\":8},\"model\":{}}";
        assert!(parse(truncated).is_none());
    }

    #[test]
    fn a_tokenizer_for_known_inputs_gives_the_whole_tokenizers_ids() {
        let Some(path) = reference() else {
            eprintln!("skipped: ../shared/reference/tokenizer.json not here");
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let file = parse(&bytes).unwrap();
        let whole = file.build(None).unwrap();
        // The seed papers' exact inputs, as the reference file gives them.
        let seeds: serde_json::Value = serde_json::from_slice(
            &std::fs::read(path.with_file_name("seeds_e5_small.json")).unwrap(),
        )
        .unwrap();
        let mut inputs: Vec<String> = vec![
            "query: 확산 모델  GPT-4o   <mask> ０１２ ｱｲｳ ﬁ café".into(),
            "query: <s>raw specials</s> and <unk>x".into(),
            "query: 비디오생성diffusion".into(),
            "query: \u{E000} private use, emoji 🤗 and tabs\tnewlines\n".into(),
            "query: ".into(),
        ];
        for p in seeds["papers"].as_array().unwrap() {
            for kind in ["query_input", "doc_input"] {
                inputs.push(p[kind].as_str().unwrap().to_string());
            }
        }
        assert!(inputs.len() > 100, "{} inputs", inputs.len());
        for input in &inputs {
            let only = file.build(Some(std::slice::from_ref(input))).unwrap();
            let a = only.encode(input.as_str(), true).unwrap();
            let b = whole.encode(input.as_str(), true).unwrap();
            assert_eq!(a.get_ids(), b.get_ids(), "{input:?}");
        }
        // The point of it: a query keeps a few hundred pieces of 250,002.
        let q = ["query: 비디오 생성 diffusion transformer".to_string()];
        let hay = file.haystack(&q).unwrap();
        let kept = file
            .model
            .vocab
            .iter()
            .filter(|Piece(s, _)| {
                let bare = bare(s);
                !bare.is_empty() && hay.contains(bare.as_ref())
            })
            .count();
        assert!(kept < 2_000, "{kept} pieces kept");
    }
}
