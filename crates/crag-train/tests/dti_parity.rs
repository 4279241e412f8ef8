//! tch forward of the DTI/ADR network == ONNX Runtime on the graph exported from its weights (≤ 1e-4), and the
//! tch network == crag-core's ndarray reference.

use crag_core::dti::{self, DtiConfig, DtiHead};
use crag_core::runtime::{self, Device, SessionOptions};
use crag_train::dti_model::DtiNet;
use ndarray::Array2;
use tch::{Kind, Tensor};

fn check(head: DtiHead) {
    let cfg = DtiConfig {
        drug_dim: 48,
        prot_dim: 30,
        n_adr: 17,
        d: 16,
        hidden_ratio: 2,
        head,
        ln_eps: 1e-5,
        precision: Default::default(),
    };
    let mut net = DtiNet::new(&cfg, tch::Device::Cpu, 3, 0.1);
    // A few optimiser steps so the weights are not at their initial values (incl. the head scale).
    let mut opt = tch::nn::OptimizerConfig::build(tch::nn::Adam::default(), &net.vs, 1e-2).unwrap();
    let xd = Tensor::randn([8, 48], (Kind::Float, tch::Device::Cpu));
    let xp = Tensor::rand([8, 30], (Kind::Float, tch::Device::Cpu));
    for _ in 0..5 {
        let u = net.encode_drug(&xd, true);
        let v = net.encode_protein(&xp, true);
        let loss =
            net.dti_logit(&u, &v).square().mean(Kind::Float) + net.adr_pred(&u).mean(Kind::Float);
        opt.backward_step(&loss);
    }
    let weights = net.weights().unwrap();
    net.load_weights(&weights).unwrap();

    let (u, v, logit, adr) = tch::no_grad(|| {
        let u = net.encode_drug(&xd, false);
        let v = net.encode_protein(&xp, false);
        let logit = net.dti_logit(&u, &v);
        let adr = net.adr_pred(&u);
        (u, v, logit, adr)
    });
    let to_vec = |t: &Tensor| Vec::<f32>::try_from(&t.reshape([-1])).unwrap();
    let p_tch: Vec<f32> = to_vec(&logit.sigmoid());

    let drug = Array2::from_shape_vec((8, 48), to_vec(&xd)).unwrap();
    let prot = Array2::from_shape_vec((8, 30), to_vec(&xp)).unwrap();
    let onnx = dti::export_onnx(&cfg, &weights).unwrap();
    let path = std::env::var("ORT_DYLIB_PATH")
        .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
    let env = runtime::init(&path).expect("ONNX Runtime library (scripts/setup-deps.sh)");
    let mut s = runtime::load_session(
        env,
        &onnx,
        &SessionOptions {
            threads: 1,
            device: Device::Cpu,
            dequantize_once: false,
        },
    )
    .unwrap();
    let got = runtime::run_dti(&mut s.session, drug.view(), prot.view()).unwrap();
    let reference = dti::reference_forward(&cfg, &weights, drug.view(), prot.view()).unwrap();

    let max = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    assert!(
        max(&p_tch, &got.p_bind) <= 1e-4,
        "{head:?} p_bind tch vs ort {}",
        max(&p_tch, &got.p_bind)
    );
    assert!(
        max(&to_vec(&u), got.u.as_slice().unwrap()) <= 1e-4,
        "{head:?} u"
    );
    assert!(
        max(&to_vec(&v), got.v.as_slice().unwrap()) <= 1e-4,
        "{head:?} v"
    );
    assert!(
        max(&to_vec(&adr), got.adr_pred.as_slice().unwrap()) <= 1e-4,
        "{head:?} adr"
    );
    assert!(
        max(&p_tch, reference.p_bind.as_slice().unwrap()) <= 1e-4,
        "{head:?} tch vs reference"
    );
}

#[test]
fn cosine_head_tch_equals_onnx() {
    check(DtiHead::Cosine);
}

#[test]
fn bilinear_head_tch_equals_onnx() {
    check(DtiHead::Bilinear);
}
