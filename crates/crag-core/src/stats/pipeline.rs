//! The signal-detection pipeline behind the SQL functions: distinct-report counting from
//! `(report, drug, event, stratum)` rows, then every disproportionality measure, the GPS
//! prior fit and EB scores, Benjamini–Hochberg q-values and signal flags per drug–event pair.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::disproportionality::{crude_measures, ic_from_quantiles, Disproportionality, Table2x2};
use super::fdr::bh_qvalues;
use super::gps::{fit_gps_with, EbScorer, GpsFit, GpsOptions};
use super::mantel_haenszel::MhAccumulator;
use super::special::gamma_quantile;
use crate::error::{CragError, Result};

/// Most distinct drugs (or events) one input may hold: ids are packed into 24 bits.
pub const MAX_NAMES: usize = (1 << 24) - 1;
/// Most distinct strata one input may hold (16-bit ids; one id is kept for "no stratum").
pub const MAX_STRATA: usize = (1 << 16) - 2;

const NO_STRATUM: u32 = u32::MAX;

/// Flag: Evans et al. (2001) criterion `PRR ≥ 2, χ² ≥ 4, n11 ≥ 3`.
pub const FLAG_PRR: &str = "PRR";
/// Flag: lower 95% limit of the ROR above 1.
pub const FLAG_ROR: &str = "ROR";
/// Flag: `IC025 > 0` (WHO-UMC).
pub const FLAG_IC: &str = "IC";
/// Flag: `EB05 ≥ 2` (FDA, Szarfman et al. 2002).
pub const FLAG_EBGM: &str = "EBGM";
/// Flag: Benjamini–Hochberg q-value below 0.05.
pub const FLAG_FDR: &str = "FDR";

/// Fx-style multiplicative hasher with a murmur3 finaliser (fast for small integer keys and
/// short strings; the finaliser spreads entropy into the low bits hashbrown indexes with).
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// String → dense `u32` id.
#[derive(Debug, Clone, Default)]
struct Interner {
    ids: FastMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn intern(&mut self, s: &str, what: &str, max: usize) -> Result<u32> {
        if let Some(&id) = self.ids.get(s) {
            return Ok(id);
        }
        if self.names.len() >= max {
            return Err(CragError::invalid(format!(
                "too many distinct {what} (max {max})"
            )));
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        Ok(id)
    }

    fn len(&self) -> usize {
        self.names.len()
    }

    /// `rank[id]` = position of the name in byte-wise sorted order.
    fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
    }
}

/// Builder of the input of [`detect_signals`]: one row per `(report, drug, event)` mention,
/// with an optional stratum (e.g. `"F/65+/2019"`).
///
/// Counting rules (all in distinct reports): each `(report, drug, event)` counts once however
/// often it is pushed; `n1.` = reports mentioning the drug, `n.1` = reports mentioning the
/// event, `N` = reports — per stratum when stratified. A report's stratum is the first
/// non-`None` stratum pushed for it; pushing a different one later is an error. As soon as any
/// row has a stratum the analysis is stratified, and reports that never got one form an
/// extra "unknown" stratum of their own.
///
/// Strings are interned to `u32` ids; memory is about 12 bytes per pushed row plus the
/// distinct names and report ids.
#[derive(Debug, Clone, Default)]
pub struct SignalInput {
    drugs: Interner,
    events: Interner,
    strata: Interner,
    reports: FastMap<i64, u32>,
    report_stratum: Vec<u32>,
    rows: Vec<(u32, u32, u32)>,
}

