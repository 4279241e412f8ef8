//! The trained NER extractor: a BERT encoder with a token-classification head over BIO labels.
//!
//! ```text
//! [CLS] word pieces [SEP] ─ BERT encoder (per-token states, [B, L, H]) ─ classifier W x + b ─ logits [B, L, n_labels]
//! ```
//!
//! Labels are `O` plus `B-T`/`I-T` for every entity type `T` of [`EntityType::ALL`] (Disease, Symptom, Drug,
//! Procedure, Lab_Test), in that order ([`bio_labels`]). [`NerConfig::param_specs`] is the one description of the
//! architecture: the encoder's Hugging Face parameters under `encoder.` plus `classifier.weight [n_labels, H]` and
//! `classifier.bias [n_labels]`. The tch trainer creates its variables from it, [`export_onnx`] writes the graph
//! from it and [`reference_forward`] is the ndarray oracle for both. Alignment of pieces to labels, windowing of
//! long texts and decoding back to char spans are in [`super::tagging`].
//!
//! An optional **relation head** ([`RelationHead`]) shares the encoder: a candidate pair of mentions is marked in
//! its context with typed punctuation markers (`@ * drug * aspirin @ … # ^ disease ^ asthma #`, see
//! [`super::relate`]), encoded once, and the states at the two opening markers (graph input [`io::PAIR_INDEX`])
//! are concatenated and classified by a two-layer MLP into `none` + relation types ([`io::RELATION_LOGITS`]). One
//! encoder serves both tasks, so one graph (and one set of int8 weights) ships.

use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};

use crate::bert::{self, BertConfig};
use crate::ner::refine::Refine;
use crate::ner::schema::EntityType;
use crate::ner::tagging::Decoding;
use crate::onnx::{Dim, GraphBuilder, WeightPrecision};
use crate::weights::{Init, ParamSpec, Weights};
use crate::{CragError, Result};

/// Parameter-name prefix of the encoder.
pub const ENCODER_PREFIX: &str = "encoder.";

/// Names of the graph's inputs and output.
pub mod io {
    /// int64 `[batch, seq]` token ids.
    pub const INPUT_IDS: &str = "input_ids";
    /// int64 `[batch, seq]` attention mask (1 = token, 0 = padding).
    pub const ATTENTION_MASK: &str = "attention_mask";
    /// float32 `[batch, seq, n_labels]` label logits per token.
    pub const LOGITS: &str = "logits";
    /// int64 `[batch, 2]` positions of the head and tail opening markers (relation head only; zeros when only
    /// entities are wanted).
    pub const PAIR_INDEX: &str = "pair_index";
    /// float32 `[batch, n_relation_labels]` relation logits (relation head only).
    pub const RELATION_LOGITS: &str = "relation_logits";
}

/// Label of "no relation" in [`RelationHead::labels`].
pub const NO_RELATION: &str = "none";

/// The relation head of an extractor (stored inside [`NerConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationHead {
    /// [`NO_RELATION`] first, then relation type names ([`crate::ner::schema::RelationType::as_str`]).
    pub labels: Vec<String>,
    /// Width of the MLP's hidden layer.
    pub hidden: usize,
    /// Lowest probability at which a relation is reported.
    pub threshold: f64,
    /// Longest context of a candidate pair, in sentences (1 = both mentions in one sentence).
    pub max_sentences: usize,
}

impl RelationHead {
    /// `none` + the five relation types, hidden width `hidden`, threshold 0.5, contexts of up to 3 sentences.
    pub fn new(hidden: usize) -> Self {
        let mut labels = vec![NO_RELATION.to_string()];
        labels.extend(
            crate::ner::schema::RelationType::ALL
                .iter()
                .map(|r| r.as_str().to_string()),
        );
        RelationHead {
            labels,
            hidden,
            threshold: 0.5,
            max_sentences: 3,
        }
    }

    /// Relation types of labels 1.. (label 0 is [`NO_RELATION`]).
    pub fn relation_types(&self) -> Result<Vec<crate::ner::schema::RelationType>> {
        self.labels[1..].iter().map(|l| l.parse()).collect()
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(CragError::CorruptModel(format!("relation head: {m}")));
        if self.labels.first().map(String::as_str) != Some(NO_RELATION) || self.labels.len() < 2 {
            return bad(format!(
                "labels must be \"{NO_RELATION}\" then at least one relation type, got {:?}",
                self.labels
            ));
        }
        if let Err(e) = self.relation_types() {
            return bad(e.to_string());
        }
        if self.hidden == 0 || self.max_sentences == 0 {
            return bad("hidden and max_sentences must be positive".into());
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return bad(format!("threshold {} must be in (0, 1)", self.threshold));
        }
        Ok(())
    }
}

