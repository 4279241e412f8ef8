//! Training the dual-encoder relation model: phase 1 InfoNCE over in-batch pairs (τ = 0.07), phase 2 BCE (or focal
//! loss) on balanced batches drawn from pools (same-sentence and cross-sentence positives, hard, cross-sentence and
//! mismatched negatives) so that every batch holds cross-sentence pairs of both labels, linear warmup/decay, early
//! stopping on validation F1 (ADE hard protocol, and BC5CDR CID pairs of held-out abstracts when given).

use std::collections::HashSet;
use std::time::Instant;

use crag_core::data::ade::{fold, ExampleKind, RelationExample};
use crag_core::data::causality::max_per_pair;
use crag_core::metrics::{average_precision, best_f1_threshold, f1_at, roc_auc, BinaryReport};
use crag_core::relation;
use crag_core::text::{TextTokenizer, ADR_CLOSE, ADR_OPEN, DRUG_CLOSE, DRUG_OPEN};
use crag_core::weights::Weights;
use crag_core::{CragError, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use crate::progress::{bar, linear_lr, log_line};
use crate::relation_model::{binary_loss, info_nce_masked, RelationNet, Tokens};

/// One tokenized example.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Drug context ids ([CLS] … [SEP]).
    pub drug: Vec<i64>,
    /// ADR context ids.
    pub adr: Vec<i64>,
    /// Annotated pair?
    pub label: bool,
    /// Folded drug string.
    pub drug_key: String,
    /// Folded effect string.
    pub effect_key: String,
    /// Provenance.
    pub kind: ExampleKind,
    /// Contexts from two different sentences.
    pub cross: bool,
    /// Drug context without markers (the sentence as a user might pass it).
    pub drug_plain: Vec<i64>,
    /// ADR context without markers.
    pub adr_plain: Vec<i64>,
}

/// The drug and ADR contexts of an example: its drug marked in its sentence, its effect marked in the effect's
/// sentence (the same sentence except for card-protocol negatives).
pub fn contexts(ex: &RelationExample) -> Result<(String, String)> {
    let d = crag_core::text::mark(&ex.sentence, ex.drug_span, DRUG_OPEN, DRUG_CLOSE)?;
    let a = crag_core::text::mark(ex.effect_sentence(), ex.effect_span, ADR_OPEN, ADR_CLOSE)?;
    Ok((d, a))
}

/// Tokenize examples; returns them and how many contexts were truncated to `max_len`.
pub fn encode(tok: &TextTokenizer, exs: &[RelationExample]) -> Result<(Vec<Encoded>, usize)> {
    let mut out = Vec::with_capacity(exs.len());
    let mut truncated = 0;
    for ex in exs {
        let (d, a) = contexts(ex)?;
        let bd = tok.encode_batch(&[&d])?;
        let ba = tok.encode_batch(&[&a])?;
        truncated += usize::from(bd.truncated[0]) + usize::from(ba.truncated[0]);
        out.push(Encoded {
            drug: bd.input_ids,
            adr: ba.input_ids,
            label: ex.label,
            drug_key: fold(&ex.drug),
            effect_key: fold(&ex.effect),
            kind: ex.kind,
            cross: ex.effect_context.is_some(),
            drug_plain: tok.encode_batch(&[&ex.sentence])?.input_ids,
            adr_plain: tok.encode_batch(&[ex.effect_sentence()])?.input_ids,
        });
    }
    Ok((out, truncated))
}

