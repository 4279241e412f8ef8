//! `crag-train dti-quantize`: turn a float32 DTI/ADR model directory into a per-row int8 one, measured.
//!
//! The float32 weights are read back exactly from the graph ([`crag_core::onnx::weights_from_onnx`]), the int8 graph
//! is exported from them ([`DtiConfig::int8_matrix_names`] as int8, everything else float32), and both graphs are
//! scored by ONNX Runtime with the protocol of `crag-train dti`: the dataset is rebuilt from the same files with the
//! same seed (checked against the summary stored with the model), DTI on the val/test pairs at the stored validation
//! threshold, the ADR head on the held-out SIDER profiles, and the pair-conditioned scorer on the positive test pairs
//! with the stored prototypes. The new directory holds the int8 graph, the same prototypes and vocabulary, and the
//! metrics of the float32 run with an `onnx.shipped` block (int8 vs float32 numbers and sizes).

use std::path::{Path, PathBuf};

use crag_core::artifacts::{self, ModelArtifacts};
use crag_core::data::dti::{
    read_dti_pairs, read_sider_drugs, DatasetConfig, DtiAdrDataset, IndexedPair, Split,
};
use crag_core::dti::{self, DtiConfig, PairScorer};
use crag_core::onnx::WeightPrecision;
use crag_core::runtime::{self, Device as OrtDevice, LoadedSession, SessionOptions};
use crag_core::{features, metrics, CragError, Result};
use ndarray::{Array2, Axis};
use serde_json::{json, Value};

use crate::dti_train::{self, AdrReport, DtiReport, Features};
use crate::outputs::{to_json, write_json};

/// `crag-train dti-quantize` arguments.
#[derive(Debug, clap::Args)]
pub struct DtiQuantizeArgs {
    /// Float32 DTI/ADR model directory (as `crag-train dti` writes it).
    #[arg(long)]
    pub model: PathBuf,
    /// Folder with train.csv, val.csv and test.csv: the pairs the model was trained on.
    #[arg(
        long,
        env = "CRAG_DTI_DIR",
        default_value = "../shared/data/dti_drugban/human/random"
    )]
    pub pairs: PathBuf,
    /// SIDER 4.1 folder the model was trained with.
    #[arg(
        long,
        env = "CRAG_SIDER_DIR",
        default_value = "../shared/data/sider_4_1"
    )]
    pub sider: PathBuf,
    /// Output model directory (int8 graph; metrics.json, history.jsonl, curves.png copied and updated).
    #[arg(long)]
    pub out: PathBuf,
    /// Dataset seed; default: the seed stored in the model's config (`training.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// ONNX Runtime library.
    #[arg(
        long,
        env = "ORT_DYLIB_PATH",
        default_value = "/usr/local/lib/crag/libonnxruntime.so"
    )]
    pub onnxruntime: String,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Outputs of a graph for a list of rows, concatenated over batches.
struct GraphOut {
    p_bind: Vec<f32>,
    u: Array2<f32>,
    v: Array2<f32>,
    adr_pred: Array2<f32>,
    scorer: PairScorer,
}

const BATCH: usize = 256;

fn run_rows(
    s: &mut LoadedSession,
    drug_rows: &Array2<f32>,
    prot_rows: &Array2<f32>,
    drugs: &[usize],
    prots: &[usize],
) -> Result<GraphOut> {
    let mut parts = Vec::new();
    for (d, p) in drugs.chunks(BATCH).zip(prots.chunks(BATCH)) {
        let dx = drug_rows.select(Axis(0), d);
        let px = prot_rows.select(Axis(0), p);
        parts.push(runtime::run_dti(&mut s.session, dx.view(), px.view())?);
    }
    let cat = |get: fn(&runtime::DtiRun) -> &Array2<f32>| -> Result<Array2<f32>> {
        let views: Vec<_> = parts.iter().map(|r| get(r).view()).collect();
        ndarray::concatenate(Axis(0), &views).map_err(|e| CragError::Runtime(e.to_string()))
    };
    let first = parts
        .first()
        .ok_or_else(|| CragError::invalid("no rows to run"))?;
    Ok(GraphOut {
        scorer: first.scorer,
        p_bind: parts
            .iter()
            .flat_map(|r| r.p_bind.iter().copied())
            .collect(),
        u: cat(|r| &r.u)?,
        v: cat(|r| &r.v)?,
        adr_pred: cat(|r| &r.adr_pred)?,
    })
}

