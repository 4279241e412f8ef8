//! `crag-train ner`: BC5CDR (+ synthetic notes, + ADE Corpus V2 spans) → labelled windows → token-classification
//! fine-tuning of the encoder → per-epoch entity-level evaluation on the **BC5CDR development split** (early stopping
//! on its exact micro F1) → ONNX export (parity checked against tch) → model directory → optional publish.
//!
//! Examples are windows exactly as served: each document's word pieces are cut into overlapping windows of
//! `max_len` tokens (`crag_core::ner::tagging`), so training, evaluation and `crag_extract_entities` see the same
//! inputs. Evaluation runs the full serving path (windows, merge, decode to char spans) and scores entities with
//! `crag_core::ner::evaluate` (exact span and type, one-to-one).
//!
//! Data decisions: BC5CDR `Chemical` → Drug, `Disease` → Disease. ADE Corpus V2 drugs → Drug and adverse effects →
//! Disease (the effects are mostly diseases and disorders in the BC5CDR sense, e.g. "hepatotoxicity", "rash"; its
//! unannotated drugs are unlabelled, so ADE adds some false "O"s); ADE sentences of PMIDs in the BC5CDR dev split are
//! left out. Synthetic notes (`crag_core::ner::synth`) are the only source of Symptom, Procedure and Lab_Test.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crag_core::artifacts::{ModelArtifacts, ModelMeta};
use crag_core::bert;
use crag_core::data::ade::{read_ade_corpus, split_by_pmid, AdeSentence, MentionDictionary};
use crag_core::data::pubtator::{read_pubtator, PubtatorDoc, BC5CDR_DEV, BC5CDR_TRAIN};
use crag_core::ner::model::{self, NerConfig, RelationHead};
use crag_core::ner::schema::{Document, EntityType};
use crag_core::ner::synth::{self, GeneratorConfig};
use crag_core::ner::tagging::{self, Framing, LabeledWindow, Span, TagSet, IGNORE};
use crag_core::ner::{evaluate, EvalReport, MatchMode};
use crag_core::onnx::WeightPrecision;
use crag_core::runtime::{self, Device as OrtDevice, SessionOptions};
use crag_core::text::TextTokenizer;
use crag_core::weights::Weights;
use crag_core::{CragError, Result};
use ndarray::Array3;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use crate::curves::{plot, Series};
use crate::ner_model::{partial_label_loss, token_loss, NerNet};
use crate::outputs::{to_json, write_json, write_jsonl};
use crate::progress::{bar, linear_lr, log_line};
use crate::re_data::{
    ade_examples, ade_negative_examples, bc5cdr_examples, synthetic_examples, PairExample,
    SourceCounts,
};
use crate::re_eval::{cid_eval, tune_cid_threshold, TchExtractor};

/// Train/validation/test fractions of the ADE Corpus V2 PMID split (the same as `crag-train relation`).
pub const ADE_FRACTIONS: (f64, f64, f64) = (0.8, 0.1, 0.1);

/// Training settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NerTrainConfig {
    /// Seed for sampling, shuffling, dropout and head initialisation.
    pub seed: u64,
    /// Maximum epochs.
    pub epochs: usize,
    /// Early-stopping patience in epochs without a dev-F1 gain.
    pub patience: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Encoder learning rate (AdamW).
    pub lr: f64,
    /// Classifier learning rate (trained from scratch).
    pub head_lr: f64,
    /// Fraction of the steps spent warming up linearly (then linear decay to 0).
    pub warmup_frac: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Dropout in the encoder and on the token states.
    pub dropout: f64,
    /// Windows per forward pass when evaluating.
    pub eval_batch: usize,
    /// Relation rows per step, trained beside each entity batch (relation head only).
    pub re_batch: usize,
    /// Weight of the relation loss in the sum with the token loss.
    pub re_weight: f64,
}

