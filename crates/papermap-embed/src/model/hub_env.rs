//! The Hugging Face Hub's environment variables, read as `huggingface_hub` (and so transformers
//! and sentence-transformers) documents them. hf-hub 0.5 reads only `HF_HOME` and
//! `HF_ENDPOINT`, and takes the token only from a file beside its cache; the rest is here.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HF_HOME` | root of the Hub's local files | `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` |
//! | `HF_HUB_CACHE` | where models are cached (legacy `HUGGINGFACE_HUB_CACHE`) | `$HF_HOME/hub` |
//! | `HF_ENDPOINT` | the Hub's URL (a mirror) | `https://huggingface.co` |
//! | `HF_TOKEN` | access token (gated or private models) | the file `HF_TOKEN_PATH`, else `$HF_HOME/token` |
//! | `HF_HUB_OFFLINE` | never touch the network: `1`, `ON`, `YES` or `TRUE` (any case) | off |

use std::path::PathBuf;

/// The Hub settings of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubEnv {
    /// `HF_HOME`.
    pub home: PathBuf,
    /// `HF_HUB_CACHE`.
    pub cache: PathBuf,
    /// `HF_ENDPOINT`, without a trailing `/`.
    pub endpoint: String,
    /// `HF_TOKEN`, or the token file's content.
    pub token: Option<String>,
    /// `HF_HUB_OFFLINE`.
    pub offline: bool,
}

/// The Hub's default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

impl HubEnv {
    /// Reads the environment of this process.
    pub fn from_env() -> HubEnv {
        HubEnv::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the variables through `var` (tests pass their own).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> HubEnv {
        let home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let cache = var("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
                var("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".cache")
            });
            cache.join("huggingface")
        });
        let cache = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("hub"));
        let endpoint = var("HF_ENDPOINT")
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let token = var("HF_TOKEN").or_else(|| {
            let path = var("HF_TOKEN_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("token"));
            std::fs::read_to_string(path)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_uppercase().as_str(),
                "1" | "ON" | "YES" | "TRUE"
            )
        });
        HubEnv {
            home,
            cache,
            endpoint,
            token,
            offline,
        }
    }

    /// The hf-hub cache these settings name.
    pub fn hf_cache(&self) -> hf_hub::Cache {
        hf_hub::Cache::new(self.cache.clone())
    }

    /// An hf-hub client with these settings.
    pub fn api(
        &self,
        progress: bool,
    ) -> Result<hf_hub::api::sync::Api, hf_hub::api::sync::ApiError> {
        hf_hub::api::sync::ApiBuilder::from_cache(self.hf_cache())
            .with_endpoint(self.endpoint.clone())
            .with_token(self.token.clone())
            .with_progress(progress)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HubEnv {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubEnv::from_vars(|k| m.get(k).cloned().filter(|v| !v.is_empty()))
    }

    #[test]
    fn defaults_follow_huggingface_hub() {
        let e = env(&[("HOME", "/home/u")]);
        assert_eq!(e.home, PathBuf::from("/home/u/.cache/huggingface"));
        assert_eq!(e.cache, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert_eq!(e.endpoint, DEFAULT_ENDPOINT);
        assert!(!e.offline);
        let e = env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(e.cache, PathBuf::from("/x/huggingface/hub"));
    }

    #[test]
    fn each_variable_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        std::fs::write(dir.path().join("token"), "hf_from_file\n").unwrap();
        let e = env(&[("HF_HOME", home)]);
        assert_eq!(e.cache, dir.path().join("hub"));
        assert_eq!(e.token.as_deref(), Some("hf_from_file"));
        let e = env(&[("HF_HOME", home), ("HF_TOKEN", "hf_env")]);
        assert_eq!(
            e.token.as_deref(),
            Some("hf_env"),
            "HF_TOKEN wins over the file"
        );
        let e = env(&[("HF_HOME", home), ("HF_HUB_CACHE", "/c")]);
        assert_eq!(e.cache, PathBuf::from("/c"));
        let e = env(&[("HUGGINGFACE_HUB_CACHE", "/legacy")]);
        assert_eq!(e.cache, PathBuf::from("/legacy"));
        let e = env(&[("HF_ENDPOINT", "http://127.0.0.1:9/")]);
        assert_eq!(e.endpoint, "http://127.0.0.1:9");
        for v in ["1", "ON", "yes", "True"] {
            assert!(env(&[("HF_HUB_OFFLINE", v)]).offline, "{v}");
        }
        for v in ["0", "off", "", "no"] {
            assert!(!env(&[("HF_HUB_OFFLINE", v)]).offline, "{v}");
        }
    }
}
