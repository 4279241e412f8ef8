//! The exported NER graph, run by ONNX Runtime, equals the ndarray reference: float32 logits within 1e-5 on a tiny
//! seeded config (with padding), int8 equal to the reference on the int8 round-tripped weights; on the real
//! all-MiniLM-L6-v2 weights with the real tokenizer, within 1e-4; and the full extraction path (windows, merge,
//! decode) gives the same mentions through ONNX Runtime as through the reference.
//!
//! Needs the ONNX Runtime library (`ORT_DYLIB_PATH` or `/usr/local/lib/crag`) and the MiniLM checkpoint in
//! `$CRAG_MINILM_DIR` (default `/opt/crag/minilm`, installed by `scripts/setup-minilm.sh`).

use std::path::PathBuf;

use crag_core::bert::{self, BertConfig};
use crag_core::ner::model::{self, NerConfig};
use crag_core::ner::tagging;
use crag_core::onnx::WeightPrecision;
use crag_core::runtime::{self, Device, SessionOptions};
use crag_core::text::TextTokenizer;
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

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn minilm_dir() -> PathBuf {
    PathBuf::from(std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into()))
}

#[test]
fn tiny_ner_matches_reference_in_f32_and_int8() {
    let cfg = NerConfig::new(
        BertConfig {
            vocab_size: 40,
            hidden_size: 16,
            num_layers: 2,
            num_heads: 2,
            intermediate_size: 32,
            max_position: 24,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        },
        16,
    );
    let w = Weights::seeded(&cfg.param_specs(), 11);
    let ids = [1, 5, 7, 2, 0, 0, 1, 30, 31, 32, 33, 2];
    let mask = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
    let want = model::reference_forward(&cfg, &w, &ids, &mask, 2, 6).unwrap();
    let mut s = session(&model::export_onnx(&cfg, &w).unwrap());
    let got = runtime::run_ner(&mut s, &ids, &mask, 2, 6).unwrap();
    assert_eq!(got.shape(), &[2, 6, 11]);
    let diff = max_diff(got.as_slice().unwrap(), want.as_slice().unwrap());
    println!("tiny NER f32: max |ORT - reference| = {diff:e}");
    assert!(diff <= 1e-5, "f32 graph differs by {diff}");

    let int8 = NerConfig {
        precision: WeightPrecision::Int8,
        ..cfg.clone()
    };
    let wq = w.int8_round_trip(&int8.int8_matrix_names()).unwrap();
    let want_q = model::reference_forward(&int8, &wq, &ids, &mask, 2, 6).unwrap();
    let mut sq = session(&model::export_onnx(&int8, &w).unwrap());
    let got_q = runtime::run_ner(&mut sq, &ids, &mask, 2, 6).unwrap();
    let diff_q = max_diff(got_q.as_slice().unwrap(), want_q.as_slice().unwrap());
    println!("tiny NER int8: max |ORT - reference(int8 weights)| = {diff_q:e}");
    assert!(diff_q <= 1e-5, "int8 graph differs by {diff_q}");
    assert!(runtime::run_ner(&mut s, &ids, &mask, 2, 5).is_err());
}

#[test]
fn minilm_ner_matches_reference_and_extraction_agrees() {
    let dir = minilm_dir();
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 missing in {}: run scripts/setup-minilm.sh",
        dir.display()
    );
    let (base, pre) = bert::load_hf_dir(&dir, "").unwrap();
    let tok = TextTokenizer::from_file_plain(dir.join("tokenizer.json"), 32).unwrap();
    assert_eq!(tok.vocab_size(), base.vocab_size);
    let cfg = NerConfig::new(base, 32);
    let w = model::init_from_pretrained(&cfg, &pre, 42).unwrap();
    let mut s = session(&model::export_onnx(&cfg, &w).unwrap());
    let texts = [
        "Ototoxicity after intravenous azithromycin.",
        "A 54-year-old woman developed severe hyponatremia while taking carbamazepine for trigeminal neuralgia; \
         sodium returned to normal after the drug was stopped and she was given fluids for three days.",
        "Fièvre 🤒 après β-bloquant.",
    ];
    // Raw logits on the framed windows.
    let framing = tagging::Framing::new(&tok, &cfg).unwrap();
    let wd = framing.window(&tok, texts[1]).unwrap();
    assert!(
        wd.windows.len() >= 2,
        "the long sentence needs several windows"
    );
    let row = framing.ids(&wd.pieces, &wd.windows[0]);
    let mask = vec![1i64; row.len()];
    let want = model::reference_forward(&cfg, &w, &row, &mask, 1, row.len()).unwrap();
    let got = runtime::run_ner(&mut s, &row, &mask, 1, row.len()).unwrap();
    let diff = max_diff(got.as_slice().unwrap(), want.as_slice().unwrap());
    println!("MiniLM NER f32: max |ORT - reference| = {diff:e}");
    assert!(diff <= 1e-4, "MiniLM NER differs by {diff}");
    // Whole extraction path, ORT vs reference.
    let by_ort = runtime::extract_entities(
        &mut s,
        &tok,
        &cfg,
        &crag_core::ner::refine::Refiner::new(&cfg.refine).unwrap(),
        &texts,
        2,
        || Ok(()),
    )
    .unwrap();
    let by_ref = tagging::extract(&tok, &cfg, &texts, 2, |ids, m, b, l| {
        model::reference_forward(&cfg, &w, ids, m, b, l)
    })
    .unwrap();
    assert_eq!(by_ort.len(), 3);
    for (a, b) in by_ort.iter().zip(&by_ref) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (x.start, x.end, x.entity_type),
                (y.start, y.end, y.entity_type)
            );
            assert!((x.score - y.score).abs() < 1e-4);
        }
    }
}

