//! What makes two sets of vectors comparable, each decided once: the numeric mode an encoder
//! computes in ([`Mode`]), the device it runs on ([`DeviceSpec`]), and the identity of the
//! vectors it makes ([`ModelIdentity`]: model and mode), which an index compares with its own.
//!
//! The CLI parses `--device`, `--dtype` and `--quant` into these types once; the encoder, the
//! graph, the manifest and the vector keys all read the same [`Mode`]. A new numeric mode is a
//! new variant here (and its kernels), not a new field in every layer.

use candle_core::{DType, Device};

use super::EmbedError;

/// The numeric mode of an encoder and of the vectors it makes; written in index manifests
/// (`f32`, `f16`, `bf16`, `q8`) and hashed into every vector key, so modes are never mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// f32 weights and activations (papermap's kernels on the CPU, candle's elsewhere).
    F32,
    /// f16 weights and activations (candle's ops; the CUDA default), pooling in f32.
    F16,
    /// bf16 inputs to the products with f32 sums: on the CPU papermap's `vdpbf16ps` kernels
    /// (the projections; LayerNorm, GELU, softmax and pooling in f32), on CUDA candle's bf16 ops.
    Bf16,
    /// Int8 projections (weights per output row, activations per token) with f32 attention,
    /// LayerNorm and pooling; papermap's CPU kernels only.
    Q8,
}

impl Mode {
    /// The name written in manifests, hashed into vector keys, and taken by `--dtype`/`--quant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::F32 => "f32",
            Mode::F16 => "f16",
            Mode::Bf16 => "bf16",
            Mode::Q8 => "q8",
        }
    }

    /// The dtype tensors are held in (q8's int8 lives inside its kernels; its tensors are f32).
    pub fn dtype(self) -> DType {
        match self {
            Mode::F32 | Mode::Q8 => DType::F32,
            Mode::F16 => DType::F16,
            Mode::Bf16 => DType::BF16,
        }
    }

    /// Whether the projections run in int8.
    pub fn int8_projections(self) -> bool {
        self == Mode::Q8
    }

    /// Whether papermap's own CPU kernels implement this mode (the others run on candle's ops).
    pub fn native_on_cpu(self) -> bool {
        matches!(self, Mode::F32 | Mode::Bf16 | Mode::Q8)
    }

    /// The mode used on `device` when neither the options nor an index name one: f32 on the
    /// CPU, where papermap's kernels are exact; f16 on CUDA, where tensor cores want it.
    pub fn default_on(device: DeviceSpec) -> Mode {
        match device {
            DeviceSpec::Cpu => Mode::F32,
            DeviceSpec::Cuda(_) => Mode::F16,
        }
    }

    /// The mode `--dtype` and `--quant` ask for together on `device`, or `None` when neither was
    /// given (the mode then follows the index). `--quant none` alone asks for the device's
    /// default; q8 has f32 tensors, so `--quant q8` with another dtype is refused.
    pub fn from_flags(
        dtype: Option<Mode>,
        quant: Option<Quant>,
        device: DeviceSpec,
    ) -> Result<Option<Mode>, EmbedError> {
        match (dtype, quant) {
            (Some(Mode::Q8), _) => Err(EmbedError::Mode(
                "q8 is a quantisation, not a dtype: use --quant q8".into(),
            )),
            (None, None) => Ok(None),
            (None | Some(Mode::F32), Some(Quant::Q8)) => Ok(Some(Mode::Q8)),
            (Some(d), Some(Quant::Q8)) => Err(EmbedError::Mode(format!(
                "--quant q8 computes in f32; it cannot be combined with --dtype {d}"
            ))),
            (Some(d), _) => Ok(Some(d)),
            (None, Some(Quant::None)) => Ok(Some(Mode::default_on(device))),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Mode::F32),
            "f16" => Ok(Mode::F16),
            "bf16" => Ok(Mode::Bf16),
            "q8" => Ok(Mode::Q8),
            _ => Err(format!(
                "unknown numeric mode {s:?}: use f32, f16, bf16 or q8"
            )),
        }
    }
}

/// What `--quant` says: int8 projections, or explicitly none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    /// `--quant none`: not q8, even on a q8 index.
    None,
    /// `--quant q8`.
    Q8,
}

impl std::str::FromStr for Quant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" | "f32" => Ok(Quant::None),
            "q8" => Ok(Quant::Q8),
            _ => Err(format!("unknown quantisation {s:?}: use q8 or none")),
        }
    }
}

/// Where an encoder (or vector work) runs, parsed from `cpu`, `cuda` or `cuda:N` once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// The CPU.
    #[default]
    Cpu,
    /// The CUDA device of this ordinal.
    Cuda(usize),
}

impl DeviceSpec {
    /// Whether this is the CPU.
    pub fn is_cpu(self) -> bool {
        self == DeviceSpec::Cpu
    }

