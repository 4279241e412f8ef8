//! Model artefacts on disk: the directory layout `crag-train --out DIR` writes and `crag.import_model(DIR)` reads.
//!
//! ```text
//! DIR/model.json        name, kind, config, metrics (required)
//! DIR/model.onnx        the inference graph (required)
//! DIR/tokenizer.json    tokenizer (text models only: relation with entity markers, ner without)
//! DIR/adr_terms.tsv     adr_index <TAB> term <TAB> meddra_id, with a header line (DTI/ADR models)
//! DIR/prototypes.safetensors  tensor "prototypes" [K, d] (DTI/ADR models)
//! ```

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dti::{self, DtiConfig};
use crate::weights::Weights;
use crate::{CragError, Result};

/// One ADR column of a DTI/ADR model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdrTerm {
    /// 0-based column index.
    pub adr_index: usize,
    /// MedDRA preferred term.
    pub term: String,
    /// MedDRA (UMLS CUI) identifier, when known.
    pub meddra_id: Option<String>,
}

/// `model.json`: everything about a model except its binary parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Registry name (`dti`, `relation`, ...).
    pub name: String,
    /// Model kind (`dti_adr`, `relation`, `ner`).
    pub kind: String,
    /// Architecture, input description, thresholds: stored as `crag.models.config`.
    pub config: serde_json::Value,
    /// Evaluation metrics with split and seed: stored as `crag.models.metrics`.
    #[serde(default)]
    pub metrics: serde_json::Value,
}

/// A complete model as stored in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelArtifacts {
    /// Name, kind, config and metrics.
    pub meta: ModelMeta,
    /// ONNX bytes.
    pub onnx: Vec<u8>,
    /// `tokenizer.json` bytes for text models.
    pub tokenizer: Option<Vec<u8>>,
    /// ADR vocabulary (DTI/ADR models).
    pub adr_terms: Vec<AdrTerm>,
    /// Prototype rows `(adr_index, vector)`; all-zero rows mean "no prototype".
    pub prototypes: Option<(usize, usize, Vec<f32>)>,
}

/// Hex SHA-256 of some bytes (what `crag.models.sha256` holds for the ONNX graph).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| CragError::io(format!("reading {}", path.display()), e))
}

fn parse_terms(text: &str) -> Result<Vec<AdrTerm>> {
    let mut out = Vec::new();
    for (lineno, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let bad = || {
            CragError::CorruptModel(format!(
                "adr_terms.tsv line {}: expected adr_index, term, meddra_id",
                lineno + 1
            ))
        };
        if cols.len() < 2 {
            return Err(bad());
        }
        let adr_index = cols[0].parse().map_err(|_| bad())?;
        if adr_index != out.len() {
            return Err(CragError::CorruptModel(format!(
                "adr_terms.tsv line {}: index {adr_index} out of order (expected {})",
                lineno + 1,
                out.len()
            )));
        }
        let meddra_id = cols
            .get(2)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        out.push(AdrTerm {
            adr_index,
            term: cols[1].to_string(),
            meddra_id,
        });
    }
    Ok(out)
}

