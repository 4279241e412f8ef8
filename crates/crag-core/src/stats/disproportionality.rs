//! Frequentist and simple-Bayes disproportionality measures of one 2×2 table:
//! PRR, ROR, Yates χ², and the information component (IC).

use super::special::{chi2_1_sf, gamma_quantile};
use crate::error::{CragError, Result};

/// The 97.5% normal quantile used for the 95% confidence intervals of PRR and ROR. The
/// pharmacovigilance literature (Evans et al. 2001; van Puijenbroek et al. 2002) writes 1.96.
pub const Z_95: f64 = 1.96;

/// A drug × event 2×2 contingency table of spontaneous reports.
///
/// |               | event   | no event |
/// |---------------|---------|----------|
/// | **drug**      | `n11`   | `n10`    |
/// | **no drug**   | `n01`   | `n00`    |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Table2x2 {
    /// Reports with the drug and the event (`a`).
    pub n11: u64,
    /// Reports with the drug, without the event (`b`).
    pub n10: u64,
    /// Reports with the event, without the drug (`c`).
    pub n01: u64,
    /// Reports with neither (`d`).
    pub n00: u64,
}

impl Table2x2 {
    /// Builds a table from its four cells.
    pub fn new(n11: u64, n10: u64, n01: u64, n00: u64) -> Self {
        Table2x2 { n11, n10, n01, n00 }
    }

    /// Builds a table from the count `n11` and the margins: reports with the drug `n1_`,
    /// reports with the event `n_1`, all reports `n`. Errors if the margins are inconsistent.
    pub fn from_margins(n11: u64, n1_: u64, n_1: u64, n: u64) -> Result<Self> {
        let bad = || {
            CragError::invalid(format!(
                "inconsistent 2x2 margins: n11={n11}, drug={n1_}, event={n_1}, total={n}"
            ))
        };
        let n10 = n1_.checked_sub(n11).ok_or_else(bad)?;
        let n01 = n_1.checked_sub(n11).ok_or_else(bad)?;
        let n00 = n
            .checked_sub(n11)
            .and_then(|r| r.checked_sub(n10))
            .and_then(|r| r.checked_sub(n01))
            .ok_or_else(bad)?;
        Ok(Table2x2 { n11, n10, n01, n00 })
    }

    /// Total number of reports `N`, or an error if it overflows `u64`.
    pub fn total(&self) -> Result<u64> {
        self.n11
            .checked_add(self.n10)
            .and_then(|s| s.checked_add(self.n01))
            .and_then(|s| s.checked_add(self.n00))
            .ok_or_else(|| CragError::invalid("2x2 table total overflows u64"))
    }

    /// Expected count of `n11` under independence, `E11 = (n11+n10)(n11+n01)/N`
    /// (NaN when `N = 0`). Computed in `f64` so large margins cannot overflow.
    pub fn expected(&self) -> f64 {
        let n1_ = self.n11 as f64 + self.n10 as f64;
        let n_1 = self.n11 as f64 + self.n01 as f64;
        let n = n1_ + self.n01 as f64 + self.n00 as f64;
        n1_ * n_1 / n
    }

    /// The same table with the roles of drug and event exchanged (transposed).
    pub fn transpose(&self) -> Self {
        Table2x2 {
            n11: self.n11,
            n10: self.n01,
            n01: self.n10,
            n00: self.n00,
        }
    }
}

/// All disproportionality measures of one 2×2 table (see [`disproportionality`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Disproportionality {
    /// Observed count `n11`.
    pub n11: u64,
    /// Expected count under independence, `E11 = (n11+n10)(n11+n01)/N`.
    pub expected: f64,
    /// Proportional reporting ratio.
    pub prr: f64,
    /// Lower 95% confidence limit of the PRR.
    pub prr_lo: f64,
    /// Upper 95% confidence limit of the PRR.
    pub prr_hi: f64,
    /// Reporting odds ratio.
    pub ror: f64,
    /// Lower 95% confidence limit of the ROR.
    pub ror_lo: f64,
    /// Upper 95% confidence limit of the ROR.
    pub ror_hi: f64,
    /// Pearson χ² with Yates' continuity correction (1 df).
    pub chi2: f64,
    /// Upper-tail p-value of `chi2` on 1 degree of freedom.
    pub chi2_p: f64,
    /// Information component, `log2((n11 + ½) / (E11 + ½))`.
    pub ic: f64,
    /// Lower limit of the 95% equal-tailed credibility interval of the IC.
    pub ic025: f64,
    /// Upper limit of the 95% equal-tailed credibility interval of the IC.
    pub ic975: f64,
}

