//! The CRAG dual-encoder relation model: P(causal) for a drug context and an adverse-reaction (ADR) context.
//!
//! ```text
//! drug context ─ drug encoder (BERT) ─ [CLS] d ─┐
//!                                                ├─ MLB bilinear fusion  f = tanh(U d + u) ⊙ tanh(V a + v)   [F = 256]
//! ADR context  ─ ADR encoder (BERT)  ─ [CLS] a ─┘
//!     ─ MLP head  h = GELU(W₁ f + b₁) [M = 256] ─ logit = w₂·h + b₂ ─ sigmoid ─ P(causal)
//! ```
//!
//! The two encoders have separate weights (`drug_encoder.*`, `adr_encoder.*`, Hugging Face names), both initialised
//! from the same pretrained checkpoint. The fusion is a low-rank bilinear pooling (MLB, Kim et al., ICLR 2017): every
//! output `f_k = tanh(u_k·d) tanh(v_k·a)` is a rank-one bilinear form of the two `[CLS]` vectors. A full bilinear map
//! `d^T W_k a` for 384 → 256 would hold 384·384·256 = 37.7 M parameters — more than a MiniLM encoder — for a few
//! thousand training pairs; MLB holds 2·(384·256 + 256) = 197 K.
//!
//! Phase 1 of training (InfoNCE) uses the same fusion projections: `cos(U d + u, V a + v) / τ`, so contrastive
//! pre-training shapes exactly the spaces the classifier later multiplies.
//!
//! Inputs are contexts with entity markers: the drug context marks the drug (`[DRUG] … [/DRUG]`), the ADR context
//! marks the reaction (`[ADR] … [/ADR]`). For one sentence both contexts are that sentence, marked differently
//! ([`sentence_contexts`]), which is what lets the model tell apart two pairs of the same sentence.
//!
//! [`RelationConfig::param_specs`] is the one description of the architecture: the tch trainer creates its variables
//! from it, [`export_onnx`] writes the graph from it, and [`reference_forward`] is the ndarray oracle for both.

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::bert::{self, BertConfig};
use crate::onnx::{Dim, GraphBuilder, WeightPrecision};
use crate::text::{self, Batch, ADR_CLOSE, ADR_OPEN, DRUG_CLOSE, DRUG_OPEN};
use crate::weights::{Init, ParamSpec, Weights};
use crate::{CragError, Result};

/// Parameter-name prefix of the drug encoder.
pub const DRUG_PREFIX: &str = "drug_encoder.";
/// Parameter-name prefix of the ADR encoder.
pub const ADR_PREFIX: &str = "adr_encoder.";

/// Names of the graph's inputs and output.
pub mod io {
    /// int64 `[batch, drug_seq]` token ids of the drug contexts.
    pub const DRUG_INPUT_IDS: &str = "drug_input_ids";
    /// int64 `[batch, drug_seq]` attention mask of the drug contexts.
    pub const DRUG_ATTENTION_MASK: &str = "drug_attention_mask";
    /// int64 `[batch, adr_seq]` token ids of the ADR contexts.
    pub const ADR_INPUT_IDS: &str = "adr_input_ids";
    /// int64 `[batch, adr_seq]` attention mask of the ADR contexts.
    pub const ADR_ATTENTION_MASK: &str = "adr_attention_mask";
    /// float32 `[batch]` P(causal).
    pub const P_CAUSAL: &str = "p_causal";
}

/// Architecture and serving settings of a relation model (stored as `crag.models.config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationConfig {
    /// Shape of both encoders; `vocab_size` includes the four entity markers.
    pub encoder: BertConfig,
    /// Width `F` of the bilinear fusion.
    pub fusion_dim: usize,
    /// Width `M` of the MLP head's hidden layer.
    pub head_hidden: usize,
    /// Longest tokenized context, special tokens included; longer contexts are truncated.
    pub max_len: usize,
    /// Decision threshold on P(causal) chosen on the validation split (reported, not applied by `crag_score`).
    #[serde(default = "half")]
    pub threshold: f64,
    /// How the encoder matrices are stored in the ONNX graph.
    #[serde(default)]
    pub precision: WeightPrecision,
}