/// `O`, then `B-T`, `I-T` for each type, in the given order.
pub fn bio_labels(types: &[EntityType]) -> Vec<String> {
    let mut out = vec!["O".to_string()];
    for t in types {
        out.push(format!("B-{t}"));
        out.push(format!("I-{t}"));
    }
    out
}

/// Architecture and serving settings of an NER model (stored as `crag.models.config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NerConfig {
    /// Shape of the encoder (the checkpoint's own vocabulary: no markers).
    pub encoder: BertConfig,
    /// BIO labels, index = classifier row; `"O"` first.
    pub labels: Vec<String>,
    /// Longest window, special tokens included; longer texts are split into overlapping windows.
    pub max_len: usize,
    /// Word pieces shared by consecutive windows (`0 ≤ stride < max_len − 2`).
    pub stride: usize,
    /// How the encoder matrices are stored in the ONNX graph.
    #[serde(default)]
    pub precision: WeightPrecision,
    /// Relation head sharing the encoder (absent in entity-only models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relations: Option<RelationHead>,
    /// How word labels are chosen (greedy when absent: models published before Viterbi decoding).
    #[serde(default)]
    pub decoding: Decoding,
    /// Document-level refinement of the decoded mentions (abbreviations, adjacent fragments); off when absent.
    #[serde(default)]
    pub refine: Refine,
}

impl NerConfig {
    /// The five entity types in BIO (11 labels), windows of `max_len` with a quarter of a window of overlap,
    /// Viterbi decoding, every [`Refine`] step on.
    pub fn new(encoder: BertConfig, max_len: usize) -> Self {
        NerConfig {
            encoder,
            labels: bio_labels(&EntityType::ALL),
            max_len,
            stride: max_len.saturating_sub(2) / 4,
            precision: WeightPrecision::F32,
            relations: None,
            decoding: Decoding::Viterbi,
            refine: Refine::ALL,
        }
    }

    /// Number of labels.
    pub fn n_labels(&self) -> usize {
        self.labels.len()
    }