/// Training settings (defaults: the card's procedure, sized for CPU).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelTrainConfig {
    /// Seed for sampling, dropout order and head initialisation.
    pub seed: u64,
    /// Phase-1 (InfoNCE) epochs over the training positives.
    pub contrastive_epochs: usize,
    /// Phase-2 (BCE/focal) maximum epochs.
    pub epochs: usize,
    /// Early-stopping patience in phase-2 epochs without a validation-F1 gain.
    pub patience: usize,
    /// Phase-2 batch size (half positives, half negatives).
    pub batch_size: usize,
    /// Phase-1 batch size (in-batch negatives).
    pub contrastive_batch: usize,
    /// Encoder learning rate (AdamW).
    pub lr: f64,
    /// Fusion/head learning rate (trained from scratch).
    pub head_lr: f64,
    /// Fraction of each phase's steps spent warming up linearly (then linear decay to 0).
    pub warmup_frac: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// InfoNCE temperature.
    pub tau: f64,
    /// Dropout in the encoders and on the fused vector.
    pub dropout: f64,
    /// Focal-loss γ (`None`: BCE).
    pub focal_gamma: Option<f64>,
    /// Freeze the embeddings and this many lower transformer layers of each encoder.
    pub freeze_layers: usize,
    /// Batch size for scoring.
    pub eval_batch: usize,
    /// Phase-2 positives per batch drawn from cross-sentence positives (0 when there are none).
    pub cross_positives: usize,
    /// Phase-2 negatives per batch drawn from mismatched pairs (another sentence's effect); the rest of the
    /// cross-sentence negative quota (`cross_positives` in all) comes from pairs of one abstract.
    pub mismatched_negatives: usize,
    /// Probability that a phase-2 context is shown without its markers (each side drawn on its own).
    pub unmarked_share: f64,
    /// Cap on phase-2 steps per epoch (`None`: one pass over the same-sentence positives).
    pub max_steps_per_epoch: Option<usize>,
}

impl Default for RelTrainConfig {
    fn default() -> Self {
        RelTrainConfig {
            seed: 42,
            contrastive_epochs: 1,
            epochs: 3,
            patience: 1,
            batch_size: 32,
            contrastive_batch: 32,
            lr: 2e-5,
            head_lr: 1e-3,
            warmup_frac: 0.1,
            weight_decay: 0.01,
            tau: 0.07,
            dropout: 0.1,
            focal_gamma: None,
            freeze_layers: 0,
            eval_batch: 64,
            cross_positives: 3,
            mismatched_negatives: 1,
            unmarked_share: 0.1,
            max_steps_per_epoch: None,
        }
    }
}

/// Metrics of one scored split at a threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelReport {
    /// Examples.
    pub n: usize,
    /// Positives.
    pub positives: usize,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Average precision (PR-AUC).
    pub pr_auc: f64,
    /// Threshold used for `at_threshold`.
    pub threshold: f64,
    /// P/R/F1 at `threshold`.
    pub at_threshold: BinaryReport,
    /// P/R/F1 at 0.5.
    pub at_half: BinaryReport,
}

/// Score a split's predictions.
pub fn report(p: &[f64], labels: &[bool], threshold: f64) -> RelReport {
    RelReport {
        n: p.len(),
        positives: labels.iter().filter(|&&l| l).count(),
        roc_auc: roc_auc(p, labels),
        pr_auc: average_precision(p, labels),
        threshold,
        at_threshold: f1_at(p, labels, threshold),
        at_half: f1_at(p, labels, 0.5),
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    /// `contrastive` or `classify`.
    pub phase: String,
    /// Epoch within its phase (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation F1 (hard protocol, best threshold), classify epochs only.
    pub val_hard_f1: Option<f64>,
    /// Validation ROC-AUC (hard protocol).
    pub val_hard_auc: Option<f64>,
    /// Validation F1 (card protocol, best threshold).
    pub val_card_f1: Option<f64>,
    /// Validation F1 of BC5CDR CID pairs of held-out abstracts (best threshold; a pair scores its best context).
    #[serde(default)]
    pub val_cid_f1: Option<f64>,
    /// Validation share of SIDER indication pairs scored at or above the hard-protocol threshold.
    #[serde(default)]
    pub val_indication_share: Option<f64>,
    /// Seconds of the epoch (training + validation).
    pub seconds: f64,
}

/// A trained model.
pub struct Trained {
    /// Network with the best validation weights loaded.
    pub net: RelationNet,
    /// Per-epoch log.
    pub history: Vec<EpochLog>,
    /// Decision threshold (best F1 on the hard-protocol validation split).
    pub threshold: f64,
    /// Best-F1 threshold on the CID validation pairs (`None` without them).
    pub cid_threshold: Option<f64>,
    /// Best-F1 threshold on the hard-protocol validation pairs and the CID validation pairs pooled: the model's
    /// shipped threshold.
    pub shared_threshold: f64,
    /// Training seconds.
    pub seconds: f64,
}

/// Tokens of a phase-2 batch: each side shown without markers with probability `share` (one draw per side, drug
/// then ADR, per example).
fn pair_tokens_mixed(
    exs: &[&Encoded],
    share: f64,
    rng: &mut ChaCha8Rng,
    pad: u32,
    device: Device,
) -> (Tokens, Tokens) {
    let mut side = |marked: &'_ Vec<i64>, plain: &'_ Vec<i64>| -> Vec<i64> {
        let unmarked = share > 0.0 && rng.random_bool(share.min(1.0));
        if unmarked && !plain.is_empty() {
            plain
        } else {
            marked
        }
        .clone()
    };
    let mut d = Vec::with_capacity(exs.len());
    let mut a = Vec::with_capacity(exs.len());
    for e in exs {
        d.push(side(&e.drug, &e.drug_plain));
        a.push(side(&e.adr, &e.adr_plain));
    }
    let d: Vec<&[i64]> = d.iter().map(Vec::as_slice).collect();
    let a: Vec<&[i64]> = a.iter().map(Vec::as_slice).collect();
    (
        Tokens::from_rows(&d, pad, device),
        Tokens::from_rows(&a, pad, device),
    )
}

/// A cyclic, reshuffled source of examples for phase-2 batches.
struct Pool<'a> {
    name: &'static str,
    items: Vec<&'a Encoded>,
    next: usize,
    quota: usize,
}

