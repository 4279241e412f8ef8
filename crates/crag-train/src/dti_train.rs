//! Training the DTI/ADR multi-task model exactly as `dti_adr_spec.md` describes:
//! balanced batches, BCE (pos_weight) + Huber ADR + bidirectional InfoNCE DP/DA, AdamW with cosine decay after a
//! 5 % warmup, gradient clipping at 1.0, early stopping on validation PR-AUC, the decision threshold picked on
//! validation, ADR prototypes from ADR-train drugs only, and the pair scorer's α, β, γ fitted afterwards.

use std::time::Instant;

use crag_core::data::dti::{
    nearest_neighbour_scores, popularity_scores, DtiAdrDataset, IndexedPair, Split,
};
use crag_core::dti::DtiConfig;
use crag_core::metrics::{self, RankingReport};
use crag_core::weights::Weights;
use crag_core::{features, CragError, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array2, Axis};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Reduction, Tensor};

use crate::dti_model::{info_nce, DtiNet};

/// Hyperparameters (defaults = the spec's recommended first run).
#[derive(Debug, Clone, Serialize)]
pub struct TrainConfig {
    /// Shared space size d.
    pub d: usize,
    /// Adapter hidden ratio.
    pub hidden_ratio: usize,
    /// DTI head.
    pub head: crag_core::dti::DtiHead,
    /// Dropout in adapters.
    pub dropout: f64,
    /// Pairs per balanced batch (half positive, half negative).
    pub batch_size: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Fraction of steps used for linear warmup.
    pub warmup_frac: f64,
    /// Maximum epochs.
    pub max_epochs: usize,
    /// Early-stopping patience in epochs (validation PR-AUC).
    pub patience: usize,
    /// InfoNCE temperature.
    pub tau: f64,
    /// Loss weights λ_dti, λ_adr, λ_con.
    pub lambda_dti: f64,
    /// ADR regression weight.
    pub lambda_adr: f64,
    /// Contrastive weight (applies to DP + DA).
    pub lambda_con: f64,
    /// Huber δ.
    pub huber_delta: f64,
    /// Weight ADR columns by inverse train prevalence.
    pub inverse_prevalence: bool,
    /// Extra ADR-train drugs (incl. SIDER-only) added to each step's ADR/DA terms.
    pub adr_batch: usize,
    /// Seed of weights, sampling and dropout.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            d: 512,
            hidden_ratio: 2,
            head: crag_core::dti::DtiHead::Cosine,
            dropout: 0.1,
            batch_size: 256,
            lr: 2e-4,
            weight_decay: 1e-4,
            warmup_frac: 0.05,
            max_epochs: 60,
            patience: 6,
            tau: 0.07,
            lambda_dti: 1.0,
            lambda_adr: 0.5,
            lambda_con: 0.2,
            huber_delta: 1.0,
            inverse_prevalence: false,
            adr_batch: 64,
            seed: 42,
        }
    }
}

/// Input tensors: featurized drugs and proteins, ADR targets.
pub struct Features {
    /// `[n_drugs, DRUG_DIM]`.
    pub drug_x: Tensor,
    /// `[n_proteins, PROTEIN_DIM]`.
    pub prot_x: Tensor,
    /// `[n_profiles, K]` TF-IDF.
    pub adr_t: Tensor,
    /// Drug fingerprints as rows (for the nearest-neighbour baseline).
    pub drug_rows: Array2<f32>,
}

/// Featurize every drug and protein of the dataset with crag-core's featurizers (the same code SQL runs).
pub fn featurize(ds: &DtiAdrDataset, device: Device) -> Result<Features> {
    let mut drug_rows = Array2::<f32>::zeros((ds.drugs.len(), features::DRUG_DIM));
    for (i, d) in ds.drugs.iter().enumerate() {
        let f = features::drug_features(&d.smiles)
            .map_err(|e| CragError::invalid(format!("drug {} ({}): {e}", i, d.smiles)))?;
        drug_rows.row_mut(i).assign(&ndarray::ArrayView1::from(&f));
    }
    let mut prot = Vec::with_capacity(ds.proteins.len() * features::PROTEIN_DIM);
    for (i, p) in ds.proteins.iter().enumerate() {
        prot.extend(
            features::protein_features(&p.sequence)
                .map_err(|e| CragError::invalid(format!("protein {i}: {e}")))?,
        );
    }
    let to_t = |a: &Array2<f32>| {
        let v: Vec<f32> = a.iter().copied().collect();
        Tensor::from_slice(&v)
            .reshape([a.nrows() as i64, a.ncols() as i64])
            .to_device(device)
    };
    Ok(Features {
        drug_x: to_t(&drug_rows),
        prot_x: Tensor::from_slice(&prot)
            .reshape([ds.proteins.len() as i64, features::PROTEIN_DIM as i64])
            .to_device(device),
        adr_t: to_t(&ds.adr_targets),
        drug_rows,
    })
}