impl SignalInput {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty input with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        SignalInput {
            rows: Vec::with_capacity(rows),
            ..Self::default()
        }
    }

    /// Adds one row. Errors on a stratum conflicting with the report's earlier stratum, or
    /// when the number of distinct drugs/events/strata/reports exceeds the id space.
    pub fn push(
        &mut self,
        report: i64,
        drug: &str,
        event: &str,
        stratum: Option<&str>,
    ) -> Result<()> {
        let next = self.report_stratum.len();
        let r = *self.reports.entry(report).or_insert(next as u32);
        if r as usize == next {
            if next >= u32::MAX as usize {
                return Err(CragError::invalid("too many distinct reports"));
            }
            self.report_stratum.push(NO_STRATUM);
        }
        if let Some(s) = stratum {
            let sid = self.strata.intern(s, "strata", MAX_STRATA)?;
            let cur = &mut self.report_stratum[r as usize];
            if *cur == NO_STRATUM {
                *cur = sid;
            } else if *cur != sid {
                return Err(CragError::invalid(format!(
                    "report {report} has two strata: {:?} and {s:?}",
                    self.strata.names[*cur as usize]
                )));
            }
        }
        let d = self.drugs.intern(drug, "drugs", MAX_NAMES)?;
        let e = self.events.intern(event, "events", MAX_NAMES)?;
        self.rows.push((r, d, e));
        Ok(())
    }

    /// Rows pushed so far (duplicates included).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No rows pushed yet.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Distinct reports so far.
    pub fn n_reports(&self) -> usize {
        self.report_stratum.len()
    }

    /// Whether any row carried a stratum.
    pub fn is_stratified(&self) -> bool {
        self.strata.len() > 0
    }
}

/// Settings of [`detect_signals`].
#[derive(Debug, Clone, PartialEq)]
pub struct SignalOptions {
    /// Only pairs with at least this many reports are returned (all pairs with `n11 ≥ 1`
    /// still inform the GPS prior). Default 1.
    pub min_count: u64,
    /// Settings of the GPS prior fit (default: `N* = 1`, squashing of large counts).
    pub gps: GpsOptions,
    /// Use this prior instead of fitting one (e.g. hyperparameters stored from an earlier
    /// run). Default `None`.
    pub prior: Option<GpsFit>,
}

impl Default for SignalOptions {
    fn default() -> Self {
        SignalOptions {
            min_count: 1,
            gps: GpsOptions::default(),
            prior: None,
        }
    }
}

/// One drug–event pair of a [`SignalReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    pub drug: String,
    pub event: String,
    /// Distinct reports with the drug and the event.
    pub n11: u64,
    /// Expected count: `n1. n.1 / N`, or `Σ_s n1.s n.1s / N_s` when stratified.
    pub expected: f64,
    /// PRR (Mantel–Haenszel risk ratio when stratified) and its 95% CI.
    pub prr: f64,
    pub prr_lo: f64,
    pub prr_hi: f64,
    /// ROR (Mantel–Haenszel odds ratio when stratified) and its 95% CI.
    pub ror: f64,
    pub ror_lo: f64,
    pub ror_hi: f64,
    /// Yates-corrected χ² (continuity-corrected Cochran–Mantel–Haenszel χ² when stratified).
    pub chi2: f64,
    /// p-value of `chi2` (1 df).
    pub chi2_p: f64,
    /// Information component with the (stratified) expected count, and its 95% interval.
    pub ic: f64,
    pub ic025: f64,
    pub ic975: f64,
    /// GPS empirical-Bayes geometric mean and 90% credibility limits.
    pub ebgm: f64,
    pub eb05: f64,
    pub eb95: f64,
    /// Benjamini–Hochberg q-value of `chi2_p` over the returned rows.
    pub q_value: f64,
    /// Signal criteria met, in the order PRR, ROR, IC, EBGM, FDR (see the `FLAG_*` consts).
    pub flags: Vec<String>,
}

/// Output of [`detect_signals`].
#[derive(Debug, Clone, PartialEq)]
pub struct SignalReport {
    /// Pairs with `n11 ≥ min_count`, ordered by drug then event (byte-wise).
    pub rows: Vec<SignalRow>,
    /// The GPS prior used for the EB scores.
    pub fit: GpsFit,
    /// Distinct reports.
    pub n_reports: u64,
    /// Distinct drug–event pairs with `n11 ≥ 1` (the pairs the prior was fitted on).
    pub n_pairs: usize,
    /// Strata used (1 when unstratified).
    pub n_strata: usize,
}