/// Computes PRR, ROR, Yates χ² and IC with their 95% intervals for one 2×2 table.
///
/// With `a = n11, b = n10, c = n01, d = n00`, `N = a+b+c+d`:
///
/// * **PRR** (Evans, Waller & Davis 2001, *Pharmacoepidemiol Drug Saf* 10:483) =
///   `[a/(a+b)] / [c/(c+d)]`, 95% CI `exp(ln PRR ± 1.96·SE)` with
///   `SE = sqrt(1/a − 1/(a+b) + 1/c − 1/(c+d))`.
/// * **ROR** (van Puijenbroek et al. 2002, *Pharmacoepidemiol Drug Saf* 11:3) =
///   `ad / (bc)`, 95% CI `exp(ln ROR ± 1.96·SE)`, `SE = sqrt(1/a + 1/b + 1/c + 1/d)` (Woolf).
/// * **χ²** with Yates' correction, as R's `chisq.test(correct = TRUE)`:
///   `N·max(0, |ad − bc| − N/2)² / ((a+b)(c+d)(a+c)(b+d))`; `ad − bc` is computed exactly in
///   128-bit integers, so there is no cancellation even for `N ≈ 1e9`.
/// * **IC** (Bate et al. 1998, *Eur J Clin Pharmacol* 54:315; shrinkage form of Norén,
///   Hopstadius & Bate 2013, *Stat Methods Med Res* 22:57) = `log2((a + ½)/(E11 + ½))`,
///   with the credibility interval of the posterior `λ ~ Gamma(a + ½, rate E11 + ½)`:
///   `IC025 = log2(qgamma(0.025, a + ½, rate = E11 + ½))` and `IC975` likewise with 0.975
///   (computed exactly here; see [`ic_interval_approx`] for Norén's closed form).
///
/// Zero cells never panic; IEEE arithmetic on the formulas decides the point estimates and
/// the intervals are NaN whenever they are undefined:
///
/// * a point estimate is `x/0 = +inf` (`x > 0`), `0/x = 0` (`x > 0`) or `0/0 = NaN`;
///   e.g. ROR with `b = 0` (or `c = 0`) and `ad > 0` is `+inf`; PRR with `c = 0`, `a > 0` is
///   `+inf`; PRR when the drug is in no report (`a + b = 0`) is NaN;
/// * a 95% CI is NaN unless the point estimate is finite and positive and every cell in its
///   SE is positive (so a zero cell always gives a NaN CI);
/// * χ² (and its p-value) is NaN when a margin is zero (the statistic is 0/0);
/// * IC and its interval are always finite.
///
/// Errors only when `N = 0` (or the total overflows `u64`).
pub fn disproportionality(t: &Table2x2) -> Result<Disproportionality> {
    let shape = t.n11 as f64 + 0.5;
    crude_measures(
        t,
        gamma_quantile(shape, 0.025),
        gamma_quantile(shape, 0.975),
    )
}

