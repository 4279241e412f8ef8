//! Pharmacovigilance disproportionality statistics.
//!
//! Everything needed to screen a spontaneous-report database (FAERS, VigiBase, …) for
//! drug–event signals, in pure Rust and `f64`:
//!
//! * [`disproportionality`]: PRR, ROR (95% CIs), Yates χ² and the information component of
//!   one 2×2 [`Table2x2`];
//! * [`mantel_haenszel`]: stratified (Mantel–Haenszel) PRR/ROR, CMH χ² and expected count;
//! * [`fit_gps`] / [`eb_scores`]: DuMouchel's Gamma Poisson Shrinker (EBGM, EB05, EB95);
//! * [`bh_qvalues`]: Benjamini–Hochberg adjusted p-values;
//! * [`detect_signals`]: the whole pipeline from `(report, drug, event, stratum)` rows to
//!   flagged [`SignalRow`]s.
//!
//! Conventions: counts are `u64` and converted to `f64` before any product (`ad − bc` is
//! exact in 128-bit integers), so no realistic `N` overflows; zero cells never panic (see
//! [`disproportionality`] for the NaN / inf rules); errors are invalid input
//! (`CragError::InvalidArgument`), plus `CragError::Runtime` from a GPS fit whose likelihood
//! is not finite at any starting point. Formulas and literature references are in the doc
//! comment of each function.

mod disproportionality;
mod fdr;
mod gps;
mod mantel_haenszel;
mod optim;
mod pipeline;
mod special;

pub use disproportionality::{
    disproportionality, ic_interval_approx, information_component, Disproportionality, Table2x2,
    Z_95,
};
pub use fdr::bh_qvalues;
pub use gps::{
    eb_scores, fit_gps, fit_gps_with, gps_log_likelihood, posterior_q, EbScores, GpsFit,
    GpsOptions, Squash, DUMOUCHEL_START,
};
pub use mantel_haenszel::{mantel_haenszel, MhEstimate};
pub use pipeline::{
    detect_signals, signal_flags, SignalInput, SignalOptions, SignalReport, SignalRow, FLAG_EBGM,
    FLAG_FDR, FLAG_IC, FLAG_PRR, FLAG_ROR, MAX_NAMES, MAX_STRATA,
};
pub use special::gamma_quantile;
