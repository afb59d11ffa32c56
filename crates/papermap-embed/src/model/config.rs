//! The model's `config.json`, read once into candle-transformers' typed BERT configuration.

use std::path::Path;

pub use candle_transformers::models::bert::{Config, HiddenAct};

use crate::EmbedError;

/// Reads and checks `config.json`: a BERT whose sizes fit together and whose activation is the
/// exact-erf GELU the kernels compute.
pub fn read_config(path: &Path) -> Result<Config, EmbedError> {
    let text = std::fs::read(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let config: Config = serde_json::from_slice(&text).map_err(|source| EmbedError::Config {
        path: path.to_path_buf(),
        line: source.line(),
        msg: source.to_string(),
    })?;
    let bad = |msg: String| EmbedError::Config {
        path: path.to_path_buf(),
        line: 0,
        msg,
    };
    if config.num_attention_heads == 0
        || config.hidden_size == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err(bad(format!(
            "hidden_size {} is not a multiple of num_attention_heads {}",
            config.hidden_size, config.num_attention_heads
        )));
    }
    if config.hidden_act != HiddenAct::Gelu {
        return Err(bad(format!(
            "hidden_act {:?}: papermap computes BERT's exact GELU only",
            config.hidden_act
        )));
    }
    if config.max_position_embeddings < 2 || config.type_vocab_size == 0 {
        return Err(bad(
            "max_position_embeddings must be at least 2 and type_vocab_size at least 1".into(),
        ));
    }
    Ok(config)
}
