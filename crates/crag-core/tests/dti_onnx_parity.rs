//! The exported DTI/ADR graph, run by ONNX Runtime, equals the ndarray reference within 1e-5; the int8 graph equals
//! the reference on the int8 round-tripped weights within 1e-5; the shipped float32 model re-exports byte for byte
//! from the weights read back out of its graph.
//!
//! Needs the ONNX Runtime library: `ORT_DYLIB_PATH` (set by `scripts/test.sh`) or `/usr/local/lib/crag`.

use crag_core::dti::{self, DtiConfig, DtiHead};
use crag_core::onnx::WeightPrecision;
use crag_core::runtime::{self, Device, SessionOptions};
use crag_core::weights::Weights;
use ndarray::Array2;
use rand::{Rng, SeedableRng};

fn ort_env() -> &'static ort::environment::Environment {
    let path = std::env::var("ORT_DYLIB_PATH")
        .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
    runtime::init(&path).unwrap_or_else(|e| {
        panic!("ONNX Runtime is required for this test ({e}); run scripts/setup-deps.sh")
    })
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check(head: DtiHead, seed: u64, batch: usize) {
    let cfg = DtiConfig {
        drug_dim: 64,
        prot_dim: 40,
        n_adr: 33,
        d: 16,
        hidden_ratio: 2,
        head,
        ln_eps: 1e-5,
        precision: Default::default(),
    };
    let mut weights = Weights::seeded(&cfg.param_specs(), seed);
    if head == DtiHead::Cosine {
        // Move the learnable scale off its initial value so the test sees it.
        weights
            .insert("dti_head.log_scale", vec![], vec![1.7])
            .unwrap();
    }
    weights
        .insert("pair_scorer.gamma", vec![], vec![-0.25])
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 100);
    let drug = Array2::from_shape_fn((batch, cfg.drug_dim), |_| rng.random_range(-2.0f32..2.0));
    let prot = Array2::from_shape_fn((batch, cfg.prot_dim), |_| rng.random_range(0.0f32..1.0));
    let u_f32 = compare(&cfg, &weights, &drug, &prot);
    let int8 = DtiConfig {
        precision: WeightPrecision::Int8,
        ..cfg.clone()
    };
    let u_int8 = compare(&int8, &weights, &drug, &prot);
    // The int8 graph really computes with quantised weights: close to float32, not equal.
    let d = max_abs_diff(u_int8.as_slice().unwrap(), u_f32.as_slice().unwrap());
    assert!(
        d > 1e-6 && d < 0.1,
        "{head:?}: int8 u differs from float32 u by {d}"
    );
}

/// ORT on the graph of `cfg` (in its precision) against the reference forward on the weights that graph computes
/// with (the int8 round trip of the large matrices when int8).
fn compare(
    cfg: &DtiConfig,
    weights: &Weights,
    drug: &Array2<f32>,
    prot: &Array2<f32>,
) -> Array2<f32> {
    let head = (cfg.head, cfg.precision);
    let onnx = dti::export_onnx(cfg, weights).unwrap();
    let effective = match cfg.precision {
        WeightPrecision::F32 => weights.clone(),
        WeightPrecision::Int8 => weights.int8_round_trip(&cfg.int8_matrix_names()).unwrap(),
    };
    let reference = dti::reference_forward(cfg, &effective, drug.view(), prot.view()).unwrap();
    // Both ways of running int8 weights (dequantised per run, or folded once at session build) give the reference.
    let mut outputs = Vec::new();
    for dequantize_once in [false, true] {
        let mut loaded = runtime::load_session(
            ort_env(),
            &onnx,
            &SessionOptions {
                threads: 1,
                device: Device::Cpu,
                dequantize_once,
            },
        )
        .unwrap();
        let got = runtime::run_dti(&mut loaded.session, drug.view(), prot.view()).unwrap();

        let tol = 1e-5;
        let d = max_abs_diff(&got.p_bind, reference.p_bind.as_slice().unwrap());
        assert!(d <= tol, "{head:?} p_bind differs by {d}");
        let d = max_abs_diff(got.u.as_slice().unwrap(), reference.u.as_slice().unwrap());
        assert!(d <= tol, "{head:?} u differs by {d}");
        let d = max_abs_diff(got.v.as_slice().unwrap(), reference.v.as_slice().unwrap());
        assert!(d <= tol, "{head:?} v differs by {d}");
        let d = max_abs_diff(
            got.adr_pred.as_slice().unwrap(),
            reference.adr_pred.as_slice().unwrap(),
        );
        assert!(d <= tol, "{head:?} adr_pred differs by {d}");
        assert_eq!(got.scorer.alpha, 1.0);
        assert_eq!(got.scorer.beta, 1.0);
        assert_eq!(got.scorer.gamma, -0.25);
        // Logits are not squashed, so compare them relative to their size.
        let logits: Vec<f32> = got.p_bind.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        let d = max_abs_diff(&logits, reference.logit.as_slice().unwrap());
        assert!(d <= 1e-3, "{head:?} logits differ by {d}");
        outputs.push(got.u);
    }
    let d = max_abs_diff(
        outputs[0].as_slice().unwrap(),
        outputs[1].as_slice().unwrap(),
    );
    assert!(
        d <= 1e-6,
        "{head:?}: folded and per-run dequantisation differ by {d}"
    );
    outputs.remove(0)
}

