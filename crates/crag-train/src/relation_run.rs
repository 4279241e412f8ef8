//! `crag-train relation`: ADE Corpus V2 → PMID split → hard/card protocols, plus BC5CDR CID pairs (one- and
//! two-sentence contexts; abstracts held out for validation) and SIDER indication negatives → two-phase training →
//! evaluation → ONNX export (parity checked against tch) → model directory → optional publish.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crag_core::artifacts::{ModelArtifacts, ModelMeta};
use crag_core::bert::{self, BertConfig};
use crag_core::data::ade::{
    self, card_protocol, example_stats, hard_protocol, read_ade_corpus, split_by_pmid, ExampleKind,
    MentionDictionary, RelationExample, Split,
};
use crag_core::data::causality::{
    cid_pairs, cid_stats, flatten_contexts, indication_examples, Bc5cdrSentences, CidPair,
    IndicationLexicon, SearchSentence,
};
use crag_core::data::pubtator::{read_pubtator, BC5CDR_TRAIN};
use crag_core::data::sider;
use crag_core::metrics::best_f1_threshold;
use crag_core::onnx::WeightPrecision;
use crag_core::relation::{self, RelationConfig};
use crag_core::runtime::{self, Device as OrtDevice, SessionOptions};
use crag_core::text::{TextTokenizer, MARKERS};
use crag_core::weights::Weights;
use crag_core::{CragError, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::curves::{plot, Series};
use crate::outputs::{to_json, write_json, write_jsonl};
use crate::relation_train::{self, encode, predict, report, Encoded, RelTrainConfig};

/// The trained float32 weights, written beside the shipped graph so that training can continue from them
/// (`--init-model`) without the int8 round trip; never imported into the database, never committed.
pub const WEIGHTS_F32: &str = "weights_f32.safetensors";

/// Everything `crag-train relation` needs.
pub struct RelationRun {
    /// ADE Corpus V2 folder (DRUG-AE.rel, ADE-NEG.txt).
    pub ade: PathBuf,
    /// BC5CDR folder (CDR_TrainingSet.PubTator.txt): CID pairs for training and validation (`None`: ADE only).
    pub bc5cdr: Option<PathBuf>,
    /// SIDER 4.1 folder (meddra_all_indications.tsv.gz, drug_names.tsv): indication negatives (`None`: none).
    pub sider: Option<PathBuf>,
    /// Context pairs per CID pair (nearest-sentence policy).
    pub cid_contexts: usize,
    /// BC5CDR training abstracts held out (seeded) for validation and the CID threshold.
    pub cid_val_abstracts: usize,
    /// Continue from this relation model directory instead of the pretrained encoder.
    pub init_model: Option<PathBuf>,
    /// Round the int8 graph's weights stochastically (unbiased) instead of to the nearest level.
    pub stochastic_rounding: bool,
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
        "cid_positives": count(ExampleKind::CidRelation),
        "cid_positives_two_sentences": exs.iter().filter(|e| e.kind == ExampleKind::CidRelation && e.effect_context.is_some()).count(),
        "cid_negatives": count(ExampleKind::CidOther),
        "cid_negatives_two_sentences": exs.iter().filter(|e| e.kind == ExampleKind::CidOther && e.effect_context.is_some()).count(),
        "indication_negatives": count(ExampleKind::Indication),
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

    // BC5CDR: CID pairs of the training abstracts, some held out (seeded) for validation and the CID threshold.
    let (cid_train_docs, cid_val_docs) = match &r.bc5cdr {
        None => (Vec::new(), Vec::new()),
        Some(dir) => {
            let mut docs = read_pubtator(&dir.join(BC5CDR_TRAIN))?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            docs.shuffle(&mut rng);
            let n_val = r.cid_val_abstracts.min(docs.len() / 2);
            let train = docs.split_off(n_val);
            (train, docs)
        }
    };
    let cid_train = cid_pairs(&cid_train_docs, r.cid_contexts);
    let cid_val = cid_pairs(&cid_val_docs, r.cid_contexts);
    train_ex.extend(flatten_contexts(&cid_train).0);

    // SIDER indications found in training sentences (ADE-NEG of the training PMIDs, BC5CDR training abstracts).
    let annotated_ade = corpus.annotated_pairs();
    let lexicon = match &r.sider {
        None => None,
        Some(dir) => {
            let inds = sider::read_indications(&dir.join("meddra_all_indications.tsv.gz"))?;
            let f = std::fs::File::open(dir.join("drug_names.tsv")).map_err(|e| {
                CragError::io(format!("opening {}/drug_names.tsv", dir.display()), e)
            })?;
            let names = sider::parse_drug_names(f)?;
            Some(IndicationLexicon::new(&inds, &names))
        }
    };
    let indications = |s: Split,
                       docs: &[crag_core::data::pubtator::PubtatorDoc]|
     -> (Vec<RelationExample>, usize, usize) {
        let Some(lex) = &lexicon else {
            return (Vec::new(), 0, 0);
        };
        let never = |_: (usize, usize), _: (usize, usize)| false;
        let ade_neg = indication_examples(
            lex,
            corpus
                .neg_sentences
                .iter()
                .filter(|n| set(s).contains(&n.pmid))
                .map(|n| SearchSentence {
                    pmid: &n.pmid,
                    sentence: &n.sentence,
                    adverse: &never,
                }),
            &annotated_ade,
        );
        let bc = Bc5cdrSentences::new(docs).indication_examples(lex, &annotated_ade);
        let (a, b) = (ade_neg.len(), bc.len());
        let mut all = ade_neg;
        all.extend(bc);
        (all, a, b)
    };
    let (ind_train, ind_train_ade, ind_train_bc) = indications(Split::Train, &cid_train_docs);
    let (ind_val, ind_val_ade, ind_val_bc) = indications(Split::Val, &cid_val_docs);
    let (ind_test, ind_test_ade, _) = indications(Split::Test, &[]);
    train_ex.extend(ind_train);
    let train_ex = sample(train_ex, r.max_train, seed);
    let cid_json = |pairs: &[CidPair]| serde_json::to_value(cid_stats(pairs)).unwrap_or_default();
    eprintln!(
        "BC5CDR CID (train abstracts, {} held out, seed {seed}): train {}, val {}; SIDER indication pairs {} — found in training sentences: ADE-NEG {ind_train_ade}, BC5CDR {ind_train_bc}; validation: ADE-NEG {ind_val_ade}, BC5CDR {ind_val_bc}; ADE-NEG test {ind_test_ade}",
        cid_val_docs.len(),
        cid_json(&cid_train),
        cid_json(&cid_val),
        lexicon.as_ref().map_or(0, IndicationLexicon::pair_count),
    );
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
    let tok_dir = r.init_model.as_ref().unwrap_or(&r.encoder);
    let tok = TextTokenizer::from_file(tok_dir.join("tokenizer.json"), r.max_len)?;
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
    let init = match &r.init_model {
        None => relation::init_from_pretrained(&cfg, &pretrained, base.vocab_size, &sources, seed)?,
        Some(dir) => {
            let art = ModelArtifacts::read_dir(dir)?;
            if art.meta.kind != "relation" {
                return Err(CragError::invalid(format!(
                    "--init-model {}: a {} model, not a relation model",
                    dir.display(),
                    art.meta.kind
                )));
            }
            let old = RelationConfig::from_json(&art.meta.config)?;
            if (old.encoder.clone(), old.fusion_dim, old.head_hidden)
                != (cfg.encoder.clone(), cfg.fusion_dim, cfg.head_hidden)
            {
                return Err(CragError::invalid(format!(
                    "--init-model {}: its architecture differs from the encoder's ({:?} vs {:?})",
                    dir.display(),
                    old.encoder,
                    cfg.encoder
                )));
            }
            let f32_path = dir.join(WEIGHTS_F32);
            if f32_path.exists() {
                eprintln!("continuing from {} (float32 weights)", f32_path.display());
                let bytes = std::fs::read(&f32_path)
                    .map_err(|e| CragError::io(format!("reading {}", f32_path.display()), e))?;
                let w = Weights::from_safetensors(&bytes)?;
                w.validate(&cfg.param_specs())?;
                w
            } else {
                eprintln!(
                    "continuing from {} (sha256 {}…): int8 weights come back dequantized — an int8 export of \
                     the result may erase updates smaller than half a quantisation step (see update_retained)",
                    dir.display(),
                    &art.sha256()[..12]
                );
                crag_core::onnx::weights_from_onnx(&art.onnx, &cfg.param_specs())?
            }
        }
    };
    let pad = tok.pad_id();

    let enc = |exs: &[RelationExample]| encode(&tok, exs);
    let (train_enc, tr_trunc) = enc(&train_ex)?;
    let (vh, _) = enc(&val_hard)?;
    let (vc, _) = enc(&val_card)?;
    let (th, th_trunc) = enc(&test_hard)?;
    let (tcard, tc_trunc) = enc(&test_card)?;
    let (cid_val_ex, cid_val_of) = flatten_contexts(&cid_val);
    let (vcid, _) = enc(&cid_val_ex)?;
    let cid_val_labels: Vec<bool> = cid_val.iter().map(|p| p.label).collect();
    let (vind, _) = enc(&ind_val)?;
    let (tind, _) = enc(&ind_test)?;
    eprintln!(
        "tokenized (max_len {}): truncated contexts train {tr_trunc}, test hard {th_trunc}, test card {tc_trunc}",
        r.max_len
    );

    let mut annotated = corpus.annotated_pairs();
    annotated.extend(
        train_ex
            .iter()
            .filter(|e| e.kind == ExampleKind::CidRelation)
            .map(|e| (ade::fold(&e.drug), ade::fold(&e.effect))),
    );
    let val = relation_train::Validation {
        hard: &vh,
        card: &vc,
        cid: &vcid,
        cid_pair: &cid_val_of,
        cid_labels: &cid_val_labels,
        indications: &vind,
    };
    let trained = relation_train::train(
        &cfg, &init, &train_enc, &val, &annotated, &r.train, pad, r.device, r.progress,
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
    let shared = trained.shared_threshold;
    let test_hard_shared = report(&p_th, &lab(&th), shared);
    let p_tind = predict(net, &tind, eb, pad, r.device);
    let ind_share = relation_train::share_at(&p_tind, shared);
    eprintln!(
        "thresholds: hard {thr_hard:.3}, CID {}, shared (shipped) {shared:.3}; test hard F1 at the shared threshold {:.4}; ADE-NEG test indication pairs >= shared: {} of {}",
        trained.cid_threshold.map_or("-".into(), |t| format!("{t:.3}")),
        test_hard_shared.at_threshold.f1,
        p_tind.iter().filter(|&&p| p >= shared).count(),
        p_tind.len()
    );
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
        threshold: shared,
        ..cfg.clone()
    };
    let ship_cfg = RelationConfig {
        threshold: shared,
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
    let names = cfg.int8_matrix_names();
    let w_ship = if r.stochastic_rounding && ship_cfg.precision != WeightPrecision::F32 {
        w.int8_stochastic_round_trip(&names, seed)?
    } else {
        w.clone()
    };
    let onnx = relation::export_onnx(&ship_cfg, &w_ship)?;
    let shipped = if ship_cfg.precision == WeightPrecision::F32 {
        None
    } else {
        let retained =
            Weights::update_retained(&init, &w, &w_ship.int8_round_trip(&names)?, &names)?;
        eprintln!(
            "int8 export keeps {:.1} % of the training update of the encoder matrices",
            100.0 * retained
        );
        if retained < 0.5 {
            eprintln!(
                "WARNING: the int8 graph keeps only {:.1} % of what training changed in the encoders; its scores \
                 will differ from the float32 model's (continue from {WEIGHTS_F32}, or train from the pretrained \
                 encoder, instead of from an int8 graph)",
                100.0 * retained
            );
        }
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
            "encoder_update_retained": retained,
            "rounding": if r.stochastic_rounding { "stochastic (seeded)" } else { "nearest" },
        }))
    };

    let metrics = json!({
        "dataset": "ADE Corpus V2 (DRUG-AE.rel + ADE-NEG.txt), BC5CDR training abstracts (CID), SIDER 4.1 indications",
        "split": {
            "by": "pmid",
            "seed": seed,
            "fractions": [r.fractions.0, r.fractions.1, r.fractions.2],
            "pmids": [set(Split::Train).len(), set(Split::Val).len(), set(Split::Test).len()],
        },
        "train_examples": kinds(&train_ex),
        "hard_negatives": r.hard_negatives,
        "focal_gamma": r.train.focal_gamma,
        "threshold_source": "per protocol: best F1 on its validation split; shipped (config.threshold): best F1 on the hard-protocol validation pairs and the CID validation pairs pooled",
        "thresholds": {
            "ade_hard": thr_hard,
            "ade_card": thr_card,
            "cid": trained.cid_threshold,
            "shared": shared,
        },
        "bc5cdr": r.bc5cdr.as_ref().map(|d| json!({
            "dir": d.display().to_string(),
            "context_policy": "nearest sentences: the (chemical sentence, disease sentence) combinations fewest sentences apart, in text order",
            "contexts_per_pair": r.cid_contexts,
            "val_abstracts": cid_val_docs.iter().map(|d| d.pmid.clone()).collect::<Vec<_>>(),
            "train": cid_json(&cid_train),
            "val": cid_json(&cid_val),
        })),
        "sider_indications": lexicon.as_ref().map(|l| json!({
            "pairs_listed": l.pair_count(),
            "matching": "SIDER drug names and indication terms (MedDRA PT and label concept name), case-insensitive whole words, both in one sentence; pairs annotated as adverse there (BC5CDR CID, ADE Corpus V2 relations) skipped",
            "train": {"ade_neg": ind_train_ade, "bc5cdr": ind_train_bc},
            "val": {"ade_neg": ind_val_ade, "bc5cdr": ind_val_bc},
            "test_ade_neg": ind_test_ade,
            "test_ade_neg_share_at_shared_threshold": ind_share,
        })),
        "test_hard_at_shared_threshold": to_json(&test_hard_shared),
        "init_model": r.init_model.as_ref().map(|p| p.display().to_string()),
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
        "crag-train relation (ADE Corpus V2 + BC5CDR CID + SIDER indications)",
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
                    series("CID F1 (held-out abstracts)", &|h| h.val_cid_f1),
                    series("indications >= thr", &|h| h.val_indication_share),
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
    std::fs::write(r.out.join(WEIGHTS_F32), w.to_safetensors()?)
        .map_err(|e| CragError::io(format!("writing {}", r.out.join(WEIGHTS_F32).display()), e))?;
    eprintln!(
        "wrote {} (and {WEIGHTS_F32}, never imported)",
        r.out.display()
    );
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