fn run_pairs(
    s: &mut LoadedSession,
    drug_rows: &Array2<f32>,
    prot_rows: &Array2<f32>,
    pairs: &[IndexedPair],
) -> Result<GraphOut> {
    let d: Vec<usize> = pairs.iter().map(|p| p.drug).collect();
    let p: Vec<usize> = pairs.iter().map(|p| p.protein).collect();
    run_rows(s, drug_rows, prot_rows, &d, &p)
}

/// Everything `crag-train dti` reports about a model, computed from one ONNX graph's outputs.
pub struct GraphEval {
    /// DTI on the validation pairs at the stored threshold.
    pub dti_val: DtiReport,
    /// DTI on the test pairs at the stored threshold.
    pub dti_test: DtiReport,
    /// Threshold maximising F1 on validation for this graph (the stored one came from the tch network).
    pub val_best_threshold: f64,
    /// ADR head on the ADR-val profiles.
    pub adr_val: AdrReport,
    /// ADR head on the ADR-test profiles.
    pub adr_test: AdrReport,
    /// Pair-conditioned scorer on the positive test pairs with an ADR-test profile.
    pub pair_test: AdrReport,
    test_p: Vec<f32>,
    test_u: Array2<f32>,
    test_v: Array2<f32>,
    adr_test_pred: Array2<f32>,
}

impl GraphEval {
    /// The numbers in the layout of `crag-train dti`'s metrics (`dti.{val,test}`, `adr.{val,test}.model`,
    /// `adr.pair_scorer_test.report`).
    pub fn to_json(&self) -> Value {
        json!({
            "dti": {"val": to_json(&self.dti_val), "test": to_json(&self.dti_test)},
            "adr": {
                "val": {"model": to_json(&self.adr_val)},
                "test": {"model": to_json(&self.adr_test)},
                "pair_scorer_test": {"report": to_json(&self.pair_test)},
            },
            "val_best_threshold": self.val_best_threshold,
        })
    }
}

/// Score one graph by ONNX Runtime on the dataset: DTI at `threshold`, ADR head, pair scorer with `prototypes`.
pub fn evaluate_graph(
    onnx: &[u8],
    ort_library: &str,
    threads: usize,
    ds: &DtiAdrDataset,
    f: &Features,
    prototypes: &Array2<f32>,
    threshold: f64,
) -> Result<GraphEval> {
    let env = runtime::init(ort_library)?;
    let mut s = runtime::load_session(
        env,
        onnx,
        &SessionOptions {
            threads: threads.max(1),
            device: OrtDevice::Cpu,
            dequantize_once: false,
        },
    )?;
    let prot_rows = dti_train::protein_rows(f)?;
    let drug_rows = &f.drug_rows;
    let scores = |o: &GraphOut| -> Vec<f64> { o.p_bind.iter().map(|&p| f64::from(p)).collect() };

    let val = run_pairs(&mut s, drug_rows, &prot_rows, &ds.val)?;
    let val_scores = scores(&val);
    let val_labels: Vec<bool> = ds.val.iter().map(|p| p.label).collect();
    let (val_best_threshold, _) = metrics::best_f1_threshold(&val_scores, &val_labels);
    let test = run_pairs(&mut s, drug_rows, &prot_rows, &ds.test)?;

    // The ADR head reads only the drug; any protein row fills the graph's second input.
    let mut adr = |split: Split| -> Result<(AdrReport, Array2<f32>)> {
        let rows = ds.adr_rows(split);
        let drugs: Vec<usize> = rows.iter().map(|&r| ds.adr_row_drug[r]).collect();
        let out = run_rows(&mut s, drug_rows, &prot_rows, &drugs, &vec![0; drugs.len()])?;
        Ok((
            dti_train::adr_report(ds, &rows, &out.adr_pred),
            out.adr_pred,
        ))
    };
    let (adr_val, _) = adr(Split::Val)?;
    let (adr_test, adr_test_pred) = adr(Split::Test)?;

    let chosen = dti_train::pair_scorer_pairs(ds, &ds.test, Split::Test);
    let pair = run_pairs(&mut s, drug_rows, &prot_rows, &chosen)?;
    let flat = |a: &Array2<f32>| a.iter().copied().collect::<Vec<f32>>();
    let pair_test = dti_train::pair_scorer_report_from(
        ds,
        &pair.scorer,
        prototypes,
        &chosen,
        &flat(&pair.u),
        &flat(&pair.v),
    )?;
    Ok(GraphEval {
        dti_val: dti_train::dti_report_from_scores(&val_scores, &ds.val, threshold),
        dti_test: dti_train::dti_report_from_scores(&scores(&test), &ds.test, threshold),
        val_best_threshold,
        adr_val,
        adr_test,
        pair_test,
        test_p: test.p_bind,
        test_u: test.u,
        test_v: test.v,
        adr_test_pred,
    })
}

