//! `crag-train`: trains CRAG models and writes them as model directories (`--out DIR`) for
//! `crag.import_model(DIR)`.
//!
//! Subcommands:
//! * `dti` — train the DTI/ADR multi-task model (tch) on DrugBAN pairs + SIDER ADR profiles, evaluate it, export it
//!   through crag-core's ONNX exporter and optionally publish it into a database.
//! * `dti-seeded` — a DTI/ADR model with seeded, untrained weights, for testing the serving path exactly.
//! * `dti-quantize` — turn a float32 DTI/ADR model directory into a per-row int8 one, scoring both graphs through
//!   ONNX Runtime with the protocol of `dti`.
//! * `ner` — train the NER token classifier (`crag_extract_entities`) on BC5CDR, evaluate it on the BC5CDR
//!   development split, export it and optionally publish it.
//! * `relation` — train the dual-encoder drug–ADR relation model (`crag_score`) on ADE Corpus V2, BC5CDR CID pairs
//!   (one- and two-sentence contexts) and SIDER indication negatives, evaluate it (ADE hard and card protocols by
//!   PMID split, CID pairs of held-out abstracts), export it and optionally publish it.
//! * `relation-eval` — score the causality protocols through `crag.crag_score_batch` in a CRAG database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crag_core::artifacts::{seeded_dti, AdrTerm};
use crag_core::data::sider;
use crag_core::dti::{DtiConfig, DtiHead};
use crag_core::onnx::WeightPrecision;
use crag_train::dti_run::{self, DtiRun};
use crag_train::dti_train::TrainConfig;
use crag_train::relation_run::{self, RelationRun};
use crag_train::relation_train::RelTrainConfig;