    /// Opens the candle device (a CUDA one needs a `--features cuda` build and a GPU).
    pub fn open(self) -> Result<Device, EmbedError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(ordinal) => cuda_device(ordinal),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "cpu" {
            return Ok(DeviceSpec::Cpu);
        }
        match s.strip_prefix("cuda") {
            Some("") => Ok(DeviceSpec::Cuda(0)),
            Some(rest) => rest
                .strip_prefix(':')
                .and_then(|n| n.parse::<usize>().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| format!("bad device {s:?}: use cpu, cuda or cuda:N")),
            None => Err(format!("unknown device {s:?}: use cpu, cuda or cuda:N")),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Result<Device, EmbedError> {
    Device::new_cuda(ordinal)
        .map_err(|e| EmbedError::Device(format!("cuda:{ordinal} unavailable: {e}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(ordinal: usize) -> Result<Device, EmbedError> {
    Err(EmbedError::Device(format!(
        "cuda:{ordinal} requested but this papermap was built without CUDA; \
         rebuild with `scripts/build-cuda.sh` (cargo build --features cuda)"
    )))
}

/// Which vectors an encoder makes: the model (by id and by the fingerprint of its files) and
/// the numeric mode. Vectors of two identities are comparable only when the identities are
/// equal; an index records the identity of its vectors and accepts no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// Model id (`intfloat/multilingual-e5-small`), for people; the fingerprint decides.
    pub id: String,
    /// Hash of the model's config, tokenizer and weights.
    pub fingerprint: String,
    /// Numeric mode of the vectors.
    pub mode: Mode,
}

impl ModelIdentity {
    /// What differs between `self` (what is stored) and `other` (what is offered): the model,
    /// the mode, or both; empty when they are comparable.
    pub fn differences(&self, other: &ModelIdentity) -> Vec<Difference> {
        let mut out = Vec::new();
        if self.fingerprint != other.fingerprint {
            out.push(Difference::Model);
        }
        if self.mode != other.mode {
            out.push(Difference::Mode);
        }
        out
    }
}

impl std::fmt::Display for ModelIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}) in {}", self.id, self.fingerprint, self.mode)
    }
}

/// One way two [`ModelIdentity`] values differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// Another model (fingerprint).
    Model,
    /// Another numeric mode.
    Mode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_one_mode() {
        let cpu = DeviceSpec::Cpu;
        let cuda = DeviceSpec::Cuda(0);
        assert_eq!(Mode::from_flags(None, None, cpu).unwrap(), None);
        assert_eq!(
            Mode::from_flags(None, Some(Quant::Q8), cpu).unwrap(),
            Some(Mode::Q8)
        );
        assert_eq!(
            Mode::from_flags(Some(Mode::F32), Some(Quant::Q8), cpu).unwrap(),
            Some(Mode::Q8)
        );
        assert_eq!(
            Mode::from_flags(None, Some(Quant::None), cuda).unwrap(),
            Some(Mode::F16)
        );
        assert_eq!(
            Mode::from_flags(Some(Mode::Bf16), Some(Quant::None), cpu).unwrap(),
            Some(Mode::Bf16)
        );
        assert!(Mode::from_flags(Some(Mode::F16), Some(Quant::Q8), cuda).is_err());
        assert!(Mode::from_flags(Some(Mode::Q8), None, cpu).is_err());
    }

    #[test]
    fn modes_keep_their_manifest_names() {
        for m in [Mode::F32, Mode::F16, Mode::Bf16, Mode::Q8] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(m.as_str().parse::<Mode>().unwrap(), m);
        }
        assert_eq!(Mode::Q8.dtype(), DType::F32);
        assert!(Mode::Q8.int8_projections() && !Mode::F32.int8_projections());
    }

    #[test]
    fn devices_parse_once() {
        assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!(" cuda:3 ".parse(), Ok(DeviceSpec::Cuda(3)));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert!("gpu".parse::<DeviceSpec>().is_err());
        assert_eq!(DeviceSpec::Cuda(1).to_string(), "cuda:1");
    }

    #[test]
    fn identities_name_what_differs() {
        let a = ModelIdentity {
            id: "m".into(),
            fingerprint: "sha256:a".into(),
            mode: Mode::Q8,
        };
        let mut b = a.clone();
        assert!(a.differences(&b).is_empty());
        b.mode = Mode::F32;
        assert_eq!(a.differences(&b), vec![Difference::Mode]);
        b.fingerprint = "sha256:b".into();
        assert_eq!(a.differences(&b), vec![Difference::Model, Difference::Mode]);
        // The id is for people: a renamed copy of the same files is the same model.
        let mut c = a.clone();
        c.id = "copy".into();
        assert!(a.differences(&c).is_empty());
    }
}