    /// Check the shape, the label set and the window settings.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        let bad = |m: String| Err(CragError::CorruptModel(format!("NER config: {m}")));
        if self.max_len < 4 || self.max_len > self.encoder.max_position {
            return bad(format!(
                "max_len {} must be in 4..={} (the encoder's positions)",
                self.max_len, self.encoder.max_position
            ));
        }
        if self.stride >= self.max_len - 2 {
            return bad(format!(
                "stride {} must be below max_len − 2 = {}",
                self.stride,
                self.max_len - 2
            ));
        }
        super::tagging::TagSet::new(&self.labels)?;
        if let Some(r) = &self.relations {
            r.validate()?;
        }
        let m = self.refine.min_score;
        if !(0.0..1.0).contains(&m) {
            return bad(format!("refine.min_score {m} must be in [0, 1)"));
        }
        if let Some(x) = self
            .refine
            .exclusions
            .iter()
            .find(|x| x.form.is_empty() || x.form != x.form.to_lowercase())
        {
            return bad(format!(
                "refine.exclusions form {:?} must be non-empty and lower case",
                x.form
            ));
        }
        Ok(())
    }

    /// The relation head, or an error naming its absence (an entity-only model).
    pub fn relation_head(&self) -> Result<&RelationHead> {
        self.relations
            .as_ref()
            .ok_or_else(|| CragError::invalid("this NER model has no relation head"))
    }

    /// Number of relation labels (0 without a relation head).
    pub fn n_relation_labels(&self) -> usize {
        self.relations.as_ref().map_or(0, |r| r.labels.len())
    }

    /// Parameters of the classification head only (trained from scratch).
    pub fn head_specs(&self) -> Vec<ParamSpec> {
        let h = self.encoder.hidden_size;
        let n = self.n_labels();
        let mut specs = vec![
            ParamSpec::new("classifier.weight", &[n, h], Init::Uniform { fan_in: h }),
            ParamSpec::new("classifier.bias", &[n], Init::Uniform { fan_in: h }),
        ];
        if let Some(r) = &self.relations {
            let (m, k) = (r.hidden, r.labels.len());
            let pair = 2 * h;
            specs.extend([
                ParamSpec::new(
                    "relation.hidden.weight",
                    &[m, pair],
                    Init::Uniform { fan_in: pair },
                ),
                ParamSpec::new("relation.hidden.bias", &[m], Init::Uniform { fan_in: pair }),
                ParamSpec::new("relation.out.weight", &[k, m], Init::Uniform { fan_in: m }),
                ParamSpec::new("relation.out.bias", &[k], Init::Uniform { fan_in: m }),
            ]);
        }
        specs
    }

    /// Every parameter: the encoder under [`ENCODER_PREFIX`] and the head.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let mut specs = self.encoder.param_specs(ENCODER_PREFIX);
        specs.extend(self.head_specs());
        specs
    }

    /// Matrices stored as int8 under [`WeightPrecision::Int8`] (the encoder's embeddings and linear weights; the
    /// classifier stays float32).
    pub fn int8_matrix_names(&self) -> Vec<String> {
        self.encoder.weight_matrix_names(ENCODER_PREFIX)
    }

    /// Parse `crag.models.config`.
    pub fn from_json(v: &serde_json::Value) -> Result<Self> {
        let cfg: NerConfig = serde_json::from_value(v.clone())
            .map_err(|e| CragError::CorruptModel(format!("NER config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// As JSON for `crag.models.config`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Initial weights from a pretrained encoder checkpoint (names without prefix, same vocabulary as
/// `cfg.encoder`): the encoder is copied under [`ENCODER_PREFIX`], the heads get their seeded initialisation.
pub fn init_from_pretrained(cfg: &NerConfig, pretrained: &Weights, seed: u64) -> Result<Weights> {
    cfg.validate()?;
    pretrained.validate(&cfg.encoder.param_specs(""))?;
    let mut w = Weights::seeded(&cfg.head_specs(), seed);
    for spec in cfg.encoder.param_specs("") {
        let data = pretrained.get(&spec.name, &spec.shape)?;
        w.insert(
            format!("{ENCODER_PREFIX}{}", spec.name),
            spec.shape.clone(),
            data.to_vec(),
        )?;
    }
    w.validate(&cfg.param_specs())?;
    Ok(w)
}

/// Reference forward pass (ndarray): logits `[batch, seq_len, n_labels]` for row-major `[batch, seq_len]` ids and
/// mask. Padding positions get logits too (ignore them).
pub fn reference_forward(
    cfg: &NerConfig,
    w: &Weights,
    input_ids: &[i64],
    attention_mask: &[i64],
    batch: usize,
    seq_len: usize,
) -> Result<Array3<f32>> {
    let states = bert::reference_states(
        &cfg.encoder,
        w,
        ENCODER_PREFIX,
        input_ids,
        attention_mask,
        batch,
        seq_len,
    )?;
    let n = cfg.n_labels();
    let wt = w.matrix("classifier.weight", n, cfg.encoder.hidden_size)?;
    let b = w.vector("classifier.bias", n)?;
    let logits = states.dot(&wt.t()) + &b;
    logits
        .into_shape_with_order((batch, seq_len, n))
        .map_err(|e| CragError::Runtime(format!("NER logits: {e}")))
}

/// Reference relation logits `[batch, n_relation_labels]`: the states at `pair_index[b] = [head, tail]` (positions
/// in row `b`), concatenated, through the relation MLP.
pub fn reference_relation_logits(
    cfg: &NerConfig,
    w: &Weights,
    input_ids: &[i64],
    attention_mask: &[i64],
    pair_index: &[[i64; 2]],
    seq_len: usize,
) -> Result<Array2<f32>> {
    let r = cfg.relation_head()?;
    let batch = pair_index.len();
    let states = bert::reference_states(
        &cfg.encoder,
        w,
        ENCODER_PREFIX,
        input_ids,
        attention_mask,
        batch,
        seq_len,
    )?;
    let h = cfg.encoder.hidden_size;
    let mut pairs = Array2::<f32>::zeros((batch, 2 * h));
    for (b, idx) in pair_index.iter().enumerate() {
        for (k, &p) in idx.iter().enumerate() {
            if p < 0 || p as usize >= seq_len {
                return Err(CragError::invalid(format!(
                    "pair index {p} outside a row of {seq_len} tokens"
                )));
            }
            pairs
                .slice_mut(ndarray::s![b, k * h..(k + 1) * h])
                .assign(&states.row(b * seq_len + p as usize));
        }
    }
    let (m, k) = (r.hidden, r.labels.len());
    let w1 = w.matrix("relation.hidden.weight", m, 2 * h)?;
    let b1 = w.vector("relation.hidden.bias", m)?;
    let w2 = w.matrix("relation.out.weight", k, m)?;
    let b2 = w.vector("relation.out.bias", k)?;
    let hid = (pairs.dot(&w1.t()) + &b1).mapv(bert::gelu);
    Ok(hid.dot(&w2.t()) + &b2)
}

/// Export the NER model as ONNX: int64 inputs [`io::INPUT_IDS`], [`io::ATTENTION_MASK`] `[batch, seq]`; float32
/// output [`io::LOGITS`] `[batch, seq, n_labels]`. Encoder matrices are stored in `cfg.precision`; the classifier
/// stays float32.
pub fn export_onnx(cfg: &NerConfig, w: &Weights) -> Result<Vec<u8>> {
    cfg.validate()?;
    w.validate(&cfg.param_specs())?;
    let h = cfg.encoder.hidden_size;
    let n = cfg.n_labels();
    let batch = Dim::Symbolic("batch");
    let seq = Dim::Symbolic("seq");
    let mut g = GraphBuilder::new("crag_ner");
    g.set_weight_precision(cfg.precision);
    let ids = g.input_i64(io::INPUT_IDS, &[batch.clone(), seq.clone()]);
    let mask = g.input_i64(io::ATTENTION_MASK, &[batch.clone(), seq.clone()]);
    let states = bert::export_encoder_states(&mut g, &cfg.encoder, w, ENCODER_PREFIX, &ids, &mask)?;
    let flat_shape = g.const_i64("ner_flat", &[-1, h as i64]);
    let flat = g.op("Reshape", &[&states, &flat_shape], vec![]);
    let logits_flat = g.dense(&flat, w, "classifier", n, h)?;
    let ids_shape = g.op("Shape", &[&ids], vec![]);
    let n_tail = g.const_i64("ner_labels", &[n as i64]);
    let out_shape = g.concat(&[&ids_shape, &n_tail], 0);
    let logits = g.op("Reshape", &[&logits_flat, &out_shape], vec![]);
    g.output(&logits, io::LOGITS, &[batch.clone(), seq, Dim::Fixed(n)]);
    if let Some(r) = &cfg.relations {
        let pair = g.input_i64(io::PAIR_INDEX, &[batch.clone(), Dim::Fixed(2)]);
        let idx_shape = g.const_i64("relation_idx_shape", &[0, 2, 1]);
        let idx = g.op("Reshape", &[&pair, &idx_shape], vec![]);
        let picked = g.op(
            "GatherND",
            &[&states, &idx],
            vec![crate::onnx::attr_int("batch_dims", 1)],
        );
        let pair_shape = g.const_i64("relation_pair_shape", &[-1, 2 * h as i64]);
        let pairs = g.op("Reshape", &[&picked, &pair_shape], vec![]);
        let (m, k) = (r.hidden, r.labels.len());
        let hid = g.dense(&pairs, w, "relation.hidden", m, 2 * h)?;
        let act = g.gelu(&hid)?;
        let rl = g.dense(&act, w, "relation.out", k, m)?;
        g.output(&rl, io::RELATION_LOGITS, &[batch, Dim::Fixed(k)]);
    }
    g.finish(&[
        ("crag.kind", "ner".to_string()),
        ("crag.architecture", cfg.to_json().to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> NerConfig {
        NerConfig::new(
            BertConfig {
                vocab_size: 40,
                hidden_size: 16,
                num_layers: 2,
                num_heads: 2,
                intermediate_size: 32,
                max_position: 24,
                type_vocab_size: 2,
                layer_norm_eps: 1e-12,
            },
            16,
        )
    }

    #[test]
    fn ner_labels_and_specs() {
        let cfg = tiny();
        assert_eq!(cfg.n_labels(), 11);
        assert_eq!(cfg.labels[0], "O");
        assert_eq!(cfg.labels[1], "B-Disease");
        assert_eq!(cfg.labels[10], "I-Lab_Test");
        let specs = cfg.param_specs();
        assert_eq!(specs.len(), cfg.encoder.param_specs("").len() + 2);
        assert!(specs
            .iter()
            .any(|s| s.name == "encoder.embeddings.word_embeddings.weight"));
        let head = specs
            .iter()
            .find(|s| s.name == "classifier.weight")
            .unwrap();
        assert_eq!(head.shape, vec![11, 16]);
        assert_eq!(cfg.stride, 3);
        let real = NerConfig::new(BertConfig::minilm_l6(), 128);
        assert_eq!(real.stride, 31);
        assert_eq!(real.int8_matrix_names().len(), 2 + 6 * 6);
    }

    #[test]
    fn ner_config_json_round_trip_and_checks() {
        let mut cfg = tiny();
        cfg.precision = WeightPrecision::Int8;
        assert_eq!(NerConfig::from_json(&cfg.to_json()).unwrap(), cfg);
        let mut bad = cfg.to_json();
        bad["stride"] = serde_json::json!(14);
        assert!(NerConfig::from_json(&bad).is_err());
        let mut bad = cfg.to_json();
        bad["labels"] = serde_json::json!(["O", "B-Drug", "I-Nope"]);
        assert!(NerConfig::from_json(&bad).is_err());
        let mut bad = cfg.to_json();
        bad["max_len"] = serde_json::json!(99);
        assert!(NerConfig::from_json(&bad).is_err());
        for m in [-0.1, 1.0, 7.0] {
            let mut bad = cfg.to_json();
            bad["refine"]["min_score"] = serde_json::json!(m);
            let e = NerConfig::from_json(&bad).unwrap_err().to_string();
            assert!(e.contains("min_score"), "{e}");
        }
        // A config written before refinement existed loads with every step off (served as it always was).
        let mut old = cfg.to_json();
        old.as_object_mut().unwrap().remove("refine");
        assert_eq!(
            NerConfig::from_json(&old).unwrap().refine,
            crate::ner::refine::Refine::default()
        );
        assert_eq!(cfg.refine, crate::ner::refine::Refine::ALL);
        for form in ["", "Venous"] {
            let mut bad = cfg.to_json();
            bad["refine"]["exclusions"] = serde_json::json!([{"form": form, "share": 0.0}]);
            let e = NerConfig::from_json(&bad).unwrap_err().to_string();
            assert!(e.contains("exclusions"), "{e}");
        }
        // Configs written before Viterbi decoding are decoded greedily, as they were; new ones use Viterbi.
        let mut old = cfg.to_json();
        old.as_object_mut().unwrap().remove("decoding");
        assert_eq!(
            NerConfig::from_json(&old).unwrap().decoding,
            crate::ner::tagging::Decoding::Greedy
        );
        assert_eq!(cfg.decoding, crate::ner::tagging::Decoding::Viterbi);
    }

    #[test]
    fn ner_reference_shape_and_head() {
        let cfg = tiny();
        let w = Weights::seeded(&cfg.param_specs(), 4);
        let ids = [1, 5, 7, 2, 1, 9, 2, 0];
        let mask = [1, 1, 1, 1, 1, 1, 1, 0];
        let l = reference_forward(&cfg, &w, &ids, &mask, 2, 4).unwrap();
        assert_eq!(l.shape(), &[2, 4, 11]);
        // Row = classifier(state) exactly.
        let st =
            bert::reference_states(&cfg.encoder, &w, ENCODER_PREFIX, &ids, &mask, 2, 4).unwrap();
        let wt = w.matrix("classifier.weight", 11, 16).unwrap();
        let b = w.vector("classifier.bias", 11).unwrap();
        let row = st.row(5).dot(&wt.t()) + &b;
        for k in 0..11 {
            assert!((row[k] - l[[1, 1, k]]).abs() < 1e-6);
        }
    }

    #[test]
    fn ner_init_and_export() {
        let cfg = tiny();
        let pre = Weights::seeded(&cfg.encoder.param_specs(""), 9);
        let w = init_from_pretrained(&cfg, &pre, 1).unwrap();
        assert_eq!(
            w.get("encoder.embeddings.word_embeddings.weight", &[40, 16])
                .unwrap(),
            pre.get("embeddings.word_embeddings.weight", &[40, 16])
                .unwrap()
        );
        let f = export_onnx(&cfg, &w).unwrap();
        let q = export_onnx(
            &NerConfig {
                precision: WeightPrecision::Int8,
                ..cfg.clone()
            },
            &w,
        )
        .unwrap();
        assert!(q.len() < f.len());
        let small = BertConfig {
            vocab_size: 30,
            ..cfg.encoder.clone()
        };
        let other = Weights::seeded(&small.param_specs(""), 9);
        assert!(init_from_pretrained(&cfg, &other, 1).is_err());
        assert!(export_onnx(&cfg, &pre).is_err(), "missing prefix and head");
    }
}