#[derive(Parser)]
#[command(name = "crag-train", version, about = "Train and export CRAG models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the DTI/ADR model (dti_adr_spec.md) and write a model directory; optionally publish it.
    Dti {
        /// Folder with train.csv, val.csv and test.csv (DrugBAN layout or CRAG's generic CSV/TSV).
        #[arg(
            long,
            env = "CRAG_DTI_DIR",
            default_value = "../shared/data/dti_drugban/human/random"
        )]
        pairs: PathBuf,
        /// SIDER 4.1 folder (sider_drug_smiles.tsv, meddra_all_se.tsv.gz).
        #[arg(
            long,
            env = "CRAG_SIDER_DIR",
            default_value = "../shared/data/sider_4_1"
        )]
        sider: PathBuf,
        /// Output model directory (also gets metrics.json, history.jsonl, curves.png, predictions_test.tsv).
        #[arg(long)]
        out: PathBuf,
        /// Registry name.
        #[arg(long, default_value = "dti")]
        name: String,
        /// Publish into this database, e.g. postgres://postgres@%2Fvar%2Frun%2Fpostgresql/crag_demo.
        #[arg(long)]
        database_url: Option<String>,
        /// Make the published version active.
        #[arg(long)]
        activate: bool,
        /// Shared space size d.
        #[arg(long, default_value_t = 512)]
        d: usize,
        /// DTI head.
        #[arg(long, value_parser = ["cosine", "bilinear"], default_value = "cosine")]
        head: String,
        /// Maximum epochs.
        #[arg(long, default_value_t = 60)]
        epochs: usize,
        /// Early-stopping patience (epochs without validation PR-AUC gain).
        #[arg(long, default_value_t = 6)]
        patience: usize,
        /// Balanced batch size.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Learning rate (AdamW).
        #[arg(long, default_value_t = 2e-4)]
        lr: f64,
        /// Weight ADR columns by inverse train prevalence.
        #[arg(long)]
        inverse_prevalence: bool,
        /// Keep only the first N train pairs (smoke tests).
        #[arg(long)]
        max_train_pairs: Option<usize>,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// cpu, cuda or auto.
        #[arg(long, default_value = "auto")]
        device: String,
        /// ONNX Runtime library for the export parity check.
        #[arg(
            long,
            env = "ORT_DYLIB_PATH",
            default_value = "/usr/local/lib/crag/libonnxruntime.so"
        )]
        onnxruntime: String,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Quantise a float32 DTI/ADR model directory to per-row int8 weights and measure both graphs (ONNX Runtime).
    DtiQuantize(crag_train::dti_quantize::DtiQuantizeArgs),
    /// Train the dual-encoder relation model (crag_score) on ADE Corpus V2 and write a model directory.
    Relation {
        /// ADE Corpus V2 folder (DRUG-AE.rel, ADE-NEG.txt).
        #[arg(
            long,
            env = "CRAG_ADE_DIR",
            default_value = "../shared/data/ade_corpus_v2"
        )]
        ade: PathBuf,
        /// BC5CDR folder: CID pairs of its training abstracts join training (one- and two-sentence contexts) and
        /// validation (held-out abstracts).
        #[arg(long, env = "CRAG_BC5CDR_DIR", default_value = "../shared/data/bc5cdr")]
        bc5cdr: PathBuf,
        /// SIDER 4.1 folder: drug–indication pairs found in training sentences become negatives.
        #[arg(
            long,
            env = "CRAG_SIDER_DIR",
            default_value = "../shared/data/sider_4_1"
        )]
        sider: PathBuf,
        /// Train on ADE Corpus V2 only (the version-1 recipe): no BC5CDR pairs, no SIDER indications.
        #[arg(long)]
        ade_only: bool,
        /// Context pairs per CID pair (nearest-sentence policy).
        #[arg(long, default_value_t = 3)]
        cid_contexts: usize,
        /// BC5CDR training abstracts held out (seeded) for validation and the CID threshold.
        #[arg(long, default_value_t = 60)]
        cid_val_abstracts: usize,
        /// Phase-2 positives per batch from two-sentence (cross-sentence) pairs.
        #[arg(long, default_value_t = 3)]
        cross_positives: usize,
        /// Phase-2 negatives per batch from mismatched pairs (another sentence's effect).
        #[arg(long, default_value_t = 1)]
        mismatched_negatives: usize,
        /// Probability that a phase-2 context is shown without markers.
        #[arg(long, default_value_t = 0.1)]
        unmarked_share: f64,
        /// Cap on phase-2 steps per epoch.
        #[arg(long)]
        max_steps_per_epoch: Option<usize>,
        /// Continue from this relation model directory (e.g. models/relation) instead of the pretrained encoder.
        #[arg(long)]
        init_model: Option<PathBuf>,
        /// int8 weights: round to the nearest level, or stochastically (unbiased: keeps fine-tuning updates
        /// smaller than half a step, e.g. when continuing from an int8 graph, on average).
        #[arg(long, value_parser = ["nearest", "stochastic"], default_value = "nearest")]
        int8_rounding: String,
        /// Pretrained BERT folder (config.json, model.safetensors, tokenizer.json).
        #[arg(long, env = "CRAG_MINILM_DIR", default_value = "/opt/crag/minilm")]
        encoder: PathBuf,
        /// Output model directory (also gets metrics.json, history.jsonl, curves.png, predictions_test.tsv).
        #[arg(long)]
        out: PathBuf,
        /// Registry name.
        #[arg(long, default_value = "relation")]
        name: String,
        /// Publish into this database.
        #[arg(long)]
        database_url: Option<String>,
        /// Make the published version active.
        #[arg(long)]
        activate: bool,
        /// Add hard negatives (same-sentence combinations, ADE-NEG dictionary pairs) to phase 2.
        #[arg(long)]
        hard_negatives: bool,
        /// Focal loss instead of BCE in phase 2.
        #[arg(long)]
        focal_loss: bool,
        /// Focal-loss gamma.
        #[arg(long, default_value_t = 2.0)]
        focal_gamma: f64,
        /// Phase-1 (InfoNCE) epochs.
        #[arg(long, default_value_t = 1)]
        contrastive_epochs: usize,
        /// Phase-2 maximum epochs.
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        /// Early-stopping patience (phase-2 epochs without validation F1 gain).
        #[arg(long, default_value_t = 1)]
        patience: usize,
        /// Phase-2 batch size (balanced).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Encoder learning rate.
        #[arg(long, default_value_t = 2e-5)]
        lr: f64,
        /// Fusion/head learning rate.
        #[arg(long, default_value_t = 1e-3)]
        head_lr: f64,
        /// InfoNCE temperature.
        #[arg(long, default_value_t = 0.07)]
        tau: f64,
        /// Freeze embeddings + this many lower layers per encoder (CPU speed).
        #[arg(long, default_value_t = 0)]
        freeze_layers: usize,
        /// Token budget per context (special tokens included).
        #[arg(long, default_value_t = 128)]
        max_len: usize,
        /// Seeded sample of N training examples (CPU runs).
        #[arg(long)]
        max_train: Option<usize>,
        /// Seeded sample of N validation examples per protocol.
        #[arg(long)]
        max_val: Option<usize>,
        /// Seeded sample of N test examples per protocol (smoke tests only).
        #[arg(long)]
        max_test: Option<usize>,
        /// Precision of the shipped graph.
        #[arg(long, value_parser = ["int8", "f32"], default_value = "int8")]
        precision: String,
        /// Seed (split, sampling, initialisation).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// cpu, cuda or auto.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Threads for tch on CPU (0: libtorch default).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// ONNX Runtime library for the export parity check.
        #[arg(
            long,
            env = "ORT_DYLIB_PATH",
            default_value = "/usr/local/lib/crag/libonnxruntime.so"
        )]
        onnxruntime: String,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Score the causality protocols (BC5CDR dev CID with gold entities, ADE Corpus V2 hard protocol on the test
    /// PMIDs, SIDER indication pairs, the card's example) through crag.crag_score_batch in a CRAG database.
    RelationEval(crag_train::relation_eval::RelationEval),
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
    /// Train the NER token classifier (and with --relations its relation head) on BC5CDR (+ synthetic notes,
    /// + ADE Corpus V2), select on BC5CDR dev, export it.
    Ner(crag_train::ner_train::NerArgs),
    /// Evaluate an extractor's relations (BC5CDR dev CID, ADE Corpus V2 test, held-out synthetic notes) through
    /// ONNX Runtime.
    ExtractEval(crag_train::re_eval::ExtractEvalArgs),
    /// Write seeded synthetic clinical notes with NER/RE annotations (guide format, JSONL or instruction tuning).
    Synth(crag_train::ner_cli::SynthArgs),
    /// Evaluate NER/RE predictions against gold documents (per type, micro, macro; strict/lenient relations).
    Eval(crag_train::ner_cli::EvalArgs),
}