/// Runs the whole disproportionality analysis.
///
/// 1. Deduplicates rows and counts distinct reports: `n11` per pair, `n1.` per drug, `n.1` per
///    event and `N` (per stratum when stratified; see [`SignalInput`]).
/// 2. Per pair: PRR, ROR with 95% CIs and the Yates χ² from the crude 2×2 table
///    ([`super::disproportionality`]); when stratified, the Mantel–Haenszel PRR/ROR, the
///    continuity-corrected CMH χ² and the stratified expected count
///    ([`super::mantel_haenszel`]). IC and its interval use that expected count.
/// 3. Fits the GPS prior on every pair with `n11 ≥ 1` (before the `min_count` filter),
///    unless `opts.prior` is given, and scores the returned pairs (`stats::gps`).
/// 4. Benjamini–Hochberg q-values over the χ² p-values of the returned rows, then flags.
///
/// Cost: `O(R log R)` for `R` rows plus `O(P·S)` for `P` pairs and `S` strata, plus the prior
/// fit (bounded by squashing). Errors on an empty input or a failed prior fit.
pub fn detect_signals(input: SignalInput, opts: SignalOptions) -> Result<SignalReport> {
    let SignalInput {
        drugs,
        events,
        strata,
        reports,
        mut report_stratum,
        mut rows,
    } = input;
    drop(reports);
    if rows.is_empty() {
        return Err(CragError::invalid("detect_signals: no rows"));
    }
    let stratified = strata.len() > 0;
    // Stratum ids: the named strata, then (if needed) one "unknown" stratum.
    let mut n_strata = if stratified { strata.len() } else { 1 };
    if stratified && report_stratum.contains(&NO_STRATUM) {
        n_strata += 1;
    }
    for s in report_stratum.iter_mut() {
        if !stratified {
            *s = 0;
        } else if *s == NO_STRATUM {
            *s = (n_strata - 1) as u32;
        }
    }
    let (nd, ne) = (drugs.len(), events.len());

    // --- 1. distinct-report counts -------------------------------------------------
    rows.sort_unstable();
    rows.dedup();
    let mut n_by_stratum = vec![0u64; n_strata];
    let mut drug_margin = vec![0u32; n_strata * nd];
    let mut event_margin = vec![0u32; n_strata * ne];
    // key: drug(24 bits) | event(24 bits) | stratum(16 bits)
    let mut pair_counts: FastMap<u64, u32> = FastMap::default();
    let mut scratch: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let r = rows[i].0;
        let s = report_stratum[r as usize] as usize;
        n_by_stratum[s] += 1;
        scratch.clear();
        let mut last_drug = u32::MAX;
        while i < rows.len() && rows[i].0 == r {
            let (_, d, e) = rows[i];
            if d != last_drug {
                drug_margin[s * nd + d as usize] += 1;
                last_drug = d;
            }
            scratch.push(e);
            *pair_counts.entry(pack(d, e, s as u32)).or_insert(0) += 1;
            i += 1;
        }
        scratch.sort_unstable();
        scratch.dedup();
        for &e in &scratch {
            event_margin[s * ne + e as usize] += 1;
        }
    }
    let n_reports: u64 = n_by_stratum.iter().sum();
    drop(rows);
    drop(report_stratum);

    // Pairs in (drug name, event name, stratum) order: repack with name ranks and sort.
    let (drug_rank, event_rank) = (drugs.ranks(), events.ranks());
    let mut drug_of_rank = vec![0u32; nd];
    for (id, &r) in drug_rank.iter().enumerate() {
        drug_of_rank[r as usize] = id as u32;
    }
    let mut event_of_rank = vec![0u32; ne];
    for (id, &r) in event_rank.iter().enumerate() {
        event_of_rank[r as usize] = id as u32;
    }
    let mut cells: Vec<(u64, u32)> = pair_counts
        .into_iter()
        .map(|(k, c)| {
            let (d, e, s) = unpack(k);
            (pack(drug_rank[d as usize], event_rank[e as usize], s), c)
        })
        .collect();
    cells.sort_unstable_by_key(|&(k, _)| k);

    // Group boundaries, n11 and expected count of every pair.
    let mut starts: Vec<usize> = Vec::new();
    let mut all_n: Vec<u64> = Vec::new();
    let mut all_e: Vec<f64> = Vec::new();
    let mut j = 0;
    while j < cells.len() {
        let (dr, er, _) = unpack(cells[j].0);
        let (d, e) = (
            drug_of_rank[dr as usize] as usize,
            event_of_rank[er as usize] as usize,
        );
        let start = j;
        let mut n11 = 0u64;
        while j < cells.len() && cells[j].0 >> 16 == cells[start].0 >> 16 {
            n11 += cells[j].1 as u64;
            j += 1;
        }
        let expected: f64 = (0..n_strata)
            .filter(|&s| n_by_stratum[s] > 0)
            .map(|s| {
                drug_margin[s * nd + d] as f64 * event_margin[s * ne + e] as f64
                    / n_by_stratum[s] as f64
            })
            .sum();
        starts.push(start);
        all_n.push(n11);
        all_e.push(expected);
    }
    starts.push(cells.len());
    let n_pairs = all_n.len();

    // --- 3. GPS prior -----------------------------------------------------------------
    let fit = match opts.prior {
        Some(f) => f,
        None => fit_gps_with(&all_n, &all_e, &opts.gps)?,
    };
    drop(all_e);

    // --- 2 + 3. per-pair statistics -----------------------------------------------------
    let mut scorer = EbScorer::new(fit);
    let mut ic_cache: FastMap<u64, (f64, f64)> = FastMap::default();
    let n_out = all_n.iter().filter(|&&n| n >= opts.min_count).count();
    let mut out: Vec<SignalRow> = Vec::with_capacity(n_out);
    for (p, &n11) in all_n.iter().enumerate() {
        if n11 < opts.min_count {
            continue;
        }
        let group = &cells[starts[p]..starts[p + 1]];
        let (dr, er, _) = unpack(group[0].0);
        let (d, e) = (
            drug_of_rank[dr as usize] as usize,
            event_of_rank[er as usize] as usize,
        );
        let (q025, q975) = *ic_cache.entry(n11).or_insert_with(|| {
            let a = n11 as f64 + 0.5;
            (gamma_quantile(a, 0.025), gamma_quantile(a, 0.975))
        });
        let m = if stratified {
            let mut acc = MhAccumulator::default();
            let mut g = group.iter().peekable();
            for s in 0..n_strata {
                let a = match g.peek() {
                    Some(&&(k, c)) if unpack(k).2 as usize == s => {
                        g.next();
                        c as u64
                    }
                    _ => 0,
                };
                let (n1, m1) = (drug_margin[s * nd + d], event_margin[s * ne + e]);
                if n1 == 0 || m1 == 0 {
                    continue;
                }
                acc.add(&Table2x2::from_margins(
                    a,
                    n1 as u64,
                    m1 as u64,
                    n_by_stratum[s],
                )?)?;
            }
            let mh = acc.finish();
            let (ic025, ic975) =
                ic_from_quantiles(mh.expected, q025, q975).unwrap_or((f64::NAN, f64::NAN));
            Disproportionality {
                n11,
                expected: mh.expected,
                prr: mh.prr,
                prr_lo: mh.prr_lo,
                prr_hi: mh.prr_hi,
                ror: mh.ror,
                ror_lo: mh.ror_lo,
                ror_hi: mh.ror_hi,
                chi2: mh.chi2,
                chi2_p: mh.chi2_p,
                ic: ((n11 as f64 + 0.5) / (mh.expected + 0.5)).log2(),
                ic025,
                ic975,
            }
        } else {
            let t = Table2x2::from_margins(
                n11,
                drug_margin[d] as u64,
                event_margin[e] as u64,
                n_by_stratum[0],
            )?;
            crude_measures(&t, q025, q975)?
        };
        let eb = scorer.scores(n11, m.expected);
        out.push(SignalRow {
            drug: drugs.names[d].to_string(),
            event: events.names[e].to_string(),
            n11,
            expected: m.expected,
            prr: m.prr,
            prr_lo: m.prr_lo,
            prr_hi: m.prr_hi,
            ror: m.ror,
            ror_lo: m.ror_lo,
            ror_hi: m.ror_hi,
            chi2: m.chi2,
            chi2_p: m.chi2_p,
            ic: m.ic,
            ic025: m.ic025,
            ic975: m.ic975,
            ebgm: eb.ebgm,
            eb05: eb.eb05,
            eb95: eb.eb95,
            q_value: f64::NAN,
            flags: Vec::new(),
        });
    }

    // --- 4. q-values and flags ----------------------------------------------------------
    let p: Vec<f64> = out.iter().map(|r| r.chi2_p).collect();
    for (row, q) in out.iter_mut().zip(bh_qvalues(&p)) {
        row.q_value = q;
        row.flags = signal_flags(row);
    }

    Ok(SignalReport {
        rows: out,
        fit,
        n_reports,
        n_pairs,
        n_strata,
    })
}

