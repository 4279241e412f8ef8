//! The tch relation network equals crag-core's ndarray reference and the exported ONNX graph run by ONNX Runtime
//! (float32 within 1e-5 on a seeded tiny model with the real MiniLM tokenizer and marked sentences); a few
//! training steps on a separable toy task lower the loss, and freezing keeps the lower layers fixed.

use std::path::PathBuf;

use crag_core::bert::BertConfig;
use crag_core::relation::{self, RelationConfig};
use crag_core::runtime::{self, Device as OrtDevice, SessionOptions};
use crag_core::text::TextTokenizer;
use crag_core::weights::Weights;
use crag_train::relation_model::{binary_loss, RelationNet, Tokens};
use tch::nn::OptimizerConfig;
use tch::{Device, Tensor};

fn tokenizer() -> TextTokenizer {
    let dir = PathBuf::from(
        std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into()),
    );
    TextTokenizer::from_file(dir.join("tokenizer.json"), 32)
        .unwrap_or_else(|e| panic!("MiniLM tokenizer missing ({e}): run scripts/setup-minilm.sh"))
}

fn tiny(tok: &TextTokenizer) -> RelationConfig {
    RelationConfig {
        fusion_dim: 8,
        head_hidden: 8,
        ..RelationConfig::new(
            BertConfig {
                vocab_size: tok.vocab_size(),
                hidden_size: 16,
                num_layers: 2,
                num_heads: 2,
                intermediate_size: 32,
                max_position: 64,
                type_vocab_size: 2,
                layer_norm_eps: 1e-12,
            },
            32,
        )
    }
}

fn tokens(b: &crag_core::text::Batch) -> Tokens {
    Tokens::from_batch(b, Device::Cpu)
}

const DRUGS: [&str; 3] = [
    "Ototoxicity after intravenous [DRUG]azithromycin[/DRUG].",
    "A patient on [DRUG]carbamazepine[/DRUG] developed severe hyponatremia.",
    "Rash with [DRUG]amoxicillin[/DRUG].",
];
const ADRS: [&str; 3] = [
    "[ADR]Ototoxicity[/ADR] after intravenous azithromycin.",
    "A patient on carbamazepine developed severe [ADR]hyponatremia[/ADR].",
    "[ADR]Rash[/ADR] with amoxicillin.",
];

#[test]
fn tch_reference_and_onnx_runtime_agree() {
    let tok = tokenizer();
    let cfg = tiny(&tok);
    let w = Weights::seeded(&cfg.param_specs(), 17);
    let mut net = RelationNet::new(&cfg, Device::Cpu);
    net.load(&w).unwrap();
    let d = tok.encode_batch(&DRUGS).unwrap();
    let a = tok.encode_batch(&ADRS).unwrap();
    let got: Vec<f32> = Vec::try_from(&tch::no_grad(|| {
        net.logits(&tokens(&d), &tokens(&a), false, 0.1).sigmoid()
    }))
    .unwrap();
    let want = relation::reference_forward(&cfg, &w, &d, &a).unwrap();
    let lib = std::env::var("ORT_DYLIB_PATH")
        .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
    let env = runtime::init(&lib).expect("ONNX Runtime (scripts/setup-deps.sh)");
    let opts = SessionOptions {
        threads: 1,
        device: OrtDevice::Cpu,
        dequantize_once: false,
    };
    let mut s = runtime::load_session(env, &relation::export_onnx(&cfg, &w).unwrap(), &opts)
        .unwrap()
        .session;
    let ort = runtime::run_relation(&mut s, &d, &a).unwrap();
    for i in 0..3 {
        assert!(
            (got[i] - want[i]).abs() <= 1e-5,
            "tch {} vs reference {}",
            got[i],
            want[i]
        );
        assert!(
            (ort[i] - want[i]).abs() <= 1e-5,
            "ORT {} vs reference {}",
            ort[i],
            want[i]
        );
    }
    // Weights round-trip out of the variable store unchanged.
    let back = net.weights().unwrap();
    for n in w.names() {
        assert_eq!(back.array(n).unwrap(), w.array(n).unwrap(), "{n}");
    }
}

#[test]
fn training_steps_lower_the_loss_and_freezing_holds_lower_layers() {
    tch::manual_seed(3);
    let tok = tokenizer();
    let cfg = tiny(&tok);
    let w = Weights::seeded(&cfg.param_specs(), 4);
    let mut net = RelationNet::new(&cfg, Device::Cpu);
    net.load(&w).unwrap();
    net.freeze_lower(1);
    let mut opt = tch::nn::Adam::default().build(&net.vs, 1e-2).unwrap();
    // Label = the pair is aligned (same sentence); negatives pair a drug with another sentence's reaction.
    let drugs: Vec<&str> = DRUGS.iter().chain(DRUGS.iter()).copied().collect();
    let adrs: Vec<&str> = ADRS
        .iter()
        .chain([ADRS[1], ADRS[2], ADRS[0]].iter())
        .copied()
        .collect();
    let d = tokens(&tok.encode_batch(&drugs).unwrap());
    let a = tokens(&tok.encode_batch(&adrs).unwrap());
    let y = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0]);
    let loss_of = |net: &RelationNet| {
        f64::try_from(binary_loss(&net.logits(&d, &a, false, 0.0), &y, None)).unwrap()
    };
    let before = loss_of(&net);
    for _ in 0..60 {
        let loss = binary_loss(&net.logits(&d, &a, true, 0.0), &y, None);
        opt.backward_step(&loss);
    }
    let after = loss_of(&net);
    assert!(after < before * 0.5, "loss {before} -> {after}");
    let trained = net.weights().unwrap();
    let frozen = "drug_encoder.encoder.layer.0.attention.self.query.weight";
    assert_eq!(trained.array(frozen).unwrap(), w.array(frozen).unwrap());
    let emb = "adr_encoder.embeddings.word_embeddings.weight";
    assert_eq!(trained.array(emb).unwrap(), w.array(emb).unwrap());
    let moving = "drug_encoder.encoder.layer.1.attention.self.query.weight";
    assert_ne!(trained.array(moving).unwrap(), w.array(moving).unwrap());
}