/// The protein features of `f` as rows `[n_proteins, PROTEIN_DIM]` (for ONNX Runtime).
pub fn protein_rows(f: &Features) -> Result<Array2<f32>> {
    let cpu = f.prot_x.to_device(Device::Cpu);
    let n = cpu.size().first().copied().unwrap_or(0) as usize;
    let flat = Vec::<f32>::try_from(&cpu.reshape([-1]))
        .map_err(|e| CragError::Runtime(format!("protein features: {e}")))?;
    Array2::from_shape_vec((n, features::PROTEIN_DIM), flat)
        .map_err(|e| CragError::Runtime(format!("protein features: {e}")))
}

/// One line of the training log.
#[derive(Debug, Clone, Serialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean total loss.
    pub loss: f64,
    /// Mean DTI BCE.
    pub loss_dti: f64,
    /// Mean ADR Huber.
    pub loss_adr: f64,
    /// Mean DP InfoNCE.
    pub loss_dp: f64,
    /// Mean DA InfoNCE.
    pub loss_da: f64,
    /// Validation PR-AUC (early-stopping metric).
    pub val_pr_auc: f64,
    /// Validation AUROC.
    pub val_auroc: f64,
    /// Validation F1 at its best threshold.
    pub val_f1: f64,
    /// ADR validation Recall@10.
    pub adr_val_recall10: f64,
    /// ADR validation NDCG@10.
    pub adr_val_ndcg10: f64,
    /// Seconds for the epoch (incl. validation).
    pub seconds: f64,
}

/// Everything training produces.
pub struct Trained {
    /// The network at its best validation epoch.
    pub net: DtiNet,
    /// Per-epoch log.
    pub history: Vec<EpochLog>,
    /// Best epoch (1-based).
    pub best_epoch: usize,
    /// Decision threshold maximising validation F1.
    pub threshold: f64,
    /// Prototypes `[K, d]` (zero rows: no supporting ADR-train drug).
    pub prototypes: Array2<f32>,
    /// Total training seconds.
    pub seconds: f64,
}

fn lr_at(step: usize, total: usize, base: f64, warmup_frac: f64) -> f64 {
    let warm = ((total as f64 * warmup_frac).ceil() as usize).max(1);
    if step < warm {
        base * (step + 1) as f64 / warm as f64
    } else {
        let t = (step - warm) as f64 / (total - warm).max(1) as f64;
        base * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
    }
}

fn idx(v: &[usize], device: Device) -> Tensor {
    Tensor::from_slice(&v.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(device)
}

fn to_vec_f32(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(&t.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]))
        .unwrap_or_default()
}

/// P(bind) for pairs (eval mode, batched).
pub fn predict_pairs(net: &DtiNet, f: &Features, pairs: &[IndexedPair]) -> Vec<f64> {
    let device = net.vs.device();
    let mut out = Vec::with_capacity(pairs.len());
    tch::no_grad(|| {
        for chunk in pairs.chunks(2048) {
            let d: Vec<usize> = chunk.iter().map(|p| p.drug).collect();
            let p: Vec<usize> = chunk.iter().map(|p| p.protein).collect();
            let u = net.encode_drug(&f.drug_x.index_select(0, &idx(&d, device)), false);
            let v = net.encode_protein(&f.prot_x.index_select(0, &idx(&p, device)), false);
            out.extend(
                to_vec_f32(&net.dti_logit(&u, &v).sigmoid())
                    .into_iter()
                    .map(|x| x as f64),
            );
        }
    });
    out
}