fn max_abs(a: impl IntoIterator<Item = f32>, b: impl IntoIterator<Item = f32>) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
}

/// The metrics compared in the table and in `onnx.shipped.delta_int8_minus_float32`: (name, JSON pointer into the
/// metrics layout of [`GraphEval::to_json`] and of `crag-train dti`'s metrics).
pub const COMPARED: [(&str, &str); 22] = [
    ("dti_test_pr_auc", "/dti/test/pr_auc"),
    ("dti_test_auroc", "/dti/test/auroc"),
    ("dti_test_f1", "/dti/test/at_threshold/f1"),
    ("dti_test_precision", "/dti/test/at_threshold/precision"),
    ("dti_test_recall", "/dti/test/at_threshold/recall"),
    ("dti_val_pr_auc", "/dti/val/pr_auc"),
    ("dti_val_auroc", "/dti/val/auroc"),
    ("dti_val_f1", "/dti/val/at_threshold/f1"),
    ("adr_test_precision_at_5", "/adr/test/model/at5/precision"),
    ("adr_test_recall_at_5", "/adr/test/model/at5/recall"),
    ("adr_test_ndcg_at_5", "/adr/test/model/at5/ndcg"),
    ("adr_test_precision_at_10", "/adr/test/model/at10/precision"),
    ("adr_test_recall_at_10", "/adr/test/model/at10/recall"),
    ("adr_test_ndcg_at_10", "/adr/test/model/at10/ndcg"),
    ("adr_test_rmse", "/adr/test/model/rmse"),
    ("adr_test_mae", "/adr/test/model/mae"),
    ("adr_val_recall_at_10", "/adr/val/model/at10/recall"),
    ("adr_val_ndcg_at_10", "/adr/val/model/at10/ndcg"),
    (
        "pair_scorer_test_precision_at_10",
        "/adr/pair_scorer_test/report/at10/precision",
    ),
    (
        "pair_scorer_test_recall_at_10",
        "/adr/pair_scorer_test/report/at10/recall",
    ),
    (
        "pair_scorer_test_ndcg_at_10",
        "/adr/pair_scorer_test/report/at10/ndcg",
    ),
    ("val_best_f1_threshold", "/val_best_threshold"),
];

/// The result of quantising a model.
pub struct Quantized {
    /// The int8 model (config precision `int8`, metrics with the `onnx` block).
    pub art: ModelArtifacts,
    /// The `onnx` block added to the metrics.
    pub onnx_block: Value,
    /// The comparison table (stored float32 run, float32 graph, int8 graph).
    pub table: String,
}