impl Default for NerTrainConfig {
    fn default() -> Self {
        NerTrainConfig {
            seed: 42,
            epochs: 3,
            patience: 1,
            batch_size: 16,
            lr: 5e-5,
            head_lr: 1e-3,
            warmup_frac: 0.1,
            weight_decay: 0.01,
            dropout: 0.1,
            eval_batch: 32,
            re_batch: 16,
            re_weight: 0.5,
        }
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Dev exact micro precision.
    pub dev_precision: f64,
    /// Dev exact micro recall.
    pub dev_recall: f64,
    /// Dev exact micro F1.
    pub dev_f1: f64,
    /// Mean relation loss (relation head only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_loss: Option<f64>,
    /// BC5CDR dev CID F1 with gold entities (relation head only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_cid_f1: Option<f64>,
    /// Seconds (training + evaluation).
    pub seconds: f64,
}

/// Everything `crag-train ner` needs.
pub struct NerRun {
    /// BC5CDR folder (PubTator train and development files).
    pub bc5cdr: PathBuf,
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
    /// Window length in tokens.
    pub max_len: usize,
    /// Overlap of consecutive windows (default: a quarter of a window).
    pub stride: Option<usize>,
    /// Keep a seeded sample of this many training windows.
    pub max_train: Option<usize>,
    /// Evaluate each epoch on the first N dev documents (the final evaluation always uses all of them).
    pub max_dev: Option<usize>,
    /// Synthetic notes added to the training data.
    pub synthetic: usize,
    /// ADE Corpus V2 folder whose spans are added to the entity training data.
    pub ade: Option<PathBuf>,
    /// ADE Corpus V2 folder whose drug–effect pairs train the relation head.
    pub ade_dir: PathBuf,
    /// Train a relation head beside the tagger (BC5CDR CID, ADE pairs, synthetic relations).
    pub relations: bool,
    /// Start from this model directory's weights (`model.onnx` of an earlier `crag-train ner` run) instead of
    /// the pretrained encoder.
    pub init_model: Option<PathBuf>,
    /// Keep a seeded sample of this many ADE relation rows.
    pub max_ade_rows: Option<usize>,
    /// ADE-NEG sentences (training PMIDs, seeded sample) whose dictionary pairs are "not adverse_effect" rows.
    pub ade_negatives: Option<usize>,
    /// BC5CDR training abstracts held out of the relation rows to choose the relation threshold.
    pub threshold_docs: usize,
    /// Precision of the shipped graph.
    pub precision: WeightPrecision,
    /// Training settings.
    pub train: NerTrainConfig,
    /// tch device.
    pub device: Device,
    /// ONNX Runtime library for the parity check.
    pub ort_lib: String,
    /// Show progress bars.
    pub progress: bool,
    /// The command line, recorded in metrics.json.
    pub command: String,
}

/// Spans of a document's entities.
pub fn spans(doc: &Document) -> Vec<Span> {
    doc.entities
        .iter()
        .map(|e| Span {
            start: e.start,
            end: e.end,
            entity_type: e.entity_type,
        })
        .collect()
}

/// Labelled windows of documents; also the number of gold spans dropped by alignment.
pub fn windows_of(
    tok: &TextTokenizer,
    framing: &Framing,
    tags: &TagSet,
    docs: &[Document],
) -> Result<(Vec<LabeledWindow>, usize)> {
    let mut out = Vec::new();
    let mut dropped = 0;
    for d in docs {
        let (w, n) = framing.labeled(tok, &d.text, &spans(d), tags)?;
        out.extend(w);
        dropped += n;
    }
    Ok((out, dropped))
}

fn tensors(rows: &[&[i64]], pad: i64, device: Device) -> (Tensor, Tensor, usize) {
    let l = rows.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
    let mut ids = Vec::with_capacity(rows.len() * l);
    let mut mask = Vec::with_capacity(rows.len() * l);
    for r in rows {
        ids.extend_from_slice(r);
        ids.extend(std::iter::repeat_n(pad, l - r.len()));
        mask.extend(std::iter::repeat_n(1i64, r.len()));
        mask.extend(std::iter::repeat_n(0i64, l - r.len()));
    }
    let shape = [rows.len() as i64, l as i64];
    (
        Tensor::from_slice(&ids).reshape(shape).to_device(device),
        Tensor::from_slice(&mask).reshape(shape).to_device(device),
        l,
    )
}

/// Logits of the tch model for a padded row-major batch (eval mode), as an ndarray.
pub fn tch_logits(
    net: &NerNet,
    ids: &[i64],
    mask: &[i64],
    b: usize,
    l: usize,
    device: Device,
) -> Result<Array3<f32>> {
    let shape = [b as i64, l as i64];
    let t_ids = Tensor::from_slice(ids).reshape(shape).to_device(device);
    let t_mask = Tensor::from_slice(mask).reshape(shape).to_device(device);
    let logits = tch::no_grad(|| net.logits(&t_ids, &t_mask, false, 0.0))
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .reshape([-1]);
    let v =
        Vec::<f32>::try_from(&logits).map_err(|e| CragError::Runtime(format!("logits: {e}")))?;
    let n = v.len() / (b * l).max(1);
    Array3::from_shape_vec((b, l, n), v).map_err(|e| CragError::Runtime(format!("logits: {e}")))
}

/// Predicted documents for `docs` through the serving path with a logits function.
pub fn predict_docs<F>(
    tok: &TextTokenizer,
    cfg: &NerConfig,
    docs: &[Document],
    batch: usize,
    run: F,
) -> Result<Vec<Document>>
where
    F: FnMut(&[i64], &[i64], usize, usize) -> Result<Array3<f32>>,
{
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let mentions = tagging::extract(tok, cfg, &texts, batch, run)?;
    Ok(docs
        .iter()
        .zip(&mentions)
        .map(|(d, m)| tagging::to_document(&d.id, &d.text, m))
        .collect())
}

/// Predictions seen through BC5CDR's two-type schema before scoring against it: BC5CDR's Disease covers signs and
/// symptoms, so a predicted Symptom counts as Disease; Procedure and Lab_Test have no BC5CDR counterpart and are
/// left out (they are neither right nor wrong there).
pub fn to_bc5cdr_types(docs: Vec<Document>) -> Vec<Document> {
    docs.into_iter()
        .map(|mut d| {
            d.entities
                .retain(|e| !matches!(e.entity_type, EntityType::Procedure | EntityType::LabTest));
            for e in &mut d.entities {
                if e.entity_type == EntityType::Symptom {
                    e.entity_type = EntityType::Disease;
                }
            }
            d.relations.clear();
            d
        })
        .collect()
}

/// Exact entity-level evaluation of the tch model on BC5CDR documents (predictions mapped by [`to_bc5cdr_types`]).
pub fn evaluate_tch(
    net: &NerNet,
    tok: &TextTokenizer,
    docs: &[Document],
    batch: usize,
    device: Device,
) -> Result<EvalReport> {
    let pred = predict_docs(tok, &net.cfg, docs, batch, |ids, m, b, l| {
        tch_logits(net, ids, m, b, l, device)
    })?;
    evaluate(docs, &to_bc5cdr_types(pred), MatchMode::Exact)
}

/// A trained model.
pub struct Trained {
    /// Network with the best dev weights loaded.
    pub net: NerNet,
    /// Per-epoch log.
    pub history: Vec<EpochLog>,
    /// Training seconds.
    pub seconds: f64,
}

/// Fine-tune from `init` on `train_set` (and, with a relation head, `re_set`: `tc.re_batch` rows beside every
/// entity batch, cycling through a shuffled order), selecting the epoch by exact micro F1 on `dev_docs` (plus the
/// CID F1 with gold entities on `dev_cid` when there is a relation head).
#[allow(clippy::too_many_arguments)]
pub fn train(
    cfg: &NerConfig,
    init: &Weights,
    train_set: &[LabeledWindow],
    re_set: &[PairExample],
    dev_docs: &[Document],
    dev_cid: &[PubtatorDoc],
    tok: &TextTokenizer,
    tc: &NerTrainConfig,
    device: Device,
    progress: bool,
) -> Result<Trained> {
    let started = Instant::now();
    if train_set.is_empty() {
        return Err(CragError::invalid("no training windows"));
    }
    tch::manual_seed(tc.seed as i64);
    let mut net = NerNet::new(cfg, device);
    net.load(init)?;
    let mut opt = nn::AdamW {
        wd: tc.weight_decay,
        ..Default::default()
    }
    .build(&net.vs, tc.lr)
    .map_err(|e| CragError::Runtime(format!("optimizer: {e}")))?;
    let mut rng = ChaCha8Rng::seed_from_u64(tc.seed);
    let bs = tc.batch_size.max(1);
    let steps_per_epoch = train_set.len().div_ceil(bs);
    let total = steps_per_epoch * tc.epochs.max(1);
    let pad = i64::from(tok.pad_id());
    let mut step = 0;
    let mut best: Option<(f64, Weights)> = None;
    let mut since_best = 0;
    let mut history = Vec::new();
    let with_re = cfg.relations.is_some() && !re_set.is_empty();
    let mut re_order: Vec<usize> = (0..re_set.len()).collect();
    let mut re_pos = re_order.len();
    for epoch in 1..=tc.epochs.max(1) {
        let t0 = Instant::now();
        // Shuffle, then sort by length (stable: random within a length) and shuffle the batches: little padding.
        let mut order: Vec<usize> = (0..train_set.len()).collect();
        order.shuffle(&mut rng);
        order.sort_by_key(|&i| train_set[i].ids.len());
        let mut batches: Vec<&[usize]> = order.chunks(bs).collect();
        batches.shuffle(&mut rng);
        let pb = bar(
            batches.len(),
            format!("epoch {epoch}/{}", tc.epochs),
            progress,
        )?;
        let (mut sum, mut count) = (0.0, 0);
        let mut re_sum = 0.0;
        for chunk in batches {
            let f = linear_lr(step, total, tc.warmup_frac);
            opt.set_lr_group(0, tc.lr * f);
            opt.set_lr_group(1, tc.head_lr * f);
            let rows: Vec<&[i64]> = chunk.iter().map(|&i| train_set[i].ids.as_slice()).collect();
            let lab: Vec<&[i64]> = chunk
                .iter()
                .map(|&i| train_set[i].labels.as_slice())
                .collect();
            let (ids, mask, _) = tensors(&rows, pad, device);
            let (labels, _, _) = tensors(&lab, IGNORE, device);
            let logits = net.logits(&ids, &mask, true, tc.dropout);
            let mut loss = token_loss(&logits, &labels);
            if with_re {
                let mut rows = Vec::with_capacity(tc.re_batch);
                while rows.len() < tc.re_batch.max(1) {
                    if re_pos >= re_order.len() {
                        re_order.shuffle(&mut rng);
                        re_pos = 0;
                    }
                    rows.push(&re_set[re_order[re_pos]]);
                    re_pos += 1;
                }
                let ids_rows: Vec<&[i64]> = rows.iter().map(|e| e.row.ids.as_slice()).collect();
                let (rids, rmask, _) = tensors(&ids_rows, pad, device);
                let flat: Vec<i64> = rows.iter().flat_map(|e| e.row.index).collect();
                let pairs = Tensor::from_slice(&flat)
                    .reshape([rows.len() as i64, 2])
                    .to_device(device);
                let k = rows[0].valid.len() as i64;
                let bools = |f: &dyn Fn(&PairExample) -> &Vec<bool>| {
                    let v: Vec<bool> = rows.iter().flat_map(|e| f(e).iter().copied()).collect();
                    Tensor::from_slice(&v)
                        .reshape([rows.len() as i64, k])
                        .to_device(device)
                };
                let rl = net.relation_logits(&rids, &rmask, &pairs, true, tc.dropout);
                let re_loss =
                    partial_label_loss(&rl, &bools(&|e| &e.valid), &bools(&|e| &e.allowed));
                re_sum += f64::try_from(&re_loss).unwrap_or(f64::NAN);
                loss += re_loss * tc.re_weight;
            }
            opt.backward_step(&loss);
            sum += f64::try_from(&loss).unwrap_or(f64::NAN);
            count += 1;
            step += 1;
            pb.set_message(format!("loss {:.4}", sum / count as f64));
            pb.inc(1);
            log_line(
                &format!("epoch {epoch}"),
                count,
                steps_per_epoch,
                sum / count as f64,
                t0,
            );
        }
        pb.finish_and_clear();
        let rep = evaluate_tch(&net, tok, dev_docs, tc.eval_batch, device)?;
        let m = &rep.entities.micro;
        let dev_cid_f1 = if with_re {
            let mut ex = TchExtractor { net: &net, device };
            Some(
                cid_eval(&mut ex, tok, dev_cid, None, tc.eval_batch)?
                    .gold_entities
                    .f1,
            )
        } else {
            None
        };
        let log = EpochLog {
            epoch,
            train_loss: sum / count.max(1) as f64,
            dev_precision: m.precision,
            dev_recall: m.recall,
            dev_f1: m.f1,
            re_loss: with_re.then(|| re_sum / count.max(1) as f64),
            dev_cid_f1,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let per_type: Vec<String> = rep
            .entities
            .per_type
            .iter()
            .map(|(t, s)| format!("{t} {:.4}", s.f1))
            .collect();
        let re_note = match (log.re_loss, log.dev_cid_f1) {
            (Some(l), Some(f)) => {
                format!(" | relation loss {l:.4}, dev CID F1 (gold entities) {f:.4}")
            }
            _ => String::new(),
        };
        eprintln!(
            "epoch {epoch}: loss {:.4} | dev exact P {:.4} R {:.4} F1 {:.4} ({}){re_note} | {:.0} s",
            log.train_loss,
            log.dev_precision,
            log.dev_recall,
            log.dev_f1,
            per_type.join(", "),
            log.seconds
        );
        // Selection: entity F1, plus CID F1 when a relation head is trained.
        let f1 = log.dev_f1 + log.dev_cid_f1.unwrap_or(0.0);
        history.push(log);
        if best.as_ref().is_none_or(|b| f1 > b.0) {
            best = Some((f1, net.weights()?));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= tc.patience {
                eprintln!("early stop: no dev gain for {} epoch(s)", tc.patience);
                break;
            }
        }
    }
    let (_, w) = best.ok_or_else(|| CragError::invalid("no epoch ran"))?;
    net.load(&w)?;
    Ok(Trained {
        net,
        history,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn type_counts(docs: &[Document]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for t in EntityType::ALL {
        let n = docs
            .iter()
            .flat_map(|d| &d.entities)
            .filter(|e| e.entity_type == t)
            .count();
        m.insert(t.to_string(), json!(n));
    }
    json!({"documents": docs.len(), "entities": m})
}

/// ADE Corpus V2 sentences as documents (drug → Drug, effect → Disease), leaving out `skip_pmids`.
pub fn ade_documents(dir: &Path, skip_pmids: &HashSet<String>) -> Result<Vec<Document>> {
    let corpus = read_ade_corpus(dir)?;
    let mut docs = Vec::new();
    for s in corpus
        .sentences
        .iter()
        .filter(|s| !skip_pmids.contains(&s.pmid))
    {
        let mut seen = HashSet::new();
        let mut entities = Vec::new();
        for r in &s.relations {
            for (span, t) in [
                (r.drug_span, EntityType::Drug),
                (r.effect_span, EntityType::Disease),
            ] {
                if seen.insert((span, t)) {
                    let text = crag_core::ner::schema::char_slice(&s.sentence, span.0, span.1)
                        .unwrap_or_default()
                        .to_string();
                    entities.push(crag_core::ner::Entity {
                        id: String::new(),
                        text,
                        entity_type: t,
                        start: span.0,
                        end: span.1,
                    });
                }
            }
        }
        docs.push(Document {
            id: s.pmid.clone(),
            text: s.sentence.clone(),
            entities,
            relations: vec![],
        });
    }
    Ok(docs)
}

/// Run the whole pipeline; returns the published version, if any.
pub fn run(r: &NerRun) -> Result<Option<i32>> {
    let seed = r.train.seed;
    let train_pub = read_pubtator(&r.bc5cdr.join(BC5CDR_TRAIN))?;
    let dev_pub = read_pubtator(&r.bc5cdr.join(BC5CDR_DEV))?;
    let train_docs: Vec<Document> = train_pub.iter().map(|d| d.to_document()).collect();
    let dev_all: Vec<Document> = dev_pub.iter().map(|d| d.to_document()).collect();
    let n_epoch_dev = r.max_dev.unwrap_or(dev_all.len()).min(dev_all.len());
    let dev_epoch: Vec<Document> = dev_all[..n_epoch_dev].to_vec();
    let synth_docs = if r.synthetic > 0 {
        synth::generate(r.synthetic, seed, &GeneratorConfig::default())?
    } else {
        vec![]
    };
    let dev_pmids: HashSet<String> = dev_all.iter().map(|d| d.id.clone()).collect();
    // ADE Corpus V2: only PMIDs of the training part of the relation split (seed, 80/10/10, as `crag-train
    // relation`), so the ADE test sentences stay unseen for `crag-train extract-eval`.
    let ade_corpus = match (&r.ade, r.relations) {
        (Some(dir), _) => Some(read_ade_corpus(dir)?),
        (None, true) => Some(read_ade_corpus(&r.ade_dir)?),
        (None, false) => None,
    };
    let mut ade_skip = dev_pmids.clone();
    if let Some(c) = &ade_corpus {
        let split = split_by_pmid(c.pmids(), seed, ADE_FRACTIONS)?;
        ade_skip.extend(split.val.iter().cloned());
        ade_skip.extend(split.test.iter().cloned());
    }
    let ade_docs = match &r.ade {
        Some(dir) => ade_documents(dir, &ade_skip)?,
        None => vec![],
    };
    let ade_train_sentences: Vec<&AdeSentence> = ade_corpus
        .iter()
        .flat_map(|c| &c.sentences)
        .filter(|s| !ade_skip.contains(&s.pmid))
        .collect();

    let tok = TextTokenizer::from_file_plain(r.encoder.join("tokenizer.json"), r.max_len)?;
    let (base, pretrained) = bert::load_hf_dir(&r.encoder, "")?;
    let mut cfg = NerConfig::new(base, r.max_len);
    if let Some(s) = r.stride {
        cfg.stride = s;
    }
    cfg.precision = r.precision;
    let entity_specs = cfg.param_specs();
    if r.relations {
        cfg.relations = Some(RelationHead::new(cfg.encoder.hidden_size));
    }
    cfg.validate()?;
    let tags = TagSet::new(&cfg.labels)?;
    let framing = Framing::new(&tok, &cfg)?;
    let (mut train_set, dropped_bc) = windows_of(&tok, &framing, &tags, &train_docs)?;
    let n_bc = train_set.len();
    let (s_w, dropped_s) = windows_of(&tok, &framing, &tags, &synth_docs)?;
    let n_s = s_w.len();
    train_set.extend(s_w);
    let (a_w, dropped_a) = windows_of(&tok, &framing, &tags, &ade_docs)?;
    let n_a = a_w.len();
    train_set.extend(a_w);
    if let Some(n) = r.max_train {
        if n < train_set.len() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            train_set.shuffle(&mut rng);
            train_set.truncate(n);
        }
    }
    eprintln!(
        "training windows: BC5CDR train {n_bc}, synthetic {n_s}, ADE {n_a} → {} used (max_len {}, stride {}); \
         spans dropped by alignment: {dropped_bc}/{dropped_s}/{dropped_a}; dev {} docs per epoch, {} final",
        train_set.len(),
        cfg.max_len,
        cfg.stride,
        dev_epoch.len(),
        dev_all.len()
    );

    // Relation rows. A seeded slice of the BC5CDR training abstracts is held out of them to choose the relation
    // threshold after training (the dev split stays for model selection and the reported numbers).
    let mut re_set = Vec::new();
    let mut re_counts = serde_json::Map::new();
    let mut shuffled: Vec<&PubtatorDoc> = train_pub.iter().collect();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x7e1));
    let n_tune = if cfg.relations.is_some() {
        r.threshold_docs.min(shuffled.len() / 2)
    } else {
        0
    };
    let tune_pub: Vec<PubtatorDoc> = shuffled[..n_tune].iter().map(|d| (*d).clone()).collect();
    let re_train_pub: Vec<PubtatorDoc> = shuffled[n_tune..].iter().map(|d| (*d).clone()).collect();
    if let Some(head) = &cfg.relations {
        let (mut ade_rows, ade_counts) = ade_examples(&tok, &framing, head, &ade_train_sentences)?;
        if let Some(n) = r.max_ade_rows {
            // ADE Corpus V2 pairs are almost all positive: a seeded sample keeps them from dominating.
            ade_rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            ade_rows.truncate(n);
        }
        let mut parts: Vec<(&str, (Vec<PairExample>, SourceCounts))> = vec![
            (
                "bc5cdr",
                bc5cdr_examples(&tok, &framing, head, &re_train_pub)?,
            ),
            ("ade", (ade_rows, ade_counts)),
            (
                "synthetic",
                synthetic_examples(&tok, &framing, head, &synth_docs)?,
            ),
        ];
        if let (Some(n), Some(corpus)) = (r.ade_negatives, &ade_corpus) {
            let train_pmids: BTreeSet<String> = corpus
                .pmids()
                .into_iter()
                .filter(|p| !ade_skip.contains(p))
                .collect();
            let dictionary = MentionDictionary::from_corpus(corpus, Some(&train_pmids));
            let mut negs: Vec<&str> = corpus
                .neg_sentences
                .iter()
                .filter(|s| train_pmids.contains(&s.pmid))
                .map(|s| s.sentence.as_str())
                .collect();
            negs.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0xade));
            negs.truncate(n);
            parts.push((
                "ade_negative",
                ade_negative_examples(&tok, &framing, head, &negs, &dictionary)?,
            ));
        }
        for (name, (ex, counts)) in parts {
            eprintln!(
                "relation rows from {name}: {} candidates ({} annotated relations; {} pairs too long for a window; \
                 {} annotated relations without a candidate), {} rows used",
                counts.examples,
                counts.positive,
                counts.too_long,
                counts.relations_missed,
                ex.len()
            );
            re_counts.insert(
                name.to_string(),
                json!({"candidates": to_json(&counts), "rows_used": ex.len()}),
            );
            re_set.extend(ex);
        }
    }