impl ModelArtifacts {
    /// Read a model directory.
    pub fn read_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            let e = std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory");
            return Err(CragError::io(
                format!("model directory {}", dir.display()),
                e,
            ));
        }
        let meta: ModelMeta = serde_json::from_slice(&read(&dir.join("model.json"))?)
            .map_err(|e| CragError::CorruptModel(format!("{}/model.json: {e}", dir.display())))?;
        let onnx = read(&dir.join("model.onnx"))?;
        let tok = dir.join("tokenizer.json");
        let tokenizer = if tok.exists() {
            Some(read(&tok)?)
        } else {
            None
        };
        let terms_path = dir.join("adr_terms.tsv");
        let adr_terms = if terms_path.exists() {
            parse_terms(&String::from_utf8_lossy(&read(&terms_path)?))?
        } else {
            Vec::new()
        };
        let proto_path = dir.join("prototypes.safetensors");
        let prototypes = if proto_path.exists() {
            let w = Weights::from_safetensors(&read(&proto_path)?)?;
            let a = w.array("prototypes")?;
            if a.ndim() != 2 {
                return Err(CragError::CorruptModel(
                    "prototypes must be a [K, d] matrix".into(),
                ));
            }
            Some((a.shape()[0], a.shape()[1], a.iter().copied().collect()))
        } else {
            None
        };
        let art = ModelArtifacts {
            meta,
            onnx,
            tokenizer,
            adr_terms,
            prototypes,
        };
        art.validate()?;
        Ok(art)
    }

    /// Write a model directory (created if needed).
    pub fn write_dir(&self, dir: &Path) -> Result<()> {
        self.validate()?;
        fs::create_dir_all(dir)
            .map_err(|e| CragError::io(format!("creating {}", dir.display()), e))?;
        let write = |name: &str, bytes: &[u8]| {
            fs::write(dir.join(name), bytes)
                .map_err(|e| CragError::io(format!("writing {}/{name}", dir.display()), e))
        };
        let meta =
            serde_json::to_value(&self.meta).map_err(|e| CragError::Runtime(e.to_string()))?;
        write("model.json", readable_json(&meta).as_bytes())?;
        write("model.onnx", &self.onnx)?;
        if let Some(t) = &self.tokenizer {
            write("tokenizer.json", t)?;
        }
        if !self.adr_terms.is_empty() {
            let mut tsv = String::from("adr_index\tterm\tmeddra_id\n");
            for t in &self.adr_terms {
                tsv.push_str(&format!(
                    "{}\t{}\t{}\n",
                    t.adr_index,
                    t.term,
                    t.meddra_id.as_deref().unwrap_or("")
                ));
            }
            write("adr_terms.tsv", tsv.as_bytes())?;
        }
        if let Some((k, d, data)) = &self.prototypes {
            let mut w = Weights::new();
            w.insert("prototypes", vec![*k, *d], data.clone())?;
            write("prototypes.safetensors", &w.to_safetensors()?)?;
        }
        Ok(())
    }

    /// SHA-256 of the ONNX graph.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.onnx)
    }

    /// Consistency checks between config, vocabulary and prototypes.
    pub fn validate(&self) -> Result<()> {
        if self.meta.name.is_empty() {
            return Err(CragError::CorruptModel("model.json: name is empty".into()));
        }
        if self.meta.kind == "dti_adr" {
            let cfg = dti_config(&self.meta.config)?;
            if self.adr_terms.len() != cfg.n_adr {
                return Err(CragError::CorruptModel(format!(
                    "model has K = {} ADR columns but {} ADR terms",
                    cfg.n_adr,
                    self.adr_terms.len()
                )));
            }
            match &self.prototypes {
                Some((k, d, _)) if *k == cfg.n_adr && *d == cfg.d => {}
                Some((k, d, _)) => {
                    return Err(CragError::CorruptModel(format!(
                        "prototypes are [{k}, {d}], the model needs [{}, {}]",
                        cfg.n_adr, cfg.d
                    )))
                }
                None => {
                    return Err(CragError::CorruptModel(
                        "DTI/ADR model without prototypes".into(),
                    ))
                }
            }
        }
        if self.meta.kind == "relation" {
            crate::relation::RelationConfig::from_json(&self.meta.config)?;
            if self.tokenizer.is_none() {
                return Err(CragError::CorruptModel(
                    "relation model without tokenizer.json".into(),
                ));
            }
        }
        if self.meta.kind == "ner" {
            let cfg = crate::ner::model::NerConfig::from_json(&self.meta.config)?;
            let bytes = self.tokenizer.as_ref().ok_or_else(|| {
                CragError::CorruptModel("NER model without tokenizer.json".into())
            })?;
            let tok = crate::text::TextTokenizer::from_bytes_plain(bytes, cfg.max_len)?;
            if tok.vocab_size() > cfg.encoder.vocab_size {
                return Err(CragError::CorruptModel(format!(
                    "NER tokenizer has {} ids, the encoder only {} embedding rows",
                    tok.vocab_size(),
                    cfg.encoder.vocab_size
                )));
            }
        }
        Ok(())
    }
}

/// The architecture stored under `config.architecture` of a `dti_adr` model.
pub fn dti_config(config: &serde_json::Value) -> Result<DtiConfig> {
    let arch = config
        .get("architecture")
        .ok_or_else(|| CragError::CorruptModel("config has no \"architecture\"".into()))?;
    let cfg: DtiConfig = serde_json::from_value(arch.clone())
        .map_err(|e| CragError::CorruptModel(format!("config.architecture: {e}")))?;
    cfg.validate()?;
    Ok(cfg)
}