#[test]
fn shipped_dti_model_weights_read_back_and_reexport() {
    // models/dti (or $CRAG_DTI_MODEL_DIR): a float32 graph re-exports byte for byte from the weights read out of it
    // (the exporter with `precision` writes float32 exactly as before) and its int8 export is about a quarter of the
    // size; an int8 graph gives back the same weights after re-export.
    let dir = std::env::var_os("CRAG_DTI_MODEL_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/dti"),
        std::path::PathBuf::from,
    );
    let art = crag_core::artifacts::ModelArtifacts::read_dir(&dir).unwrap();
    let cfg = crag_core::artifacts::dti_config(&art.meta.config).unwrap();
    let w = crag_core::onnx::weights_from_onnx(&art.onnx, &cfg.inference_specs()).unwrap();
    let again = dti::export_onnx(&cfg, &w).unwrap();
    match cfg.precision {
        WeightPrecision::F32 => {
            assert!(
                again == art.onnx,
                "float32 re-export differs from {}",
                dir.display()
            );
            let int8 = DtiConfig {
                precision: WeightPrecision::Int8,
                ..cfg.clone()
            };
            let q = dti::export_onnx(&int8, &w).unwrap();
            let ratio = q.len() as f64 / art.onnx.len() as f64;
            assert!(ratio < 0.27, "int8 / float32 = {ratio}");
        }
        WeightPrecision::Int8 => {
            // Re-quantising dequantised rows may move a scale by an ulp; the weights must survive unchanged.
            let back = crag_core::onnx::weights_from_onnx(&again, &cfg.inference_specs()).unwrap();
            for spec in cfg.inference_specs() {
                let a = w.get(&spec.name, &spec.shape).unwrap();
                let b = back.get(&spec.name, &spec.shape).unwrap();
                assert!(max_abs_diff(a, b) <= 1e-6, "{}", spec.name);
            }
        }
    }
}

#[test]
fn dti_cosine_head_matches_reference_in_f32_and_int8() {
    check(DtiHead::Cosine, 11, 7);
}

#[test]
fn dti_bilinear_head_matches_reference_in_f32_and_int8() {
    check(DtiHead::Bilinear, 12, 5);
}

#[test]
fn batch_of_one_and_many_agree() {
    // The batch dimension is dynamic and rows are independent.
    let cfg = DtiConfig {
        drug_dim: 8,
        prot_dim: 6,
        n_adr: 5,
        d: 4,
        hidden_ratio: 2,
        head: DtiHead::Cosine,
        ln_eps: 1e-5,
        precision: Default::default(),
    };
    let w = Weights::seeded(&cfg.param_specs(), 5);
    let onnx = dti::export_onnx(&cfg, &w).unwrap();
    let mut s = runtime::load_session(
        ort_env(),
        &onnx,
        &SessionOptions {
            threads: 1,
            device: Device::Cpu,
            dequantize_once: false,
        },
    )
    .unwrap();
    let drug = Array2::from_shape_fn((3, 8), |(i, j)| (i * 8 + j) as f32 / 10.0);
    let prot = Array2::from_shape_fn((3, 6), |(i, j)| ((i + j) % 4) as f32);
    let all = runtime::run_dti(&mut s.session, drug.view(), prot.view()).unwrap();
    for i in 0..3 {
        let one = runtime::run_dti(
            &mut s.session,
            drug.slice(ndarray::s![i..i + 1, ..]),
            prot.slice(ndarray::s![i..i + 1, ..]),
        )
        .unwrap();
        assert!((one.p_bind[0] - all.p_bind[i]).abs() < 1e-6);
    }
}

#[test]
fn cuda_request_falls_back_to_cpu_with_a_reason() {
    let cfg = DtiConfig {
        drug_dim: 4,
        prot_dim: 4,
        n_adr: 2,
        d: 4,
        hidden_ratio: 1,
        head: DtiHead::Bilinear,
        ln_eps: 1e-5,
        precision: Default::default(),
    };
    let onnx = dti::export_onnx(&cfg, &Weights::seeded(&cfg.param_specs(), 1)).unwrap();
    let s = runtime::load_session(
        ort_env(),
        &onnx,
        &SessionOptions {
            threads: 1,
            device: Device::Cuda,
            dequantize_once: false,
        },
    )
    .unwrap();
    if !s.on_cuda {
        assert!(s.fallback_reason.is_some(), "a CPU fallback must say why");
    }
}

#[test]
fn garbage_bytes_are_an_error_not_a_crash() {
    let err = runtime::load_session(
        ort_env(),
        b"not an onnx model",
        &SessionOptions {
            threads: 1,
            device: Device::Cpu,
            dequantize_once: false,
        },
    );
    assert!(err.is_err());
}
