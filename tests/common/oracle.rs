//! candle-transformers' `BertModel` as the f32 oracle: each sequence alone (no padding, no mask),
//! mean-pooled and L2-normalised as sentence-transformers does.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::BertModel;
use papermap::embed::ModelFiles;

/// The oracle's vector of every token-id sequence.
pub fn oracle_vectors(files: &ModelFiles, ids: &[Vec<u32>]) -> Vec<Vec<f32>> {
    let cfg = papermap::embed::model::read_config(&files.config).expect("config");
    // SAFETY: the test's model files are not modified while mapped.
    let vb =
        unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], DType::F32, &Device::Cpu) }
            .expect("weights");
    let model = BertModel::load(vb, &cfg).expect("BertModel");
    ids.iter()
        .map(|s| {
            let x = Tensor::new(s.as_slice(), &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .expect("ids");
            let types = x.zeros_like().expect("types");
            let h = model.forward(&x, &types, None).expect("forward");
            let m: Vec<f32> = h
                .mean(1)
                .and_then(|m| m.flatten_all())
                .and_then(|m| m.to_vec1())
                .expect("pool");
            let n = m.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            m.iter().map(|v| (*v as f64 / n) as f32).collect()
        })
        .collect()
}