impl<'a> Pool<'a> {
    fn new(name: &'static str, items: Vec<&'a Encoded>) -> Self {
        Pool {
            name,
            items,
            next: 0,
            quota: 0,
        }
    }

    fn draw(&mut self, rng: &mut ChaCha8Rng) -> &'a Encoded {
        if self.next == 0 {
            self.items.shuffle(rng);
        }
        let e = self.items[self.next];
        self.next = (self.next + 1) % self.items.len();
        e
    }
}

/// Split the training set into phase-2 pools and set their per-batch quotas: positives `half` (cross-sentence
/// `cross_positives` of them), negatives `half` (mismatched `mismatched_negatives`, other cross-sentence
/// negatives up to the cross-sentence positive quota, the rest hard same-sentence negatives). A quota whose pool is
/// empty moves to the same-sentence pool of its label.
fn pools<'a>(train: &'a [Encoded], half: usize, tc: &RelTrainConfig) -> Result<Vec<Pool<'a>>> {
    let take = |f: &dyn Fn(&Encoded) -> bool| train.iter().filter(|e| f(e)).collect::<Vec<_>>();
    let mut pos_same = Pool::new("positives, one sentence", take(&|e| e.label && !e.cross));
    let mut pos_cross = Pool::new("positives, two sentences", take(&|e| e.label && e.cross));
    let mut neg_same = Pool::new("negatives, one sentence", take(&|e| !e.label && !e.cross));
    let mut neg_cross = Pool::new(
        "negatives, two sentences of one abstract",
        take(&|e| !e.label && e.cross && e.kind != ExampleKind::Mismatched),
    );
    let mut mism = Pool::new(
        "negatives, mismatched",
        take(&|e| e.kind == ExampleKind::Mismatched),
    );
    if pos_same.items.is_empty() || neg_same.items.is_empty() {
        return Err(CragError::invalid(
            "training needs same-sentence positives and negatives",
        ));
    }
    let cross = if pos_cross.items.is_empty() {
        0
    } else {
        tc.cross_positives.min(half.saturating_sub(1))
    };
    pos_cross.quota = cross;
    pos_same.quota = half - cross;
    mism.quota = if mism.items.is_empty() {
        0
    } else {
        tc.mismatched_negatives.min(half.saturating_sub(1))
    };
    neg_cross.quota = if neg_cross.items.is_empty() {
        0
    } else {
        cross.saturating_sub(mism.quota)
    };
    neg_same.quota = half - mism.quota - neg_cross.quota;
    Ok(vec![pos_same, pos_cross, neg_same, neg_cross, mism])
}

