//! Mantel–Haenszel pooled estimates over strata (age, sex, year, …).

use super::disproportionality::{log_normal_ci, Table2x2};
use super::special::chi2_1_sf;
use crate::error::{CragError, Result};

/// Stratified (Mantel–Haenszel) disproportionality estimates, see [`mantel_haenszel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MhEstimate {
    /// Total observed count `Σ n11_s`.
    pub n11: u64,
    /// Stratified expected count `E = Σ_s n1._s · n.1_s / N_s`.
    pub expected: f64,
    /// Mantel–Haenszel risk ratio (stratified PRR).
    pub prr: f64,
    /// Lower 95% limit of `prr` (Greenland–Robins variance).
    pub prr_lo: f64,
    /// Upper 95% limit of `prr`.
    pub prr_hi: f64,
    /// Mantel–Haenszel odds ratio (stratified ROR).
    pub ror: f64,
    /// Lower 95% limit of `ror` (Robins–Breslow–Greenland variance).
    pub ror_lo: f64,
    /// Upper 95% limit of `ror`.
    pub ror_hi: f64,
    /// Cochran–Mantel–Haenszel χ² (1 df) with continuity correction, as R's
    /// `mantelhaen.test(correct = TRUE)`.
    pub chi2: f64,
    /// p-value of `chi2`.
    pub chi2_p: f64,
    /// CMH χ² without continuity correction (as SAS `PROC FREQ / CMH`).
    pub chi2_uncorrected: f64,
    /// Number of non-empty strata used.
    pub strata: usize,
}

/// Mantel–Haenszel pooled PRR and ROR with 95% CIs, the CMH test and the stratified
/// expected count.
///
/// Per stratum `s` with cells `a, b, c, d`, `N = a+b+c+d`, `n1 = a+b`, `n0 = c+d`,
/// `m1 = a+c`, `m0 = b+d`:
///
/// * **ROR_MH** = `Σ ad/N / Σ bc/N` (Mantel & Haenszel 1959, *J Natl Cancer Inst* 22:719),
///   with the Robins, Breslow & Greenland (1986, *Biometrics* 42:311) variance
///   `Var(ln ROR_MH) = ΣPR/(2(ΣR)²) + Σ(PS+QR)/(2ΣRΣS) + ΣQS/(2(ΣS)²)`,
///   `P = (a+d)/N, Q = (b+c)/N, R = ad/N, S = bc/N`.
/// * **PRR_MH** = `Σ a·n0/N / Σ c·n1/N` (MH risk ratio; Nurminen 1981, Tarone 1981), with the
///   Greenland & Robins (1985, *Biometrics* 41:55) variance
///   `Var(ln PRR_MH) = Σ(n1·n0·m1 − a·c·N)/N² / [(Σ a·n0/N)(Σ c·n1/N)]`.
/// * **CMH χ²** = `(|Σa − Σ n1·m1/N| − ½)² / Σ n1·n0·m1·m0/(N²(N−1))` (Cochran 1954;
///   Mantel & Haenszel 1959); like R the ½ is only subtracted when `|Σa − ΣE| ≥ ½`.
/// * **expected** = `Σ n1·m1/N`.
///
/// Empty strata (`N = 0`) are skipped; strata with `N = 1` add nothing to the CMH variance.
/// Zero sums follow the same conventions as [`super::disproportionality`]: `x/0 = inf`,
/// `0/0 = NaN`, and a CI is NaN unless the estimate is finite, positive, and its variance
/// finite. With a single stratum the point estimates and CIs equal the crude ones.
///
/// Errors if `strata` is empty, every stratum is empty, or a stratum total overflows.
pub fn mantel_haenszel(strata: &[Table2x2]) -> Result<MhEstimate> {
    if strata.is_empty() {
        return Err(CragError::invalid(
            "mantel_haenszel needs at least one stratum",
        ));
    }
    let mut acc = MhAccumulator::default();
    for t in strata {
        acc.add(t)?;
    }
    if acc.strata == 0 {
        return Err(CragError::invalid("every stratum is empty (N = 0)"));
    }
    Ok(acc.finish())
}

/// Running sums of the Mantel–Haenszel estimators (lets the signal pipeline avoid
/// materialising one `Vec<Table2x2>` per drug–event pair).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MhAccumulator {
    n11: u64,
    expected: f64,
    // ROR
    r: f64,
    s: f64,
    pr: f64,
    ps_qr: f64,
    qs: f64,
    // PRR
    rr_num: f64,
    rr_den: f64,
    rr_var_num: f64,
    // CMH
    sum_a: f64,
    var: f64,
    strata: usize,
}