#[test]
fn extractor_relation_head_matches_reference_and_reads_back() {
    use crag_core::ner::model::RelationHead;
    let cfg = NerConfig {
        relations: Some(RelationHead::new(8)),
        ..NerConfig::new(
            BertConfig {
                vocab_size: 40,
                hidden_size: 16,
                num_layers: 2,
                num_heads: 2,
                intermediate_size: 32,
                max_position: 24,
                type_vocab_size: 2,
                layer_norm_eps: 1e-12,
            },
            16,
        )
    };
    let w = Weights::seeded(&cfg.param_specs(), 12);
    let ids = [1, 5, 7, 2, 0, 0, 1, 30, 31, 32, 33, 2];
    let mask = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
    let pairs = [[1, 2], [4, 1]];
    let want = model::reference_relation_logits(&cfg, &w, &ids, &mask, &pairs, 6).unwrap();
    assert_eq!(want.shape(), &[2, 6]);
    let f32_graph = model::export_onnx(&cfg, &w).unwrap();
    let mut s = session(&f32_graph);
    let got = runtime::run_relation_head(&mut s, &ids, &mask, &pairs, 2, 6).unwrap();
    let diff = max_diff(got.as_slice().unwrap(), want.as_slice().unwrap());
    println!("tiny relation head f32: max |ORT - reference| = {diff:e}");
    assert!(diff <= 1e-5, "relation head differs by {diff}");
    // The token logits are unchanged by the extra head, and entity-only calls still work.
    let ner_want = model::reference_forward(&cfg, &w, &ids, &mask, 2, 6).unwrap();
    let ner_got = runtime::run_ner(&mut s, &ids, &mask, 2, 6).unwrap();
    assert!(max_diff(ner_got.as_slice().unwrap(), ner_want.as_slice().unwrap()) <= 1e-5);
    // Different pairs give different logits (the index is used).
    let other = runtime::run_relation_head(&mut s, &ids, &mask, &[[2, 1], [1, 4]], 2, 6).unwrap();
    assert!(max_diff(other.as_slice().unwrap(), got.as_slice().unwrap()) > 1e-4);

    // int8 graph = reference on int8 round-tripped weights.
    let int8 = NerConfig {
        precision: WeightPrecision::Int8,
        ..cfg.clone()
    };
    let wq = w.int8_round_trip(&int8.int8_matrix_names()).unwrap();
    let int8_graph = model::export_onnx(&int8, &w).unwrap();
    let mut sq = session(&int8_graph);
    let got_q = runtime::run_relation_head(&mut sq, &ids, &mask, &pairs, 2, 6).unwrap();
    let want_q = model::reference_relation_logits(&int8, &wq, &ids, &mask, &pairs, 6).unwrap();
    assert!(max_diff(got_q.as_slice().unwrap(), want_q.as_slice().unwrap()) <= 1e-5);

    // Weights read back from the graphs: exact from float32, the int8 round trip from int8.
    let specs = cfg.param_specs();
    let back = crag_core::onnx::weights_from_onnx(&f32_graph, &specs).unwrap();
    let back_q = crag_core::onnx::weights_from_onnx(&int8_graph, &specs).unwrap();
    for spec in &specs {
        if spec.name.ends_with("token_type_embeddings.weight") {
            // Exported as row 0 only (segment 0 is the only one used).
            let h = spec.shape[1];
            assert_eq!(
                &back.get(&spec.name, &spec.shape).unwrap()[..h],
                &w.get(&spec.name, &spec.shape).unwrap()[..h]
            );
            continue;
        }
        assert_eq!(
            back.get(&spec.name, &spec.shape).unwrap(),
            w.get(&spec.name, &spec.shape).unwrap(),
            "{}",
            spec.name
        );
        assert_eq!(
            back_q.get(&spec.name, &spec.shape).unwrap(),
            wq.get(&spec.name, &spec.shape).unwrap(),
            "{}",
            spec.name
        );
    }
    let entity_only = NerConfig::new(cfg.encoder.clone(), 16);
    let plain = model::export_onnx(
        &entity_only,
        &Weights::seeded(&entity_only.param_specs(), 1),
    )
    .unwrap();
    assert!(crag_core::onnx::weights_from_onnx(&plain, &specs).is_err());
    assert!(runtime::run_relation_head(&mut session(&plain), &ids, &mask, &pairs, 2, 6).is_err());
}