fn pair_tokens(exs: &[&Encoded], pad: u32, device: Device) -> (Tokens, Tokens) {
    let d: Vec<&[i64]> = exs.iter().map(|e| e.drug.as_slice()).collect();
    let a: Vec<&[i64]> = exs.iter().map(|e| e.adr.as_slice()).collect();
    (
        Tokens::from_rows(&d, pad, device),
        Tokens::from_rows(&a, pad, device),
    )
}

/// P(causal) for every example (eval mode; batches of similar length).
pub fn predict(
    net: &RelationNet,
    exs: &[Encoded],
    batch: usize,
    pad: u32,
    device: Device,
) -> Vec<f64> {
    let mut order: Vec<usize> = (0..exs.len()).collect();
    order.sort_by_key(|&i| exs[i].drug.len().max(exs[i].adr.len()));
    let mut out = vec![0.0; exs.len()];
    tch::no_grad(|| {
        for chunk in order.chunks(batch.max(1)) {
            let rows: Vec<&Encoded> = chunk.iter().map(|&i| &exs[i]).collect();
            let (d, a) = pair_tokens(&rows, pad, device);
            let p = net
                .logits(&d, &a, false, 0.0)
                .sigmoid()
                .to_device(Device::Cpu);
            let v = Vec::<f32>::try_from(&p.to_kind(Kind::Float)).unwrap_or_default();
            for (&i, pv) in chunk.iter().zip(v) {
                out[i] = pv as f64;
            }
        }
    });
    out
}

fn labels(exs: &[Encoded]) -> Vec<bool> {
    exs.iter().map(|e| e.label).collect()
}

/// Validation sets: they choose the epoch and the decision thresholds.
pub struct Validation<'a> {
    /// ADE Corpus V2 hard protocol.
    pub hard: &'a [Encoded],
    /// ADE Corpus V2 card protocol (logged only).
    pub card: &'a [Encoded],
    /// Context pairs of BC5CDR CID pairs of held-out abstracts (may be empty).
    pub cid: &'a [Encoded],
    /// The pair of each `cid` context.
    pub cid_pair: &'a [usize],
    /// Label of each CID pair.
    pub cid_labels: &'a [bool],
    /// SIDER indication negatives (their share at or above the threshold is logged).
    pub indications: &'a [Encoded],
}

/// Scores of a validation pass.
struct ValScores {
    hard: Vec<f64>,
    card: Vec<f64>,
    cid_pairs: Vec<f64>,
    indications: Vec<f64>,
}

impl Validation<'_> {
    fn score(&self, net: &RelationNet, batch: usize, pad: u32, device: Device) -> ValScores {
        let cid = predict(net, self.cid, batch, pad, device);
        ValScores {
            hard: predict(net, self.hard, batch, pad, device),
            card: predict(net, self.card, batch, pad, device),
            cid_pairs: max_per_pair(&cid, self.cid_pair, self.cid_labels.len()),
            indications: predict(net, self.indications, batch, pad, device),
        }
    }
}

/// Share of scores at or above `threshold` (`None` for no scores).
pub fn share_at(p: &[f64], threshold: f64) -> Option<f64> {
    (!p.is_empty()).then(|| p.iter().filter(|&&x| x >= threshold).count() as f64 / p.len() as f64)
}

