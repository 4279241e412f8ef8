//! The exported BERT encoder, run by ONNX Runtime, equals the ndarray reference within 1e-4: on a tiny seeded
//! config and on the real all-MiniLM-L6-v2 weights.
//!
//! Needs the ONNX Runtime library (`ORT_DYLIB_PATH` or `/usr/local/lib/crag`) and the MiniLM checkpoint in
//! `$CRAG_MINILM_DIR` (default `/opt/crag/minilm`, installed by `scripts/setup-minilm.sh`).

use std::path::PathBuf;
use std::time::Instant;

use crag_core::bert::{self, io, BertConfig};
use crag_core::runtime::{self, Device, SessionOptions};
use crag_core::weights::Weights;
use ndarray::{Array2, ArrayView2};
use ort::session::Session;
use ort::value::TensorRef;

fn ort_env() -> &'static ort::environment::Environment {
    let path = std::env::var("ORT_DYLIB_PATH")
        .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
    runtime::init(&path).unwrap_or_else(|e| {
        panic!("ONNX Runtime is required for this test ({e}); run scripts/setup-deps.sh")
    })
}

fn session(onnx: &[u8]) -> Session {
    runtime::load_session(
        ort_env(),
        onnx,
        &SessionOptions {
            threads: 1,
            device: Device::Cpu,
            dequantize_once: false,
        },
    )
    .unwrap()
    .session
}

fn run_cls(s: &mut Session, ids: ArrayView2<i64>, mask: ArrayView2<i64>) -> Array2<f32> {
    let i = TensorRef::from_array_view(ids).unwrap();
    let m = TensorRef::from_array_view(mask).unwrap();
    let out = s
        .run(ort::inputs![io::INPUT_IDS => i, io::ATTENTION_MASK => m])
        .unwrap();
    out[io::CLS]
        .try_extract_array::<f32>()
        .unwrap()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap()
        .to_owned()
}

fn max_abs_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn compare(
    cfg: &BertConfig,
    w: &Weights,
    prefix: &str,
    ids: &[i64],
    mask: &[i64],
    seq: usize,
) -> f32 {
    let batch = ids.len() / seq;
    let onnx = bert::export_onnx(cfg, w, prefix).unwrap();
    let mut s = session(&onnx);
    let ids_a = Array2::from_shape_vec((batch, seq), ids.to_vec()).unwrap();
    let mask_a = Array2::from_shape_vec((batch, seq), mask.to_vec()).unwrap();
    let got = run_cls(&mut s, ids_a.view(), mask_a.view());
    let want = bert::reference_forward(cfg, w, prefix, ids, mask, batch, seq).unwrap();
    assert_eq!(got.shape(), &[batch, cfg.hidden_size]);
    max_abs_diff(&got, &want)
}

#[test]
fn tiny_bert_matches_reference_with_padding() {
    let cfg = BertConfig {
        vocab_size: 50,
        hidden_size: 16,
        num_layers: 2,
        num_heads: 2,
        intermediate_size: 32,
        max_position: 24,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
    };
    let prefix = "drug_encoder.";
    let w = Weights::seeded(&cfg.param_specs(prefix), 9);
    let ids = [1, 12, 33, 2, 0, 0, 1, 4, 5, 6, 7, 2];
    let mask = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
    let d = compare(&cfg, &w, prefix, &ids, &mask, 6);
    println!("tiny BERT: max |ORT - reference| = {d:e}");
    assert!(d <= 1e-4, "tiny BERT CLS differs by {d}");

    // Dynamic seq and batch: the same graph on one unpadded sentence gives that sentence's padded CLS.
    let onnx = bert::export_onnx(&cfg, &w, prefix).unwrap();
    let mut s = session(&onnx);
    let both = run_cls(
        &mut s,
        Array2::from_shape_vec((2, 6), ids.to_vec()).unwrap().view(),
        Array2::from_shape_vec((2, 6), mask.to_vec())
            .unwrap()
            .view(),
    );
    let one = run_cls(
        &mut s,
        Array2::from_shape_vec((1, 4), vec![1, 12, 33, 2])
            .unwrap()
            .view(),
        Array2::from_shape_vec((1, 4), vec![1; 4]).unwrap().view(),
    );
    let d = one
        .row(0)
        .iter()
        .zip(both.row(0).iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(d <= 1e-5, "padding changed the ORT CLS by {d}");
}

#[test]
fn minilm_matches_reference() {
    let dir = PathBuf::from(
        std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into()),
    );
    for f in ["config.json", "model.safetensors"] {
        assert!(
            dir.join(f).is_file(),
            "{} is missing: install all-MiniLM-L6-v2 with scripts/setup-minilm.sh (or set CRAG_MINILM_DIR)",
            dir.join(f).display()
        );
    }
    let prefix = "drug_encoder.";
    let (cfg, w) = bert::load_hf_dir(&dir, prefix).unwrap();
    assert_eq!(cfg, BertConfig::minilm_l6());

    // [CLS] hi world [SEP] (padded) and [CLS] the drug binds to a protein receptor [SEP].
    let seq = 9;
    let ids: Vec<i64> = vec![
        101, 7632, 2088, 102, 0, 0, 0, 0, 0, //
        101, 1996, 4319, 20817, 2000, 1037, 5250, 10769, 102,
    ];
    let mask: Vec<i64> = vec![1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    let onnx = bert::export_onnx(&cfg, &w, prefix).unwrap();
    let mut s = session(&onnx);
    let ids_a = Array2::from_shape_vec((2, seq), ids.clone()).unwrap();
    let mask_a = Array2::from_shape_vec((2, seq), mask.clone()).unwrap();
    let got = run_cls(&mut s, ids_a.view(), mask_a.view());
    let runs = 20;
    let t = Instant::now();
    for _ in 0..runs {
        run_cls(&mut s, ids_a.view(), mask_a.view());
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
    let want = bert::reference_forward(&cfg, &w, prefix, &ids, &mask, 2, seq).unwrap();
    let d = max_abs_diff(&got, &want);
    println!(
        "MiniLM: ONNX {:.1} MB, max |ORT - reference| = {d:e}, ORT batch 2 x seq {seq}: {ms:.2} ms/run (1 thread)",
        onnx.len() as f64 / 1e6
    );
    assert!(d <= 1e-4, "MiniLM CLS differs by {d}");
    assert!(got.iter().all(|v| v.is_finite()));
    // The two sentences are different; the padded one equals itself unpadded.
    assert!(
        max_abs_diff(
            &got.slice(ndarray::s![0..1, ..]).to_owned(),
            &got.slice(ndarray::s![1..2, ..]).to_owned()
        ) > 1e-2
    );
    let short = run_cls(
        &mut s,
        Array2::from_shape_vec((1, 4), ids[..4].to_vec())
            .unwrap()
            .view(),
        Array2::from_shape_vec((1, 4), vec![1; 4]).unwrap().view(),
    );
    let d = max_abs_diff(&short, &got.slice(ndarray::s![0..1, ..]).to_owned());
    assert!(d <= 1e-4, "padding changed the MiniLM CLS by {d}");
}
