//! The tch NER network equals crag-core's ndarray reference (logits within 1e-5 on a seeded tiny encoder with the
//! real MiniLM tokenizer, padded windows), its extraction equals the reference's, and a few training steps on
//! labelled windows lower the token loss.

use std::path::PathBuf;

use crag_core::bert::BertConfig;
use crag_core::ner::model::{self, NerConfig};
use crag_core::ner::schema::EntityType;
use crag_core::ner::tagging::{self, Framing, Span, TagSet};
use crag_core::text::TextTokenizer;
use crag_core::weights::Weights;
use crag_train::ner_model::{token_loss, NerNet};
use crag_train::ner_train::tch_logits;
use tch::nn::OptimizerConfig;
use tch::{Device, Tensor};

fn tokenizer() -> TextTokenizer {
    let dir = PathBuf::from(
        std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into()),
    );
    TextTokenizer::from_file_plain(dir.join("tokenizer.json"), 24)
        .unwrap_or_else(|e| panic!("MiniLM tokenizer missing ({e}): run scripts/setup-minilm.sh"))
}

fn tiny(tok: &TextTokenizer) -> NerConfig {
    NerConfig::new(
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
        24,
    )
}

const TEXTS: [&str; 2] = [
    "Ototoxicity after intravenous azithromycin in a child with fever and otitis media treated for ten days.",
    "Carbamazepine-induced hyponatremia.",
];

#[test]
fn tch_logits_and_extraction_equal_the_reference() {
    let tok = tokenizer();
    let cfg = tiny(&tok);
    let w = Weights::seeded(&cfg.param_specs(), 17);
    let mut net = NerNet::new(&cfg, Device::Cpu);
    net.load(&w).unwrap();
    let framing = Framing::new(&tok, &cfg).unwrap();
    let a = framing.window(&tok, TEXTS[0]).unwrap();
    let b = framing.window(&tok, TEXTS[1]).unwrap();
    let ra = framing.ids(&a.pieces, &a.windows[0]);
    let rb = framing.ids(&b.pieces, &b.windows[0]);
    let l = ra.len().max(rb.len());
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for r in [&ra, &rb] {
        ids.extend_from_slice(r);
        ids.extend(std::iter::repeat_n(0, l - r.len()));
        mask.extend(std::iter::repeat_n(1, r.len()));
        mask.extend(std::iter::repeat_n(0, l - r.len()));
    }
    assert!(rb.len() < l, "the second row is padded");
    let got = tch_logits(&net, &ids, &mask, 2, l, Device::Cpu).unwrap();
    let want = model::reference_forward(&cfg, &w, &ids, &mask, 2, l).unwrap();
    let mut diff = 0.0f32;
    for (row, len) in [(0, ra.len()), (1, rb.len())] {
        for t in 0..len {
            for k in 0..cfg.n_labels() {
                diff = diff.max((got[[row, t, k]] - want[[row, t, k]]).abs());
            }
        }
    }
    assert!(diff <= 1e-5, "tch vs reference: {diff}");
    let by_tch = tagging::extract(&tok, &cfg, &TEXTS, 3, |i, m, b, l| {
        tch_logits(&net, i, m, b, l, Device::Cpu)
    })
    .unwrap();
    let by_ref = tagging::extract(&tok, &cfg, &TEXTS, 3, |i, m, b, l| {
        model::reference_forward(&cfg, &w, i, m, b, l)
    })
    .unwrap();
    for (x, y) in by_tch.iter().zip(&by_ref) {
        let sx: Vec<_> = x.iter().map(|m| (m.start, m.end, m.entity_type)).collect();
        let sy: Vec<_> = y.iter().map(|m| (m.start, m.end, m.entity_type)).collect();
        assert_eq!(sx, sy);
    }
    let back = net.weights().unwrap();
    for n in w.names() {
        assert_eq!(back.array(n).unwrap(), w.array(n).unwrap(), "{n}");
    }
}

#[test]
fn training_steps_lower_the_token_loss() {
    tch::manual_seed(3);
    let tok = tokenizer();
    let cfg = tiny(&tok);
    let tags = TagSet::new(&cfg.labels).unwrap();
    let framing = Framing::new(&tok, &cfg).unwrap();
    let spans = [
        Span {
            start: 0,
            end: 11,
            entity_type: EntityType::Disease,
        },
        Span {
            start: 30,
            end: 42,
            entity_type: EntityType::Drug,
        },
        Span {
            start: 59,
            end: 64,
            entity_type: EntityType::Symptom,
        },
    ];
    let (wins, dropped) = framing.labeled(&tok, TEXTS[0], &spans, &tags).unwrap();
    assert_eq!(dropped, 0);
    let w = Weights::seeded(&cfg.param_specs(), 4);
    let mut net = NerNet::new(&cfg, Device::Cpu);
    net.load(&w).unwrap();
    let mut opt = tch::nn::Adam::default().build(&net.vs, 1e-2).unwrap();
    let l = wins.iter().map(|w| w.ids.len()).max().unwrap();
    let pad = |v: &[i64], with: i64| {
        let mut v = v.to_vec();
        v.resize(l, with);
        v
    };
    let ids: Vec<i64> = wins.iter().flat_map(|w| pad(&w.ids, 0)).collect();
    let mask: Vec<i64> = wins
        .iter()
        .flat_map(|w| pad(&vec![1; w.ids.len()], 0))
        .collect();
    let labels: Vec<i64> = wins
        .iter()
        .flat_map(|w| pad(&w.labels, tagging::IGNORE))
        .collect();
    let shape = [wins.len() as i64, l as i64];
    let (ids, mask, labels) = (
        Tensor::from_slice(&ids).reshape(shape),
        Tensor::from_slice(&mask).reshape(shape),
        Tensor::from_slice(&labels).reshape(shape),
    );
    let loss_of = |net: &NerNet| {
        f64::try_from(token_loss(&net.logits(&ids, &mask, false, 0.0), &labels)).unwrap()
    };
    let before = loss_of(&net);
    for _ in 0..40 {
        let loss = token_loss(&net.logits(&ids, &mask, true, 0.0), &labels);
        opt.backward_step(&loss);
    }
    let after = loss_of(&net);
    assert!(after < before * 0.5, "loss {before} -> {after}");
}