/// ADR head predictions for drugs (eval mode) as `[n, K]`.
pub fn predict_adr(net: &DtiNet, f: &Features, drugs: &[usize]) -> Array2<f32> {
    let device = net.vs.device();
    let k = net.cfg.n_adr;
    let mut out = Vec::with_capacity(drugs.len() * k);
    tch::no_grad(|| {
        for chunk in drugs.chunks(1024) {
            let u = net.encode_drug(&f.drug_x.index_select(0, &idx(chunk, device)), false);
            out.extend(to_vec_f32(&net.adr_pred(&u)));
        }
    });
    Array2::from_shape_vec((drugs.len(), k), out)
        .unwrap_or_else(|_| Array2::zeros((drugs.len(), k)))
}

/// ADR metrics of predictions `pred` (`[rows, K]`) against target rows of the dataset.
#[derive(Debug, Clone, Serialize)]
pub struct AdrReport {
    /// Number of held-out profiles.
    pub n: usize,
    /// Ranking @5.
    pub at5: RankingReport,
    /// Ranking @10.
    pub at10: RankingReport,
    /// RMSE of TF-IDF values (micro).
    pub rmse: f64,
    /// MAE of TF-IDF values (micro).
    pub mae: f64,
}

/// Score ADR predictions for target `rows`.
pub fn adr_report(ds: &DtiAdrDataset, rows: &[usize], pred: &Array2<f32>) -> AdrReport {
    let k = ds.adr_targets.ncols();
    let relevant = ds.adr_relevance(rows);
    let flat: Vec<f32> = pred.iter().copied().collect();
    let target: Vec<f32> = rows
        .iter()
        .flat_map(|&r| ds.adr_targets.row(r).to_vec())
        .collect();
    AdrReport {
        n: rows.len(),
        at5: metrics::ranking_report(&flat, &relevant, k, 5),
        at10: metrics::ranking_report(&flat, &relevant, k, 10),
        rmse: metrics::rmse(&flat, &target),
        mae: metrics::mae(&flat, &target),
    }
}

fn adr_eval(net: &DtiNet, ds: &DtiAdrDataset, f: &Features, split: Split) -> AdrReport {
    let rows = ds.adr_rows(split);
    let drugs: Vec<usize> = rows.iter().map(|&r| ds.adr_row_drug[r]).collect();
    adr_report(ds, &rows, &predict_adr(net, f, &drugs))
}

/// The two ADR baselines on a split: popularity and Tanimoto 5-NN transfer from ADR-train drugs.
pub fn adr_baselines(
    ds: &DtiAdrDataset,
    f: &Features,
    split: Split,
) -> Result<(AdrReport, AdrReport)> {
    let train_rows = ds.adr_rows(Split::Train);
    let train_t = ds.adr_targets.select(Axis(0), &train_rows);
    let pop = popularity_scores(train_t.view())?;
    let rows = ds.adr_rows(split);
    let k = ds.adr_targets.ncols();
    let mut pop_pred = Array2::<f32>::zeros((rows.len(), k));
    for mut r in pop_pred.rows_mut() {
        r.assign(&ndarray::ArrayView1::from(&pop));
    }
    let train_fps: Vec<&[f32]> = train_rows
        .iter()
        .map(|&r| {
            f.drug_rows
                .row(ds.adr_row_drug[r])
                .to_slice()
                .unwrap_or(&[])
        })
        .collect();
    let mut nn_pred = Array2::<f32>::zeros((rows.len(), k));
    for (i, &r) in rows.iter().enumerate() {
        let q = f.drug_rows.row(ds.adr_row_drug[r]);
        let s =
            nearest_neighbour_scores(q.to_slice().unwrap_or(&[]), &train_fps, train_t.view(), 5)?;
        nn_pred.row_mut(i).assign(&ndarray::ArrayView1::from(&s));
    }
    Ok((
        adr_report(ds, &rows, &pop_pred),
        adr_report(ds, &rows, &nn_pred),
    ))
}

/// DTI metrics on a pair list at a fixed threshold.
#[derive(Debug, Clone, Serialize)]
pub struct DtiReport {
    /// Pairs.
    pub n: usize,
    /// PR-AUC (average precision).
    pub pr_auc: f64,
    /// AUROC.
    pub auroc: f64,
    /// Threshold used (picked on validation).
    pub threshold: f64,
    /// Precision / recall / F1 at the threshold.
    pub at_threshold: metrics::BinaryReport,
}

