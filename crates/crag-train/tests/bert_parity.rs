//! The tch BERT encoder with pretrained all-MiniLM-L6-v2 weights equals crag-core's ndarray reference (and so the
//! exported ONNX graph, whose parity with the reference is tested in crag-core) within 1e-4 on real sentences.

use std::path::PathBuf;

use crag_core::bert::{self, BertConfig};
use crag_core::weights::Weights;
use crag_train::bert_model::BertEncoder;
use tch::Tensor;

fn minilm_dir() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into()),
    );
    assert!(
        dir.join("model.safetensors").exists(),
        "{} has no MiniLM: run scripts/setup-minilm.sh",
        dir.display()
    );
    dir
}

fn check(
    cfg: &BertConfig,
    w: &Weights,
    prefix: &str,
    ids: &[i64],
    mask: &[i64],
    batch: usize,
    seq: usize,
) {
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let mut enc = BertEncoder::new(&vs.root(), cfg, prefix);
    enc.load(w).unwrap();
    let got = tch::no_grad(|| {
        enc.forward_cls(
            &Tensor::from_slice(ids).reshape([batch as i64, seq as i64]),
            &Tensor::from_slice(mask).reshape([batch as i64, seq as i64]),
            false,
            0.1,
        )
    });
    let got = Vec::<f32>::try_from(&got.reshape([-1])).unwrap();
    let want = bert::reference_forward(cfg, w, prefix, ids, mask, batch, seq).unwrap();
    let diff = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff <= 1e-4, "tch vs reference differ by {diff}");
    assert_eq!(
        enc.weights()
            .unwrap()
            .get(
                &format!("{prefix}embeddings.LayerNorm.bias"),
                &[cfg.hidden_size]
            )
            .unwrap()
            .len(),
        cfg.hidden_size
    );
}

#[test]
fn tch_minilm_equals_reference_on_real_sentences() {
    let (cfg, w) = bert::load_hf_dir(&minilm_dir(), "drug_encoder.").unwrap();
    // "hi world" (padded) and "the drug binds to a protein receptor", MiniLM vocabulary ids.
    let ids = [
        101, 7632, 2088, 102, 0, 0, 0, 0, 0, 101, 1996, 4319, 20817, 2000, 1037, 5250, 10769, 102,
    ];
    let mask = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    check(&cfg, &w, "drug_encoder.", &ids, &mask, 2, 9);
}

#[test]
fn tch_tiny_random_encoder_equals_reference() {
    let cfg = BertConfig {
        vocab_size: 50,
        hidden_size: 16,
        num_layers: 2,
        num_heads: 2,
        intermediate_size: 32,
        max_position: 16,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
    };
    let w = Weights::seeded(&cfg.param_specs("adr_encoder."), 3);
    check(
        &cfg,
        &w,
        "adr_encoder.",
        &[1, 5, 9, 2, 0, 1, 7, 2, 4, 3],
        &[1, 1, 1, 1, 0, 1, 1, 1, 1, 1],
        2,
        5,
    );
}