/// A DTI/ADR model with seeded (untrained) weights and prototypes: used to test the serving path exactly.
///
/// Every `mask_every`-th ADR gets an all-zero prototype, as an ADR without supporting train drugs would.
pub fn seeded_dti(
    name: &str,
    cfg: &DtiConfig,
    seed: u64,
    terms: Vec<AdrTerm>,
    mask_every: usize,
) -> Result<(ModelArtifacts, Weights)> {
    let weights = Weights::seeded(&cfg.param_specs(), seed);
    let onnx = dti::export_onnx(cfg, &weights)?;
    let protos = Weights::seeded(
        &[crate::weights::ParamSpec::new(
            "p",
            &[cfg.n_adr, cfg.d],
            crate::weights::Init::Uniform { fan_in: cfg.d },
        )],
        seed ^ 0x5eed,
    );
    let mut data = protos.get("p", &[cfg.n_adr, cfg.d])?.to_vec();
    if mask_every > 0 {
        for k in (0..cfg.n_adr).filter(|k| k % mask_every == mask_every - 1) {
            data[k * cfg.d..(k + 1) * cfg.d]
                .iter_mut()
                .for_each(|v| *v = 0.0);
        }
    }
    let config = serde_json::json!({
        "architecture": cfg,
        "inputs": {
            "drug": {"dim": cfg.drug_dim, "featurizer": "any"},
            "protein": {"dim": cfg.prot_dim, "featurizer": "any"}
        },
        "threshold": 0.5,
        "seed": seed,
        "trained": false
    });
    let meta = ModelMeta {
        name: name.to_string(),
        kind: "dti_adr".into(),
        config,
        metrics: serde_json::json!({"note": "seeded weights, not trained: for testing the serving path"}),
    };
    let art = ModelArtifacts {
        meta,
        onnx,
        tokenizer: None,
        adr_terms: terms,
        prototypes: Some((cfg.n_adr, cfg.d, data)),
    };
    art.validate()?;
    Ok((art, weights))
}

/// A relation model with seeded (untrained) weights on a small encoder of the given shape, with the real
/// `tokenizer_json` (entity markers added; the vocabulary size follows it): used to test the serving path exactly.
pub fn seeded_relation(
    name: &str,
    tokenizer_json: &[u8],
    encoder: crate::bert::BertConfig,
    max_len: usize,
    seed: u64,
) -> Result<(ModelArtifacts, Weights, crate::relation::RelationConfig)> {
    let tok = crate::text::TextTokenizer::from_bytes(tokenizer_json, max_len)?;
    let cfg = crate::relation::RelationConfig {
        fusion_dim: 8,
        head_hidden: 8,
        ..crate::relation::RelationConfig::new(
            crate::bert::BertConfig {
                vocab_size: tok.vocab_size(),
                ..encoder
            },
            max_len,
        )
    };
    let weights = Weights::seeded(&cfg.param_specs(), seed);
    let onnx = crate::relation::export_onnx(&cfg, &weights)?;
    let art = ModelArtifacts {
        meta: ModelMeta {
            name: name.to_string(),
            kind: "relation".into(),
            config: cfg.to_json(),
            metrics: serde_json::json!({"note": "seeded weights, not trained: for testing the serving path"}),
        },
        onnx,
        tokenizer: Some(tok.to_json_bytes()?),
        adr_terms: vec![],
        prototypes: None,
    };
    art.validate()?;
    Ok((art, weights, cfg))
}

/// An NER model with seeded (untrained) weights on a small encoder of the given shape, with the real
/// `tokenizer_json` (no markers; the vocabulary size follows it): used to test the serving path exactly.
pub fn seeded_ner(
    name: &str,
    tokenizer_json: &[u8],
    encoder: crate::bert::BertConfig,
    max_len: usize,
    seed: u64,
) -> Result<(ModelArtifacts, Weights, crate::ner::model::NerConfig)> {
    seeded_extractor(name, tokenizer_json, encoder, max_len, None, seed)
}