/// Quantise `float` (a float32 `dti_adr` model) and score both graphs on `ds`. `stored` are the metrics of the
/// float32 run (`metrics.json`), shown next to the graphs' numbers; `command` is recorded.
pub fn quantize(
    float: &ModelArtifacts,
    stored: &Value,
    ds: &DtiAdrDataset,
    f: &Features,
    ort_library: &str,
    threads: usize,
    command: &str,
) -> Result<Quantized> {
    if float.meta.kind != "dti_adr" {
        return Err(CragError::invalid(format!(
            "{} is a {} model, not dti_adr",
            float.meta.name, float.meta.kind
        )));
    }
    let cfg = artifacts::dti_config(&float.meta.config)?;
    if cfg.precision != WeightPrecision::F32 {
        return Err(CragError::invalid(
            "the model is already int8; quantise its float32 original",
        ));
    }
    if cfg.drug_dim != f.drug_rows.ncols() || cfg.n_adr != ds.adr_targets.ncols() {
        return Err(CragError::invalid(format!(
            "the model takes {} drug values and has K = {}, the dataset gives {} and K = {}",
            cfg.drug_dim,
            cfg.n_adr,
            f.drug_rows.ncols(),
            ds.adr_targets.ncols()
        )));
    }
    let threshold = float.meta.config["threshold"]
        .as_f64()
        .ok_or_else(|| CragError::CorruptModel("config has no validation \"threshold\"".into()))?;
    let (k, d, data) = float
        .prototypes
        .as_ref()
        .ok_or_else(|| CragError::CorruptModel("DTI/ADR model without prototypes".into()))?;
    let prototypes = Array2::from_shape_vec((*k, *d), data.clone())
        .map_err(|e| CragError::CorruptModel(e.to_string()))?;

    // Exact float32 weights back out of the graph; re-exporting them must give the same bytes.
    let weights = crag_core::onnx::weights_from_onnx(&float.onnx, &cfg.inference_specs())?;
    let reexport_identical = dti::export_onnx(&cfg, &weights)? == float.onnx;
    if !reexport_identical {
        eprintln!("note: re-exporting the recovered float32 weights does not reproduce model.onnx byte for byte");
    }
    let q_cfg = DtiConfig {
        precision: WeightPrecision::Int8,
        ..cfg.clone()
    };
    let onnx_q = dti::export_onnx(&q_cfg, &weights)?;

    let eval =
        |onnx: &[u8]| evaluate_graph(onnx, ort_library, threads, ds, f, &prototypes, threshold);
    let e32 = eval(&float.onnx)?;
    let e8 = eval(&onnx_q)?;
    let (j32, j8) = (e32.to_json(), e8.to_json());

    let num = |v: &Value, ptr: &str| v.pointer(ptr).and_then(Value::as_f64);
    let mut delta = serde_json::Map::new();
    let mut table = format!(
        "{:<34} {:>12} {:>12} {:>12} {:>11}\n",
        "metric", "stored tch", "f32 ORT", "int8 ORT", "int8 - f32"
    );
    let cell = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.6}"));
    for (name, ptr) in COMPARED {
        let (a, b) = (num(&j32, ptr), num(&j8, ptr));
        let dlt = a.zip(b).map(|(a, b)| b - a);
        if let Some(x) = dlt {
            delta.insert(name.to_string(), json!(x));
        }
        let stored_value = if ptr == "/val_best_threshold" {
            float.meta.config["threshold"].as_f64()
        } else {
            num(stored, ptr)
        };
        table.push_str(&format!(
            "{:<34} {:>12} {:>12} {:>12} {:>11}\n",
            name,
            cell(stored_value),
            cell(a),
            cell(b),
            dlt.map_or("-".into(), |x| format!("{x:+.6}"))
        ));
    }
    let flips = e32
        .test_p
        .iter()
        .zip(&e8.test_p)
        .filter(|(a, b)| (f64::from(**a) >= threshold) != (f64::from(**b) >= threshold))
        .count();
    let diffs = json!({
        "p_bind_test_pairs": max_abs(e8.test_p.iter().copied(), e32.test_p.iter().copied()),
        "u_test_pairs": max_abs(e8.test_u.iter().copied(), e32.test_u.iter().copied()),
        "v_test_pairs": max_abs(e8.test_v.iter().copied(), e32.test_v.iter().copied()),
        "adr_pred_adr_test_drugs": max_abs(e8.adr_test_pred.iter().copied(), e32.adr_test_pred.iter().copied()),
    });
    table.push_str(&format!(
        "test pairs whose decision flips at threshold {threshold:.4}: {flips} of {}\n\
         max |int8 - f32|: {diffs}\n\
         model.onnx: int8 {} bytes ({:.1} MB), float32 {} bytes ({:.1} MB), ratio {:.3}\n",
        e8.test_p.len(),
        onnx_q.len(),
        onnx_q.len() as f64 / 1e6,
        float.onnx.len(),
        float.onnx.len() as f64 / 1e6,
        onnx_q.len() as f64 / float.onnx.len() as f64
    ));

    let onnx_block = json!({
        "shipped": {
            "precision": q_cfg.precision,
            "quantisation": "weight-only: symmetric per-row int8 with one float32 scale per row, expanded by DequantizeLinear(axis 0); float32 arithmetic",
            "int8_matrices": q_cfg.int8_matrix_names(),
            "float32_tensors": "biases, LayerNorm, DTI-head log-scale, pair-scorer scalars; prototypes.safetensors unchanged",
            "onnx_bytes": onnx_q.len(),
            "float32_onnx_bytes": float.onnx.len(),
            "sha256": artifacts::sha256_hex(&onnx_q),
            "float32_sha256": float.sha256(),
            "float32_reexport_byte_identical": reexport_identical,
            "protocol": "ONNX Runtime on both graphs; dataset rebuilt as crag-train dti does (same files and seed); DTI at the stored validation threshold; ADR head on held-out SIDER profiles; pair scorer on positive test pairs with an ADR-test profile, stored prototypes",
            "threshold": threshold,
            "int8": j8,
            "float32": j32,
            "delta_int8_minus_float32": delta,
            "test_decisions_flipped": flips,
            "max_abs_diff_int8_vs_float32": diffs,
            "command": command,
        }
    });
    let mut config = float.meta.config.clone();
    config["architecture"] =
        serde_json::to_value(&q_cfg).map_err(|e| CragError::Runtime(e.to_string()))?;
    // One metrics object for model.json and metrics.json: the float32 run's, with the graphs' block.
    let mut metrics = stored.clone();
    metrics["onnx"] = onnx_block.clone();
    let art = ModelArtifacts {
        meta: artifacts::ModelMeta {
            config,
            metrics,
            ..float.meta.clone()
        },
        onnx: onnx_q,
        ..float.clone()
    };
    art.validate()?;
    Ok(Quantized {
        art,
        onnx_block,
        table,
    })
}

