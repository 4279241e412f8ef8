//! Signal-detection benchmark on a synthetic FAERS-like database.
//!
//! `cargo bench -p crag-core --bench signals` (plain `fn main`, no harness).
//!
//! 1,000,000 reports (override with `CRAG_BENCH_REPORTS`), each with 1–4 drugs drawn from a
//! Zipf(1.1) distribution over 3,000 drugs and 1–5 events from a Zipf(1.0) distribution over
//! 5,000 events; every report contributes the cross product drug × event, as a FAERS
//! `DRUG ⋈ REAC` join does. Fifty drugs carry a planted signal (their report gets a specific
//! event with probability 0.3). Reports are assigned to 8 strata (sex × 4 age groups).
//! Seeded with ChaCha8, so every run sees the same data.

use std::time::Instant;

use crag_core::stats::{detect_signals, SignalInput, SignalOptions, SignalReport};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N_DRUGS: usize = 3000;
const N_EVENTS: usize = 5000;

/// Zipf(s) sampler over `1..=n` by inversion of the cumulative weights.
struct Zipf {
    cum: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cum = (1..=n)
            .map(|k| {
                acc += (k as f64).powf(-s);
                acc
            })
            .collect();
        Zipf { cum }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let u = rng.random::<f64>() * self.cum[self.cum.len() - 1];
        self.cum.partition_point(|&c| c < u).min(self.cum.len() - 1)
    }
}

/// Compact synthetic database: drug and event ids per report (CSR layout) and a stratum.
struct Dataset {
    drug_off: Vec<u32>,
    drugs: Vec<u16>,
    event_off: Vec<u32>,
    events: Vec<u16>,
    stratum: Vec<u8>,
}

fn generate(n_reports: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let zd = Zipf::new(N_DRUGS, 1.1);
    let ze = Zipf::new(N_EVENTS, 1.0);
    let mut ds = Dataset {
        drug_off: vec![0],
        drugs: Vec::with_capacity(n_reports * 5 / 2),
        event_off: vec![0],
        events: Vec::with_capacity(n_reports * 3),
        stratum: Vec::with_capacity(n_reports),
    };
    for _ in 0..n_reports {
        let kd = rng.random_range(1..=4);
        let ke = rng.random_range(1..=5);
        let mut planted = None;
        for _ in 0..kd {
            let d = zd.sample(&mut rng);
            // Drugs ranked 20..70 have a planted event (a mid-frequency one).
            if (20..70).contains(&d) && rng.random::<f64>() < 0.3 {
                planted = Some(500 + d);
            }
            ds.drugs.push(d as u16);
        }
        for _ in 0..ke {
            ds.events.push(ze.sample(&mut rng) as u16);
        }
        if let Some(e) = planted {
            ds.events.push(e as u16);
        }
        ds.drug_off.push(ds.drugs.len() as u32);
        ds.event_off.push(ds.events.len() as u32);
        ds.stratum.push(rng.random_range(0..8));
    }
    ds
}

fn ingest(
    ds: &Dataset,
    drug_names: &[String],
    event_names: &[String],
    strata: Option<&[String]>,
) -> SignalInput {
    let n_rows: usize = (0..ds.stratum.len())
        .map(|r| {
            ((ds.drug_off[r + 1] - ds.drug_off[r]) * (ds.event_off[r + 1] - ds.event_off[r]))
                as usize
        })
        .sum();
    let mut input = SignalInput::with_capacity(n_rows);
    for r in 0..ds.stratum.len() {
        let st = strata.map(|s| s[ds.stratum[r] as usize].as_str());
        let drugs = &ds.drugs[ds.drug_off[r] as usize..ds.drug_off[r + 1] as usize];
        let events = &ds.events[ds.event_off[r] as usize..ds.event_off[r + 1] as usize];
        for &d in drugs {
            for &e in events {
                input
                    .push(
                        r as i64 * 7 + 1_000_000_000,
                        &drug_names[d as usize],
                        &event_names[e as usize],
                        st,
                    )
                    .expect("push");
            }
        }
    }
    input
}

fn summarize(
    label: &str,
    rep: &SignalReport,
    t_ingest: [f64; 2],
    t_detect: [f64; 2],
    rows_in: usize,
) {
    let flagged = |f: &str| {
        rep.rows
            .iter()
            .filter(|r| r.flags.iter().any(|x| x == f))
            .count()
    };
    println!("== {label}");
    println!(
        "   input rows {rows_in}, reports {}, strata {}, distinct pairs {}, rows returned {}",
        rep.n_reports,
        rep.n_strata,
        rep.n_pairs,
        rep.rows.len()
    );
    println!(
        "   flags: PRR {} ROR {} IC {} EBGM {} FDR {}",
        flagged("PRR"),
        flagged("ROR"),
        flagged("IC"),
        flagged("EBGM"),
        flagged("FDR")
    );
    let f = &rep.fit;
    println!(
        "   GPS prior: a1={:.4} b1={:.4} a2={:.4} b2={:.4} p={:.3e} logL={:.1} converged={} iterations={}",
        f.alpha1, f.beta1, f.alpha2, f.beta2, f.p, f.log_likelihood, f.converged, f.iterations
    );
    println!(
        "   ingest {:.2} s (cpu {:.2} s), detect_signals {:.2} s (cpu {:.2} s)",
        t_ingest[0], t_ingest[1], t_detect[0], t_detect[1]
    );
}

/// CPU time of this thread in seconds (`/proc/thread-self/schedstat`), which, unlike wall
/// time, is not inflated when other processes share the cores.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let n_reports: usize = std::env::var("CRAG_BENCH_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let drug_names: Vec<String> = (0..N_DRUGS).map(|i| format!("DRUG_{i:04}")).collect();
    let event_names: Vec<String> = (0..N_EVENTS).map(|i| format!("EVENT_{i:04}")).collect();
    let strata: Vec<String> = ["F", "M"]
        .iter()
        .flat_map(|s| ["0-17", "18-44", "45-64", "65+"].map(|a| format!("{s}/{a}")))
        .collect();

    let t = Instant::now();
    let ds = generate(n_reports, 20240601);
    println!(
        "generated {n_reports} reports ({} drug and {} event mentions) in {:.2} s",
        ds.drugs.len(),
        ds.events.len(),
        t.elapsed().as_secs_f64()
    );

    // The typical configuration first, so that the peak RSS printed after it is its own.
    let runs: [(&str, Option<&[String]>, u64); 2] = [
        // 1. Stratified by sex × age group (Mantel–Haenszel), min_count = 3.
        ("stratified (8 strata), min_count = 3", Some(&strata), 3),
        // 2. Unstratified, every pair returned (min_count = 1).
        ("unstratified, min_count = 1", None, 1),
    ];
    for (label, st, min_count) in runs {
        let (t, c) = (Instant::now(), cpu_s());
        let input = ingest(&ds, &drug_names, &event_names, st);
        let rows_in = input.len();
        let t_ingest = [t.elapsed().as_secs_f64(), cpu_s() - c];
        let (t, c) = (Instant::now(), cpu_s());
        let rep = detect_signals(
            input,
            SignalOptions {
                min_count,
                ..SignalOptions::default()
            },
        )
        .expect("detect_signals");
        let t_detect = [t.elapsed().as_secs_f64(), cpu_s() - c];
        summarize(label, &rep, t_ingest, t_detect, rows_in);
        match peak_rss_mib() {
            Some(m) => println!("   peak RSS so far (VmHWM): {m:.0} MiB"),
            None => println!("   peak RSS: /proc/self/status not available"),
        }
    }
}