/// Evaluate p_bind on `pairs` at `threshold`.
pub fn dti_report(net: &DtiNet, f: &Features, pairs: &[IndexedPair], threshold: f64) -> DtiReport {
    dti_report_from_scores(&predict_pairs(net, f, pairs), pairs, threshold)
}

/// [`dti_report`] of given scores (one per pair, e.g. from an ONNX graph).
pub fn dti_report_from_scores(scores: &[f64], pairs: &[IndexedPair], threshold: f64) -> DtiReport {
    let labels: Vec<bool> = pairs.iter().map(|p| p.label).collect();
    DtiReport {
        n: pairs.len(),
        pr_auc: metrics::average_precision(scores, &labels),
        auroc: metrics::roc_auc(scores, &labels),
        threshold,
        at_threshold: metrics::f1_at(scores, &labels, threshold),
    }
}

/// Drugs whose ADR (Huber) and DA (InfoNCE) terms a step computes: the batch's drugs that have an ADR-train
/// profile plus the sampled ADR-train drugs, each once. Drugs without a profile, or whose profile is held out for
/// ADR validation/test, are masked out — never entered with a zero target.
pub fn adr_step_drugs(batch_drugs: &[usize], adr_mask: &[bool], sampled: &[usize]) -> Vec<usize> {
    let mut uniq: Vec<usize> = batch_drugs
        .iter()
        .chain(sampled)
        .copied()
        .filter(|&d| adr_mask.get(d).copied().unwrap_or(false))
        .collect();
    uniq.sort_unstable();
    uniq.dedup();
    uniq
}