fn half() -> f64 {
    0.5
}

impl RelationConfig {
    /// The card's architecture on a given encoder: fusion 256, head hidden 256.
    pub fn new(encoder: BertConfig, max_len: usize) -> Self {
        RelationConfig {
            encoder,
            fusion_dim: 256,
            head_hidden: 256,
            max_len,
            threshold: 0.5,
            precision: WeightPrecision::F32,
        }
    }

    /// Check the shape for consistency.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        if self.fusion_dim == 0 || self.head_hidden == 0 {
            return Err(CragError::CorruptModel(
                "relation config: fusion_dim and head_hidden must be positive".into(),
            ));
        }
        if self.max_len < 3 || self.max_len > self.encoder.max_position {
            return Err(CragError::CorruptModel(format!(
                "relation config: max_len {} must be in 3..={} (the encoder's positions)",
                self.max_len, self.encoder.max_position
            )));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(CragError::CorruptModel(format!(
                "relation config: threshold {} is not a probability",
                self.threshold
            )));
        }
        Ok(())
    }

    /// Parameters of the fusion and the head only (what is trained from scratch).
    pub fn head_specs(&self) -> Vec<ParamSpec> {
        let h = self.encoder.hidden_size;
        let (f, m) = (self.fusion_dim, self.head_hidden);
        let lin = |name: &str, out: usize, inp: usize| {
            [
                ParamSpec::new(
                    format!("{name}.weight"),
                    &[out, inp],
                    Init::Uniform { fan_in: inp },
                ),
                ParamSpec::new(
                    format!("{name}.bias"),
                    &[out],
                    Init::Uniform { fan_in: inp },
                ),
            ]
        };
        let mut specs = Vec::new();
        specs.extend(lin("fusion.drug", f, h));
        specs.extend(lin("fusion.adr", f, h));
        specs.extend(lin("head.hidden", m, f));
        specs.extend(lin("head.out", 1, m));
        specs
    }

    /// Every parameter: both encoders, the fusion and the head.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let mut specs = self.encoder.param_specs(DRUG_PREFIX);
        specs.extend(self.encoder.param_specs(ADR_PREFIX));
        specs.extend(self.head_specs());
        specs
    }

    /// Matrices stored as int8 under [`WeightPrecision::Int8`] (the encoders' embeddings and linear weights).
    pub fn int8_matrix_names(&self) -> Vec<String> {
        let mut names = self.encoder.weight_matrix_names(DRUG_PREFIX);
        names.extend(self.encoder.weight_matrix_names(ADR_PREFIX));
        names
    }

    /// Parse `crag.models.config`.
    pub fn from_json(v: &serde_json::Value) -> Result<Self> {
        let cfg: RelationConfig = serde_json::from_value(v.clone())
            .map_err(|e| CragError::CorruptModel(format!("relation config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// As JSON for `crag.models.config`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Build the initial weights of a relation model from a pretrained encoder checkpoint (`pretrained`, names without
/// prefix, vocabulary `pretrained_vocab` rows): both encoders get a copy; rows of the extended vocabulary (the entity
/// markers) are initialised from the rows named in `new_row_sources` (one source id per new row, e.g. the word piece
/// `drug` for `[DRUG]`); fusion and head get their seeded initialisation.
pub fn init_from_pretrained(
    cfg: &RelationConfig,
    pretrained: &Weights,
    pretrained_vocab: usize,
    new_row_sources: &[u32],
    seed: u64,
) -> Result<Weights> {
    cfg.validate()?;
    let h = cfg.encoder.hidden_size;
    let v = cfg.encoder.vocab_size;
    if pretrained_vocab + new_row_sources.len() != v {
        return Err(CragError::invalid(format!(
            "vocabulary: {pretrained_vocab} pretrained rows + {} new rows != {v}",
            new_row_sources.len()
        )));
    }
    let base = BertConfig {
        vocab_size: pretrained_vocab,
        ..cfg.encoder.clone()
    };
    base.validate()?;
    pretrained.validate(&base.param_specs(""))?;
    let mut w = Weights::seeded(&cfg.head_specs(), seed);
    for prefix in [DRUG_PREFIX, ADR_PREFIX] {
        for spec in base.param_specs("") {
            let data = pretrained.get(&spec.name, &spec.shape)?;
            if spec.name == "embeddings.word_embeddings.weight" {
                let mut rows = data.to_vec();
                for &src in new_row_sources {
                    let src = src as usize;
                    if src >= pretrained_vocab {
                        return Err(CragError::invalid(format!(
                            "marker source row {src} is outside the pretrained vocabulary"
                        )));
                    }
                    rows.extend_from_slice(&data[src * h..(src + 1) * h]);
                }
                w.insert(format!("{prefix}{}", spec.name), vec![v, h], rows)?;
            } else {
                w.insert(
                    format!("{prefix}{}", spec.name),
                    spec.shape.clone(),
                    data.to_vec(),
                )?;
            }
        }
    }
    w.validate(&cfg.param_specs())?;
    Ok(w)
}

fn gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + statrs::function::erf::erf(x / std::f64::consts::SQRT_2))) as f32
}

fn linear(x: &Array2<f32>, w: &Weights, name: &str, out: usize, inp: usize) -> Result<Array2<f32>> {
    let wt = w.matrix(&format!("{name}.weight"), out, inp)?;
    let b = w.vector(&format!("{name}.bias"), out)?;
    Ok(x.dot(&wt.t()) + &b)
}

/// Reference fusion + head: P(causal) per row for `[CLS]` vectors `drug_cls`, `adr_cls` `[batch, hidden]`.
pub fn reference_head(
    cfg: &RelationConfig,
    w: &Weights,
    drug_cls: &Array2<f32>,
    adr_cls: &Array2<f32>,
) -> Result<Array1<f32>> {
    let h = cfg.encoder.hidden_size;
    let (f, m) = (cfg.fusion_dim, cfg.head_hidden);
    let fd = linear(drug_cls, w, "fusion.drug", f, h)?.mapv(f32::tanh);
    let fa = linear(adr_cls, w, "fusion.adr", f, h)?.mapv(f32::tanh);
    let fused = fd * fa;
    let hidden = linear(&fused, w, "head.hidden", m, f)?.mapv(gelu);
    let logit = linear(&hidden, w, "head.out", 1, m)?;
    Ok(logit
        .index_axis(Axis(1), 0)
        .mapv(|z| 1.0 / (1.0 + (-z).exp())))
}

/// Reference forward pass (ndarray): P(causal) per pair for tokenized drug and ADR contexts of equal batch size.
pub fn reference_forward(
    cfg: &RelationConfig,
    w: &Weights,
    drug: &Batch,
    adr: &Batch,
) -> Result<Array1<f32>> {
    if drug.batch != adr.batch {
        return Err(CragError::invalid(format!(
            "{} drug contexts but {} ADR contexts",
            drug.batch, adr.batch
        )));
    }
    let d = bert::reference_forward(
        &cfg.encoder,
        w,
        DRUG_PREFIX,
        &drug.input_ids,
        &drug.attention_mask,
        drug.batch,
        drug.seq_len,
    )?;
    let a = bert::reference_forward(
        &cfg.encoder,
        w,
        ADR_PREFIX,
        &adr.input_ids,
        &adr.attention_mask,
        adr.batch,
        adr.seq_len,
    )?;
    reference_head(cfg, w, &d, &a)
}

/// Export the relation model as ONNX: int64 inputs [`io::DRUG_INPUT_IDS`], [`io::DRUG_ATTENTION_MASK`] `[batch,
/// drug_seq]` and [`io::ADR_INPUT_IDS`], [`io::ADR_ATTENTION_MASK`] `[batch, adr_seq]`; float32 output
/// [`io::P_CAUSAL`] `[batch]`. Encoder matrices are stored in `cfg.precision`; fusion and head stay float32.
pub fn export_onnx(cfg: &RelationConfig, w: &Weights) -> Result<Vec<u8>> {
    cfg.validate()?;
    w.validate(&cfg.param_specs())?;
    let h = cfg.encoder.hidden_size;
    let (f, m) = (cfg.fusion_dim, cfg.head_hidden);
    let batch = Dim::Symbolic("batch");
    let mut g = GraphBuilder::new("crag_relation");
    g.set_weight_precision(cfg.precision);
    let d_ids = g.input_i64(
        io::DRUG_INPUT_IDS,
        &[batch.clone(), Dim::Symbolic("drug_seq")],
    );
    let d_mask = g.input_i64(
        io::DRUG_ATTENTION_MASK,
        &[batch.clone(), Dim::Symbolic("drug_seq")],
    );
    let a_ids = g.input_i64(
        io::ADR_INPUT_IDS,
        &[batch.clone(), Dim::Symbolic("adr_seq")],
    );
    let a_mask = g.input_i64(
        io::ADR_ATTENTION_MASK,
        &[batch.clone(), Dim::Symbolic("adr_seq")],
    );
    let d = bert::export_encoder(&mut g, &cfg.encoder, w, DRUG_PREFIX, &d_ids, &d_mask)?;
    let a = bert::export_encoder(&mut g, &cfg.encoder, w, ADR_PREFIX, &a_ids, &a_mask)?;
    let pd = g.dense(&d, w, "fusion.drug", f, h)?;
    let pa = g.dense(&a, w, "fusion.adr", f, h)?;
    let td = g.op("Tanh", &[&pd], vec![]);
    let ta = g.op("Tanh", &[&pa], vec![]);
    let fused = g.op("Mul", &[&td, &ta], vec![]);
    let hid = g.dense(&fused, w, "head.hidden", m, f)?;
    let act = g.gelu(&hid)?;
    let logit = g.dense(&act, w, "head.out", 1, m)?;
    let flat = g.const_i64("relation_flat", &[-1]);
    let logit1 = g.op("Reshape", &[&logit, &flat], vec![]);
    let p = g.op("Sigmoid", &[&logit1], vec![]);
    g.output(&p, io::P_CAUSAL, &[batch]);
    g.finish(&[
        ("crag.kind", "relation".to_string()),
        ("crag.architecture", cfg.to_json().to_string()),
    ])
}

/// The two contexts of a drug and a reaction mentioned in one sentence (char spans, end-exclusive): the sentence
/// with the drug marked, and the sentence with the reaction marked. Each context marks one mention, so nested
/// mentions (ADE Corpus V2 annotates e.g. "Codeine" inside "Codeine intoxication") are fine.
pub fn sentence_contexts(
    sentence: &str,
    drug_span: (usize, usize),
    adr_span: (usize, usize),
) -> Result<(String, String)> {
    Ok((
        text::mark(sentence, drug_span, DRUG_OPEN, DRUG_CLOSE)?,
        text::mark(sentence, adr_span, ADR_OPEN, ADR_CLOSE)?,
    ))
}

/// Char span of the first case-insensitive occurrence of `mention` in `sentence`, preferring an occurrence that
/// starts and ends on word boundaries; `None` if it does not occur (or is blank).
pub fn find_mention(sentence: &str, mention: &str) -> Option<(usize, usize)> {
    // Full lower-casing can change the char count (e.g. 'İ'); compare char by char on simple lower-case forms so
    // spans stay char offsets of `sentence`.
    let hay: Vec<char> = sentence.chars().collect();
    let low = |c: char| c.to_lowercase().next().unwrap_or(c);
    let needle: Vec<char> = mention.trim().chars().map(low).collect();
    let n = needle.len();
    if n == 0 || n > hay.len() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric();
    let mut first = None;
    for start in 0..=hay.len() - n {
        if (0..n).all(|k| low(hay[start + k]) == needle[k]) {
            let end = start + n;
            let left = start == 0 || !is_word(hay[start - 1]) || !is_word(hay[start]);
            let right = end == hay.len() || !is_word(hay[end]) || !is_word(hay[end - 1]);
            if left && right {
                return Some((start, end));
            }
            first.get_or_insert((start, end));
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> RelationConfig {
        let enc = BertConfig {
            vocab_size: 40,
            hidden_size: 16,
            num_layers: 2,
            num_heads: 2,
            intermediate_size: 32,
            max_position: 24,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        };
        RelationConfig {
            fusion_dim: 8,
            head_hidden: 6,
            ..RelationConfig::new(enc, 16)
        }
    }

    fn batch(rows: &[&[i64]]) -> Batch {
        Batch::from_rows(rows, 0)
    }

    #[test]
    fn relation_specs_cover_two_encoders_and_the_head() {
        let cfg = tiny();
        let specs = cfg.param_specs();
        let enc = cfg.encoder.param_specs("").len();
        assert_eq!(specs.len(), 2 * enc + 8);
        let mut names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), specs.len());
        let mlb: usize = cfg.head_specs()[..4].iter().map(|s| s.numel()).sum();
        assert_eq!(mlb, 2 * (16 * 8 + 8));
        // The card's widths on MiniLM: the fusion is 197 K parameters, not a 37.7 M full bilinear map.
        let real = RelationConfig::new(BertConfig::minilm_l6(), 128);
        let fusion: usize = real.head_specs()[..4].iter().map(|s| s.numel()).sum();
        assert_eq!(fusion, 2 * (384 * 256 + 256));
        assert_eq!(real.int8_matrix_names().len(), 2 * (2 + 6 * 6));
    }

    #[test]
    fn relation_config_json_round_trip_and_checks() {
        let mut cfg = tiny();
        cfg.threshold = 0.37;
        cfg.precision = WeightPrecision::Int8;
        let back = RelationConfig::from_json(&cfg.to_json()).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(cfg.to_json()["precision"], "int8");
        let mut bad = cfg.to_json();
        bad["max_len"] = serde_json::json!(99);
        assert!(RelationConfig::from_json(&bad).is_err());
        assert!(RelationConfig::from_json(&serde_json::json!({"fusion_dim": 3})).is_err());
    }

    #[test]
    fn relation_init_copies_the_checkpoint_into_both_encoders_and_adds_marker_rows() {
        let cfg = tiny();
        let base = BertConfig {
            vocab_size: 36,
            ..cfg.encoder.clone()
        };
        let pre = Weights::seeded(&base.param_specs(""), 9);
        let w = init_from_pretrained(&cfg, &pre, 36, &[3, 3, 7, 7], 1).unwrap();
        let emb = pre
            .get("embeddings.word_embeddings.weight", &[36, 16])
            .unwrap();
        for prefix in [DRUG_PREFIX, ADR_PREFIX] {
            let e = w
                .get(
                    &format!("{prefix}embeddings.word_embeddings.weight"),
                    &[40, 16],
                )
                .unwrap();
            assert_eq!(&e[..36 * 16], emb);
            assert_eq!(&e[36 * 16..37 * 16], &emb[3 * 16..4 * 16]);
            assert_eq!(&e[39 * 16..], &emb[7 * 16..8 * 16]);
        }
        assert!(init_from_pretrained(&cfg, &pre, 36, &[3, 3], 1).is_err());
        assert!(init_from_pretrained(&cfg, &pre, 36, &[3, 3, 7, 99], 1).is_err());
    }

    #[test]
    fn relation_reference_is_a_probability_and_depends_on_both_sides() {
        let cfg = tiny();
        let w = Weights::seeded(&cfg.param_specs(), 5);
        let d = batch(&[&[1, 5, 7, 2], &[1, 5, 7, 2], &[1, 9, 2]]);
        let a = batch(&[&[1, 11, 2], &[1, 12, 13, 14, 2], &[1, 11, 2]]);
        let p = reference_forward(&cfg, &w, &d, &a).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|&v| v > 0.0 && v < 1.0));
        assert!((p[0] - p[1]).abs() > 1e-6, "ADR context must matter");
        assert!((p[0] - p[2]).abs() > 1e-6, "drug context must matter");
        let short = batch(&[&[1, 5, 7, 2]]);
        assert!(reference_forward(&cfg, &w, &short, &a).is_err());
        // Swapping which side a context goes to changes the answer: the encoders are separate.
        let p_swapped = reference_forward(&cfg, &w, &a, &d).unwrap();
        assert!((p[0] - p_swapped[0]).abs() > 1e-6);
    }

    #[test]
    fn relation_export_builds_in_both_precisions() {
        let cfg = tiny();
        let w = Weights::seeded(&cfg.param_specs(), 2);
        let f32_bytes = export_onnx(&cfg, &w).unwrap();
        let int8 = RelationConfig {
            precision: WeightPrecision::Int8,
            ..cfg.clone()
        };
        let i8_bytes = export_onnx(&int8, &w).unwrap();
        assert!(i8_bytes.len() < f32_bytes.len());
        let head_only = Weights::seeded(&cfg.head_specs(), 1);
        assert!(export_onnx(&cfg, &head_only).is_err(), "missing encoders");
    }

    #[test]
    fn int8_round_trip_error_is_bounded_by_half_a_step() {
        let cfg = tiny();
        let w = Weights::seeded(&cfg.param_specs(), 3);
        let names = cfg.int8_matrix_names();
        let q = w.int8_round_trip(&names).unwrap();
        for n in &names {
            let a = w.array(n).unwrap();
            let b = q.array(n).unwrap();
            let cols = a.shape()[1];
            for (ra, rb) in a
                .as_slice()
                .unwrap()
                .chunks(cols)
                .zip(b.as_slice().unwrap().chunks(cols))
            {
                let step = ra.iter().fold(0.0f32, |m, &v| m.max(v.abs())) / 127.0;
                for (x, y) in ra.iter().zip(rb) {
                    assert!((x - y).abs() <= step * 0.5 + 1e-7);
                }
            }
        }
        let head = "head.out.weight".to_string();
        assert_eq!(q.array(&head).unwrap(), w.array(&head).unwrap());
        assert!(w.int8_round_trip(&["head.out.bias".into()]).is_err());
    }

    #[test]
    fn sentence_contexts_mark_one_entity_each() {
        let s = "Ototoxicity after azithromycin.";
        let (d, a) = sentence_contexts(s, (18, 30), (0, 11)).unwrap();
        assert_eq!(d, "Ototoxicity after [DRUG]azithromycin[/DRUG].");
        assert_eq!(a, "[ADR]Ototoxicity[/ADR] after azithromycin.");
        let (d, a) = sentence_contexts("Codeine intoxication.", (0, 7), (0, 20)).unwrap();
        assert_eq!(d, "[DRUG]Codeine[/DRUG] intoxication.");
        assert_eq!(a, "[ADR]Codeine intoxication[/ADR].");
        assert!(sentence_contexts(s, (18, 99), (0, 11)).is_err());
        assert!(sentence_contexts(s, (5, 5), (0, 11)).is_err());
    }

    #[test]
    fn find_mention_is_case_insensitive_and_prefers_whole_words() {
        let s = "Ampicillin-induced rash; later penicillin rash with PENICILLIN.";
        assert_eq!(find_mention(s, "penicillin"), Some((31, 41)));
        assert_eq!(find_mention(s, "ampicillin"), Some((0, 10)));
        assert_eq!(find_mention(s, "  Rash "), Some((19, 23)));
        assert_eq!(
            find_mention(s, "cillin"),
            Some((4, 10)),
            "a substring if no whole word"
        );
        assert_eq!(find_mention(s, "aspirin"), None);
        assert_eq!(find_mention(s, "  "), None);
        let u = "Fièvre après l'ibuprofène.";
        assert_eq!(find_mention(u, "IBUPROFÈNE"), Some((15, 25)));
    }
}
