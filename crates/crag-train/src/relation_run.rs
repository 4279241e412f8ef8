//! `crag-train relation`: ADE Corpus V2 → PMID split → hard/card protocols → two-phase training → evaluation →
//! ONNX export (parity checked against tch) → model directory → optional publish.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crag_core::artifacts::{ModelArtifacts, ModelMeta};
use crag_core::bert::{self, BertConfig};
use crag_core::data::ade::{
    self, card_protocol, example_stats, hard_protocol, read_ade_corpus, split_by_pmid, ExampleKind,
    MentionDictionary, RelationExample, Split,
};
use crag_core::metrics::best_f1_threshold;
use crag_core::onnx::WeightPrecision;
use crag_core::relation::{self, RelationConfig};
use crag_core::runtime::{self, Device as OrtDevice, SessionOptions};
use crag_core::text::{TextTokenizer, MARKERS};
use crag_core::{CragError, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::curves::{plot, Series};
use crate::outputs::{to_json, write_json, write_jsonl};
use crate::relation_train::{self, encode, predict, report, Encoded, RelTrainConfig};

/// Everything `crag-train relation` needs.
pub struct RelationRun {
    /// ADE Corpus V2 folder (DRUG-AE.rel, ADE-NEG.txt).
    pub ade: PathBuf,
    /// Pretrained encoder folder (config.json, model.safetensors, tokenizer.json).
    pub encoder: PathBuf,
    /// Output model directory.
    pub out: PathBuf,
    /// Registry name.
    pub name: String,
    /// Publish into this database.
    pub database_url: Option<String>,
    /// Activate the published version.
    pub activate: bool,
    /// Train phase 2 on hard negatives (same-sentence and ADE-NEG) as well as mismatched ones.
    pub hard_negatives: bool,
    /// Token budget per context.
    pub max_len: usize,
    /// Keep a seeded sample of this many training examples (CPU runs).
    pub max_train: Option<usize>,
    /// Keep a seeded sample of this many validation examples per protocol (faster epochs).
    pub max_val: Option<usize>,
    /// Keep a seeded sample of this many test examples per protocol (smoke tests only; recorded in metrics.json).
    pub max_test: Option<usize>,
    /// Split fractions train/val/test (by PMID).
    pub fractions: (f64, f64, f64),
    /// Precision of the shipped graph.
    pub precision: WeightPrecision,
    /// Training settings.
    pub train: RelTrainConfig,
    /// tch device.
    pub device: tch::Device,
    /// ONNX Runtime library for the parity check.
    pub ort_lib: String,
    /// Show progress bars.
    pub progress: bool,
    /// The command line, recorded in metrics.json.
    pub command: String,
}

fn sample(mut v: Vec<RelationExample>, n: Option<usize>, seed: u64) -> Vec<RelationExample> {
    if let Some(n) = n {
        if n < v.len() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            v.shuffle(&mut rng);
            v.truncate(n);
        }
    }
    v
}

fn kinds(exs: &[RelationExample]) -> serde_json::Value {
    let count = |k: ExampleKind| exs.iter().filter(|e| e.kind == k).count();
    json!({
        "examples": exs.len(),
        "positives": count(ExampleKind::Annotated),
        "sentence_combination_negatives": count(ExampleKind::SentenceCombination),
        "ade_neg_dictionary_negatives": count(ExampleKind::NegSentenceDictionary),
        "mismatched_negatives": count(ExampleKind::Mismatched),
    })
}