    let init = match &r.init_model {
        None => model::init_from_pretrained(&cfg, &pretrained, seed)?,
        Some(dir) => {
            let bytes = std::fs::read(dir.join("model.onnx"))
                .map_err(|e| CragError::io(format!("reading {}/model.onnx", dir.display()), e))?;
            // The whole model when the earlier one had the same heads, else its encoder and tagger.
            let full = crag_core::onnx::weights_from_onnx(&bytes, &cfg.param_specs());
            let mut w = match full {
                Ok(w) => w,
                Err(_) => crag_core::onnx::weights_from_onnx(&bytes, &entity_specs)?,
            };
            let extra: Vec<_> = cfg
                .head_specs()
                .into_iter()
                .filter(|s| w.get(&s.name, &s.shape).is_err())
                .collect();
            let fresh = Weights::seeded(&extra, seed);
            for spec in &extra {
                w.insert(
                    spec.name.clone(),
                    spec.shape.clone(),
                    fresh.get(&spec.name, &spec.shape)?.to_vec(),
                )?;
            }
            eprintln!(
                "starting from {} ({} new parameters: {})",
                dir.display(),
                extra.len(),
                extra
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            w
        }
    };
    let dev_cid = &dev_pub[..n_epoch_dev];
    let trained = train(
        &cfg, &init, &train_set, &re_set, &dev_epoch, dev_cid, &tok, &r.train, r.device, r.progress,
    )?;
    let net = &trained.net;
    let eb = r.train.eval_batch;
    let mut tuned = None;
    if cfg.relations.is_some() && !tune_pub.is_empty() {
        let mut tx = TchExtractor {
            net,
            device: r.device,
        };
        let (th, f1) = tune_cid_threshold(&mut tx, &tok, &tune_pub, eb)?;
        eprintln!(
            "relation threshold {th:.2}: best CID F1 {f1:.4} (gold entities) on {} held-out training abstracts",
            tune_pub.len()
        );
        if let Some(h) = cfg.relations.as_mut() {
            h.threshold = th;
        }
        tuned = Some(json!({"threshold": th, "cid_f1": f1, "abstracts": tune_pub.len()}));
    }
    let dev_report = evaluate_tch(net, &tok, &dev_all, eb, r.device)?;
    eprintln!("BC5CDR dev (best epoch, tch):\n{}", dev_report.to_table());

    // Export: float32 graph for the parity check, then the shipped precision, evaluated through ONNX Runtime.
    let w = net.weights()?;
    let f32_cfg = NerConfig {
        precision: WeightPrecision::F32,
        ..cfg.clone()
    };
    let env = runtime::init(&r.ort_lib)?;
    let opts = SessionOptions {
        threads: 2,
        device: OrtDevice::Cpu,
        dequantize_once: false,
    };
    let onnx_f32 = model::export_onnx(&f32_cfg, &w)?;
    let mut s32 = runtime::load_session(env, &onnx_f32, &opts)?.session;
    let mut par_rows = Vec::new();
    for d in &dev_all {
        let wd = framing.window(&tok, &d.text)?;
        for win in &wd.windows {
            par_rows.push(framing.ids(&wd.pieces, win));
        }
        if par_rows.len() >= 32 {
            break;
        }
    }
    par_rows.truncate(32);
    let (mut parity_p, mut parity_logit) = (0.0f32, 0.0f32);
    for chunk in par_rows.chunks(8) {
        let l = chunk.iter().map(Vec::len).max().unwrap_or(1);
        let mut ids = Vec::new();
        let mut mask = Vec::new();
        for row in chunk {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(i64::from(tok.pad_id()), l - row.len()));
            mask.extend(std::iter::repeat_n(1i64, row.len()));
            mask.extend(std::iter::repeat_n(0i64, l - row.len()));
        }
        let a = tch_logits(net, &ids, &mask, chunk.len(), l, r.device)?;
        let b = runtime::run_ner(&mut s32, &ids, &mask, chunk.len(), l)?;
        for (i, row) in chunk.iter().enumerate() {
            let la = a.slice(ndarray::s![i, ..row.len(), ..]);
            let lb = b.slice(ndarray::s![i, ..row.len(), ..]);
            let pa = tagging::softmax_rows(la);
            let pb = tagging::softmax_rows(lb);
            parity_p = (&pa - &pb).iter().fold(parity_p, |m, v| m.max(v.abs()));
            parity_logit = (&la - &lb).iter().fold(parity_logit, |m, v| m.max(v.abs()));
        }
    }
    eprintln!(
        "parity tch vs ONNX Runtime (float32) on {} dev windows: max |Δp| = {parity_p:.2e}, max |Δlogit| = {parity_logit:.2e}",
        par_rows.len()
    );
    if parity_p > 1e-4 {
        return Err(CragError::Runtime(format!(
            "exported graph disagrees with the trained model by {parity_p:.2e} in probability (> 1e-4)"
        )));
    }
    let mut parity_re = None;
    if cfg.relations.is_some() && !re_set.is_empty() {
        let rows: Vec<&PairExample> = re_set.iter().take(16).collect();
        let ids_rows: Vec<&[i64]> = rows.iter().map(|e| e.row.ids.as_slice()).collect();
        let padded = crag_core::text::Batch::from_rows(&ids_rows, i64::from(tok.pad_id()));
        let (ids, mask, l) = (padded.input_ids, padded.attention_mask, padded.seq_len);
        let idx: Vec<[i64; 2]> = rows.iter().map(|e| e.row.index).collect();
        let mut tx = TchExtractor {
            net,
            device: r.device,
        };
        let a =
            crate::re_eval::Extractor::relation_logits(&mut tx, &ids, &mask, &idx, rows.len(), l)?;
        let b = runtime::run_relation_head(&mut s32, &ids, &mask, &idx, rows.len(), l)?;
        let d = (&a - &b).iter().fold(0.0f32, |m, v| m.max(v.abs()));
        eprintln!(
            "parity tch vs ONNX Runtime (float32) relation logits on {} rows: max |Δ| = {d:.2e}",
            rows.len()
        );
        if d > 1e-3 {
            return Err(CragError::Runtime(format!(
                "exported relation head disagrees with the trained model by {d:.2e} (> 1e-3)"
            )));
        }
        parity_re = Some(d);
    }
    // Predictions of the trained network (tch) on the first dev abstracts, for the database round trip
    // (scripts/roundtrip.sh compares crag_extract_entities / crag_extract_relations with them).
    let mut round_trip = Vec::new();
    if cfg.relations.is_some() {
        let docs = &dev_all[..dev_all.len().min(20)];
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        let mut tx = TchExtractor {
            net,
            device: r.device,
        };
        let ms = crate::re_eval::entities(&mut tx, &tok, &texts, eb)?;
        let rels = crag_core::ner::relate::extract_relations(
            &tok,
            &cfg,
            &texts,
            &ms,
            eb,
            |i, m, p, b, l| crate::re_eval::Extractor::relation_logits(&mut tx, i, m, p, b, l),
        )?;
        for (i, ((t, m), rl)) in texts.iter().zip(&ms).zip(&rels).enumerate() {
            round_trip.push(json!({"doc": i + 1, "text": t, "entities": m, "relations": rl}));
        }
    }
    let onnx = model::export_onnx(&cfg, &w)?;
    let shipped = if cfg.precision == WeightPrecision::F32 {
        None
    } else {
        let mut sq = runtime::load_session(env, &onnx, &opts)?.session;
        let pred = predict_docs(&tok, &cfg, &dev_all, eb, |ids, m, b, l| {
            runtime::run_ner(&mut sq, ids, m, b, l)
        })?;
        let rq = evaluate(&dev_all, &to_bc5cdr_types(pred), MatchMode::Exact)?;
        eprintln!(
            "{:?} graph ({:.1} MB vs {:.1} MB float32): dev exact F1 {:.4} (float32 {:.4})",
            cfg.precision,
            onnx.len() as f64 / 1e6,
            onnx_f32.len() as f64 / 1e6,
            rq.entities.micro.f1,
            dev_report.entities.micro.f1
        );
        Some(json!({
            "precision": cfg.precision,
            "onnx_bytes": onnx.len(),
            "float32_onnx_bytes": onnx_f32.len(),
            "dev_entities": to_json(&rq.entities),
            "delta_micro_f1": rq.entities.micro.f1 - dev_report.entities.micro.f1,
        }))
    };