/// [`disproportionality`] given the rate-1 gamma quantiles `q025`, `q975` of shape
/// `n11 + ½` (they depend on `n11` only, so the signal pipeline caches them).
pub(crate) fn crude_measures(t: &Table2x2, q025: f64, q975: f64) -> Result<Disproportionality> {
    let n_total = t.total()?;
    if n_total == 0 {
        return Err(CragError::invalid("2x2 table is empty (N = 0)"));
    }
    let (a, b, c, d) = (t.n11 as f64, t.n10 as f64, t.n01 as f64, t.n00 as f64);
    let n = n_total as f64;
    let n1_ = a + b; // reports with the drug
    let n0_ = c + d; // reports without the drug
    let n_1 = a + c; // reports with the event
    let n_0 = b + d; // reports without the event
    let expected = n1_ * n_1 / n;

    // PRR
    let prr = (a / n1_) / (c / n0_);
    let (prr_lo, prr_hi) = if t.n11 > 0 && t.n01 > 0 {
        log_normal_ci(prr, (1.0 / a - 1.0 / n1_ + 1.0 / c - 1.0 / n0_).sqrt())
    } else {
        (f64::NAN, f64::NAN)
    };

    // ROR
    let ror = (a * d) / (b * c);
    let (ror_lo, ror_hi) = if t.n11 > 0 && t.n10 > 0 && t.n01 > 0 && t.n00 > 0 {
        log_normal_ci(ror, (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt())
    } else {
        (f64::NAN, f64::NAN)
    };

    // Yates-corrected chi-square; ad - bc exactly.
    let ad = t.n11 as u128 * t.n00 as u128;
    let bc = t.n10 as u128 * t.n01 as u128;
    let diff = ad.abs_diff(bc) as f64;
    let denom = n1_ * n0_ * n_1 * n_0;
    let chi2 = if denom > 0.0 {
        let x = (diff - 0.5 * n).max(0.0);
        // n * x^2 / denom, ordered to stay far from overflow
        (x / n1_) * (x / n0_) * (n / n_1) / n_0
    } else {
        f64::NAN
    };
    let chi2_p = chi2_1_sf(chi2);

    let ic = ((a + 0.5) / (expected + 0.5)).log2();
    let (ic025, ic975) = ic_from_quantiles(expected, q025, q975).unwrap_or((f64::NAN, f64::NAN));

    Ok(Disproportionality {
        n11: t.n11,
        expected,
        prr,
        prr_lo,
        prr_hi,
        ror,
        ror_lo,
        ror_hi,
        chi2,
        chi2_p,
        ic,
        ic025,
        ic975,
    })
}

/// `exp(ln(est) ± 1.96·se)`, or NaNs unless `est` is finite positive and `se` finite.
pub(crate) fn log_normal_ci(est: f64, se: f64) -> (f64, f64) {
    if est > 0.0 && est.is_finite() && se.is_finite() {
        let l = est.ln();
        ((l - Z_95 * se).exp(), (l + Z_95 * se).exp())
    } else {
        (f64::NAN, f64::NAN)
    }
}

/// `(IC, IC025, IC975)` for an observed count and an expected count (see
/// [`disproportionality`]); the interval uses exact gamma quantiles. A negative or NaN
/// `expected` gives NaNs.
pub fn information_component(n11: u64, expected: f64) -> (f64, f64, f64) {
    let shape = n11 as f64 + 0.5;
    let ic = (shape / (expected + 0.5)).log2();
    let (q025, q975) = (gamma_quantile(shape, 0.025), gamma_quantile(shape, 0.975));
    ic_from_quantiles(expected, q025, q975)
        .map(|(lo, hi)| (ic, lo, hi))
        .unwrap_or((f64::NAN, f64::NAN, f64::NAN))
}

/// IC interval from precomputed standard gamma quantiles of shape `n11 + ½` (so the
/// pipeline can cache them per count).
pub(crate) fn ic_from_quantiles(expected: f64, q025: f64, q975: f64) -> Option<(f64, f64)> {
    if !expected.is_finite() || expected < 0.0 {
        return None;
    }
    let rate = expected + 0.5;
    Some(((q025 / rate).log2(), (q975 / rate).log2()))
}

/// Norén, Hopstadius & Bate (2013, *Stat Methods Med Res* 22:57) closed-form approximation
/// of the 95% credibility interval of the IC, with `O = n11`:
/// `IC025 ≈ IC − 3.3 (O+½)^(−1/2) − 2 (O+½)^(−3/2)`,
/// `IC975 ≈ IC + 2.4 (O+½)^(−1/2) − 0.5 (O+½)^(−3/2)`.
/// Returned as `(IC025, IC975)`; [`disproportionality`] uses the exact gamma quantiles.
pub fn ic_interval_approx(n11: u64, expected: f64) -> (f64, f64) {
    let o = n11 as f64 + 0.5;
    let ic = (o / (expected + 0.5)).log2();
    let s = o.sqrt();
    (ic - 3.3 / s - 2.0 / (o * s), ic + 2.4 / s - 0.5 / (o * s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol * want.abs().max(1.0),
            "got {got}, want {want}"
        );
    }

    /// Hand example 1: a = 20, b = 80, c = 100, d = 9800 (N = 10 000).
    ///
    /// * n1. = 100, n0. = 9900, n.1 = 120, n.0 = 9880; E11 = 100·120/10000 = 1.2.
    /// * PRR = (20/100)/(100/9900) = 0.2·99 = 19.8.
    ///   SE = sqrt(1/20 − 1/100 + 1/100 − 1/9900) = sqrt(0.05 − 0.000101010…) = 0.2233808181…
    ///   CI = 19.8·exp(∓1.96·SE) = (12.77966881388…, 30.67685131042…).
    /// * ROR = 20·9800/(80·100) = 196000/8000 = 24.5.
    ///   SE = sqrt(1/20 + 1/80 + 1/100 + 1/9800) = sqrt(0.0726020408…) = 0.2694476587…
    ///   CI = (14.44799580557…, 41.54555469683…).
    /// * Yates: |ad − bc| = 188000, minus N/2 → 183000;
    ///   χ² = 10000·183000² / (100·9900·120·9880) = 3.3489e14 / 1.173744e12 = 285.3177524230…
    /// * IC = log2(20.5/1.7) = log2(12.0588…) = 3.592017258255…
    ///   IC025 = log2(qgamma(0.025, 20.5)/1.7) = 2.890648032077…,
    ///   IC975 = log2(qgamma(0.975, 20.5)/1.7) = 4.154772173979…
    ///   (quantiles by 200-step bisection on a 50-digit series for P(a, x)).
    #[test]
    fn stats_hand_example_large_signal() {
        let r = disproportionality(&Table2x2::new(20, 80, 100, 9800)).unwrap();
        close(r.expected, 1.2, 1e-12);
        close(r.prr, 19.8, 1e-12);
        close(r.prr_lo, 12.779_668_813_884_822, 1e-9);
        close(r.prr_hi, 30.676_851_310_423_425, 1e-9);
        close(r.ror, 24.5, 1e-12);
        close(r.ror_lo, 14.447_995_805_572_418, 1e-9);
        close(r.ror_hi, 41.545_554_696_831_43, 1e-9);
        close(r.chi2, 285.317_752_423_015_6, 1e-9);
        close(r.ic, 3.592_017_258_255_106_6, 1e-9);
        close(r.ic025, 2.890_648_032_077_137, 1e-9);
        close(r.ic975, 4.154_772_173_978_978, 1e-9);
        assert!(r.chi2_p < 1e-60 && r.chi2_p > 0.0);
        assert_eq!(r.n11, 20);
    }

    /// Hand example 2: a = 3, b = 7, c = 12, d = 78 (N = 100).
    ///
    /// * E11 = 10·15/100 = 1.5; PRR = (3/10)/(12/90) = 0.3/0.1333… = 2.25;
    ///   SE = sqrt(1/3 − 1/10 + 1/12 − 1/90) = 0.5527707983…, CI (0.7614730114…, 6.648298658…).
    /// * ROR = 234/84 = 2.785714285714…; SE = sqrt(1/3 + 1/7 + 1/12 + 1/78) = 0.7565344158…,
    ///   CI (0.6323557557…, 12.27189601890…).
    /// * Yates: |234 − 84| − 50 = 100; χ² = 100·100²/(10·90·15·85) = 1e6/1147500
    ///   = 0.8714596949891…, p = erfc(sqrt(χ²/2)) = 0.35055152013…
    /// * IC = log2(3.5/2) = 0.8073549220576…, IC025 = −1.243088433784…, IC975 = 2.001150475887…
    #[test]
    fn stats_hand_example_small_counts() {
        let r = disproportionality(&Table2x2::new(3, 7, 12, 78)).unwrap();
        close(r.expected, 1.5, 1e-12);
        close(r.prr, 2.25, 1e-12);
        close(r.prr_lo, 0.761_473_011_405_790_5, 1e-9);
        close(r.prr_hi, 6.648_298_658_220_185, 1e-9);
        close(r.ror, 2.785_714_285_714_285_7, 1e-12);
        close(r.ror_lo, 0.632_355_755_759_348_3, 1e-9);
        close(r.ror_hi, 12.271_896_018_901_59, 1e-9);
        close(r.chi2, 0.871_459_694_989_106_8, 1e-9);
        close(r.chi2_p, 0.350_551_520_133_284, 1e-9);
        close(r.ic, 0.807_354_922_057_604_1, 1e-9);
        close(r.ic025, -1.243_088_433_784_314, 1e-9);
        close(r.ic975, 2.001_150_475_886_816, 1e-9);
    }

    #[test]
    fn stats_yates_correction_floors_at_zero() {
        // |ad - bc| = |25 - 25| = 0 < N/2: R's chisq.test gives X-squared = 0, p = 1.
        let r = disproportionality(&Table2x2::new(5, 5, 5, 5)).unwrap();
        assert_eq!(r.chi2, 0.0);
        assert_eq!(r.chi2_p, 1.0);
        assert_eq!(r.prr, 1.0);
        assert_eq!(r.ror, 1.0);
    }

    #[test]
    fn stats_zero_cells() {
        // Empty table is an error.
        assert!(disproportionality(&Table2x2::new(0, 0, 0, 0)).is_err());
        // n10 = 0: ROR = +inf, CI NaN; PRR finite.
        let r = disproportionality(&Table2x2::new(5, 0, 10, 100)).unwrap();
        assert_eq!(r.ror, f64::INFINITY);
        assert!(r.ror_lo.is_nan() && r.ror_hi.is_nan());
        assert!((r.prr - 1.0 / (10.0 / 110.0)).abs() < 1e-12);
        assert!(r.prr_lo.is_finite());
        // n01 = 0: PRR = ROR = +inf, both CIs NaN, chi2 finite.
        let r = disproportionality(&Table2x2::new(5, 10, 0, 100)).unwrap();
        assert_eq!(r.prr, f64::INFINITY);
        assert_eq!(r.ror, f64::INFINITY);
        assert!(r.prr_lo.is_nan() && r.ror_hi.is_nan());
        assert!(r.chi2.is_finite() && r.chi2 > 0.0);
        // n11 = 0: PRR = ROR = 0, CIs NaN, IC negative and finite.
        let r = disproportionality(&Table2x2::new(0, 10, 5, 100)).unwrap();
        assert_eq!(r.prr, 0.0);
        assert_eq!(r.ror, 0.0);
        assert!(r.prr_lo.is_nan() && r.ror_lo.is_nan());
        assert!(r.ic < 0.0 && r.ic025.is_finite() && r.ic975.is_finite());
        // Drug never reported (a + b = 0): PRR = 0/0 = NaN, chi2 NaN (zero margin).
        let r = disproportionality(&Table2x2::new(0, 0, 5, 100)).unwrap();
        assert!(r.prr.is_nan());
        assert!(r.chi2.is_nan() && r.chi2_p.is_nan());
        assert_eq!(r.expected, 0.0);
        // Only n11: every other cell zero. ROR = 0/0 = NaN (ad = bc = 0); PRR = 1/(0/0) = NaN
        // (no non-drug reports); chi2 NaN.
        let r = disproportionality(&Table2x2::new(7, 0, 0, 0)).unwrap();
        assert!(r.prr.is_nan());
        assert!(r.ror.is_nan());
        assert!(r.chi2.is_nan());
        // n00 = 0 (everything has drug or event): ROR = 0, CI NaN.
        let r = disproportionality(&Table2x2::new(3, 4, 5, 0)).unwrap();
        assert_eq!(r.ror, 0.0);
        assert!(r.ror_lo.is_nan());
    }

    #[test]
    fn stats_huge_counts_do_not_overflow() {
        // N = 1e9 + …; every product of counts exceeds u64 in naive integer arithmetic.
        let t = Table2x2::new(1_000_000, 9_000_000, 4_000_000, 986_000_000);
        let r = disproportionality(&t).unwrap();
        let n = 1e9;
        let e = 1e7 * 5e6 / n; // 50 000
        close(r.expected, e, 1e-14);
        // PRR = 0.1 / (4e6 / 990e6) = 24.75
        close(r.prr, 24.75, 1e-13);
        // ROR = 1e6·986e6 / (9e6·4e6) = 27.38888…
        close(r.ror, 986.0 / 36.0, 1e-13);
        // Exact Yates numerator: ad - bc = 9.86e14 - 3.6e13 = 9.5e14.
        let x: f64 = 9.5e14 - 5e8;
        let chi2 = n * x * x / (1e7 * 990e6 * 5e6 * 995e6);
        close(r.chi2, chi2, 1e-12);
        assert_eq!(r.chi2_p, 0.0);
        close(r.ic, (1_000_000.5f64 / 50_000.5).log2(), 1e-13);
        // With 1e6 observations the 95% interval is about ±1.96/sqrt(1e6)/ln 2.
        let half = 1.96 / 1e3 / std::f64::consts::LN_2;
        assert!((r.ic - r.ic025 - half).abs() < 1e-5);
        assert!((r.ic975 - r.ic - half).abs() < 1e-5);
        // Counts near u64::MAX still never panic.
        let big = u64::MAX / 4;
        let r = disproportionality(&Table2x2::new(big, big, big, big)).unwrap();
        assert!((r.ror - 1.0).abs() < 1e-12);
        assert!(disproportionality(&Table2x2::new(u64::MAX, 1, 0, 0)).is_err());
    }

    #[test]
    fn stats_ic_closed_form_approximation_is_close() {
        // Norén et al. report the approximation is accurate for all O; check within 0.2 log2
        // units of the exact gamma interval for a range of observed counts.
        for &o in &[1u64, 2, 3, 5, 10, 30, 100, 1000] {
            let e = 1.7;
            let (ic, lo, hi) = information_component(o, e);
            let (alo, ahi) = ic_interval_approx(o, e);
            assert!(
                (lo - alo).abs() < 0.2,
                "o={o} exact {lo} approx {alo} ic {ic}"
            );
            assert!((hi - ahi).abs() < 0.2, "o={o} exact {hi} approx {ahi}");
        }
    }

    #[test]
    fn stats_from_margins() {
        let t = Table2x2::from_margins(20, 100, 120, 10_000).unwrap();
        assert_eq!(t, Table2x2::new(20, 80, 100, 9800));
        assert!(Table2x2::from_margins(20, 10, 120, 10_000).is_err());
        assert!(Table2x2::from_margins(20, 100, 120, 150).is_err());
    }

    proptest! {
        /// Swapping the roles of drug and event (transposing) leaves the ROR, χ², E11 and IC
        /// unchanged.
        #[test]
        fn stats_prop_transpose_invariance(a in 1u64..5000, b in 1u64..5000,
                                           c in 1u64..5000, d in 1u64..1_000_000) {
            let t = Table2x2::new(a, b, c, d);
            let r = disproportionality(&t).unwrap();
            let s = disproportionality(&t.transpose()).unwrap();
            prop_assert!((r.ror - s.ror).abs() <= 1e-12 * r.ror);
            prop_assert!((r.ror_lo - s.ror_lo).abs() <= 1e-12 * r.ror_lo);
            prop_assert!((r.chi2 - s.chi2).abs() <= 1e-12 * r.chi2.max(1.0));
            prop_assert!((r.expected - s.expected).abs() <= 1e-12 * r.expected);
            prop_assert!((r.ic - s.ic).abs() <= 1e-12);
        }

        /// Scaling every cell by c leaves the PRR and ROR point estimates unchanged, and
        /// narrows their confidence intervals.
        #[test]
        fn stats_prop_scale_invariance(a in 1u64..2000, b in 1u64..2000, c in 1u64..2000,
                                       d in 1u64..100_000, k in 2u64..10_000) {
            let r = disproportionality(&Table2x2::new(a, b, c, d)).unwrap();
            let s = disproportionality(&Table2x2::new(a * k, b * k, c * k, d * k)).unwrap();
            prop_assert!((r.prr - s.prr).abs() <= 1e-12 * r.prr);
            prop_assert!((r.ror - s.ror).abs() <= 1e-12 * r.ror);
            prop_assert!(s.ror_hi / s.ror_lo <= r.ror_hi / r.ror_lo);
            prop_assert!(s.prr_hi / s.prr_lo <= r.prr_hi / r.prr_lo);
        }

        /// Never panics and keeps the ordering lo <= estimate <= hi whenever defined.
        #[test]
        fn stats_prop_total_and_ordered(a in 0u64..50, b in 0u64..50, c in 0u64..50,
                                        d in 0u64..50) {
            let t = Table2x2::new(a, b, c, d);
            match disproportionality(&t) {
                Err(_) => prop_assert_eq!(a + b + c + d, 0),
                Ok(r) => {
                    if r.prr_lo.is_finite() {
                        prop_assert!(r.prr_lo <= r.prr && r.prr <= r.prr_hi);
                    }
                    if r.ror_lo.is_finite() {
                        prop_assert!(r.ror_lo <= r.ror && r.ror <= r.ror_hi);
                    }
                    prop_assert!(r.ic025 < r.ic && r.ic < r.ic975);
                    if !r.chi2.is_nan() {
                        prop_assert!(r.chi2 >= 0.0 && (0.0..=1.0).contains(&r.chi2_p));
                    }
                }
            }
        }
    }
}
