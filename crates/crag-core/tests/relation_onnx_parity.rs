//! The exported dual-encoder relation graph, run by ONNX Runtime, equals the ndarray reference: float32 within
//! 1e-5 on a tiny seeded config; int8 equals the reference computed on the int8 round-tripped weights; and on the real
//! all-MiniLM-L6-v2 weights with the real tokenizer and entity markers, within 1e-4.
//!
//! Needs the ONNX Runtime library (`ORT_DYLIB_PATH` or `/usr/local/lib/crag`) and the MiniLM checkpoint in
//! `$CRAG_MINILM_DIR` (default `/opt/crag/minilm`, installed by `scripts/setup-minilm.sh`).

use std::path::PathBuf;

use crag_core::bert::{self, BertConfig};
use crag_core::onnx::WeightPrecision;
use crag_core::relation::{self, RelationConfig};
use crag_core::runtime::{self, Device, SessionOptions};
use crag_core::text::{Batch, TextTokenizer, MARKERS};
use crag_core::weights::Weights;
use ort::session::Session;

fn session(onnx: &[u8]) -> Session {
    let path = std::env::var("ORT_DYLIB_PATH")
        .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
    let env = runtime::init(&path).unwrap_or_else(|e| {
        panic!("ONNX Runtime is required for this test ({e}); run scripts/setup-deps.sh")
    });
    let opts = SessionOptions {
        threads: 1,
        device: Device::Cpu,
        dequantize_once: false,
    };
    runtime::load_session(env, onnx, &opts).unwrap().session
}

fn batch(rows: &[&[i64]]) -> Batch {
    Batch::from_rows(rows, 0)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn tiny() -> RelationConfig {
    let enc = BertConfig {
        vocab_size: 40,
        hidden_size: 16,
        num_layers: 2,
        num_heads: 2,
        intermediate_size: 32,
        max_position: 24,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
    };
    RelationConfig {
        fusion_dim: 8,
        head_hidden: 6,
        ..RelationConfig::new(enc, 16)
    }
}

#[test]
fn tiny_relation_matches_reference_in_f32_and_int8() {
    let cfg = tiny();
    let w = Weights::seeded(&cfg.param_specs(), 11);
    // Different sequence lengths on the two sides, padding on both.
    let d = batch(&[&[1, 5, 7, 2], &[1, 9, 2], &[1, 30, 31, 32, 33, 2]]);
    let a = batch(&[&[1, 11, 2], &[1, 12, 13, 14, 15, 16, 17, 2], &[1, 3, 2]]);
    let want = relation::reference_forward(&cfg, &w, &d, &a).unwrap();
    let mut s = session(&relation::export_onnx(&cfg, &w).unwrap());
    let got = runtime::run_relation(&mut s, &d, &a).unwrap();
    let diff = max_diff(&got, want.as_slice().unwrap());
    println!("tiny relation f32: max |ORT - reference| = {diff:e}");
    assert!(diff <= 1e-5, "f32 graph differs by {diff}");

    let int8 = RelationConfig {
        precision: WeightPrecision::Int8,
        ..cfg.clone()
    };
    let wq = w.int8_round_trip(&int8.int8_matrix_names()).unwrap();
    let want_q = relation::reference_forward(&int8, &wq, &d, &a).unwrap();
    let mut sq = session(&relation::export_onnx(&int8, &w).unwrap());
    let got_q = runtime::run_relation(&mut sq, &d, &a).unwrap();
    let diff_q = max_diff(&got_q, want_q.as_slice().unwrap());
    println!("tiny relation int8: max |ORT - reference(int8 weights)| = {diff_q:e}");
    assert!(diff_q <= 1e-5, "int8 graph differs by {diff_q}");

    // Mismatched batch sizes are an error, not a crash.
    let one = batch(&[&[1, 2]]);
    assert!(runtime::run_relation(&mut s, &one, &a).is_err());
}

#[test]
fn minilm_relation_matches_reference_on_marked_sentences() {
    let dir = PathBuf::from(
        std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into()),
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 missing in {}: run scripts/setup-minilm.sh (or set CRAG_MINILM_DIR)",
        dir.display()
    );
    let (base, pre) = bert::load_hf_dir(&dir, "").unwrap();
    let tok = TextTokenizer::from_file(dir.join("tokenizer.json"), 64).unwrap();
    let enc = BertConfig {
        vocab_size: tok.vocab_size(),
        ..base.clone()
    };
    let cfg = RelationConfig::new(enc, 64);
    let sources: Vec<u32> = ["drug", "drug", "reaction", "reaction"]
        .iter()
        .map(|t| tok.token_id(t).unwrap())
        .collect();
    assert_eq!(sources.len(), MARKERS.len());
    let w = relation::init_from_pretrained(&cfg, &pre, base.vocab_size, &sources, 42).unwrap();
    let sentences = [
        ("Ototoxicity after intravenous azithromycin.", "azithromycin", "Ototoxicity"),
        (
            "A 54-year-old woman developed severe hyponatremia while taking carbamazepine for trigeminal neuralgia.",
            "carbamazepine",
            "hyponatremia",
        ),
    ];
    let mut dc = Vec::new();
    let mut ac = Vec::new();
    for (s, d, a) in sentences {
        let (x, y) = relation::sentence_contexts(
            s,
            relation::find_mention(s, d).unwrap(),
            relation::find_mention(s, a).unwrap(),
        )
        .unwrap();
        dc.push(x);
        ac.push(y);
    }
    let d = tok.encode_batch(&refs(&dc)).unwrap();
    let a = tok.encode_batch(&refs(&ac)).unwrap();
    let want = relation::reference_forward(&cfg, &w, &d, &a).unwrap();
    let mut s = session(&relation::export_onnx(&cfg, &w).unwrap());
    let got = runtime::run_relation(&mut s, &d, &a).unwrap();
    let diff = max_diff(&got, want.as_slice().unwrap());
    println!("MiniLM relation f32: max |ORT - reference| = {diff:e}, p = {got:?}");
    assert!(diff <= 1e-4, "MiniLM relation differs by {diff}");
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