/// Rebuild the dataset of `crag-train dti` for these files and seed.
pub fn rebuild_dataset(pairs: &Path, sider: &Path, seed: u64) -> Result<DtiAdrDataset> {
    let read = |name: &str| read_dti_pairs(&pairs.join(name));
    let (train, val, test) = (read("train.csv")?, read("val.csv")?, read("test.csv")?);
    let sider = read_sider_drugs(sider)?;
    let key = |s: &str| features::structure_key(s).ok();
    DtiAdrDataset::build(
        &train,
        &val,
        &test,
        &sider,
        key,
        &DatasetConfig {
            seed,
            ..Default::default()
        },
    )
}

/// Run `crag-train dti-quantize`.
pub fn run(a: &DtiQuantizeArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let float = ModelArtifacts::read_dir(&a.model)?;
    let seed = match a.seed {
        Some(s) => s,
        None => float.meta.config["training"]["seed"]
            .as_u64()
            .ok_or_else(|| {
                CragError::invalid("the model config has no training.seed: pass --seed")
            })?,
    };
    let ds = rebuild_dataset(&a.pairs, &a.sider, seed)?;
    // The splits, ADR vocabulary and prototypes only match when the dataset is the one the model was trained on.
    let stored_summary = &float.meta.config["data"]["summary"];
    if !stored_summary.is_null() && *stored_summary != to_json(&ds.summary) {
        return Err(CragError::invalid(format!(
            "the dataset rebuilt from {} and {} (seed {seed}) differs from the one {} was trained on",
            a.pairs.display(),
            a.sider.display(),
            a.model.display()
        )));
    }
    let vocab_matches = ds.adr_encoder.vocabulary.terms.len() == float.adr_terms.len()
        && ds
            .adr_encoder
            .vocabulary
            .terms
            .iter()
            .zip(&float.adr_terms)
            .all(|((term, cui), t)| *term == t.term && Some(cui) == t.meddra_id.as_ref());
    if !vocab_matches {
        return Err(CragError::invalid(
            "the rebuilt ADR vocabulary differs from the model's adr_terms.tsv",
        ));
    }
    eprintln!(
        "dataset rebuilt (seed {seed}): {} / {} / {} pairs, K = {}, ADR-val {} / ADR-test {} profiles",
        ds.train.len(),
        ds.val.len(),
        ds.test.len(),
        ds.adr_targets.ncols(),
        ds.adr_rows(Split::Val).len(),
        ds.adr_rows(Split::Test).len()
    );
    let f = dti_train::featurize(&ds, tch::Device::Cpu)?;
    let stored_path = a.model.join("metrics.json");
    let stored: Value = if stored_path.exists() {
        let bytes = std::fs::read(&stored_path)
            .map_err(|e| CragError::io(format!("reading {}", stored_path.display()), e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CragError::CorruptModel(format!("{}: {e}", stored_path.display())))?
    } else {
        float.meta.metrics.clone()
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let q = quantize(
        &float,
        &stored,
        &ds,
        &f,
        &a.onnxruntime,
        a.threads,
        &command,
    )?;

    q.art.write_dir(&a.out)?;
    write_json(&a.out.join("metrics.json"), &q.art.meta.metrics)?;
    for name in ["history.jsonl", "curves.png"] {
        let src = a.model.join(name);
        if src.exists() {
            std::fs::copy(&src, a.out.join(name))
                .map_err(|e| CragError::io(format!("copying {}", src.display()), e))?;
        }
    }
    // What crag.import_model will read back.
    let back = ModelArtifacts::read_dir(&a.out)?;
    back.validate()?;
    println!("{}", q.table);
    eprintln!(
        "wrote {} (int8 model.onnx {} bytes, sha256 {}) in {:.0}s",
        a.out.display(),
        back.onnx.len(),
        back.sha256(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crag_core::artifacts::AdrTerm;
    use crag_core::data::dti::{DtiPair, SiderDrug};
    use crag_core::dti::DtiHead;

    const SMILES: [&str; 12] = [
        "CCO",
        "c1ccccc1O",
        "CC(=O)Oc1ccccc1C(=O)O",
        "CN1CCCC1c1cccnc1",
        "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
        "OC(=O)CCc1ccccc1",
        "NCCc1ccc(O)c(O)c1",
        "CCN(CC)CC",
        "CC(=O)Nc1ccc(O)cc1",
        "NC1CCCCC1",
        "OCC(O)CO",
        "c1ccc2ccccc2c1",
    ];
    const PROTEINS: [&str; 4] = [
        "MKTAYIAKQRQISFVKSHFSRQ",
        "MSEQNNTEMTFQIQRIYTKDISFEAPNAPHV",
        "MGDVEKGKKIFVQKCAQCHTVEKGGKHKTGPNLHGLFGRKTGQA",
        "MALWMRLLPLLALLALWGPDPAAA",
    ];

    /// Drugs 0-5 in train pairs (ADR-train), 6-7 in val, 8-9 in test, 10-11 SIDER-only.
    fn dataset() -> DtiAdrDataset {
        let pairs = |first: usize, n_drugs: usize, n: usize| -> Vec<DtiPair> {
            (0..n)
                .map(|i| {
                    DtiPair::new(
                        SMILES[first + i % n_drugs],
                        PROTEINS[i % PROTEINS.len()],
                        (i / n_drugs).is_multiple_of(2),
                    )
                })
                .collect()
        };
        let sider: Vec<SiderDrug> = SMILES
            .iter()
            .enumerate()
            .map(|(j, s)| SiderDrug {
                stitch_id: format!("CID{j:09}"),
                name: format!("drug {j}"),
                smiles: s.to_string(),
                adrs: (0..6)
                    .filter(|k| (j + k) % 3 != 0)
                    .map(|k| (format!("C{k:07}"), format!("term {k}")))
                    .collect(),
            })
            .collect();
        let key = |s: &str| features::structure_key(s).ok();
        DtiAdrDataset::build(
            &pairs(0, 6, 24),
            &pairs(6, 2, 8),
            &pairs(8, 2, 8),
            &sider,
            key,
            &DatasetConfig {
                seed: 3,
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn quantize_writes_an_int8_model_with_both_measurements() {
        let ds = dataset();
        assert!(!ds.adr_rows(Split::Val).is_empty() && !ds.adr_rows(Split::Test).is_empty());
        assert!(!dti_train::pair_scorer_pairs(&ds, &ds.test, Split::Test).is_empty());
        let f = dti_train::featurize(&ds, tch::Device::Cpu).unwrap();
        let k = ds.adr_targets.ncols();
        let cfg = DtiConfig {
            d: 8,
            ..DtiConfig::new(features::DRUG_DIM, features::PROTEIN_DIM, k)
        };
        assert_eq!(cfg.head, DtiHead::Cosine);
        let terms = (0..k)
            .map(|i| AdrTerm {
                adr_index: i,
                term: format!("t{i}"),
                meddra_id: None,
            })
            .collect();
        let (float, _) = artifacts::seeded_dti("dti", &cfg, 5, terms, 0).unwrap();
        let lib = std::env::var("ORT_DYLIB_PATH")
            .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
        let stored = json!({"dti": {"test": {"pr_auc": 0.5}}});
        let q = quantize(&float, &stored, &ds, &f, &lib, 1, "test").unwrap();

        let back_cfg = artifacts::dti_config(&q.art.meta.config).unwrap();
        assert_eq!(back_cfg.precision, WeightPrecision::Int8);
        assert_eq!(
            DtiConfig {
                precision: WeightPrecision::F32,
                ..back_cfg
            },
            cfg
        );
        let shipped = &q.onnx_block["shipped"];
        assert!(q.art.onnx.len() < float.onnx.len() / 3);
        assert_eq!(shipped["onnx_bytes"], q.art.onnx.len());
        assert_eq!(shipped["float32_reexport_byte_identical"], true);
        assert_eq!(q.art.meta.metrics["onnx"], q.onnx_block);
        // The float32 run's metrics (metrics.json), not the model's possibly older copy, carry over whole.
        let mut carried = q.art.meta.metrics.clone();
        carried.as_object_mut().unwrap().remove("onnx");
        assert_eq!(&carried, &stored);
        assert_eq!(q.art.prototypes, float.prototypes);
        assert_eq!(q.art.adr_terms, float.adr_terms);
        // Both graphs were scored; the int8 one is close to float32. (Seeded weights may leave no pair above the
        // threshold, so precision can be undefined: compare what float32 defines.)
        let mut compared = 0;
        for (name, ptr) in COMPARED {
            if shipped["float32"]
                .pointer(ptr)
                .is_some_and(Value::is_number)
            {
                assert!(
                    shipped["delta_int8_minus_float32"][name].is_number(),
                    "{name}"
                );
                compared += 1;
            }
        }
        assert!(compared >= 15, "only {compared} metrics compared");
        let n_test = ds.test.len() as u64;
        assert_eq!(shipped["int8"]["dti"]["test"]["n"], n_test);
        assert_eq!(shipped["float32"]["dti"]["test"]["n"], n_test);
        let dp = shipped["max_abs_diff_int8_vs_float32"]["p_bind_test_pairs"]
            .as_f64()
            .unwrap();
        assert!(dp > 0.0 && dp < 0.05, "p_bind moved by {dp}");
        assert!(q.table.contains("dti_test_pr_auc"));
        assert!(q.table.contains("0.500000"), "stored numbers are shown");

        // The directory round-trips and an int8 model is not quantised twice.
        let dir = std::env::temp_dir().join(format!("crag-dti-int8-{}", std::process::id()));
        q.art.write_dir(&dir).unwrap();
        let back = ModelArtifacts::read_dir(&dir).unwrap();
        assert!(back.onnx == q.art.onnx && back.prototypes == q.art.prototypes);
        assert_eq!(back.meta.config, q.art.meta.config);
        assert_eq!(
            back.meta.metrics["onnx"]["shipped"]["sha256"],
            back.sha256().as_str()
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(quantize(&q.art, &stored, &ds, &f, &lib, 1, "test").is_err());
    }
}
