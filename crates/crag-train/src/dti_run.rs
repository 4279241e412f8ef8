//! `crag-train dti`: data → training → evaluation → export (model directory, curves, metrics) → optional publish.

use std::io::Write;
use std::path::{Path, PathBuf};

use crag_core::artifacts::{AdrTerm, ModelArtifacts, ModelMeta};
use crag_core::data::dti::{
    read_dti_pairs, read_sider_drugs, DatasetConfig, DtiAdrDataset, DtiPair, Split,
};
use crag_core::dti::{self, DtiHead};
use crag_core::runtime::{self, Device as OrtDevice, SessionOptions};
use crag_core::{features, CragError, Result};
use ndarray::Array2;
use serde_json::json;

use crate::curves::{self, Series};
use crate::dti_train::{self, adr_baselines, dti_report, TrainConfig};
use crate::outputs::{to_json, write_json, write_jsonl};
use crate::publish;

/// What `crag-train dti` was asked to do.
pub struct DtiRun {
    /// Train / val / test pair files (DrugBAN layout or the generic CSV/TSV format).
    pub pairs: [PathBuf; 3],
    /// Human-readable name of the split (e.g. `human/random`).
    pub split_name: String,
    /// SIDER 4.1 folder.
    pub sider: PathBuf,
    /// Model directory to write.
    pub out: PathBuf,
    /// Registry name.
    pub name: String,
    /// Hyperparameters.
    pub train: TrainConfig,
    /// Keep only the first N train pairs (smoke tests).
    pub max_train_pairs: Option<usize>,
    /// Publish to this database.
    pub database_url: Option<String>,
    /// Activate after publishing.
    pub activate: bool,
    /// tch device.
    pub device: tch::Device,
    /// ONNX Runtime library for the parity check.
    pub ort_library: String,
    /// Show progress bars.
    pub progress: bool,
}

