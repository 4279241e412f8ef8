//! `crag-train synth` and `crag-train eval`: synthetic NER/RE notes and their evaluation (crag-core's
//! [`crag_core::ner`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use crag_core::ner::synth::{self, ExportFormat, GeneratorConfig};
use crag_core::ner::{evaluate, parse_documents, MatchMode};
use crag_core::{CragError, Result};

/// Arguments of `crag-train synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of documents.
    #[arg(long)]
    pub n: usize,
    /// Seed (the same n, seed and settings give the same file).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output format: a JSON array, JSON Lines, or instruction-tuning JSON Lines (instruction, input, output).
    #[arg(long, value_parser = ["json", "jsonl", "instruction"], default_value = "json")]
    pub format: String,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Minimum entity mentions per document.
    #[arg(long, default_value_t = 3)]
    pub min_entities: usize,
    /// Maximum entity mentions per document.
    #[arg(long, default_value_t = 10)]
    pub max_entities: usize,
    /// Minimum relations per document.
    #[arg(long, default_value_t = 1)]
    pub min_relations: usize,
    /// Maximum relations per document (capped at max-entities / 2).
    #[arg(long, default_value_t = 4)]
    pub max_relations: usize,
    /// Print corpus statistics as JSON to stderr.
    #[arg(long)]
    pub stats: bool,
    /// Write corpus statistics as JSON to this file.
    #[arg(long)]
    pub stats_out: Option<PathBuf>,
}

/// Arguments of `crag-train eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Gold documents (JSON array, one JSON object, or JSON Lines).
    #[arg(long)]
    pub gold: PathBuf,
    /// Predicted documents, same layouts; paired with gold by id, or by position when ids are missing.
    #[arg(long)]
    pub pred: PathBuf,
    /// Entity matching: exact (span and type), partial (overlap and type), type (span only, type ignored).
    #[arg(long, value_parser = ["exact", "partial", "type"], default_value = "exact")]
    pub mode: String,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn create(path: &PathBuf) -> Result<BufWriter<File>> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| CragError::io(format!("creating {}", path.display()), e))
}

/// Generate, write, and optionally report statistics.
pub fn synth(a: &SynthArgs) -> Result<()> {
    let cfg = GeneratorConfig {
        entities_per_doc: a.min_entities..=a.max_entities,
        relations_per_doc: a.min_relations..=a.max_relations,
        ..GeneratorConfig::default()
    };
    let format: ExportFormat = a.format.parse()?;
    let docs = synth::generate(a.n, a.seed, &cfg)?;
    synth::write_documents(&docs, format, create(&a.out)?)?;
    eprintln!(
        "wrote {} documents ({}) to {}",
        docs.len(),
        a.format,
        a.out.display()
    );
    if a.stats || a.stats_out.is_some() {
        let st = serde_json::to_string_pretty(&synth::stats(&docs)).expect("stats serialise");
        if a.stats {
            eprintln!("{st}");
        }
        if let Some(p) = &a.stats_out {
            let mut w = create(p)?;
            writeln!(w, "{st}")
                .and_then(|_| w.flush())
                .map_err(|e| CragError::io(format!("writing {}", p.display()), e))?;
        }
    }
    Ok(())
}

fn read_docs(path: &PathBuf) -> Result<Vec<crag_core::ner::Document>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CragError::io(format!("reading {}", path.display()), e))?;
    parse_documents(&text).map_err(|e| CragError::invalid(format!("{}: {e}", path.display())))
}

/// Evaluate predictions against gold; print the table, optionally write JSON.
pub fn eval(a: &EvalArgs) -> Result<()> {
    let mode: MatchMode = a.mode.parse()?;
    let report = evaluate(&read_docs(&a.gold)?, &read_docs(&a.pred)?, mode)?;
    print!("{}", report.to_table());
    if let Some(p) = &a.json {
        let mut w = create(p)?;
        serde_json::to_writer_pretty(&mut w, &report)
            .map_err(|e| CragError::Runtime(format!("writing {}: {e}", p.display())))?;
        writeln!(w)
            .and_then(|_| w.flush())
            .map_err(|e| CragError::io(format!("writing {}", p.display()), e))?;
    }
    Ok(())
}