/// Train on `ds` and return the best network with threshold and prototypes.
pub fn train(
    ds: &DtiAdrDataset,
    f: &Features,
    tc: &TrainConfig,
    device: Device,
    progress: bool,
) -> Result<Trained> {
    let started = Instant::now();
    let k = ds.adr_targets.ncols();
    let cfg = DtiConfig {
        drug_dim: features::DRUG_DIM,
        prot_dim: features::PROTEIN_DIM,
        n_adr: k,
        d: tc.d,
        hidden_ratio: tc.hidden_ratio,
        head: tc.head,
        ln_eps: 1e-5,
        precision: crag_core::onnx::WeightPrecision::F32,
    };
    let mut net = DtiNet::new(&cfg, device, tc.seed, tc.dropout);
    // Prior-initialised ADR head bias: softplus(b_k) = mean train TF-IDF of column k. TF-IDF values are ~1e-2, so
    // from the default init (softplus(0) = 0.69) AdamW at 2e-4 would need ~10^4 steps just to reach the column
    // means; starting there, the head learns per-drug deviations from the first epoch.
    let train_rows = ds.adr_rows(Split::Train);
    let bias: Vec<f32> = (0..k)
        .map(|c| {
            let m = train_rows
                .iter()
                .map(|&r| ds.adr_targets[[r, c]])
                .sum::<f32>()
                / train_rows.len().max(1) as f32;
            m.max(1e-4).exp_m1().ln()
        })
        .collect();
    net.set_param("adr_head.bias", &bias)?;
    // Zero-initialised ADR head weights (the usual zero-init of a last layer): with the default init, W·u (|u| ≈ √d
    // after LayerNorm) adds noise of order 0.5 to logits whose column differences are far smaller, so the first
    // epochs would rank ADRs at random instead of starting from the column prior.
    net.set_param("adr_head.weight", &vec![0.0; k * tc.d])?;
    let mut opt = nn::AdamW {
        wd: tc.weight_decay,
        ..Default::default()
    }
    .build(&net.vs, tc.lr)
    .map_err(|e| CragError::Runtime(format!("optimizer: {e}")))?;
    let mut rng = ChaCha8Rng::seed_from_u64(tc.seed);

    let pos: Vec<&IndexedPair> = ds.train.iter().filter(|p| p.label).collect();
    let neg: Vec<&IndexedPair> = ds.train.iter().filter(|p| !p.label).collect();
    if pos.is_empty() || neg.is_empty() {
        return Err(CragError::invalid(
            "training pairs need both positives and negatives",
        ));
    }
    let pos_weight =
        Tensor::from_slice(&[(neg.len() as f32) / (pos.len() as f32)]).to_device(device);
    let adr_train_drugs: Vec<usize> = (0..ds.drugs.len()).filter(|&i| ds.adr_mask[i]).collect();
    let col_weight = if tc.inverse_prevalence {
        let rows = ds.adr_rows(Split::Train);
        let prev: Vec<f32> = (0..k)
            .map(|c| {
                rows.iter()
                    .filter(|&&r| ds.adr_targets[[r, c]] > 0.0)
                    .count() as f32
                    / rows.len().max(1) as f32
            })
            .collect();
        let w: Vec<f32> = prev.iter().map(|p| 1.0 / (1e-3 + p)).collect();
        let mean = w.iter().sum::<f32>() / k as f32;
        Some(Tensor::from_slice(&w.iter().map(|x| x / mean).collect::<Vec<_>>()).to_device(device))
    } else {
        None
    };

    let half = (tc.batch_size / 2).max(1);
    let steps_per_epoch = ds.train.len().div_ceil(tc.batch_size).max(1);
    let total_steps = steps_per_epoch * tc.max_epochs;
    let val_labels: Vec<bool> = ds.val.iter().map(|p| p.label).collect();

    let mut history = Vec::new();
    let mut best: Option<(f64, usize, Weights)> = None;
    let mut step = 0usize;
    let bar_style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
        .map_err(|e| CragError::Runtime(e.to_string()))?
        .progress_chars("=> ");
    for epoch in 1..=tc.max_epochs {
        let t0 = Instant::now();
        let pb = if progress {
            ProgressBar::new(steps_per_epoch as u64)
        } else {
            ProgressBar::hidden()
        };
        pb.set_style(bar_style.clone());
        pb.set_prefix(format!("epoch {epoch:>3}"));
        let mut sums = [0f64; 5];
        for _ in 0..steps_per_epoch {
            let mut batch: Vec<IndexedPair> = pos
                .choose_multiple(&mut rng, half.min(pos.len()))
                .map(|p| **p)
                .collect();
            batch.extend(
                neg.choose_multiple(&mut rng, half.min(neg.len()))
                    .map(|p| **p),
            );
            batch.shuffle(&mut rng);
            let d_idx: Vec<usize> = batch.iter().map(|p| p.drug).collect();
            let p_idx: Vec<usize> = batch.iter().map(|p| p.protein).collect();
            let y: Vec<f32> = batch
                .iter()
                .map(|p| if p.label { 1.0 } else { 0.0 })
                .collect();
            let y = Tensor::from_slice(&y).to_device(device);

            let u = net.encode_drug(&f.drug_x.index_select(0, &idx(&d_idx, device)), true);
            let v = net.encode_protein(&f.prot_x.index_select(0, &idx(&p_idx, device)), true);
            let logit = net.dti_logit(&u, &v);
            let l_dti = logit.binary_cross_entropy_with_logits::<Tensor>(
                &y,
                None,
                Some(pos_weight.shallow_clone()),
                Reduction::Mean,
            );

            let pos_rows: Vec<usize> = batch
                .iter()
                .enumerate()
                .filter(|(_, p)| p.label)
                .map(|(i, _)| i)
                .collect();
            let l_dp = if pos_rows.len() >= 2 {
                let pi = idx(&pos_rows, device);
                info_nce(&u.index_select(0, &pi), &v.index_select(0, &pi), tc.tau)
            } else {
                Tensor::zeros([], (Kind::Float, device))
            };

            let sampled: Vec<usize> = adr_train_drugs
                .choose_multiple(&mut rng, tc.adr_batch.min(adr_train_drugs.len()))
                .copied()
                .collect();
            let uniq = adr_step_drugs(&d_idx, &ds.adr_mask, &sampled);
            let (l_adr, l_da) = if uniq.len() >= 2 {
                let rows: Vec<usize> = uniq.iter().filter_map(|&d| ds.adr_row[d]).collect();
                let u_u = net.encode_drug(&f.drug_x.index_select(0, &idx(&uniq, device)), true);
                let t_u = f.adr_t.index_select(0, &idx(&rows, device));
                let w = net.encode_adr(&t_u, true);
                let pred = net.adr_pred(&u_u);
                let l_adr = match &col_weight {
                    Some(cw) => (pred.huber_loss(&t_u, Reduction::None, tc.huber_delta) * cw)
                        .mean(Kind::Float),
                    None => pred.huber_loss(&t_u, Reduction::Mean, tc.huber_delta),
                };
                (l_adr, info_nce(&u_u, &w, tc.tau))
            } else {
                (
                    Tensor::zeros([], (Kind::Float, device)),
                    Tensor::zeros([], (Kind::Float, device)),
                )
            };

            let loss =
                &l_dti * tc.lambda_dti + &l_adr * tc.lambda_adr + (&l_dp + &l_da) * tc.lambda_con;
            opt.set_lr(lr_at(step, total_steps, tc.lr, tc.warmup_frac));
            opt.backward_step_clip_norm(&loss, 1.0);
            step += 1;
            for (s, t) in sums.iter_mut().zip([&loss, &l_dti, &l_adr, &l_dp, &l_da]) {
                *s += t.double_value(&[]);
            }
            pb.inc(1);
            pb.set_message(format!("loss {:.4}", sums[0] / pb.position() as f64));
        }
        let n = steps_per_epoch as f64;
        let scores = predict_pairs(&net, f, &ds.val);
        let (_, val_f1) = metrics::best_f1_threshold(&scores, &val_labels);
        let adr = adr_eval(&net, ds, f, Split::Val);
        let log = EpochLog {
            epoch,
            lr: lr_at(step.saturating_sub(1), total_steps, tc.lr, tc.warmup_frac),
            loss: sums[0] / n,
            loss_dti: sums[1] / n,
            loss_adr: sums[2] / n,
            loss_dp: sums[3] / n,
            loss_da: sums[4] / n,
            val_pr_auc: metrics::average_precision(&scores, &val_labels),
            val_auroc: metrics::roc_auc(&scores, &val_labels),
            val_f1,
            adr_val_recall10: adr.at10.recall,
            adr_val_ndcg10: adr.at10.ndcg,
            seconds: t0.elapsed().as_secs_f64(),
        };
        pb.finish_and_clear();
        let improved = best.as_ref().is_none_or(|(b, _, _)| log.val_pr_auc > *b);
        eprintln!(
            "epoch {:>3}  loss {:.4} (dti {:.4} adr {:.5} dp {:.3} da {:.3})  val PR-AUC {:.4} AUROC {:.4} F1 {:.4}  \
             ADR R@10 {:.4} NDCG@10 {:.4}  lr {:.2e}  {:.1}s{}",
            epoch,
            log.loss,
            log.loss_dti,
            log.loss_adr,
            log.loss_dp,
            log.loss_da,
            log.val_pr_auc,
            log.val_auroc,
            log.val_f1,
            log.adr_val_recall10,
            log.adr_val_ndcg10,
            log.lr,
            log.seconds,
            if improved { "  *" } else { "" }
        );
        if improved {
            best = Some((log.val_pr_auc, epoch, net.weights()?));
        }
        history.push(log);
        if let Some((_, b, _)) = &best {
            if epoch - b >= tc.patience {
                eprintln!(
                    "early stop: no validation PR-AUC gain for {} epochs (best epoch {b})",
                    tc.patience
                );
                break;
            }
        }
    }
    let (_, best_epoch, weights) = best.ok_or_else(|| CragError::Runtime("no epoch ran".into()))?;
    net.load_weights(&weights)?;
    let scores = predict_pairs(&net, f, &ds.val);
    let (threshold, _) = metrics::best_f1_threshold(&scores, &val_labels);
    let prototypes = compute_prototypes(&net, ds, f);
    fit_pair_scorer(&mut net, ds, f, &prototypes, tc.seed)?;
    Ok(Trained {
        net,
        history,
        best_epoch,
        threshold,
        prototypes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Spec §1.5/§6: `c_k` = mean ADR-adapter embedding of ADR-train profiles with `t[k] > 0`; zero when none.
pub fn compute_prototypes(net: &DtiNet, ds: &DtiAdrDataset, f: &Features) -> Array2<f32> {
    let rows = ds.adr_rows(Split::Train);
    let k = ds.adr_targets.ncols();
    let d = net.cfg.d;
    let device = net.vs.device();
    let w = tch::no_grad(|| net.encode_adr(&f.adr_t.index_select(0, &idx(&rows, device)), false));
    let w = Array2::from_shape_vec((rows.len(), d), to_vec_f32(&w))
        .unwrap_or_else(|_| Array2::zeros((rows.len(), d)));
    let mut c = Array2::<f32>::zeros((k, d));
    let mut n = vec![0usize; k];
    for (i, &r) in rows.iter().enumerate() {
        for (col, count) in n.iter_mut().enumerate() {
            if ds.adr_targets[[r, col]] > 1e-6 {
                let mut row = c.row_mut(col);
                row += &w.row(i);
                *count += 1;
            }
        }
    }
    for (col, &cnt) in n.iter().enumerate() {
        if cnt > 0 {
            c.row_mut(col).mapv_inplace(|x| x / cnt as f32);
        }
    }
    c
}

/// Learn α, β, γ of the pair scorer: logistic regression of "drug has ADR k" on `(u·c_k, v·c_k, u·v)` over
/// positive train pairs whose drug has an ADR-train profile, prototypes fixed.
pub fn fit_pair_scorer(
    net: &mut DtiNet,
    ds: &DtiAdrDataset,
    f: &Features,
    c: &Array2<f32>,
    seed: u64,
) -> Result<()> {
    let device = net.vs.device();
    let pairs: Vec<IndexedPair> = ds
        .train
        .iter()
        .filter(|p| p.label && ds.adr_mask[p.drug])
        .copied()
        .collect();
    if pairs.is_empty() {
        return Ok(());
    }
    let present: Vec<usize> = (0..c.nrows())
        .filter(|&k| c.row(k).iter().any(|&x| x != 0.0))
        .collect();
    let ct = Tensor::from_slice(c.select(Axis(0), &present).as_slice().unwrap_or(&[]))
        .reshape([present.len() as i64, c.ncols() as i64])
        .to_device(device);
    let (s, m, r) = tch::no_grad(|| {
        let d: Vec<usize> = pairs.iter().map(|p| p.drug).collect();
        let pr: Vec<usize> = pairs.iter().map(|p| p.protein).collect();
        let u = net.encode_drug(&f.drug_x.index_select(0, &idx(&d, device)), false);
        let v = net.encode_protein(&f.prot_x.index_select(0, &idx(&pr, device)), false);
        (
            u.matmul(&ct.tr()),
            v.matmul(&ct.tr()),
            (&u * &v).sum_dim_intlist(-1, true, Kind::Float),
        )
    });
    let labels: Vec<f32> = pairs
        .iter()
        .flat_map(|p| {
            let row = ds.adr_row[p.drug].unwrap_or(0);
            present.iter().map(move |&k| {
                if ds.adr_targets[[row, k]] > 1e-6 {
                    1.0
                } else {
                    0.0
                }
            })
        })
        .collect();
    let y = Tensor::from_slice(&labels)
        .reshape([pairs.len() as i64, present.len() as i64])
        .to_device(device);
    tch::manual_seed(seed as i64);
    let vs = nn::VarStore::new(device);
    let a = vs.root().var("alpha", &[], nn::Init::Const(1.0));
    let b = vs.root().var("beta", &[], nn::Init::Const(1.0));
    let g = vs.root().var("gamma", &[], nn::Init::Const(0.5));
    let mut opt = nn::Adam::default()
        .build(&vs, 0.05)
        .map_err(|e| CragError::Runtime(e.to_string()))?;
    for _ in 0..400 {
        let z = &s * &a + &m * &b + &r * &g;
        let loss = z.binary_cross_entropy_with_logits::<Tensor>(&y, None, None, Reduction::Mean);
        opt.backward_step(&loss);
    }
    let (pa, pb, pg) = net.scorer_params();
    tch::no_grad(|| {
        pa.shallow_clone().copy_(&a);
        pb.shallow_clone().copy_(&b);
        pg.shallow_clone().copy_(&g);
    });
    Ok(())
}

/// Ranking quality of the pair-conditioned scorer (what `crag_topk_adr` returns) on positive `pairs` whose drug
/// has a held-out ADR profile in `split`: scores `σ(α u·c_k + β v·c_k + γ u·v)` over ADRs with a prototype.
pub fn pair_scorer_report(
    net: &DtiNet,
    ds: &DtiAdrDataset,
    f: &Features,
    c: &Array2<f32>,
    pairs: &[IndexedPair],
    split: Split,
) -> Result<AdrReport> {
    let device = net.vs.device();
    let chosen = pair_scorer_pairs(ds, pairs, split);
    let weights = net.weights()?;
    let scorer = crag_core::dti::PairScorer {
        alpha: weights.scalar("pair_scorer.alpha")?,
        beta: weights.scalar("pair_scorer.beta")?,
        gamma: weights.scalar("pair_scorer.gamma")?,
    };
    let (u, v) = tch::no_grad(|| {
        let d: Vec<usize> = chosen.iter().map(|p| p.drug).collect();
        let p: Vec<usize> = chosen.iter().map(|p| p.protein).collect();
        (
            to_vec_f32(&net.encode_drug(&f.drug_x.index_select(0, &idx(&d, device)), false)),
            to_vec_f32(&net.encode_protein(&f.prot_x.index_select(0, &idx(&p, device)), false)),
        )
    });
    pair_scorer_report_from(ds, &scorer, c, &chosen, &u, &v)
}

/// The pairs [`pair_scorer_report`] ranks: positive `pairs` whose drug has an ADR profile in `split`.
pub fn pair_scorer_pairs(
    ds: &DtiAdrDataset,
    pairs: &[IndexedPair],
    split: Split,
) -> Vec<IndexedPair> {
    pairs
        .iter()
        .filter(|p| p.label && ds.adr_row[p.drug].is_some_and(|r| ds.adr_row_split[r] == split))
        .copied()
        .collect()
}

/// [`pair_scorer_report`] from given embeddings of the `chosen` pairs (row-major `[n, d]` `u` and `v`, e.g. from an
/// ONNX graph) and scorer scalars.
pub fn pair_scorer_report_from(
    ds: &DtiAdrDataset,
    scorer: &crag_core::dti::PairScorer,
    c: &Array2<f32>,
    chosen: &[IndexedPair],
    u: &[f32],
    v: &[f32],
) -> Result<AdrReport> {
    let rows: Vec<usize> = chosen.iter().filter_map(|p| ds.adr_row[p.drug]).collect();
    let (k, d) = c.dim();
    if u.len() != chosen.len() * d || v.len() != chosen.len() * d {
        return Err(CragError::invalid(format!(
            "pair scorer: {} / {} embedding values for {} pairs of size {d}",
            u.len(),
            v.len(),
            chosen.len()
        )));
    }
    let protos =
        crag_core::dti::Prototypes::from_rows(k, d, (0..k).map(|i| (i, Some(c.row(i).to_vec()))))?;
    let mut pred = Array2::<f32>::zeros((chosen.len(), k));
    for i in 0..chosen.len() {
        let s = crag_core::dti::pair_adr_scores(
            scorer,
            &u[i * d..(i + 1) * d],
            &v[i * d..(i + 1) * d],
            &protos,
        );
        for (j, x) in s.into_iter().enumerate() {
            pred[[i, j]] = x.unwrap_or(-1.0);
        }
    }
    Ok(adr_report(ds, &rows, &pred))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adr_terms_use_only_drugs_with_an_adr_train_profile() {
        // Drugs 1 and 3 have no usable profile; 4 is sampled and also in the batch twice.
        let mask = [true, false, true, false, true];
        assert_eq!(
            adr_step_drugs(&[0, 1, 3, 4, 4], &mask, &[4, 2, 3]),
            vec![0, 2, 4]
        );
        assert!(
            adr_step_drugs(&[1, 3], &mask, &[]).is_empty(),
            "no profile, no ADR loss"
        );
        assert!(
            adr_step_drugs(&[7], &mask, &[]).is_empty(),
            "out-of-range ids are masked, not a panic"
        );
    }

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_zero() {
        let total = 100;
        assert!((lr_at(0, total, 1.0, 0.05) - 0.2).abs() < 1e-12);
        assert!((lr_at(4, total, 1.0, 0.05) - 1.0).abs() < 1e-12);
        assert!(lr_at(50, total, 1.0, 0.05) < 1.0 && lr_at(50, total, 1.0, 0.05) > 0.4);
        assert!(lr_at(99, total, 1.0, 0.05) < 1e-3);
    }
}
