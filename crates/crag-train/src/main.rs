//! `crag-train`: trains CRAG models and writes them as model directories (`--out DIR`) for
//! `crag.import_model(DIR)`.
//!
//! Subcommands so far:
//! * `dti-seeded` — a DTI/ADR model with seeded, untrained weights, exported through crag-core; it exercises the
//!   whole serving path exactly and is the default `dti` model until `crag-train dti` (tch) lands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crag_core::artifacts::{seeded_dti, AdrTerm};
use crag_core::data::sider;
use crag_core::dti::{DtiConfig, DtiHead};

#[derive(Parser)]
#[command(name = "crag-train", version, about = "Train and export CRAG models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Export a DTI/ADR model with seeded weights; ADR vocabulary = the most prevalent SIDER preferred terms.
    DtiSeeded {
        /// SIDER 4.1 folder (holds meddra_all_se.tsv.gz).
        #[arg(
            long,
            env = "CRAG_SIDER_DIR",
            default_value = "../shared/data/sider_4_1"
        )]
        sider: PathBuf,
        /// Output model directory.
        #[arg(long)]
        out: PathBuf,
        /// Registry name.
        #[arg(long, default_value = "dti")]
        name: String,
        /// Number of ADR columns K.
        #[arg(long, default_value_t = 256)]
        n_adr: usize,
        /// Drug vector size.
        #[arg(long, default_value_t = 1024)]
        drug_dim: usize,
        /// Protein vector size.
        #[arg(long, default_value_t = 420)]
        prot_dim: usize,
        /// Shared space size d.
        #[arg(long, default_value_t = 128)]
        d: usize,
        /// DTI head.
        #[arg(long, value_parser = ["cosine", "bilinear"], default_value = "cosine")]
        head: String,
        /// Every n-th ADR gets an all-zero (masked) prototype; 0 for none.
        #[arg(long, default_value_t = 10)]
        mask_every: usize,
        /// Seed of the weights and prototypes.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

fn run(cli: Cli) -> crag_core::Result<()> {
    match cli.command {
        Command::DtiSeeded {
            sider: dir,
            out,
            name,
            n_adr,
            drug_dim,
            prot_dim,
            d,
            head,
            mask_every,
            seed,
        } => {
            let effects = sider::read_side_effects(&dir.join("meddra_all_se.tsv.gz"))?;
            let ranked = sider::terms_by_prevalence(&effects);
            if ranked.len() < n_adr {
                return Err(crag_core::CragError::invalid(format!(
                    "SIDER has only {} terms",
                    ranked.len()
                )));
            }
            let terms: Vec<AdrTerm> = ranked
                .into_iter()
                .take(n_adr)
                .enumerate()
                .map(|(i, (term, cui, _))| AdrTerm {
                    adr_index: i,
                    term,
                    meddra_id: Some(cui),
                })
                .collect();
            let head = if head == "bilinear" {
                DtiHead::Bilinear
            } else {
                DtiHead::Cosine
            };
            let cfg = DtiConfig {
                drug_dim,
                prot_dim,
                n_adr,
                d,
                hidden_ratio: 2,
                head,
                ln_eps: 1e-5,
            };
            let (mut art, _) = seeded_dti(&name, &cfg, seed, terms, mask_every)?;
            art.meta.config["adr_vocabulary"] = serde_json::json!({
                "source": "SIDER 4.1 meddra_all_se, preferred terms",
                "selection": format!("{n_adr} most prevalent terms across {} drugs", {
                    let mut ids: Vec<&str> = effects.iter().map(|e| e.stitch_id.as_str()).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    ids.len()
                })
            });
            art.write_dir(&out)?;
            println!(
                "wrote {} ({} bytes ONNX, sha256 {})",
                out.display(),
                art.onnx.len(),
                art.sha256()
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crag-train: {e}");
            ExitCode::FAILURE
        }
    }
}