fn run(cli: Cli) -> crag_core::Result<()> {
    match cli.command {
        Command::Dti {
            pairs,
            sider,
            out,
            name,
            database_url,
            activate,
            d,
            head,
            epochs,
            patience,
            batch_size,
            lr,
            inverse_prevalence,
            max_train_pairs,
            seed,
            device,
            onnxruntime,
            quiet,
        } => {
            let device = parse_device(&device);
            let train = TrainConfig {
                d,
                head: dti_run::parse_head(&head),
                max_epochs: epochs,
                patience,
                batch_size,
                lr,
                inverse_prevalence,
                seed,
                ..TrainConfig::default()
            };
            let split_name = pairs
                .iter()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(|s| s.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let job = DtiRun {
                pairs: [
                    pairs.join("train.csv"),
                    pairs.join("val.csv"),
                    pairs.join("test.csv"),
                ],
                split_name,
                sider,
                out,
                name,
                train,
                max_train_pairs,
                database_url,
                activate,
                device,
                ort_library: onnxruntime,
                progress: !quiet,
            };
            dti_run::run(&job).map(|_| ())
        }
        Command::DtiQuantize(args) => crag_train::dti_quantize::run(&args),
        Command::Relation {
            ade,
            bc5cdr,
            sider,
            ade_only,
            cid_contexts,
            cid_val_abstracts,
            cross_positives,
            mismatched_negatives,
            unmarked_share,
            max_steps_per_epoch,
            init_model,
            int8_rounding,
            encoder,
            out,
            name,
            database_url,
            activate,
            hard_negatives,
            focal_loss,
            focal_gamma,
            contrastive_epochs,
            epochs,
            patience,
            batch_size,
            lr,
            head_lr,
            tau,
            freeze_layers,
            max_len,
            max_train,
            max_val,
            max_test,
            precision,
            seed,
            device,
            threads,
            onnxruntime,
            quiet,
        } => {
            if threads > 0 {
                tch::set_num_threads(threads as i32);
            }
            let job = RelationRun {
                ade,
                bc5cdr: (!ade_only).then_some(bc5cdr),
                sider: (!ade_only).then_some(sider),
                cid_contexts,
                cid_val_abstracts,
                init_model,
                stochastic_rounding: int8_rounding == "stochastic",
                encoder,
                out,
                name,
                database_url,
                activate,
                hard_negatives,
                max_len,
                max_train,
                max_val,
                max_test,
                fractions: (0.8, 0.1, 0.1),
                precision: if precision == "f32" {
                    WeightPrecision::F32
                } else {
                    WeightPrecision::Int8
                },
                train: RelTrainConfig {
                    seed,
                    contrastive_epochs,
                    epochs,
                    patience,
                    batch_size,
                    contrastive_batch: batch_size,
                    lr,
                    head_lr,
                    tau,
                    focal_gamma: focal_loss.then_some(focal_gamma),
                    freeze_layers,
                    cross_positives,
                    mismatched_negatives,
                    unmarked_share,
                    max_steps_per_epoch,
                    ..RelTrainConfig::default()
                },
                device: parse_device(&device),
                ort_lib: onnxruntime,
                progress: !quiet,
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            relation_run::run(&job).map(|_| ())
        }
        Command::RelationEval(args) => crag_train::relation_eval::run(&args).map(|_| ()),
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
                precision: WeightPrecision::F32,
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
        Command::Ner(args) => {
            let device = parse_device(&args.device);
            crag_train::ner_train::run(&args.into_run(device)).map(|_| ())
        }
        Command::ExtractEval(args) => crag_train::re_eval::extract_eval(&args),
        Command::Synth(args) => crag_train::ner_cli::synth(&args),
        Command::Eval(args) => crag_train::ner_cli::eval(&args),
    }
}

fn parse_device(s: &str) -> tch::Device {
    match s {
        "cpu" => tch::Device::Cpu,
        "cuda" => tch::Device::Cuda(0),
        _ => tch::Device::cuda_if_available(),
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