/// Standard signal criteria met by a row (NaN never meets a criterion):
/// `PRR` (Evans et al. 2001: PRR ≥ 2, χ² ≥ 4, n11 ≥ 3), `ROR` (ROR025 > 1),
/// `IC` (IC025 > 0; Norén et al. 2013, WHO-UMC), `EBGM` (EB05 ≥ 2; Szarfman, Machado &
/// O'Neill 2002, FDA) and `FDR` (BH q-value < 0.05).
pub fn signal_flags(row: &SignalRow) -> Vec<String> {
    let mut f = Vec::new();
    if row.prr >= 2.0 && row.chi2 >= 4.0 && row.n11 >= 3 {
        f.push(FLAG_PRR.to_string());
    }
    if row.ror_lo > 1.0 {
        f.push(FLAG_ROR.to_string());
    }
    if row.ic025 > 0.0 {
        f.push(FLAG_IC.to_string());
    }
    if row.eb05 >= 2.0 {
        f.push(FLAG_EBGM.to_string());
    }
    if row.q_value < 0.05 {
        f.push(FLAG_FDR.to_string());
    }
    f
}

#[inline]
fn pack(d: u32, e: u32, s: u32) -> u64 {
    ((d as u64) << 40) | ((e as u64) << 16) | s as u64
}