/// [`seeded_ner`] with an optional relation head (seeded too).
pub fn seeded_extractor(
    name: &str,
    tokenizer_json: &[u8],
    encoder: crate::bert::BertConfig,
    max_len: usize,
    relations: Option<crate::ner::model::RelationHead>,
    seed: u64,
) -> Result<(ModelArtifacts, Weights, crate::ner::model::NerConfig)> {
    let tok = crate::text::TextTokenizer::from_bytes_plain(tokenizer_json, max_len)?;
    let cfg = crate::ner::model::NerConfig {
        relations,
        ..crate::ner::model::NerConfig::new(
            crate::bert::BertConfig {
                vocab_size: tok.vocab_size(),
                ..encoder
            },
            max_len,
        )
    };
    let weights = Weights::seeded(&cfg.param_specs(), seed);
    let onnx = crate::ner::model::export_onnx(&cfg, &weights)?;
    let art = ModelArtifacts {
        meta: ModelMeta {
            name: name.to_string(),
            kind: "ner".into(),
            config: cfg.to_json(),
            metrics: serde_json::json!({"note": "seeded weights, not trained: for testing the serving path"}),
        },
        onnx,
        tokenizer: Some(tok.to_json_bytes()?),
        adr_terms: vec![],
        prototypes: None,
    };
    art.validate()?;
    Ok((art, weights, cfg))
}

/// `v` as indented JSON with every array that holds no object on one line: a model's large numeric tables (a
/// boundary model's counts and trees) stay a few lines each, the rest reads as `to_string_pretty` does.
pub fn readable_json(v: &serde_json::Value) -> String {
    fn flat(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(_) => false,
            serde_json::Value::Array(a) => a.iter().all(flat),
            _ => true,
        }
    }
    fn write(v: &serde_json::Value, indent: usize, out: &mut String) {
        let pad = |n: usize| "  ".repeat(n);
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                out.push_str("{\n");
                for (k, (key, val)) in m.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push_str(": ");
                    write(val, indent + 1, out);
                    out.push_str(if k + 1 < m.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
            serde_json::Value::Array(a) if !a.is_empty() && !flat(v) => {
                out.push_str("[\n");
                for (k, val) in a.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    write(val, indent + 1, out);
                    out.push_str(if k + 1 < a.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, 0, &mut out);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_json_keeps_objects_indented_and_numeric_arrays_on_one_line() {
        let v = serde_json::json!({
            "name": "ner",
            "trees": [[[6, 0.5, 1, 2], -1.0, 2.5]],
            "rows": [{"a": 1}, {"b": [1, 2]}],
            "empty": {}, "none": [], "quote": "a \"b\" [c]"
        });
        let text = readable_json(&v);
        assert!(
            text.contains("\"trees\": [[[6,0.5,1,2],-1.0,2.5]]"),
            "{text}"
        );
        assert!(text.contains("\"b\": [1,2]"), "{text}");
        assert!(text.contains("\"rows\": [\n"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, v);
    }
    use crate::dti::DtiHead;

    fn terms(k: usize) -> Vec<AdrTerm> {
        (0..k)
            .map(|i| AdrTerm {
                adr_index: i,
                term: format!("term {i}"),
                meddra_id: (i % 2 == 0).then(|| format!("C{i:07}")),
            })
            .collect()
    }

    #[test]
    fn dir_round_trip() {
        let cfg = DtiConfig {
            drug_dim: 6,
            prot_dim: 5,
            n_adr: 4,
            d: 3,
            hidden_ratio: 2,
            head: DtiHead::Cosine,
            ln_eps: 1e-5,
            precision: Default::default(),
        };
        let (art, _) = seeded_dti("dti", &cfg, 1, terms(4), 2).unwrap();
        let dir = std::env::temp_dir().join(format!("crag-art-{}", std::process::id()));
        art.write_dir(&dir).unwrap();
        let back = ModelArtifacts::read_dir(&dir).unwrap();
        assert_eq!(back, art);
        assert_eq!(back.sha256().len(), 64);
        let (_, _, p) = back.prototypes.as_ref().unwrap();
        assert!(
            p[3..6].iter().all(|v| *v == 0.0),
            "every 2nd prototype is masked"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inconsistent_artifacts_are_rejected() {
        let cfg = DtiConfig {
            drug_dim: 6,
            prot_dim: 5,
            n_adr: 4,
            d: 3,
            hidden_ratio: 2,
            head: DtiHead::Cosine,
            ln_eps: 1e-5,
            precision: Default::default(),
        };
        assert!(seeded_dti("dti", &cfg, 1, terms(3), 0).is_err());
        assert!(parse_terms("adr_index\tterm\n1\tfoo\n").is_err());
        assert!(parse_terms("adr_index\tterm\nx\tfoo\n").is_err());
        assert_eq!(
            parse_terms("h\n0\tNausea\tC0027497\n1\tRash\t\n").unwrap()[1].meddra_id,
            None
        );
        assert!(ModelArtifacts::read_dir(Path::new("/nonexistent/crag")).is_err());
    }
}
