//! Multiple-testing adjustment.

/// Benjamini–Hochberg (1995, *J R Stat Soc B* 57:289) false-discovery-rate adjusted
/// p-values ("q-values" in the sense of R's `p.adjust(p, "BH")`).
///
/// With the `m` non-NaN p-values sorted ascending, `p(1) ≤ … ≤ p(m)`,
/// `q(i) = min_{j ≥ i} min(1, m·p(j)/j)` (monotone step-up). The result is in the input
/// order; NaN p-values stay NaN and do not count towards `m`. Inputs are assumed to lie
/// in `[0, 1]`; the result is capped at 1. `O(m log m)`.
pub fn bh_qvalues(p: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; p.len()];
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let m = idx.len();
    if m == 0 {
        return out;
    }
    idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mf = m as f64;
    let mut running = 1.0f64;
    for (rank0, &i) in idx.iter().enumerate().rev() {
        let q = (mf * p[i] / (rank0 + 1) as f64).min(1.0);
        running = running.min(q);
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hand example: non-NaN p = {0.01, 0.04, 0.03, 0.005, 0.5}, m = 5.
    /// Sorted: 0.005, 0.01, 0.03, 0.04, 0.5; m·p/i = 0.025, 0.025, 0.05, 0.05, 0.5;
    /// running minimum from the top: 0.025, 0.025, 0.05, 0.05, 0.5.
    /// (R: `p.adjust(c(0.01, 0.04, 0.03, 0.005, NA, 0.5), "BH")`
    ///  = 0.025 0.050 0.050 0.025 NA 0.500.)
    #[test]
    fn stats_bh_hand_example() {
        let q = bh_qvalues(&[0.01, 0.04, 0.03, 0.005, f64::NAN, 0.5]);
        let want = [0.025, 0.05, 0.05, 0.025, f64::NAN, 0.5];
        for (g, w) in q.iter().zip(want) {
            if w.is_nan() {
                assert!(g.is_nan());
            } else {
                assert!((g - w).abs() < 1e-15, "{g} vs {w}");
            }
        }
    }

    /// Benjamini & Hochberg (1995), §4.1: the 15 p-values of the myocardial-infarction
    /// study; at FDR level 0.05 the step-up procedure rejects the four smallest.
    #[test]
    fn stats_bh_published_example() {
        let p = [
            0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
            0.5719, 0.6528, 0.7590, 1.000,
        ];
        let q = bh_qvalues(&p);
        assert_eq!(q.iter().filter(|&&x| x <= 0.05).count(), 4);
        // q(4) = 15·0.0095/4 = 0.035625; q(5) = min(15·0.0201/5, 15·0.0278/6, …) = 0.0603.
        assert!((q[3] - 0.035_625).abs() < 1e-15);
        assert!((q[4] - 0.0603).abs() < 1e-15);
        assert_eq!(q[14], 1.0);
    }

    #[test]
    fn stats_bh_edge_cases() {
        assert!(bh_qvalues(&[]).is_empty());
        assert!(bh_qvalues(&[f64::NAN])[0].is_nan());
        assert_eq!(bh_qvalues(&[0.3]), vec![0.3]);
        assert_eq!(bh_qvalues(&[0.9, 0.9, 0.9]), vec![0.9, 0.9, 0.9]);
    }

    proptest! {
        #[test]
        fn stats_prop_bh_monotone_and_bounded(p in proptest::collection::vec(0.0f64..=1.0, 1..60)) {
            let q = bh_qvalues(&p);
            for i in 0..p.len() {
                // q ≥ p up to the rounding of m·p/m
                prop_assert!(q[i] >= p[i] * (1.0 - 1e-15) && q[i] <= 1.0);
                for j in 0..p.len() {
                    if p[i] <= p[j] {
                        prop_assert!(q[i] <= q[j]);
                    }
                }
            }
        }
    }
}