    let metrics = json!({
        "dataset": "BC5CDR (BioCreative V CDR) PubTator; Chemical → Drug, Disease → Disease",
        "split": {
            "train": BC5CDR_TRAIN,
            "evaluation": BC5CDR_DEV,
            "note": "model selection and the reported numbers use the development split; the test split is not used",
            "seed": seed,
        },
        "evaluation": "entity level, exact span and type, one-to-one (crag_core::ner::evaluate, mode exact)",
        "dev": to_json(&dev_report.entities),
        "train_data": {
            "bc5cdr": type_counts(&train_docs),
            "synthetic": type_counts(&synth_docs),
            "ade": type_counts(&ade_docs),
            "windows": {"bc5cdr": n_bc, "synthetic": n_s, "ade": n_a, "used": train_set.len()},
            "spans_dropped_by_alignment": {"bc5cdr": dropped_bc, "synthetic": dropped_s, "ade": dropped_a},
        },
        "dev_docs_per_epoch": dev_epoch.len(),
        "onnx": {
            "parity_float32_max_abs_prob": parity_p,
            "parity_float32_max_abs_logit": parity_logit,
            "parity_windows": par_rows.len(),
            "parity_float32_max_abs_relation_logit": parity_re,
            "shipped": shipped,
        },
        "relation_rows": re_counts,
        "relation_threshold": tuned,
        "init_model": r.init_model.as_ref().map(|p| p.display().to_string()),
        "train_config": to_json(&r.train),
        "train_seconds": trained.seconds,
        "history": to_json(&trained.history),
        "encoder": r.encoder.display().to_string(),
        "max_len": cfg.max_len,
        "stride": cfg.stride,
        "max_train": r.max_train,
        "synthetic": r.synthetic,
        "ade": r.ade.as_ref().map(|p| p.display().to_string()),
        "command": r.command,
    });