#[inline]
fn unpack(k: u64) -> (u32, u32, u32) {
    (
        (k >> 40) as u32,
        ((k >> 16) & 0xff_ffff) as u32,
        (k & 0xffff) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::super::disproportionality::disproportionality;
    use super::super::gps::eb_scores;
    use super::super::mantel_haenszel::mantel_haenszel;
    use super::*;

    fn caers_prior() -> GpsFit {
        GpsFit::from_params(3.25379356, 0.39988854, 2.02612692, 1.90807970, 0.06534557).unwrap()
    }

    fn opts_with_prior() -> SignalOptions {
        SignalOptions {
            prior: Some(caers_prior()),
            ..SignalOptions::default()
        }
    }

    fn row<'a>(r: &'a SignalReport, d: &str, e: &str) -> &'a SignalRow {
        r.rows
            .iter()
            .find(|x| x.drug == d && x.event == e)
            .expect("row present")
    }

    /// Five reports:
    /// r1: A–x, A–y; r2: A–x, B–x; r3: B–y; r4: B–x; r5: C–z.
    /// N = 5; n1.(A) = 2, n1.(B) = 3, n1.(C) = 1; n.1(x) = 3, n.1(y) = 2, n.1(z) = 1.
    /// Pairs: A–x 2, A–y 1, B–x 2, B–y 1, C–z 1.
    fn small_input() -> SignalInput {
        let mut inp = SignalInput::new();
        for (r, d, e) in [
            (1, "A", "x"),
            (1, "A", "y"),
            (2, "A", "x"),
            (2, "B", "x"),
            (3, "B", "y"),
            (4, "B", "x"),
            (5, "C", "z"),
        ] {
            inp.push(r, d, e, None).unwrap();
        }
        inp
    }

    #[test]
    fn stats_pipeline_counts_and_matches_2x2() {
        let rep = detect_signals(small_input(), opts_with_prior()).unwrap();
        assert_eq!(rep.n_reports, 5);
        assert_eq!(rep.n_pairs, 5);
        assert_eq!(rep.n_strata, 1);
        let names: Vec<(&str, &str)> = rep
            .rows
            .iter()
            .map(|r| (r.drug.as_str(), r.event.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("A", "x"), ("A", "y"), ("B", "x"), ("B", "y"), ("C", "z")]
        );
        // A–x: a = 2, n1. = 2, n.1 = 3, N = 5 → table (2, 0, 1, 2).
        let r = row(&rep, "A", "x");
        let want = disproportionality(&Table2x2::new(2, 0, 1, 2)).unwrap();
        assert_eq!(r.n11, 2);
        assert!((r.expected - 1.2).abs() < 1e-15);
        assert_eq!(r.prr, want.prr);
        assert_eq!(r.ror, f64::INFINITY);
        assert!(r.ror_lo.is_nan());
        assert_eq!(r.chi2, want.chi2);
        assert_eq!(r.ic, want.ic);
        assert_eq!(r.ic025, want.ic025);
        let eb = eb_scores(&caers_prior(), 2, 1.2);
        assert_eq!((r.ebgm, r.eb05, r.eb95), (eb.ebgm, eb.eb05, eb.eb95));
        // C–z: a = 1, n1. = 1, n.1 = 1 → (1, 0, 0, 4): PRR = ROR = +inf.
        let r = row(&rep, "C", "z");
        assert_eq!(r.prr, f64::INFINITY);
        assert!((r.expected - 0.2).abs() < 1e-15);
    }

    #[test]
    fn stats_pipeline_duplicates_do_not_double_count() {
        let base = detect_signals(small_input(), opts_with_prior()).unwrap();
        let mut dup = small_input();
        // The same mentions again, in another order, plus repeated rows of one report.
        for (r, d, e) in [
            (4, "B", "x"),
            (1, "A", "x"),
            (1, "A", "x"),
            (2, "B", "x"),
            (5, "C", "z"),
        ] {
            dup.push(r, d, e, None).unwrap();
        }
        assert_eq!(dup.len(), 12);
        let rep = detect_signals(dup, opts_with_prior()).unwrap();
        // Debug strings: NaN fields (undefined CIs) compare equal there.
        assert_eq!(format!("{rep:?}"), format!("{base:?}"));
    }

    #[test]
    fn stats_pipeline_margins_count_reports_not_rows() {
        // One report mentioning drug A with three events: n1.(A) must be 1, not 3.
        let mut inp = SignalInput::new();
        for e in ["x", "y", "z"] {
            inp.push(1, "A", e, None).unwrap();
        }
        inp.push(2, "B", "x", None).unwrap();
        let rep = detect_signals(inp, opts_with_prior()).unwrap();
        let r = row(&rep, "A", "x");
        // N = 2, n1.(A) = 1, n.1(x) = 2 → E = 1·2/2 = 1.
        assert!((r.expected - 1.0).abs() < 1e-15);
        let r = row(&rep, "A", "y");
        assert!((r.expected - 0.5).abs() < 1e-15);
    }

    #[test]
    fn stats_pipeline_stratified_uses_mantel_haenszel() {
        // Two strata; within each, build a known 2x2 table for drug D / event E by adding
        // filler reports "O" (other drug) and "o" (other event).
        let tables = [Table2x2::new(16, 11, 5, 20), Table2x2::new(12, 16, 7, 19)];
        let mut inp = SignalInput::new();
        let mut id = 0i64;
        for (s, t) in tables.iter().enumerate() {
            let st = if s == 0 { "female" } else { "male" };
            let mut add = |k: u64, drug: &str, event: &str, inp: &mut SignalInput| {
                for _ in 0..k {
                    id += 1;
                    inp.push(id, drug, event, Some(st)).unwrap();
                }
            };
            add(t.n11, "D", "E", &mut inp);
            add(t.n10, "D", "o", &mut inp);
            add(t.n01, "O", "E", &mut inp);
            add(t.n00, "O", "o", &mut inp);
        }
        let rep = detect_signals(inp, opts_with_prior()).unwrap();
        assert_eq!(rep.n_strata, 2);
        assert_eq!(rep.n_reports, 106);
        let r = row(&rep, "D", "E");
        let mh = mantel_haenszel(&tables).unwrap();
        assert_eq!(r.n11, 28);
        assert!((r.ror - mh.ror).abs() < 1e-12 && (r.ror_lo - mh.ror_lo).abs() < 1e-12);
        assert!((r.prr - mh.prr).abs() < 1e-12 && (r.prr_hi - mh.prr_hi).abs() < 1e-12);
        assert!((r.expected - mh.expected).abs() < 1e-12);
        assert!((r.chi2 - mh.chi2).abs() < 1e-12);
        // A report with a conflicting stratum is rejected.
        let mut bad = SignalInput::new();
        bad.push(1, "D", "E", Some("a")).unwrap();
        assert!(bad.push(1, "D", "o", Some("b")).is_err());
        bad.push(1, "D", "o", None).unwrap();
    }

    #[test]
    fn stats_pipeline_unknown_stratum_and_single_stratum() {
        // All reports in one named stratum: same as unstratified (MH = crude).
        let mut a = SignalInput::new();
        let mut b = SignalInput::new();
        for (r, d, e) in [
            (1, "A", "x"),
            (2, "A", "y"),
            (3, "B", "x"),
            (4, "B", "y"),
            (5, "A", "x"),
        ] {
            a.push(r, d, e, Some("all")).unwrap();
            b.push(r, d, e, None).unwrap();
        }
        let (ra, rb) = (
            detect_signals(a, opts_with_prior()).unwrap(),
            detect_signals(b, opts_with_prior()).unwrap(),
        );
        for (x, y) in ra.rows.iter().zip(&rb.rows) {
            assert!((x.ror - y.ror).abs() <= 1e-12 * y.ror.abs() || x.ror == y.ror);
            assert!((x.prr - y.prr).abs() <= 1e-12 * y.prr.abs() || x.prr == y.prr);
            assert!((x.expected - y.expected).abs() < 1e-12);
        }
        // Reports without a stratum form their own stratum.
        let mut c = SignalInput::new();
        c.push(1, "A", "x", Some("s1")).unwrap();
        c.push(2, "A", "x", None).unwrap();
        let rc = detect_signals(c, opts_with_prior()).unwrap();
        assert_eq!(rc.n_strata, 2);
        assert!((rc.rows[0].expected - 2.0).abs() < 1e-15);
    }

    #[test]
    fn stats_pipeline_min_count_qvalues_and_flags() {
        // 200 background reports plus a strong signal D–E in 12 reports.
        let mut inp = SignalInput::new();
        for i in 0..200i64 {
            let d = format!("bg{}", i % 10);
            let e = format!("ev{}", (i * 7) % 13);
            inp.push(i, &d, &e, None).unwrap();
        }
        for i in 0..12i64 {
            inp.push(1000 + i, "D", "E", None).unwrap();
        }
        inp.push(2000, "D", "ev1", None).unwrap();
        inp.push(2001, "bg1", "E", None).unwrap();
        let all = detect_signals(inp.clone(), SignalOptions::default()).unwrap();
        let opts = SignalOptions {
            min_count: 3,
            ..SignalOptions::default()
        };
        let rep = detect_signals(inp, opts).unwrap();
        // The prior is fitted on all pairs before filtering, so it is the same.
        assert_eq!(rep.fit, all.fit);
        assert_eq!(rep.n_pairs, all.n_pairs);
        assert!(rep.rows.iter().all(|r| r.n11 >= 3));
        assert!(rep.rows.len() < all.rows.len());
        // q-values are BH over exactly the returned rows.
        let p: Vec<f64> = rep.rows.iter().map(|r| r.chi2_p).collect();
        let q = bh_qvalues(&p);
        for (r, q) in rep.rows.iter().zip(q) {
            assert!(r.q_value == q || (r.q_value.is_nan() && q.is_nan()));
        }
        let r = row(&rep, "D", "E");
        assert_eq!(r.n11, 12);
        for f in [FLAG_PRR, FLAG_ROR, FLAG_IC, FLAG_EBGM, FLAG_FDR] {
            assert!(r.flags.iter().any(|x| x == f), "{f} missing: {r:?}");
        }
        // Ordered by drug, then event.
        for w in rep.rows.windows(2) {
            assert!(
                (w[0].drug.as_str(), w[0].event.as_str())
                    < (w[1].drug.as_str(), w[1].event.as_str())
            );
        }
    }

    #[test]
    fn stats_pipeline_errors() {
        assert!(detect_signals(SignalInput::new(), SignalOptions::default()).is_err());
    }

    #[test]
    fn stats_fast_hasher_spreads_low_bits() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let b = BuildHasherDefault::<FastHasher>::default();
        // Keys differing only in the high (drug) bits must land in different low-bit buckets.
        let mut buckets = std::collections::HashSet::new();
        for d in 0..256u32 {
            buckets.insert(b.hash_one(pack(d, 7, 0)) & 0xff);
        }
        assert!(buckets.len() > 128, "{}", buckets.len());
    }
}
