//! Relation-model throughput outside PostgreSQL: the same session code path `crag_score_batch` uses
//! (`runtime::score_relation_pairs`), on the same 1,000 pairs, so SQL overhead can be read off.
//!
//! `cargo bench -p crag-core --bench relation` (plain `fn main`, no harness). Environment:
//! * `CRAG_RELATION_DIR` — model directory (default `models/relation` of the repository);
//! * `CRAG_ADE_DIR` — ADE Corpus V2 (default `../shared/data/ade_corpus_v2` beside the repository);
//! * `CRAG_BENCH_PAIRS` (default 1000), `CRAG_BENCH_BATCH` (default 256, as `crag.batch_size`),
//!   `CRAG_BENCH_THREADS` (default 1, as `crag.threads`);
//! * `CRAG_BENCH_TSV` — also write the pairs there (drug context, ADR context) for `scripts/bench-relation.sh`.
//!
//! Pairs: the first N annotated pairs of the corpus (file order) whose mentions do not overlap, drug and reaction
//! marked in their sentence.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crag_core::artifacts::ModelArtifacts;
use crag_core::data::ade;
use crag_core::relation::{self, RelationConfig};
use crag_core::runtime::{self, Device, SessionOptions};
use crag_core::text::TextTokenizer;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model_dir = PathBuf::from(env_or(
        "CRAG_RELATION_DIR",
        &root.join("models/relation").display().to_string(),
    ));
    let ade_dir = PathBuf::from(env_or(
        "CRAG_ADE_DIR",
        &root
            .join("../shared/data/ade_corpus_v2")
            .display()
            .to_string(),
    ));
    let n: usize = env_or("CRAG_BENCH_PAIRS", "1000")
        .parse()
        .expect("CRAG_BENCH_PAIRS");
    let batch: usize = env_or("CRAG_BENCH_BATCH", "256")
        .parse()
        .expect("CRAG_BENCH_BATCH");
    let threads: usize = env_or("CRAG_BENCH_THREADS", "1")
        .parse()
        .expect("CRAG_BENCH_THREADS");

    let corpus = ade::read_ade_corpus(&ade_dir).expect("ADE Corpus V2");
    let pos = ade::positives(&corpus, None);
    let pairs: Vec<(String, String)> = pos
        .iter()
        .filter(|e| e.drug_span.1 <= e.effect_span.0 || e.effect_span.1 <= e.drug_span.0)
        .filter_map(|e| relation::sentence_contexts(&e.sentence, e.drug_span, e.effect_span).ok())
        .take(n)
        .collect();
    if let Ok(path) = std::env::var("CRAG_BENCH_TSV") {
        let mut f = std::fs::File::create(&path).expect("TSV");
        for (d, a) in &pairs {
            writeln!(
                f,
                "{}\t{}",
                d.replace(['\t', '\\'], " "),
                a.replace(['\t', '\\'], " ")
            )
            .unwrap();
        }
        eprintln!("wrote {} pairs to {path}", pairs.len());
    }
    let art = ModelArtifacts::read_dir(&model_dir).expect("relation model directory");
    let cfg = RelationConfig::from_json(&art.meta.config).unwrap();
    let tok = TextTokenizer::from_bytes(art.tokenizer.as_ref().unwrap(), cfg.max_len).unwrap();
    let lib = env_or("ORT_DYLIB_PATH", "/usr/local/lib/crag/libonnxruntime.so");
    let env = runtime::init(&lib).expect("ONNX Runtime");
    let t = Instant::now();
    let opts = SessionOptions {
        threads,
        device: Device::Cpu,
        dequantize_once: false,
    };
    let mut s = runtime::load_session(env, &art.onnx, &opts)
        .unwrap()
        .session;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let d: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    let a: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
    // One warm-up call, then three timed passes.
    runtime::score_relation_pairs(&mut s, &tok, &d[..1], &a[..1], batch, || Ok(())).unwrap();
    let mut times = Vec::new();
    let mut mean_p = 0.0;
    for _ in 0..3 {
        let t = Instant::now();
        let p = runtime::score_relation_pairs(&mut s, &tok, &d, &a, batch, || Ok(())).unwrap();
        times.push(t.elapsed().as_secs_f64());
        mean_p = p.iter().map(|&x| x as f64).sum::<f64>() / p.len() as f64;
    }
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "relation model {} ({:?}, {:.1} MB): session load {load_ms:.0} ms; {} pairs, batch {batch}, {threads} thread(s): \
         {:.2} / {:.2} / {:.2} s → best {:.0} pairs/s (mean p = {mean_p:.4})",
        art.meta.name,
        cfg.precision,
        art.onnx.len() as f64 / 1e6,
        pairs.len(),
        times[0],
        times[1],
        times[2],
        pairs.len() as f64 / best
    );
}