    std::fs::create_dir_all(&r.out)
        .map_err(|e| CragError::io(format!("creating {}", r.out.display()), e))?;
    write_json(&r.out.join("metrics.json"), &metrics)?;
    write_jsonl(&r.out.join("history.jsonl"), &trained.history)?;
    if !round_trip.is_empty() {
        write_jsonl(&r.out.join("predictions_dev.jsonl"), &round_trip)?;
    }
    let series = |name: &str, f: &dyn Fn(&EpochLog) -> f64| Series {
        name: name.to_string(),
        values: trained.history.iter().map(f).collect(),
    };
    plot(
        &r.out.join("curves.png"),
        "crag-train ner (BC5CDR dev)",
        &[
            (
                "training loss",
                vec![series("token cross-entropy", &|h| h.train_loss)],
            ),
            (
                "BC5CDR dev, exact entities",
                vec![
                    series("micro F1", &|h| h.dev_f1),
                    series("precision", &|h| h.dev_precision),
                    series("recall", &|h| h.dev_recall),
                    series("CID F1 (gold entities)", &|h| {
                        h.dev_cid_f1.unwrap_or(f64::NAN)
                    }),
                ],
            ),
        ],
    )?;
    let art = ModelArtifacts {
        meta: ModelMeta {
            name: r.name.clone(),
            kind: "ner".into(),
            config: cfg.to_json(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crag_core::ner::schema::Entity;

    #[test]
    fn bc5cdr_view_maps_symptoms_to_disease_and_drops_other_types() {
        let e = |t: &str, ty: EntityType, start: usize| Entity {
            id: String::new(),
            text: t.into(),
            entity_type: ty,
            start,
            end: start + t.chars().count(),
        };
        let doc = Document {
            id: "1".into(),
            text: "fever after CT with lithium; creatinine up".into(),
            entities: vec![
                e("fever", EntityType::Symptom, 0),
                e("CT", EntityType::Procedure, 12),
                e("lithium", EntityType::Drug, 20),
                e("creatinine", EntityType::LabTest, 29),
            ],
            relations: vec![],
        };
        let out = to_bc5cdr_types(vec![doc]);
        let kept: Vec<(&str, EntityType)> = out[0]
            .entities
            .iter()
            .map(|e| (e.text.as_str(), e.entity_type))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("fever", EntityType::Disease),
                ("lithium", EntityType::Drug)
            ]
        );
    }
}

/// Arguments of `crag-train ner`.
#[derive(Debug, clap::Args)]
pub struct NerArgs {
    /// BC5CDR folder with the PubTator training and development files.
    #[arg(long, env = "CRAG_BC5CDR_DIR", default_value = "../shared/data/bc5cdr")]
    pub bc5cdr: PathBuf,
    /// Pretrained encoder folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long, env = "CRAG_MINILM_DIR", default_value = "/opt/crag/minilm")]
    pub encoder: PathBuf,
    /// Output model directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Registry name.
    #[arg(long, default_value = "ner")]
    pub name: String,
    /// Publish into this database (e.g. postgres://postgres@/crag?host=/var/run/postgresql).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Activate the published version.
    #[arg(long)]
    pub activate: bool,
    /// Maximum epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Early-stopping patience (epochs without a dev F1 gain).
    #[arg(long, default_value_t = 1)]
    pub patience: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Encoder learning rate.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    /// Classifier learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub head_lr: f64,
    /// Window length in tokens, [CLS]/[SEP] included.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Pieces shared by consecutive windows (default: a quarter of a window).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Keep a seeded sample of this many training windows.
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Evaluate each epoch on the first N dev documents (the final evaluation uses all 500).
    #[arg(long)]
    pub max_dev: Option<usize>,
    /// Add this many synthetic notes (the only source of Symptom, Procedure and Lab_Test).
    #[arg(long, default_value_t = 0)]
    pub synthetic: usize,
    /// Add ADE Corpus V2 drug (Drug) and effect (Disease) spans to the entity data (the relation head always uses
    /// its drug–effect pairs).
    #[arg(long)]
    pub ade: bool,
    /// ADE Corpus V2 folder.
    #[arg(
        long,
        env = "CRAG_ADE_DIR",
        default_value = "../shared/data/ade_corpus_v2"
    )]
    pub ade_dir: PathBuf,
    /// Precision of the shipped graph.
    #[arg(long, value_parser = ["int8", "f32"], default_value = "int8")]
    pub precision: String,
    /// Train a relation head on the shared encoder (BC5CDR CID, ADE Corpus V2 pairs, synthetic relations).
    #[arg(long)]
    pub relations: bool,
    /// Relation rows per step (with `--relations`).
    #[arg(long, default_value_t = 16)]
    pub re_batch: usize,
    /// Weight of the relation loss beside the token loss (with `--relations`).
    #[arg(long, default_value_t = 0.5)]
    pub re_weight: f64,
    /// Keep a seeded sample of this many ADE Corpus V2 relation rows (almost all positive); all when absent.
    #[arg(long)]
    pub max_ade_rows: Option<usize>,
    /// Add a seeded sample of this many ADE-NEG sentences of the training PMIDs: their (dictionary drug, dictionary
    /// effect) pairs as "not adverse_effect" rows (with `--relations`); none when absent.
    #[arg(long)]
    pub ade_negatives: Option<usize>,
    /// BC5CDR training abstracts held out of the relation rows to choose the relation threshold (with `--relations`).
    #[arg(long, default_value_t = 50)]
    pub threshold_docs: usize,
    /// Start from an earlier model directory (its model.onnx) instead of the pretrained encoder.
    #[arg(long)]
    pub init_model: Option<PathBuf>,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// tch device: cpu, cuda or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// tch intra-op threads (0: libtorch default).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// ONNX Runtime library for the parity check.
    #[arg(
        long,
        env = "ORT_DYLIB_PATH",
        default_value = "/usr/local/lib/crag/libonnxruntime.so"
    )]
    pub onnxruntime: String,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl NerArgs {
    /// The run these arguments describe (sets the tch thread count as a side effect).
    pub fn into_run(self, device: Device) -> NerRun {
        if self.threads > 0 {
            tch::set_num_threads(self.threads as i32);
        }
        NerRun {
            bc5cdr: self.bc5cdr,
            encoder: self.encoder,
            out: self.out,
            name: self.name,
            database_url: self.database_url,
            activate: self.activate,
            max_len: self.max_len,
            stride: self.stride,
            max_train: self.max_train,
            max_dev: self.max_dev,
            synthetic: self.synthetic,
            ade: self.ade.then(|| self.ade_dir.clone()),
            ade_dir: self.ade_dir,
            relations: self.relations,
            init_model: self.init_model,
            max_ade_rows: self.max_ade_rows,
            ade_negatives: self.ade_negatives,
            threshold_docs: self.threshold_docs,
            precision: if self.precision == "f32" {
                WeightPrecision::F32
            } else {
                WeightPrecision::Int8
            },
            train: NerTrainConfig {
                seed: self.seed,
                epochs: self.epochs,
                patience: self.patience,
                batch_size: self.batch_size,
                lr: self.lr,
                head_lr: self.head_lr,
                re_batch: self.re_batch,
                re_weight: self.re_weight,
                ..NerTrainConfig::default()
            },
            device,
            ort_lib: self.onnxruntime,
            progress: !self.quiet,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }
}