impl MhAccumulator {
    pub(crate) fn add(&mut self, t: &Table2x2) -> Result<()> {
        let n_total = t.total()?;
        if n_total == 0 {
            return Ok(());
        }
        self.strata += 1;
        self.n11 += t.n11;
        let (a, b, c, d) = (t.n11 as f64, t.n10 as f64, t.n01 as f64, t.n00 as f64);
        let n = n_total as f64;
        let (n1, n0, m1, m0) = (a + b, c + d, a + c, b + d);
        let e = n1 * m1 / n;
        self.expected += e;
        self.sum_a += a;

        let r = a * d / n;
        let s = b * c / n;
        let p = (a + d) / n;
        let q = (b + c) / n;
        self.r += r;
        self.s += s;
        self.pr += p * r;
        self.ps_qr += p * s + q * r;
        self.qs += q * s;

        self.rr_num += a * n0 / n;
        self.rr_den += c * n1 / n;
        // (n1 n0 m1 - a c N) / N^2 = (a·n1·d + c·n0·b) / N^2 ≥ 0, written without
        // cancellation.
        self.rr_var_num += (a * n1 * d + c * n0 * b) / (n * n);

        if n_total > 1 {
            self.var += (n1 / n) * (n0 / n) * m1 * (m0 / (n - 1.0));
        }
        Ok(())
    }

