//! Evaluation metrics for the DTI/ADR model (spec §5): binary classification (PR-AUC, ROC-AUC, F1),
//! multi-label ranking (precision/recall/NDCG at k) and regression (RMSE, MAE).
//!
//! All functions are pure and never panic. Undefined values are reported as NaN rather than a
//! convention-dependent number:
//! * empty input, inputs of different lengths, or a NaN score → NaN;
//! * binary metrics ([`average_precision`], [`roc_auc`], [`best_f1_threshold`]) need both classes;
//!   when all labels are equal the result is NaN (scikit-learn would warn and return 0 or 1).
//!
//! Ties are never broken by input order. The binary metrics group equal scores into one threshold
//! (as scikit-learn does); the ranking metrics take the expectation over all orderings of tied
//! scores (McSherry & Najork, ECIR 2008; scikit-learn's `ndcg_score` with `ignore_ties=False`). A
//! constant predictor therefore scores the same whatever the column order.

/// One block of equal scores, in descending score order.
struct ScoreGroup {
    score: f64,
    pos: usize,
    neg: usize,
}

/// Groups of equal scores sorted by descending score, with the class totals `(groups, n_pos, n_neg)`.
/// `None` when the input is empty, lengths differ or a score is NaN.
fn descending_groups(scores: &[f64], labels: &[bool]) -> Option<(Vec<ScoreGroup>, usize, usize)> {
    if scores.is_empty() || scores.len() != labels.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut groups: Vec<ScoreGroup> = Vec::new();
    for i in idx {
        let (p, n) = if labels[i] { (1, 0) } else { (0, 1) };
        match groups.last_mut() {
            // `==` (not total_cmp) so that -0.0 and 0.0 form one tie group.
            Some(g) if g.score == scores[i] => {
                g.pos += p;
                g.neg += n;
            }
            _ => groups.push(ScoreGroup {
                score: scores[i],
                pos: p,
                neg: n,
            }),
        }
    }
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    Some((groups, n_pos, n_neg))
}

/// Average precision (area under the step-wise precision–recall curve), as scikit-learn's
/// `average_precision_score`: `AP = Σ_n (R_n − R_{n−1}) · P_n` over the distinct score thresholds in
/// descending order (a block of tied scores enters as one threshold, no interpolation).
///
/// NaN when the input is empty, lengths differ, a score is NaN, or either class is absent.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    let Some((groups, n_pos, n_neg)) = descending_groups(scores, labels) else {
        return f64::NAN;
    };
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    for g in &groups {
        tp += g.pos;
        fp += g.neg;
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    ap
}

/// Area under the ROC curve via the Mann–Whitney statistic: the probability that a random positive
/// scores above a random negative, a tie counting 1/2. Equals scikit-learn's `roc_auc_score`
/// (trapezoidal rule over tie-grouped thresholds).
///
/// NaN when the input is empty, lengths differ, a score is NaN, or either class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let Some((groups, n_pos, n_neg)) = descending_groups(scores, labels) else {
        return f64::NAN;
    };
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let mut pos_above = 0.0f64;
    let mut wins = 0.0f64;
    for g in &groups {
        wins += g.neg as f64 * (pos_above + 0.5 * g.pos as f64);
        pos_above += g.pos as f64;
    }
    wins / (n_pos as f64 * n_neg as f64)
}

/// Confusion counts and derived scores at one threshold (positive ⇔ `score >= threshold`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BinaryReport {
    /// `tp / (tp + fp)`; NaN when nothing is predicted positive.
    pub precision: f64,
    /// `tp / (tp + fn)`; NaN when there are no positives.
    pub recall: f64,
    /// `2·tp / (2·tp + fp + fn)`; NaN only when both predicted and actual positives are absent
    /// (so F1 is 0, not NaN, when positives exist but none is predicted).
    pub f1: f64,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// True negatives.
    pub tn: usize,
}

impl BinaryReport {
    fn undefined() -> Self {
        BinaryReport {
            precision: f64::NAN,
            recall: f64::NAN,
            f1: f64::NAN,
            tp: 0,
            fp: 0,
            fn_: 0,
            tn: 0,
        }
    }