/// Run the whole pipeline; returns the published version when `database_url` is set.
pub fn run(r: &DtiRun) -> Result<Option<i32>> {
    let started = std::time::Instant::now();
    let read = |p: &PathBuf| -> Result<Vec<DtiPair>> { read_dti_pairs(p) };
    let mut train = read(&r.pairs[0])?;
    if let Some(n) = r.max_train_pairs {
        train.truncate(n);
    }
    let (val, test) = (read(&r.pairs[1])?, read(&r.pairs[2])?);
    let sider = read_sider_drugs(&r.sider)?;
    eprintln!(
        "data: {} train / {} val / {} test pairs ({}), {} SIDER drugs",
        train.len(),
        val.len(),
        test.len(),
        r.split_name,
        sider.len()
    );
    let key = |s: &str| features::structure_key(s).ok();
    let ds = DtiAdrDataset::build(
        &train,
        &val,
        &test,
        &sider,
        key,
        &DatasetConfig {
            seed: r.train.seed,
            ..Default::default()
        },
    )?;
    let s = &ds.summary;
    eprintln!(
        "linked by structure: {} of {} DTI drugs have a SIDER profile ({} SIDER-only drugs train the ADR side); K = {} ADR terms; \
         ADR profiles train/val/test = {}/{}/{}",
        s.link.n_linked,
        s.link.n_dti_drugs,
        s.n_sider_only_drugs,
        s.n_adr_terms,
        ds.adr_rows(Split::Train).len(),
        ds.adr_rows(Split::Val).len(),
        ds.adr_rows(Split::Test).len()
    );
    let f = dti_train::featurize(&ds, r.device)?;
    let trained = dti_train::train(&ds, &f, &r.train, r.device, r.progress)?;
    let net = &trained.net;

    // Evaluation: DTI at the validation threshold, ADR on held-out SIDER profiles with both baselines.
    let dti_val = dti_report(net, &f, &ds.val, trained.threshold);
    let dti_test = dti_report(net, &f, &ds.test, trained.threshold);
    let adr_of = |split| {
        let rows = ds.adr_rows(split);
        let drugs: Vec<usize> = rows.iter().map(|&x| ds.adr_row_drug[x]).collect();
        dti_train::adr_report(&ds, &rows, &dti_train::predict_adr(net, &f, &drugs))
    };
    let (pop_test, nn_test) = adr_baselines(&ds, &f, Split::Test)?;
    let (pop_val, nn_val) = adr_baselines(&ds, &f, Split::Val)?;
    let (adr_val, adr_test) = (adr_of(Split::Val), adr_of(Split::Test));
    let pair_test =
        dti_train::pair_scorer_report(net, &ds, &f, &trained.prototypes, &ds.test, Split::Test)?;
    eprintln!(
        "test: DTI PR-AUC {:.4} AUROC {:.4} F1@{:.3} {:.4} | ADR R@10 {:.4} (popularity {:.4}, Tanimoto 5-NN {:.4}) | \
         pair scorer R@10 {:.4} on {} pairs",
        dti_test.pr_auc,
        dti_test.auroc,
        dti_test.threshold,
        dti_test.at_threshold.f1,
        adr_test.at10.recall,
        pop_test.at10.recall,
        nn_test.at10.recall,
        pair_test.at10.recall,
        pair_test.n
    );

    // Export through the crag-core exporter and check tch == ONNX Runtime on the test pairs.
    let weights = net.weights()?;
    let onnx = dti::export_onnx(&net.cfg, &weights)?;
    let parity = parity_check(
        &onnx,
        &f,
        &ds,
        &dti_train::predict_pairs(net, &f, &ds.test),
        &r.ort_library,
    )?;
    if parity > 1e-4 {
        return Err(CragError::Runtime(format!(
            "tch and ONNX Runtime disagree by {parity:.2e} (> 1e-4)"
        )));
    }

    let terms: Vec<AdrTerm> = ds
        .adr_encoder
        .vocabulary
        .terms
        .iter()
        .enumerate()
        .map(|(i, (term, cui))| AdrTerm {
            adr_index: i,
            term: term.clone(),
            meddra_id: Some(cui.clone()),
        })
        .collect();
    let metrics = json!({
        "split": r.split_name,
        "seed": r.train.seed,
        "dti": {"val": to_json(&dti_val), "test": to_json(&dti_test)},
        "adr": {
            "definition": "ADR head (Softplus TF-IDF regression) on held-out SIDER drugs; ranking over K columns",
            "val": {"model": to_json(&adr_val), "popularity": to_json(&pop_val), "tanimoto_5nn": to_json(&nn_val)},
            "test": {"model": to_json(&adr_test), "popularity": to_json(&pop_test), "tanimoto_5nn": to_json(&nn_test)},
            "pair_scorer_test": {
                "definition": "crag_topk_adr ranking (prototype scorer) for positive DTI test pairs whose drug has a held-out ADR-test profile",
                "report": to_json(&pair_test)
            }
        },
        "best_epoch": trained.best_epoch,
        "epochs_run": trained.history.len(),
        "train_seconds": trained.seconds,
        "parity_max_abs_diff_tch_vs_onnxruntime": parity,
    });
    let config = json!({
        "architecture": net.cfg,
        "inputs": {
            "drug": {"dim": features::DRUG_DIM, "featurizer": features::DRUG_FEATURIZER, "sql": "crag_drug_features(smiles)"},
            "protein": {"dim": features::PROTEIN_DIM, "featurizer": features::PROTEIN_FEATURIZER, "sql": "crag_protein_features(sequence)"}
        },
        "threshold": trained.threshold,
        "tfidf": {
            "definition": "binary tf, idf = ln((1+N)/(1+df)) + 1, L2-normalised rows; fitted on ADR-train drugs only",
            "n_docs": ds.adr_encoder.tfidf.n_docs(),
            "idf": ds.adr_encoder.tfidf.idf(),
        },
        "training": to_json(&r.train),
        "data": {"split": r.split_name, "pairs": r.pairs, "sider": r.sider, "summary": to_json(&ds.summary)},
        "pair_scorer": "alpha, beta, gamma: logistic fit on positive train pairs with ADR-train profiles (prototypes fixed)",
        "trained": true,
    });
    let (k, d) = trained.prototypes.dim();
    let art = ModelArtifacts {
        meta: ModelMeta {
            name: r.name.clone(),
            kind: "dti_adr".into(),
            config,
            metrics: metrics.clone(),
        },
        onnx,
        tokenizer: None,
        adr_terms: terms,
        prototypes: Some((k, d, trained.prototypes.iter().copied().collect())),
    };
    art.write_dir(&r.out)?;
    write_json(&r.out.join("metrics.json"), &metrics)?;
    write_jsonl(&r.out.join("history.jsonl"), &trained.history)?;
    write_predictions(
        &r.out.join("predictions_test.tsv"),
        &ds,
        &dti_train::predict_pairs(net, &f, &ds.test),
    )?;
    let series = |name: &str, get: fn(&dti_train::EpochLog) -> f64| Series {
        name: name.to_string(),
        values: trained.history.iter().map(get).collect(),
    };
    curves::plot(
        &r.out.join("curves.png"),
        &format!("crag-train dti — {} (seed {})", r.split_name, r.train.seed),
        &[
            (
                "training losses",
                vec![
                    series("total", |h| h.loss),
                    series("DTI BCE", |h| h.loss_dti),
                    series("DP InfoNCE", |h| h.loss_dp),
                    series("DA InfoNCE", |h| h.loss_da),
                ],
            ),
            (
                "validation",
                vec![
                    series("DTI PR-AUC", |h| h.val_pr_auc),
                    series("DTI AUROC", |h| h.val_auroc),
                    series("ADR Recall@10", |h| h.adr_val_recall10),
                    series("ADR NDCG@10", |h| h.adr_val_ndcg10),
                ],
            ),
        ],
    )?;
    eprintln!(
        "wrote {} (sha256 {}) in {:.0}s",
        r.out.display(),
        art.sha256(),
        started.elapsed().as_secs_f64()
    );
    match &r.database_url {
        Some(url) => {
            let v = publish::publish(url, &art, r.activate)?;
            eprintln!(
                "published {} version {v}{}",
                r.name,
                if r.activate { " (active)" } else { "" }
            );
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn parity_check(
    onnx: &[u8],
    f: &dti_train::Features,
    ds: &DtiAdrDataset,
    tch_p: &[f64],
    lib: &str,
) -> Result<f64> {
    let env = runtime::init(lib)?;
    let mut s = runtime::load_session(
        env,
        onnx,
        &SessionOptions {
            threads: 1,
            device: OrtDevice::Cpu,
            dequantize_once: false,
        },
    )?;
    let n = ds.test.len().min(512);
    let gather = |rows: &Array2<f32>, ids: &[usize]| rows.select(ndarray::Axis(0), ids);
    let drugs: Vec<usize> = ds.test[..n].iter().map(|p| p.drug).collect();
    let prots: Vec<usize> = ds.test[..n].iter().map(|p| p.protein).collect();
    let prot_rows = dti_train::protein_rows(f)?;
    let out = runtime::run_dti(
        &mut s.session,
        gather(&f.drug_rows, &drugs).view(),
        gather(&prot_rows, &prots).view(),
    )?;
    Ok(out
        .p_bind
        .iter()
        .zip(tch_p)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max))
}

fn write_predictions(path: &Path, ds: &DtiAdrDataset, p: &[f64]) -> Result<()> {
    let mut file = std::fs::File::create(path)
        .map_err(|e| CragError::io(format!("writing {}", path.display()), e))?;
    writeln!(file, "smiles\tprotein\tlabel\tp_bind")
        .map_err(|e| CragError::io("writing predictions", e))?;
    for (pair, prob) in ds.test.iter().zip(p) {
        writeln!(
            file,
            "{}\t{}\t{}\t{prob:.7}",
            ds.drugs[pair.drug].smiles,
            ds.proteins[pair.protein].sequence,
            u8::from(pair.label)
        )
        .map_err(|e| CragError::io("writing predictions", e))?;
    }
    Ok(())
}

/// Parse `cosine` / `bilinear`.
pub fn parse_head(s: &str) -> DtiHead {
    if s == "bilinear" {
        DtiHead::Bilinear
    } else {
        DtiHead::Cosine
    }
}