    pub(crate) fn finish(&self) -> MhEstimate {
        let ror = self.r / self.s;
        let ror_var = self.pr / (2.0 * self.r * self.r)
            + self.ps_qr / (2.0 * self.r * self.s)
            + self.qs / (2.0 * self.s * self.s);
        let (ror_lo, ror_hi) = if self.r > 0.0 && self.s > 0.0 {
            log_normal_ci(ror, ror_var.sqrt())
        } else {
            (f64::NAN, f64::NAN)
        };

        let prr = self.rr_num / self.rr_den;
        let prr_var = self.rr_var_num / (self.rr_num * self.rr_den);
        let (prr_lo, prr_hi) = if self.rr_num > 0.0 && self.rr_den > 0.0 {
            log_normal_ci(prr, prr_var.sqrt())
        } else {
            (f64::NAN, f64::NAN)
        };

        let delta = (self.sum_a - self.expected).abs();
        let (chi2, chi2_uncorrected) = if self.var > 0.0 {
            let cc = if delta >= 0.5 { delta - 0.5 } else { delta };
            (cc * cc / self.var, delta * delta / self.var)
        } else {
            (f64::NAN, f64::NAN)
        };

        MhEstimate {
            n11: self.n11,
            expected: self.expected,
            prr,
            prr_lo,
            prr_hi,
            ror,
            ror_lo,
            ror_hi,
            chi2,
            chi2_p: chi2_1_sf(chi2),
            chi2_uncorrected,
            strata: self.strata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::disproportionality::{disproportionality, Z_95};
    use super::*;
    use proptest::prelude::*;

    fn close(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol * want.abs().max(1.0),
            "got {got}, want {want}"
        );
    }

    /// SAS/STAT User's Guide, PROC FREQ, "Computing Cochran–Mantel–Haenszel Statistics for a
    /// Stratified Table" (Migraine data): treatment Active vs Placebo, response Better vs
    /// Same, stratified by gender.
    ///
    /// female: a=16 b=11 c=5 d=20 (N=52); male: a=12 b=16 c=7 d=19 (N=54).
    ///
    /// * ROR_MH = (16·20/52 + 12·19/54) / (11·5/52 + 16·7/54) = 10.376068/3.131766
    ///   = 3.313168069138…; RBG SE = 0.42315638152; 95% CI (1.445591158961, 7.593490445976).
    /// * PRR_MH = (16·25/52 + 12·26/54) / (5·27/52 + 7·28/54) = 13.470085/6.225783
    ///   = 2.163596842467…; GR SE = 0.28666919519; 95% CI (1.233555215242, 3.794845369619).
    /// * ΣE = 27·21/52 + 28·19/54 = 20.755698005698…; ΣV = 3.186449 + 3.132490;
    ///   CMH = (28 − 20.755698)²/ΣV = 8.305169335459 (uncorrected), 7.198291276534 (corrected).
    ///
    /// SAS prints CMH = 8.3052 (p = 0.0040), MH odds ratio 3.3132 (1.4456, 7.5934) and MH
    /// "Cohort (Col1 Risk)" relative risk 2.1636 (1.2336, 3.7948): all agree to the 4 printed
    /// decimals once the limits are recomputed with SAS's z = 1.959964 instead of 1.96.
    #[test]
    fn stats_mh_textbook_migraine_example() {
        let strata = [Table2x2::new(16, 11, 5, 20), Table2x2::new(12, 16, 7, 19)];
        let r = mantel_haenszel(&strata).unwrap();
        close(r.ror, 3.313_168_069_138_048_7, 1e-12);
        close(r.ror_lo, 1.445_591_158_960_757_3, 1e-9);
        close(r.ror_hi, 7.593_490_445_976_043, 1e-9);
        close(r.prr, 2.163_596_842_466_537, 1e-12);
        close(r.prr_lo, 1.233_555_215_242_031, 1e-9);
        close(r.prr_hi, 3.794_845_369_619_469, 1e-9);
        close(r.chi2_uncorrected, 8.305_169_335_459_19, 1e-9);
        close(r.chi2, 7.198_291_276_533_752, 1e-9);
        close(r.expected, 20.755_698_005_698_006, 1e-12);
        assert_eq!(r.n11, 28);
        assert_eq!(r.strata, 2);
        // The published (rounded) SAS output.
        assert!((r.chi2_uncorrected - 8.3052).abs() < 5e-5);
        assert!((chi2_1_sf(r.chi2_uncorrected) - 0.0040).abs() < 5e-5);
        // SAS's limits use z = 1.959964; recompute ours with it from the same SE.
        let sas = |est: f64, hi: f64| {
            let se = (hi / est).ln() / Z_95;
            let z = 1.959_964;
            ((est.ln() - z * se).exp(), (est.ln() + z * se).exp())
        };
        let (lo, hi) = sas(r.ror, r.ror_hi);
        assert!((r.ror - 3.3132).abs() < 5e-5);
        assert!(
            (lo - 1.4456).abs() < 5e-5 && (hi - 7.5934).abs() < 5e-5,
            "{lo} {hi}"
        );
        let (lo, hi) = sas(r.prr, r.prr_hi);
        assert!((r.prr - 2.1636).abs() < 5e-5);
        assert!(
            (lo - 1.2336).abs() < 5e-5 && (hi - 3.7948).abs() < 5e-5,
            "{lo} {hi}"
        );
    }

    #[test]
    fn stats_mh_single_stratum_equals_crude() {
        for t in [
            Table2x2::new(20, 80, 100, 9800),
            Table2x2::new(3, 7, 12, 78),
            Table2x2::new(1_000_000, 9_000_000, 4_000_000, 986_000_000),
        ] {
            let mh = mantel_haenszel(&[t]).unwrap();
            let crude = disproportionality(&t).unwrap();
            close(mh.ror, crude.ror, 1e-12);
            close(mh.ror_lo, crude.ror_lo, 1e-12);
            close(mh.ror_hi, crude.ror_hi, 1e-12);
            close(mh.prr, crude.prr, 1e-12);
            close(mh.prr_lo, crude.prr_lo, 1e-12);
            close(mh.prr_hi, crude.prr_hi, 1e-12);
            close(mh.expected, crude.expected, 1e-12);
        }
        // Empty strata are ignored.
        let t = Table2x2::new(3, 7, 12, 78);
        let a = mantel_haenszel(&[t, Table2x2::default()]).unwrap();
        assert_eq!(a, mantel_haenszel(&[t]).unwrap());
    }

    #[test]
    fn stats_mh_errors_and_zero_sums() {
        assert!(mantel_haenszel(&[]).is_err());
        assert!(mantel_haenszel(&[Table2x2::default()]).is_err());
        // No drug-without-event report anywhere: ΣS = 0 → ROR_MH = +inf, CI NaN.
        let r = mantel_haenszel(&[Table2x2::new(2, 0, 3, 10), Table2x2::new(1, 0, 1, 5)]).unwrap();
        assert_eq!(r.ror, f64::INFINITY);
        assert!(r.ror_lo.is_nan() && r.ror_hi.is_nan());
        assert!(r.prr.is_finite() && r.prr_lo.is_finite());
        // N = 1 strata contribute to E but not to the CMH variance.
        let r = mantel_haenszel(&[Table2x2::new(1, 0, 0, 0)]).unwrap();
        assert!(r.chi2.is_nan());
        assert_eq!(r.expected, 1.0);
    }

    proptest! {
        /// Identical strata pool to the crude estimate of one of them.
        #[test]
        fn stats_prop_mh_homogeneous_strata(a in 1u64..200, b in 1u64..200, c in 1u64..200,
                                            d in 1u64..5000, k in 1usize..6) {
            let t = Table2x2::new(a, b, c, d);
            let mh = mantel_haenszel(&vec![t; k]).unwrap();
            let crude = disproportionality(&t).unwrap();
            prop_assert!((mh.ror - crude.ror).abs() <= 1e-12 * crude.ror);
            prop_assert!((mh.prr - crude.prr).abs() <= 1e-12 * crude.prr);
            prop_assert!((mh.expected - k as f64 * crude.expected).abs() <= 1e-9 * mh.expected);
        }
    }
}