/// Train from `init` weights. `annotated` holds every folded annotated (drug, effect) pair of the corpus (InfoNCE
/// must not treat them as negatives); `val` selects the epoch: the mean of the hard-protocol and CID validation F1
/// (hard-protocol F1 alone without CID pairs).
#[allow(clippy::too_many_arguments)]
pub fn train(
    cfg: &relation::RelationConfig,
    init: &Weights,
    train_set: &[Encoded],
    val: &Validation,
    annotated: &HashSet<(String, String)>,
    tc: &RelTrainConfig,
    pad: u32,
    device: Device,
    progress: bool,
) -> Result<Trained> {
    let started = Instant::now();
    tch::manual_seed(tc.seed as i64);
    let mut net = RelationNet::new(cfg, device);
    net.load(init)?;
    net.freeze_lower(tc.freeze_layers);
    // Group 0: encoders; group 1: fusion and head (from scratch, higher learning rate).
    let mut opt = nn::AdamW {
        wd: tc.weight_decay,
        ..Default::default()
    }
    .build(&net.vs, tc.lr)
    .map_err(|e| CragError::Runtime(format!("optimizer: {e}")))?;
    let mut rng = ChaCha8Rng::seed_from_u64(tc.seed);
    let pos: Vec<&Encoded> = train_set.iter().filter(|e| e.label).collect();
    if pos.len() < 2 || pos.len() == train_set.len() {
        return Err(CragError::invalid(
            "training needs at least two positives and one negative",
        ));
    }
    let half = (tc.batch_size / 2).max(1);
    let mut pools = pools(train_set, half, tc)?;
    for p in &pools {
        eprintln!(
            "phase-2 pool {:<42} {:>6} examples, {:>2} per batch",
            p.name,
            p.items.len(),
            p.quota
        );
    }
    let mut history = Vec::new();

    // Phase 1: InfoNCE on positives, in-batch negatives (annotated look-alikes masked).
    let cb = tc.contrastive_batch.max(2);
    let steps1 = pos.len().div_ceil(cb) * tc.contrastive_epochs;
    let mut step = 0;
    for epoch in 1..=tc.contrastive_epochs {
        let t0 = Instant::now();
        let mut order = pos.clone();
        order.shuffle(&mut rng);
        let n_batches = order.len().div_ceil(cb);
        let pb = bar(
            n_batches,
            format!("contrastive {epoch}/{}", tc.contrastive_epochs),
            progress,
        )?;
        let mut sum = 0.0;
        let mut count = 0;
        for chunk in order.chunks(cb) {
            if chunk.len() < 2 {
                continue;
            }
            let f = linear_lr(step, steps1, tc.warmup_frac);
            opt.set_lr_group(0, tc.lr * f);
            opt.set_lr_group(1, tc.head_lr * f);
            let exclude: Vec<Vec<bool>> = chunk
                .iter()
                .enumerate()
                .map(|(i, ei)| {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(j, ej)| {
                            i != j
                                && (annotated
                                    .contains(&(ei.drug_key.clone(), ej.effect_key.clone()))
                                    || annotated
                                        .contains(&(ej.drug_key.clone(), ei.effect_key.clone())))
                        })
                        .collect()
                })
                .collect();
            let (d, a) = pair_tokens(chunk, pad, device);
            let (cd, ca) = net.encode(&d, &a, true, tc.dropout);
            let (zd, za) = net.project(&cd, &ca);
            let loss = info_nce_masked(&zd, &za, tc.tau, &exclude);
            opt.backward_step(&loss);
            let l = f64::try_from(&loss).unwrap_or(f64::NAN);
            sum += l;
            count += 1;
            step += 1;
            pb.set_message(format!("loss {:.4}", sum / count as f64));
            pb.inc(1);
            log_line(
                &format!("contrastive {epoch}"),
                count,
                n_batches,
                sum / count as f64,
                t0,
            );
        }
        pb.finish_and_clear();
        let log = EpochLog {
            phase: "contrastive".into(),
            epoch,
            train_loss: sum / count.max(1) as f64,
            val_hard_f1: None,
            val_hard_auc: None,
            val_card_f1: None,
            val_cid_f1: None,
            val_indication_share: None,
            seconds: t0.elapsed().as_secs_f64(),
        };
        eprintln!(
            "contrastive epoch {epoch}: InfoNCE {:.4} ({:.0} s)",
            log.train_loss, log.seconds
        );
        history.push(log);
    }

    // Phase 2: balanced batches from the pools, BCE or focal loss, early stopping on validation F1.
    let same_quota = pools[0].quota.max(1);
    let mut steps_per_epoch = pools[0].items.len().div_ceil(same_quota);
    if let Some(cap) = tc.max_steps_per_epoch {
        steps_per_epoch = steps_per_epoch.min(cap.max(1));
    }
    let steps2 = steps_per_epoch * tc.epochs;
    let mut step = 0;
    let mut best: Option<(f64, Weights)> = None;
    let mut since_best = 0;
    let vh_labels = labels(val.hard);
    let vc_labels = labels(val.card);
    for epoch in 1..=tc.epochs {
        let t0 = Instant::now();
        let pb = bar(
            steps_per_epoch,
            format!("classify {epoch}/{}", tc.epochs),
            progress,
        )?;
        let mut sum = 0.0;
        let mut count = 0;
        for _ in 0..steps_per_epoch {
            let f = linear_lr(step, steps2, tc.warmup_frac);
            opt.set_lr_group(0, tc.lr * f);
            opt.set_lr_group(1, tc.head_lr * f);
            let mut batch: Vec<&Encoded> = Vec::with_capacity(2 * half);
            for p in pools.iter_mut() {
                for _ in 0..p.quota {
                    batch.push(p.draw(&mut rng));
                }
            }
            batch.shuffle(&mut rng);
            let y: Vec<f32> = batch
                .iter()
                .map(|e| if e.label { 1.0 } else { 0.0 })
                .collect();
            let y = Tensor::from_slice(&y).to_device(device);
            let (d, a) = pair_tokens_mixed(&batch, tc.unmarked_share, &mut rng, pad, device);
            let logits = net.logits(&d, &a, true, tc.dropout);
            let loss = binary_loss(&logits, &y, tc.focal_gamma);
            opt.backward_step(&loss);
            sum += f64::try_from(&loss).unwrap_or(f64::NAN);
            count += 1;
            step += 1;
            pb.set_message(format!("loss {:.4}", sum / count as f64));
            pb.inc(1);
            log_line(
                &format!("classify {epoch}"),
                count,
                steps_per_epoch,
                sum / count as f64,
                t0,
            );
        }
        pb.finish_and_clear();
        let v = val.score(&net, tc.eval_batch, pad, device);
        let (thr, f1h) = best_f1_threshold(&v.hard, &vh_labels);
        let (_, f1c) = best_f1_threshold(&v.card, &vc_labels);
        let auc = roc_auc(&v.hard, &vh_labels);
        let cid_f1 =
            (!val.cid_labels.is_empty()).then(|| best_f1_threshold(&v.cid_pairs, val.cid_labels).1);
        let ind = share_at(&v.indications, thr);
        let log = EpochLog {
            phase: "classify".into(),
            epoch,
            train_loss: sum / count.max(1) as f64,
            val_hard_f1: Some(f1h),
            val_hard_auc: Some(auc),
            val_card_f1: Some(f1c),
            val_cid_f1: cid_f1,
            val_indication_share: ind,
            seconds: t0.elapsed().as_secs_f64(),
        };
        eprintln!(
            "classify epoch {epoch}: loss {:.4} | val hard F1 {f1h:.4} (thr {thr:.3}) AUC {auc:.4} | val card F1 {f1c:.4} | val CID F1 {} | indications >= thr {} ({:.0} s)",
            log.train_loss,
            cid_f1.map_or("-".into(), |x| format!("{x:.4}")),
            ind.map_or("-".into(), |x| format!("{x:.3}")),
            log.seconds
        );
        history.push(log);
        let score = cid_f1.map_or(f1h, |c| (f1h + c) / 2.0);
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, net.weights()?));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= tc.patience {
                eprintln!(
                    "early stop: no validation F1 gain for {} epoch(s)",
                    tc.patience
                );
                break;
            }
        }
    }
    let (_, w) = best.ok_or_else(|| CragError::invalid("no classify epoch ran"))?;
    net.load(&w)?;
    // Thresholds of the chosen weights: per protocol, and pooled over both validation sets (shipped).
    let v = val.score(&net, tc.eval_batch, pad, device);
    let (threshold, _) = best_f1_threshold(&v.hard, &vh_labels);
    let cid_threshold =
        (!val.cid_labels.is_empty()).then(|| best_f1_threshold(&v.cid_pairs, val.cid_labels).0);
    let pooled: Vec<f64> = v.hard.iter().chain(&v.cid_pairs).copied().collect();
    let pooled_labels: Vec<bool> = vh_labels.iter().chain(val.cid_labels).copied().collect();
    let (shared_threshold, _) = best_f1_threshold(&pooled, &pooled_labels);
    Ok(Trained {
        net,
        history,
        threshold,
        cid_threshold,
        shared_threshold,
        seconds: started.elapsed().as_secs_f64(),
    })
}