    fn from_counts(tp: usize, fp: usize, fn_: usize, tn: usize) -> Self {
        let ratio = |num: usize, den: usize| {
            if den == 0 {
                f64::NAN
            } else {
                num as f64 / den as f64
            }
        };
        BinaryReport {
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            tp,
            fp,
            fn_,
            tn,
        }
    }
}

/// Precision, recall, F1 and confusion counts when predicting positive for `score >= threshold`.
///
/// Empty input, different lengths, a NaN score or a NaN threshold give all-NaN scores and zero counts.
pub fn f1_at(scores: &[f64], labels: &[bool], threshold: f64) -> BinaryReport {
    if scores.is_empty()
        || scores.len() != labels.len()
        || threshold.is_nan()
        || scores.iter().any(|s| s.is_nan())
    {
        return BinaryReport::undefined();
    }
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    for (&s, &l) in scores.iter().zip(labels) {
        match (s >= threshold, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    BinaryReport::from_counts(tp, fp, fn_, tn)
}

/// The decision threshold maximising F1 (spec §5.1: choose it on the validation split), returned as
/// `(threshold, f1)`. Candidates are the distinct score values (predict positive if
/// `score >= threshold`); among equal F1 the highest threshold wins.
///
/// `(NaN, NaN)` when the input is empty, lengths differ, a score is NaN, or either class is absent.
pub fn best_f1_threshold(scores: &[f64], labels: &[bool]) -> (f64, f64) {
    let Some((groups, n_pos, n_neg)) = descending_groups(scores, labels) else {
        return (f64::NAN, f64::NAN);
    };
    if n_pos == 0 || n_neg == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best = (f64::NAN, f64::NEG_INFINITY);
    for g in &groups {
        tp += g.pos;
        fp += g.neg;
        let f1 = 2.0 * tp as f64 / (2 * tp + fp + (n_pos - tp)) as f64;
        if f1 > best.1 {
            best = (g.score, f1);
        }
    }
    best
}

/// Expected number of relevant items and expected DCG in the top `k` (`k` already clamped to the
/// row length), averaging over every ordering of tied scores. `None` on mismatched lengths or NaN.
fn tie_aware_top_k(pred: &[f32], relevant: &[bool], k: usize) -> Option<(f64, f64)> {
    if pred.len() != relevant.len() || pred.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut idx: Vec<usize> = (0..pred.len()).collect();
    idx.sort_by(|&a, &b| pred[b].total_cmp(&pred[a]));
    let (mut hits, mut dcg) = (0.0f64, 0.0f64);
    let mut start = 0usize;
    while start < k {
        let mut end = start + 1;
        while end < idx.len() && pred[idx[end]] == pred[idx[start]] {
            end += 1;
        }
        let n_rel = idx[start..end].iter().filter(|&&i| relevant[i]).count();
        let mean_gain = n_rel as f64 / (end - start) as f64;
        let last = end.min(k);
        hits += mean_gain * (last - start) as f64;
        dcg += mean_gain
            * (start..last)
                .map(|pos| 1.0 / ((pos + 2) as f64).log2())
                .sum::<f64>();
        start = end;
    }
    Some((hits, dcg))
}

/// Precision@k for one row: expected number of relevant items among the `k` highest scores, divided
/// by `k` (clamped to the row length). Ties are averaged (see module docs).
///
/// NaN when `k == 0`, the row is empty, lengths differ or a score is NaN. A row with no relevant item
/// scores 0 here; [`ranking_report`] skips such rows.
pub fn precision_at_k(pred_scores: &[f32], relevant: &[bool], k: usize) -> f64 {
    let k = k.min(pred_scores.len());
    if k == 0 {
        return f64::NAN;
    }
    match tie_aware_top_k(pred_scores, relevant, k) {
        Some((hits, _)) => hits / k as f64,
        None => f64::NAN,
    }
}

/// Recall@k for one row: expected number of relevant items among the `k` highest scores divided by
/// the number of relevant items. Ties are averaged.
///
/// NaN when there is no relevant item, `k == 0`, lengths differ or a score is NaN.
pub fn recall_at_k(pred_scores: &[f32], relevant: &[bool], k: usize) -> f64 {
    let k = k.min(pred_scores.len());
    let n_rel = relevant.iter().filter(|&&r| r).count();
    if k == 0 || n_rel == 0 {
        return f64::NAN;
    }
    match tie_aware_top_k(pred_scores, relevant, k) {
        Some((hits, _)) => hits / n_rel as f64,
        None => f64::NAN,
    }
}

/// NDCG@k for one row with binary relevance: `DCG = Σ_{i=1..k} rel_i / log2(i + 1)` divided by the
/// ideal DCG over `min(k, #relevant)` positions. Ties are averaged, which matches scikit-learn's
/// `ndcg_score(..., k=k)` (default `ignore_ties=False`).
///
/// NaN when there is no relevant item, `k == 0`, lengths differ or a score is NaN.
pub fn ndcg_at_k(pred_scores: &[f32], relevant: &[bool], k: usize) -> f64 {
    let k = k.min(pred_scores.len());
    let n_rel = relevant.iter().filter(|&&r| r).count();
    if k == 0 || n_rel == 0 {
        return f64::NAN;
    }
    let ideal: f64 = (0..k.min(n_rel))
        .map(|pos| 1.0 / ((pos + 2) as f64).log2())
        .sum();
    match tie_aware_top_k(pred_scores, relevant, k) {
        Some((_, dcg)) => dcg / ideal,
        None => f64::NAN,
    }
}

/// Row-averaged ranking metrics at one cut-off `k`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankingReport {
    /// The cut-off.
    pub k: usize,
    /// Mean [`precision_at_k`] over the rows used.
    pub precision: f64,
    /// Mean [`recall_at_k`] over the rows used.
    pub recall: f64,
    /// Mean [`ndcg_at_k`] over the rows used.
    pub ndcg: f64,
    /// Rows with at least one relevant item (the rows averaged).
    pub n_rows: usize,
    /// Rows skipped because they have no relevant item (recall and NDCG are undefined there).
    pub n_skipped: usize,
}

/// Mean precision/recall/NDCG@k over the rows of row-major `n_rows × n_cols` matrices `pred` and
/// `relevant`. Rows without any relevant item are skipped for all three metrics (and counted in
/// `n_skipped`); with no usable row, or on a shape mismatch, `k == 0` or a NaN score, the means are NaN.
pub fn ranking_report(pred: &[f32], relevant: &[bool], n_cols: usize, k: usize) -> RankingReport {
    let mut report = RankingReport {
        k,
        precision: f64::NAN,
        recall: f64::NAN,
        ndcg: f64::NAN,
        n_rows: 0,
        n_skipped: 0,
    };
    if n_cols == 0 || k == 0 || pred.len() != relevant.len() || !pred.len().is_multiple_of(n_cols) {
        return report;
    }
    let (mut p, mut r, mut n) = (0.0, 0.0, 0.0);
    for (row, rel) in pred.chunks(n_cols).zip(relevant.chunks(n_cols)) {
        if !rel.iter().any(|&x| x) {
            report.n_skipped += 1;
            continue;
        }
        report.n_rows += 1;
        p += precision_at_k(row, rel, k);
        r += recall_at_k(row, rel, k);
        n += ndcg_at_k(row, rel, k);
    }
    if report.n_rows > 0 {
        let m = report.n_rows as f64;
        report.precision = p / m;
        report.recall = r / m;
        report.ndcg = n / m;
    }
    report
}

/// Root mean squared error, micro-averaged over all entries (flatten matrices row-major).
/// NaN when empty or lengths differ; NaN inputs propagate.
pub fn rmse(pred: &[f32], target: &[f32]) -> f64 {
    if pred.is_empty() || pred.len() != target.len() {
        return f64::NAN;
    }
    let sse: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum();
    (sse / pred.len() as f64).sqrt()
}

/// Mean absolute error, micro-averaged over all entries. NaN when empty or lengths differ; NaN
/// inputs propagate.
pub fn mae(pred: &[f32], target: &[f32]) -> f64 {
    if pred.is_empty() || pred.len() != target.len() {
        return f64::NAN;
    }
    let sae: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| (p as f64 - t as f64).abs())
        .sum();
    sae / pred.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    const EPS: f64 = 1e-12;

    /// scikit-learn docs example: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8].
    /// Descending: 0.8(+) 0.4(−) 0.35(+) 0.1(−). AP = 0.5·1 + 0·(1/2) + 0.5·(2/3) = 0.8333…
    /// (`average_precision_score` → 0.8333333333333333); ROC-AUC: the negative at 0.4 loses to one
    /// positive, the one at 0.1 to both → (1 + 2) / 4 = 0.75 (`roc_auc_score` → 0.75).
    #[test]
    fn metrics_sklearn_doc_example() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [false, false, true, true];
        assert_abs_diff_eq!(
            average_precision(&s, &y),
            0.5 + 0.5 * 2.0 / 3.0,
            epsilon = EPS
        );
        assert_abs_diff_eq!(roc_auc(&s, &y), 0.75, epsilon = EPS);
    }

    /// Ties: y = [1,0,1,0], s = [0.5,0.5,0.5,0.2]. The tied block enters at once: P = 2/3, R = 1
    /// → AP = 2/3 (sklearn 0.6666…, not 0.8333 as an arbitrary order 1,1,0 would give).
    /// ROC: the negative at 0.5 ties both positives (2·½ = 1), the one at 0.2 loses to both (2)
    /// → 3/4 = 0.75 (sklearn trapezoid over (0,0),(0.5,1),(1,1) = 0.75).
    #[test]
    fn metrics_ties_are_grouped() {
        let s = [0.5, 0.5, 0.5, 0.2];
        let y = [true, false, true, false];
        assert_abs_diff_eq!(average_precision(&s, &y), 2.0 / 3.0, epsilon = EPS);
        assert_abs_diff_eq!(roc_auc(&s, &y), 0.75, epsilon = EPS);
        // Reordering tied inputs changes nothing.
        let s2 = [0.5, 0.5, 0.5, 0.2];
        let y2 = [false, true, true, false];
        assert_abs_diff_eq!(average_precision(&s2, &y2), 2.0 / 3.0, epsilon = EPS);
        // All scores equal: AUC 0.5, AP = prevalence.
        assert_abs_diff_eq!(roc_auc(&[1.0; 4], &y), 0.5, epsilon = EPS);
        assert_abs_diff_eq!(average_precision(&[1.0; 4], &y), 0.5, epsilon = EPS);
        // -0.0 and 0.0 tie.
        assert_abs_diff_eq!(roc_auc(&[0.0, -0.0], &[true, false]), 0.5, epsilon = EPS);
    }

    #[test]
    fn metrics_perfect_and_inverted() {
        let y = [true, true, false, false];
        assert_abs_diff_eq!(roc_auc(&[4.0, 3.0, 2.0, 1.0], &y), 1.0, epsilon = EPS);
        assert_abs_diff_eq!(roc_auc(&[1.0, 2.0, 3.0, 4.0], &y), 0.0, epsilon = EPS);
        assert_abs_diff_eq!(
            average_precision(&[4.0, 3.0, 2.0, 1.0], &y),
            1.0,
            epsilon = EPS
        );
        // Inverted: 0.5·(1/3) + 0.5·(2/4) = 0.41666… (sklearn 0.41666666666666663).
        assert_abs_diff_eq!(
            average_precision(&[1.0, 2.0, 3.0, 4.0], &y),
            0.5 / 3.0 + 0.25,
            epsilon = EPS
        );
    }

    #[test]
    fn metrics_degenerate_inputs_are_nan() {
        let s = [0.3, 0.7];
        for y in [[true, true], [false, false]] {
            assert!(average_precision(&s, &y).is_nan());
            assert!(roc_auc(&s, &y).is_nan());
            let (t, f) = best_f1_threshold(&s, &y);
            assert!(t.is_nan() && f.is_nan());
        }
        assert!(average_precision(&[], &[]).is_nan());
        assert!(roc_auc(&[0.1], &[true, false]).is_nan());
        assert!(roc_auc(&[f64::NAN, 0.2], &[true, false]).is_nan());
        let r = f1_at(&[], &[], 0.5);
        assert!(r.f1.is_nan() && r.tp + r.fp + r.fn_ + r.tn == 0);
        assert!(f1_at(&[0.1], &[true], f64::NAN).precision.is_nan());
        assert!(rmse(&[], &[]).is_nan() && mae(&[1.0], &[]).is_nan());
        assert!(precision_at_k(&[1.0], &[true], 0).is_nan());
        assert!(recall_at_k(&[1.0, 0.0], &[false, false], 1).is_nan());
        assert!(ndcg_at_k(&[1.0, 0.0], &[false, false], 1).is_nan());
        assert!(ndcg_at_k(&[f32::NAN, 0.0], &[true, false], 1).is_nan());
        assert!(precision_at_k(&[1.0], &[true, false], 1).is_nan());
    }

    /// s = [0.9,0.8,0.7,0.6,0.5], y = [1,0,1,1,0] (3 positives). F1 per threshold:
    /// 0.9: tp1 fp0 → 2/4 = 0.5; 0.8: tp1 fp1 → 2/5; 0.7: tp2 fp1 → 4/6; 0.6: tp3 fp1 → 6/7;
    /// 0.5: tp3 fp2 → 6/8. Best (0.6, 6/7 = 0.857142…) — sklearn's precision_recall_curve gives the
    /// same maximum of 2PR/(P+R).
    #[test]
    fn metrics_best_f1_and_f1_at() {
        let s = [0.9, 0.8, 0.7, 0.6, 0.5];
        let y = [true, false, true, true, false];
        let (t, f) = best_f1_threshold(&s, &y);
        assert_eq!(t, 0.6);
        assert_abs_diff_eq!(f, 6.0 / 7.0, epsilon = EPS);
        let r = f1_at(&s, &y, t);
        assert_eq!((r.tp, r.fp, r.fn_, r.tn), (3, 1, 0, 1));
        assert_abs_diff_eq!(r.f1, f, epsilon = EPS);
        // Threshold 0.7: positives are 0.9, 0.8, 0.7 → tp2 fp1 fn1 tn1; P = R = F1 = 2/3.
        let r = f1_at(&s, &y, 0.7);
        assert_eq!((r.tp, r.fp, r.fn_, r.tn), (2, 1, 1, 1));
        assert_abs_diff_eq!(r.precision, 2.0 / 3.0, epsilon = EPS);
        assert_abs_diff_eq!(r.recall, 2.0 / 3.0, epsilon = EPS);
        assert_abs_diff_eq!(r.f1, 2.0 / 3.0, epsilon = EPS);
        // Nothing predicted positive: precision undefined, F1 = 0 (there are positives).
        let r = f1_at(&s, &y, 1.0);
        assert!(r.precision.is_nan());
        assert_eq!(r.f1, 0.0);
        // Equal F1 at two thresholds: the higher one is chosen. s=[0.9,0.1], y=[1,0] → F1(0.9) = 1.
        assert_eq!(best_f1_threshold(&[0.9, 0.1], &[true, false]), (0.9, 1.0));
        // Ties: a tied block is one candidate. s=[0.5,0.5,0.2], y=[1,0,0]: F1(0.5)=2/3, F1(0.2)=1/2.
        let (t, f) = best_f1_threshold(&[0.5, 0.5, 0.2], &[true, false, false]);
        assert_eq!(t, 0.5);
        assert_abs_diff_eq!(f, 2.0 / 3.0, epsilon = EPS);
    }

    /// pred = [0.9,0.8,0.7,0.6,0.5], rel = [1,0,1,0,0], k = 3: hits 2 → P@3 = 2/3, R@3 = 1;
    /// DCG = 1/log2 2 + 1/log2 4 = 1.5; IDCG (2 relevant) = 1 + 1/log2 3 = 1.6309297535714575;
    /// NDCG@3 = 0.9197207891481876 (sklearn `ndcg_score([[1,0,1,0,0]], [[.9,.8,.7,.6,.5]], k=3)`).
    #[test]
    fn metrics_ranking_hand_example() {
        let p = [0.9f32, 0.8, 0.7, 0.6, 0.5];
        let rel = [true, false, true, false, false];
        assert_abs_diff_eq!(precision_at_k(&p, &rel, 3), 2.0 / 3.0, epsilon = EPS);
        assert_abs_diff_eq!(recall_at_k(&p, &rel, 3), 1.0, epsilon = EPS);
        assert_abs_diff_eq!(
            ndcg_at_k(&p, &rel, 3),
            1.5 / (1.0 + 1.0 / 3f64.log2()),
            epsilon = EPS
        );
        assert_abs_diff_eq!(ndcg_at_k(&p, &rel, 3), 0.9197207891481876, epsilon = 1e-12);
        // k = 1: P = 1, R = 1/2, NDCG = 1.
        assert_abs_diff_eq!(precision_at_k(&p, &rel, 1), 1.0, epsilon = EPS);
        assert_abs_diff_eq!(recall_at_k(&p, &rel, 1), 0.5, epsilon = EPS);
        assert_abs_diff_eq!(ndcg_at_k(&p, &rel, 1), 1.0, epsilon = EPS);
        // k larger than the row is clamped: P@10 = 2/5.
        assert_abs_diff_eq!(precision_at_k(&p, &rel, 10), 0.4, epsilon = EPS);
    }

    /// All four scores tied, one relevant, k = 2: each slot holds the relevant item with p = 1/4.
    /// E[hits] = 0.5 → P@2 = 0.25, R@2 = 0.5; DCG = ¼(1 + 1/log2 3) = 0.40773243839286435 = NDCG
    /// (IDCG = 1), as sklearn `ndcg_score([[1,0,0,0]], [[.5,.5,.5,.5]], k=2)`.
    #[test]
    fn metrics_ranking_ties_averaged() {
        let p = [0.5f32; 4];
        let rel = [true, false, false, false];
        assert_abs_diff_eq!(precision_at_k(&p, &rel, 2), 0.25, epsilon = EPS);
        assert_abs_diff_eq!(recall_at_k(&p, &rel, 2), 0.5, epsilon = EPS);
        assert_abs_diff_eq!(
            ndcg_at_k(&p, &rel, 2),
            0.407_732_438_392_864_3,
            epsilon = 1e-12
        );
        // Moving the relevant column does not change a constant predictor's score.
        let rel2 = [false, false, false, true];
        assert_abs_diff_eq!(
            ndcg_at_k(&p, &rel2, 2),
            ndcg_at_k(&p, &rel, 2),
            epsilon = EPS
        );
        // Partial tie at the cut: [0.9, 0.5, 0.5, 0.1], rel [0,1,0,0], k=2 → E[hits] = ½,
        // DCG = ½ / log2 3.
        let p = [0.9f32, 0.5, 0.5, 0.1];
        let rel = [false, true, false, false];
        assert_abs_diff_eq!(precision_at_k(&p, &rel, 2), 0.25, epsilon = EPS);
        assert_abs_diff_eq!(ndcg_at_k(&p, &rel, 2), 0.5 / 3f64.log2(), epsilon = EPS);
    }

    #[test]
    fn metrics_ranking_report_skips_rows_without_relevant_items() {
        // Row 0 as in the hand example (k = 1: P 1, R ½, NDCG 1); row 1 has no relevant item;
        // row 2: relevant item ranked last of 5 → P 0, R 0, NDCG 0.
        let pred = [
            0.9f32, 0.8, 0.7, 0.6, 0.5, //
            0.1, 0.2, 0.3, 0.4, 0.5, //
            0.9, 0.8, 0.7, 0.6, 0.5,
        ];
        let rel = [
            true, false, true, false, false, //
            false, false, false, false, false, //
            false, false, false, false, true,
        ];
        let r = ranking_report(&pred, &rel, 5, 1);
        assert_eq!((r.n_rows, r.n_skipped, r.k), (2, 1, 1));
        assert_abs_diff_eq!(r.precision, 0.5, epsilon = EPS);
        assert_abs_diff_eq!(r.recall, 0.25, epsilon = EPS);
        assert_abs_diff_eq!(r.ndcg, 0.5, epsilon = EPS);
        assert!(ranking_report(&pred, &rel, 4, 1).precision.is_nan());
        assert!(ranking_report(&pred[5..10], &rel[5..10], 5, 1)
            .ndcg
            .is_nan());
    }

    /// pred [1,2,3,4], target [1,1,1,1]: errors 0,1,2,3 → MAE 1.5, RMSE √(14/4) = 1.8708286933869707.
    #[test]
    fn metrics_rmse_mae() {
        let p = [1.0f32, 2.0, 3.0, 4.0];
        let t = [1.0f32; 4];
        assert_abs_diff_eq!(mae(&p, &t), 1.5, epsilon = EPS);
        assert_abs_diff_eq!(rmse(&p, &t), 3.5f64.sqrt(), epsilon = EPS);
        assert_eq!(rmse(&t, &t), 0.0);
    }
}