/// Run the whole pipeline; returns the published version, if any.
pub fn run(r: &RelationRun) -> Result<Option<i32>> {
    let seed = r.train.seed;
    let corpus = read_ade_corpus(&r.ade)?;
    let pmids = corpus.pmids();
    let split = split_by_pmid(&pmids, seed, r.fractions)?;
    split.check_disjoint()?;
    let dict = MentionDictionary::from_corpus(&corpus, Some(&split.train));
    let set = |s: Split| -> &BTreeSet<String> { split.pmids(s) };
    let card_negs = |s: Split| -> Vec<RelationExample> {
        card_protocol(&corpus, Some(set(s)), seed)
            .into_iter()
            .filter(|e| !e.label)
            .collect()
    };
    let mut train_ex = if r.hard_negatives {
        hard_protocol(&corpus, Some(set(Split::Train)), &dict)
    } else {
        ade::positives(&corpus, Some(set(Split::Train)))
    };
    train_ex.extend(card_negs(Split::Train));
    let train_ex = sample(train_ex, r.max_train, seed);
    let val_hard = sample(
        hard_protocol(&corpus, Some(set(Split::Val)), &dict),
        r.max_val,
        seed,
    );
    let val_card = sample(
        card_protocol(&corpus, Some(set(Split::Val)), seed),
        r.max_val,
        seed,
    );
    let test_hard = sample(
        hard_protocol(&corpus, Some(set(Split::Test)), &dict),
        r.max_test,
        seed,
    );
    let test_card = sample(
        card_protocol(&corpus, Some(set(Split::Test)), seed),
        r.max_test,
        seed,
    );
    eprintln!(
        "ADE Corpus V2: {} PMIDs split {}/{}/{} (seed {seed}); train {} examples ({}), val hard {} / card {}, \
         test hard {} / card {}",
        pmids.len(),
        set(Split::Train).len(),
        set(Split::Val).len(),
        set(Split::Test).len(),
        train_ex.len(),
        kinds(&train_ex),
        val_hard.len(),
        val_card.len(),
        test_hard.len(),
        test_card.len()
    );

    // Encoder, tokenizer with markers, initial weights.
    let tok = TextTokenizer::from_file(r.encoder.join("tokenizer.json"), r.max_len)?;
    let (base, pretrained) = bert::load_hf_dir(&r.encoder, "")?;
    let cfg = RelationConfig {
        precision: r.precision,
        ..RelationConfig::new(
            BertConfig {
                vocab_size: tok.vocab_size(),
                ..base.clone()
            },
            r.max_len,
        )
    };
    let sources = ["drug", "drug", "reaction", "reaction"]
        .iter()
        .map(|w| {
            tok.token_id(w)
                .ok_or_else(|| CragError::CorruptModel(format!("encoder vocabulary lacks \"{w}\"")))
        })
        .collect::<Result<Vec<u32>>>()?;
    debug_assert_eq!(sources.len(), MARKERS.len());
    let init = relation::init_from_pretrained(&cfg, &pretrained, base.vocab_size, &sources, seed)?;
    let pad = tok.pad_id();

    let enc = |exs: &[RelationExample]| encode(&tok, exs);
    let (train_enc, tr_trunc) = enc(&train_ex)?;
    let (vh, _) = enc(&val_hard)?;
    let (vc, _) = enc(&val_card)?;
    let (th, th_trunc) = enc(&test_hard)?;
    let (tcard, tc_trunc) = enc(&test_card)?;
    eprintln!(
        "tokenized (max_len {}): truncated contexts train {tr_trunc}, test hard {th_trunc}, test card {tc_trunc}",
        r.max_len
    );

    let annotated = corpus.annotated_pairs();
    let trained = relation_train::train(
        &cfg, &init, &train_enc, &vh, &vc, &annotated, &r.train, pad, r.device, r.progress,
    )?;
    let net = &trained.net;
    let eb = r.train.eval_batch;
    let lab = |v: &[Encoded]| v.iter().map(|e| e.label).collect::<Vec<bool>>();
    let p_vc = predict(net, &vc, eb, pad, r.device);
    let thr_hard = trained.threshold;
    let (thr_card, _) = best_f1_threshold(&p_vc, &lab(&vc));
    let p_th = predict(net, &th, eb, pad, r.device);
    let p_tc = predict(net, &tcard, eb, pad, r.device);
    let test_hard_r = report(&p_th, &lab(&th), thr_hard);
    let test_card_r = report(&p_tc, &lab(&tcard), thr_card);
    eprintln!(
        "test hard: P {:.4} R {:.4} F1 {:.4} ROC-AUC {:.4} PR-AUC {:.4} | test card: P {:.4} R {:.4} F1 {:.4} ROC-AUC {:.4} PR-AUC {:.4}",
        test_hard_r.at_threshold.precision,
        test_hard_r.at_threshold.recall,
        test_hard_r.at_threshold.f1,
        test_hard_r.roc_auc,
        test_hard_r.pr_auc,
        test_card_r.at_threshold.precision,
        test_card_r.at_threshold.recall,
        test_card_r.at_threshold.f1,
        test_card_r.roc_auc,
        test_card_r.pr_auc
    );

    // Export: float32 graph for the parity check, then the shipped precision, scored by ONNX Runtime.
    let w = net.weights()?;
    let f32_cfg = RelationConfig {
        precision: WeightPrecision::F32,
        threshold: thr_hard,
        ..cfg.clone()
    };
    let ship_cfg = RelationConfig {
        threshold: thr_hard,
        ..cfg.clone()
    };
    let env = runtime::init(&r.ort_lib)?;
    let opts = SessionOptions {
        threads: 2,
        device: OrtDevice::Cpu,
        dequantize_once: false,
    };
    let ort_scores = |onnx: &[u8], exs: &[Encoded]| -> Result<Vec<f64>> {
        let mut s = runtime::load_session(env, onnx, &opts)?.session;
        let mut out = Vec::with_capacity(exs.len());
        for chunk in exs.chunks(eb) {
            let batch = |f: &dyn Fn(&Encoded) -> &Vec<i64>| {
                let rows: Vec<&[i64]> = chunk.iter().map(|e| f(e).as_slice()).collect();
                crag_core::text::Batch::from_rows(&rows, pad as i64)
            };
            let p = runtime::run_relation(&mut s, &batch(&|e| &e.drug), &batch(&|e| &e.adr))?;
            out.extend(p.into_iter().map(f64::from));
        }
        Ok(out)
    };
    let onnx_f32 = relation::export_onnx(&f32_cfg, &w)?;
    let n_par = th.len().min(128);
    let p_ort = ort_scores(&onnx_f32, &th[..n_par])?;
    let parity = p_ort
        .iter()
        .zip(&p_th[..n_par])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "parity tch vs ONNX Runtime (float32) on {n_par} test pairs: max |Δp| = {parity:.2e}"
    );
    if parity > 1e-4 {
        return Err(CragError::Runtime(format!(
            "exported graph disagrees with the trained model by {parity:.2e} (> 1e-4)"
        )));
    }
    let onnx = relation::export_onnx(&ship_cfg, &w)?;
    let shipped = if ship_cfg.precision == WeightPrecision::F32 {
        None
    } else {
        let q_th = ort_scores(&onnx, &th)?;
        let q_tc = ort_scores(&onnx, &tcard)?;
        let rh = report(&q_th, &lab(&th), thr_hard);
        let rc = report(&q_tc, &lab(&tcard), thr_card);
        eprintln!(
            "int8 graph ({:.1} MB vs {:.1} MB float32): test hard F1 {:.4} AUC {:.4} | card F1 {:.4} AUC {:.4}",
            onnx.len() as f64 / 1e6,
            onnx_f32.len() as f64 / 1e6,
            rh.at_threshold.f1,
            rh.roc_auc,
            rc.at_threshold.f1,
            rc.roc_auc
        );
        Some(json!({
            "precision": ship_cfg.precision,
            "onnx_bytes": onnx.len(),
            "float32_onnx_bytes": onnx_f32.len(),
            "test_hard": to_json(&rh),
            "test_card": to_json(&rc),
            "delta_f1_hard": rh.at_threshold.f1 - test_hard_r.at_threshold.f1,
            "delta_f1_card": rc.at_threshold.f1 - test_card_r.at_threshold.f1,
            "delta_auc_hard": rh.roc_auc - test_hard_r.roc_auc,
        }))
    };

    let metrics = json!({
        "dataset": "ADE Corpus V2 (DRUG-AE.rel + ADE-NEG.txt)",
        "split": {
            "by": "pmid",
            "seed": seed,
            "fractions": [r.fractions.0, r.fractions.1, r.fractions.2],
            "pmids": [set(Split::Train).len(), set(Split::Val).len(), set(Split::Test).len()],
        },
        "train_examples": kinds(&train_ex),
        "hard_negatives": r.hard_negatives,
        "focal_gamma": r.train.focal_gamma,
        "threshold_source": "best F1 on the validation split of the same protocol",
        "val_hard": example_stats(&val_hard),
        "test_hard_examples": kinds(&test_hard),
        "test_card_examples": kinds(&test_card),
        "test": { "hard": to_json(&test_hard_r), "card": to_json(&test_card_r) },
        "onnx": {
            "parity_float32_max_abs": parity,
            "parity_pairs": n_par,
            "shipped": shipped,
        },
        "train_config": to_json(&r.train),
        "train_seconds": trained.seconds,
        "encoder": r.encoder.display().to_string(),
        "max_len": r.max_len,
        "max_train": r.max_train,
        "max_val": r.max_val,
        "max_test": r.max_test,
        "truncated_contexts": { "train": tr_trunc, "test_hard": th_trunc, "test_card": tc_trunc },
        "command": r.command,
    });

    std::fs::create_dir_all(&r.out)
        .map_err(|e| CragError::io(format!("creating {}", r.out.display()), e))?;
    write_json(&r.out.join("metrics.json"), &metrics)?;
    write_jsonl(&r.out.join("history.jsonl"), &trained.history)?;
    write_predictions(
        &r.out.join("predictions_test.tsv"),
        &[("hard", &test_hard, &p_th), ("card", &test_card, &p_tc)],
    )?;
    let classify: Vec<&relation_train::EpochLog> = trained
        .history
        .iter()
        .filter(|h| h.phase == "classify")
        .collect();
    let series = |name: &str, f: &dyn Fn(&relation_train::EpochLog) -> Option<f64>| Series {
        name: name.to_string(),
        values: classify.iter().map(|h| f(h).unwrap_or(f64::NAN)).collect(),
    };
    plot(
        &r.out.join("curves.png"),
        "crag-train relation (ADE Corpus V2)",
        &[
            (
                "training loss (classify phase)",
                vec![series("BCE/focal", &|h| Some(h.train_loss))],
            ),
            (
                "validation",
                vec![
                    series("hard F1", &|h| h.val_hard_f1),
                    series("hard ROC-AUC", &|h| h.val_hard_auc),
                    series("card F1", &|h| h.val_card_f1),
                ],
            ),
        ],
    )?;
    let art = ModelArtifacts {
        meta: ModelMeta {
            name: r.name.clone(),
            kind: "relation".into(),
            config: ship_cfg.to_json(),
            metrics,
        },
        onnx,
        tokenizer: Some(tok.to_json_bytes()?),
        adr_terms: vec![],
        prototypes: None,
    };
    art.write_dir(&r.out)?;
    eprintln!("wrote {}", r.out.display());
    match &r.database_url {
        Some(url) => {
            let v = crate::publish::publish(url, &art, r.activate)?;
            eprintln!("published {} version {v}", r.name);
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn write_predictions(path: &Path, sets: &[(&str, &Vec<RelationExample>, &Vec<f64>)]) -> Result<()> {
    let mut f = std::fs::File::create(path)
        .map_err(|e| CragError::io(format!("creating {}", path.display()), e))?;
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    writeln!(
        f,
        "protocol\tpmid\tkind\tdrug\teffect\tlabel\tp_causal\tdrug_context\tadr_context"
    )
    .map_err(|e| CragError::io("writing predictions", e))?;
    for (name, exs, p) in sets {
        for (e, p) in exs.iter().zip(p.iter()) {
            let (dc, ac) = relation_train::contexts(e)?;
            writeln!(
                f,
                "{name}\t{}\t{:?}\t{}\t{}\t{}\t{p:.9}\t{}\t{}",
                e.pmid,
                e.kind,
                clean(&e.drug),
                clean(&e.effect),
                u8::from(e.label),
                clean(&dc),
                clean(&ac)
            )
            .map_err(|e| CragError::io("writing predictions", e))?;
        }
    }
    Ok(())
}
