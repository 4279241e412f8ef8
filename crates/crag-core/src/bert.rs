//! A BERT encoder (the all-MiniLM-L6-v2 layout by default, any size through [`BertConfig`]) described once.
//!
//! * Embeddings: `word[id] + position[0..L] + token_type[0]` → LayerNorm.
//! * `num_layers` × post-LN blocks: multi-head self-attention with an additive key mask, output dense + residual +
//!   LayerNorm, intermediate dense + exact-erf GELU + output dense + residual + LayerNorm.
//! * **`[CLS]` pooling**: the final hidden state of token 0 of every sequence, `[batch, hidden]`. The pooler
//!   (`pooler.dense`) of the checkpoint is not used.
//!
//! [`BertConfig::param_specs`] lists the parameters with Hugging Face names under a caller-chosen prefix (prepended
//! verbatim, so use `""` for a bare checkpoint and e.g. `"drug_encoder."` for one tower of a dual encoder);
//! [`export_encoder`] adds the encoder to an existing [`GraphBuilder`] from the same names and
//! [`reference_forward`] is the ndarray oracle both are tested against. Token-level heads (NER) use the per-token
//! forms [`export_encoder_states`] and [`reference_states`], of which the `[CLS]` forms are a gather of token 0.
//!
//! Numerical choices (the graph and the reference follow them exactly):
//! * the attention mask is added to the scaled scores as `(1 − mask) · f32::MIN` ([`MASK_VALUE`], as Hugging Face
//!   does with `torch.finfo(float32).min`); masked keys get probability exactly 0 after `Softmax`;
//! * scores are `(Q Kᵀ) · 1/√d_head`;
//! * GELU is the exact erf form `0.5 x (1 + erf(x/√2))` (`hidden_act = "gelu"`).

use std::path::Path;

use ndarray::{s, Array1, Array2, ArrayView2};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::onnx::{Dim, GraphBuilder};
use crate::weights::{Init, ParamSpec, Weights};
use crate::{CragError, Result};

/// Additive attention-mask value for padding keys: `(1 − mask) · MASK_VALUE` is added to the attention scores.
pub const MASK_VALUE: f32 = f32::MIN;

/// Names of the standalone encoder graph's inputs and output ([`export_onnx`]).
pub mod io {
    /// Input: token ids, int64 `[batch, seq]`.
    pub const INPUT_IDS: &str = "input_ids";
    /// Input: attention mask (1 = token, 0 = padding), int64 `[batch, seq]`.
    pub const ATTENTION_MASK: &str = "attention_mask";
    /// Output: `[CLS]` hidden state, float32 `[batch, hidden]`.
    pub const CLS: &str = "cls";
}

/// Shape of a BERT encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Word-piece vocabulary size.
    pub vocab_size: usize,
    /// Hidden width `H`.
    pub hidden_size: usize,
    /// Number of transformer blocks.
    pub num_layers: usize,
    /// Attention heads (must divide `hidden_size`).
    pub num_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of learned positions (longest sequence).
    pub max_position: usize,
    /// Number of token types (segment ids); only type 0 is used.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f32,
}

#[derive(Deserialize)]
struct HfConfig {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_ln_eps")]
    layer_norm_eps: f32,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}

fn default_ln_eps() -> f32 {
    1e-12
}

impl BertConfig {
    /// all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536, 512 positions, uncased 30522-word vocabulary.
    pub fn minilm_l6() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 384,
            num_layers: 6,
            num_heads: 12,
            intermediate_size: 1536,
            max_position: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        }
    }

    /// Parse a Hugging Face `config.json`; rejects activations and position embeddings this encoder does not implement.
    pub fn from_hf_config_json(bytes: &[u8]) -> Result<Self> {
        let hf: HfConfig = serde_json::from_slice(bytes)
            .map_err(|e| CragError::CorruptModel(format!("BERT config.json: {e}")))?;
        if let Some(act) = hf.hidden_act.as_deref() {
            if act != "gelu" {
                return Err(CragError::CorruptModel(format!(
                    "BERT config.json: hidden_act \"{act}\" is not supported (only exact \"gelu\")"
                )));
            }
        }
        if let Some(p) = hf.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(CragError::CorruptModel(format!(
                    "BERT config.json: position_embedding_type \"{p}\" is not supported"
                )));
            }
        }
        let cfg = BertConfig {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            num_layers: hf.num_hidden_layers,
            num_heads: hf.num_attention_heads,
            intermediate_size: hf.intermediate_size,
            max_position: hf.max_position_embeddings,
            type_vocab_size: hf.type_vocab_size,
            layer_norm_eps: hf.layer_norm_eps,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reject degenerate shapes and a head count that does not divide the hidden size.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position", self.max_position),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return Err(CragError::CorruptModel(format!(
                    "BERT config: {name} must be positive"
                )));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_heads) {
            return Err(CragError::CorruptModel(format!(
                "BERT config: hidden_size {} is not divisible by num_heads {}",
                self.hidden_size, self.num_heads
            )));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(CragError::CorruptModel(
                "BERT config: layer_norm_eps must be positive".into(),
            ));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Names of the matrices [`export_encoder`] stores through [`GraphBuilder::weight_matrix`] (and so quantises
    /// under [`crate::onnx::WeightPrecision::Int8`]): word and position embeddings and every linear weight.
    pub fn weight_matrix_names(&self, prefix: &str) -> Vec<String> {
        self.param_specs(prefix)
            .into_iter()
            .filter(|s| s.shape.len() == 2 && !s.name.ends_with("token_type_embeddings.weight"))
            .map(|s| s.name)
            .collect()
    }

    /// Every encoder parameter with its Hugging Face name prepended by `prefix` (verbatim: include the dot).
    ///
    /// The pooler is not listed: the encoder pools with `[CLS]`. Embeddings and linear layers get
    /// `U(±1/√fan_in)`, LayerNorms weight 1 and bias 0 (seeded tests only; real runs load a checkpoint).
    pub fn param_specs(&self, prefix: &str) -> Vec<ParamSpec> {
        let h = self.hidden_size;
        let f = self.intermediate_size;
        let p = |s: &str| format!("{prefix}{s}");
        let lin = |specs: &mut Vec<ParamSpec>, name: String, out: usize, inp: usize| {
            specs.push(ParamSpec::new(
                format!("{name}.weight"),
                &[out, inp],
                Init::Uniform { fan_in: inp },
            ));
            specs.push(ParamSpec::new(
                format!("{name}.bias"),
                &[out],
                Init::Uniform { fan_in: inp },
            ));
        };
        let ln = |specs: &mut Vec<ParamSpec>, name: String| {
            specs.push(ParamSpec::new(
                format!("{name}.weight"),
                &[h],
                Init::Constant(1.0),
            ));
            specs.push(ParamSpec::new(
                format!("{name}.bias"),
                &[h],
                Init::Constant(0.0),
            ));
        };
        let mut specs = vec![
            ParamSpec::new(
                p("embeddings.word_embeddings.weight"),
                &[self.vocab_size, h],
                Init::Uniform { fan_in: h },
            ),
            ParamSpec::new(
                p("embeddings.position_embeddings.weight"),
                &[self.max_position, h],
                Init::Uniform { fan_in: h },
            ),
            ParamSpec::new(
                p("embeddings.token_type_embeddings.weight"),
                &[self.type_vocab_size, h],
                Init::Uniform { fan_in: h },
            ),
        ];
        ln(&mut specs, p("embeddings.LayerNorm"));
        for i in 0..self.num_layers {
            let l = |s: &str| p(&format!("encoder.layer.{i}.{s}"));
            lin(&mut specs, l("attention.self.query"), h, h);
            lin(&mut specs, l("attention.self.key"), h, h);
            lin(&mut specs, l("attention.self.value"), h, h);
            lin(&mut specs, l("attention.output.dense"), h, h);
            ln(&mut specs, l("attention.output.LayerNorm"));
            lin(&mut specs, l("intermediate.dense"), f, h);
            lin(&mut specs, l("output.dense"), h, f);
            ln(&mut specs, l("output.LayerNorm"));
        }
        specs
    }
}

/// Copy the encoder tensors of a Hugging Face BERT safetensors checkpoint into `w` under `prefix`.
///
/// The checkpoint's own names may carry a `bert.` prefix (a `BertFor…` head model) or none (`BertModel`); both are
/// accepted. Non-encoder tensors (the pooler, `embeddings.position_ids` (int64), task heads) are skipped. Every
/// spec of [`BertConfig::param_specs`] must be present with the configured shape and finite values. Calling this
/// twice with different prefixes gives a dual encoder two independent copies.
pub fn load_pretrained_into(
    w: &mut Weights,
    cfg: &BertConfig,
    safetensors_bytes: &[u8],
    prefix: &str,
) -> Result<()> {
    cfg.validate()?;
    let st = SafeTensors::deserialize(safetensors_bytes)
        .map_err(|e| CragError::CorruptModel(format!("reading BERT safetensors: {e}")))?;
    let names = st.names();
    let src = if names.contains(&"embeddings.word_embeddings.weight") {
        ""
    } else if names.contains(&"bert.embeddings.word_embeddings.weight") {
        "bert."
    } else {
        return Err(CragError::CorruptModel(
            "BERT safetensors: no embeddings.word_embeddings.weight (with or without a bert. prefix)".into(),
        ));
    };
    let specs = cfg.param_specs("");
    for spec in &specs {
        let name = format!("{src}{}", spec.name);
        let view = st
            .tensor(&name)
            .map_err(|e| CragError::CorruptModel(format!("BERT safetensors: {name}: {e}")))?;
        if view.dtype() != Dtype::F32 {
            return Err(CragError::CorruptModel(format!(
                "BERT safetensors: {name} has dtype {:?}; only F32 is supported",
                view.dtype()
            )));
        }
        if view.shape() != spec.shape.as_slice() {
            return Err(CragError::CorruptModel(format!(
                "BERT safetensors: {name} has shape {:?}, the config needs {:?}",
                view.shape(),
                spec.shape
            )));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        w.insert(format!("{prefix}{}", spec.name), spec.shape.clone(), data)?;
    }
    w.validate(&cfg.param_specs(prefix))
}

/// [`load_pretrained_into`] a fresh [`Weights`].
pub fn load_pretrained(
    cfg: &BertConfig,
    safetensors_bytes: &[u8],
    prefix: &str,
) -> Result<Weights> {
    let mut w = Weights::new();
    load_pretrained_into(&mut w, cfg, safetensors_bytes, prefix)?;
    Ok(w)
}

/// Read `config.json` and `model.safetensors` from a Hugging Face model directory (e.g. `/opt/crag/minilm`).
pub fn load_hf_dir(dir: &Path, prefix: &str) -> Result<(BertConfig, Weights)> {
    let read = |f: &str| {
        let p = dir.join(f);
        std::fs::read(&p).map_err(|e| {
            CragError::NotFound(format!(
                "{}: {e} (install the encoder with scripts/setup-minilm.sh)",
                p.display()
            ))
        })
    };
    let cfg = BertConfig::from_hf_config_json(&read("config.json")?)?;
    let w = load_pretrained(&cfg, &read("model.safetensors")?, prefix)?;
    Ok((cfg, w))
}

/// Exact GELU, `0.5 x (1 + erf(x / √2))` (PyTorch's default).
pub fn gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + statrs::function::erf::erf(x / std::f64::consts::SQRT_2))) as f32
}

fn linear(x: ArrayView2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Array2<f32> {
    x.dot(&w.t()) + b
}

fn layer_norm(x: &mut Array2<f32>, g: &Array1<f32>, b: &Array1<f32>, eps: f32) {
    for mut row in x.rows_mut() {
        let n = row.len() as f64;
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (v as f64 - mean) * (v as f64 - mean))
            .sum::<f64>()
            / n;
        let inv = 1.0 / (var + eps as f64).sqrt();
        for (i, v) in row.iter_mut().enumerate() {
            *v = ((*v as f64 - mean) * inv) as f32 * g[i] + b[i];
        }
    }
}

fn check_inputs(
    cfg: &BertConfig,
    input_ids: &[i64],
    attention_mask: &[i64],
    batch: usize,
    seq_len: usize,
) -> Result<()> {
    if batch == 0 || seq_len == 0 {
        return Err(CragError::invalid(
            "BERT: batch and seq_len must be positive",
        ));
    }
    if seq_len > cfg.max_position {
        return Err(CragError::invalid(format!(
            "BERT: sequence length {seq_len} exceeds max_position {}",
            cfg.max_position
        )));
    }
    if input_ids.len() != batch * seq_len || attention_mask.len() != batch * seq_len {
        return Err(CragError::invalid(format!(
            "BERT: got {} ids and {} mask values for batch {batch} × seq {seq_len}",
            input_ids.len(),
            attention_mask.len()
        )));
    }
    if let Some(id) = input_ids
        .iter()
        .find(|&&id| id < 0 || id as usize >= cfg.vocab_size)
    {
        return Err(CragError::invalid(format!(
            "BERT: token id {id} is outside the vocabulary of {}",
            cfg.vocab_size
        )));
    }
    if attention_mask.iter().any(|&m| m != 0 && m != 1) {
        return Err(CragError::invalid("BERT: attention_mask must be 0 or 1"));
    }
    Ok(())
}

/// Reference forward pass in ndarray: `[CLS]` hidden states `[batch, hidden]` for row-major `[batch, seq_len]` ids
/// and mask (inference mode, token type 0 everywhere). Row `b` of the result is row `b·seq_len` of
/// [`reference_states`].
pub fn reference_forward(
    cfg: &BertConfig,
    w: &Weights,
    prefix: &str,
    input_ids: &[i64],
    attention_mask: &[i64],
    batch: usize,
    seq_len: usize,
) -> Result<Array2<f32>> {
    let x = reference_states(cfg, w, prefix, input_ids, attention_mask, batch, seq_len)?;
    let mut cls = Array2::<f32>::zeros((batch, cfg.hidden_size));
    for b in 0..batch {
        cls.row_mut(b).assign(&x.row(b * seq_len));
    }
    Ok(cls)
}

/// Reference forward pass in ndarray: the final hidden state of every token, `[batch·seq_len, hidden]` (row
/// `b·seq_len + t` is token `t` of sequence `b`), for row-major `[batch, seq_len]` ids and mask. Padding rows are
/// computed too (their values are meaningless but finite).
pub fn reference_states(
    cfg: &BertConfig,
    w: &Weights,
    prefix: &str,
    input_ids: &[i64],
    attention_mask: &[i64],
    batch: usize,
    seq_len: usize,
) -> Result<Array2<f32>> {
    cfg.validate()?;
    check_inputs(cfg, input_ids, attention_mask, batch, seq_len)?;
    let h = cfg.hidden_size;
    let f = cfg.intermediate_size;
    let nh = cfg.num_heads;
    let dh = cfg.head_dim();
    let eps = cfg.layer_norm_eps;
    let p = |s: &str| format!("{prefix}{s}");
    let word = w.get(
        &p("embeddings.word_embeddings.weight"),
        &[cfg.vocab_size, h],
    )?;
    let pos = w.get(
        &p("embeddings.position_embeddings.weight"),
        &[cfg.max_position, h],
    )?;
    let tt = w.get(
        &p("embeddings.token_type_embeddings.weight"),
        &[cfg.type_vocab_size, h],
    )?;
    let rows = batch * seq_len;
    let mut x = Array2::<f32>::zeros((rows, h));
    for (r, mut row) in x.rows_mut().into_iter().enumerate() {
        let id = input_ids[r] as usize;
        let t = r % seq_len;
        for (j, v) in row.iter_mut().enumerate() {
            *v = (word[id * h + j] + pos[t * h + j]) + tt[j];
        }
    }
    layer_norm(
        &mut x,
        &w.vector(&p("embeddings.LayerNorm.weight"), h)?,
        &w.vector(&p("embeddings.LayerNorm.bias"), h)?,
        eps,
    );
    let scale = 1.0 / (dh as f32).sqrt();
    for i in 0..cfg.num_layers {
        let l = |s: &str| p(&format!("encoder.layer.{i}.{s}"));
        let mat = |s: &str, o: usize, n: usize| w.matrix(&l(&format!("{s}.weight")), o, n);
        let bias = |s: &str, n: usize| w.vector(&l(&format!("{s}.bias")), n);
        let q = linear(
            x.view(),
            &mat("attention.self.query", h, h)?,
            &bias("attention.self.query", h)?,
        );
        let k = linear(
            x.view(),
            &mat("attention.self.key", h, h)?,
            &bias("attention.self.key", h)?,
        );
        let v = linear(
            x.view(),
            &mat("attention.self.value", h, h)?,
            &bias("attention.self.value", h)?,
        );
        let mut ctx = Array2::<f32>::zeros((rows, h));
        for b in 0..batch {
            let rs = b * seq_len..(b + 1) * seq_len;
            let madd: Vec<f32> = attention_mask[rs.clone()]
                .iter()
                .map(|&m| (1.0 - m as f32) * MASK_VALUE)
                .collect();
            for hd in 0..nh {
                let cs = hd * dh..(hd + 1) * dh;
                let qs = q.slice(s![rs.clone(), cs.clone()]);
                let ks = k.slice(s![rs.clone(), cs.clone()]);
                let vs = v.slice(s![rs.clone(), cs.clone()]);
                let mut sc = qs.dot(&ks.t()) * scale;
                for mut row in sc.rows_mut() {
                    for (j, s) in row.iter_mut().enumerate() {
                        *s += madd[j];
                    }
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    row.mapv_inplace(|s| (s - m).exp());
                    let z = row.sum();
                    row.mapv_inplace(|s| s / z);
                }
                ctx.slice_mut(s![rs.clone(), cs]).assign(&sc.dot(&vs));
            }
        }
        let mut a = linear(
            ctx.view(),
            &mat("attention.output.dense", h, h)?,
            &bias("attention.output.dense", h)?,
        ) + &x;
        layer_norm(
            &mut a,
            &w.vector(&l("attention.output.LayerNorm.weight"), h)?,
            &w.vector(&l("attention.output.LayerNorm.bias"), h)?,
            eps,
        );
        let inter = linear(
            a.view(),
            &mat("intermediate.dense", f, h)?,
            &bias("intermediate.dense", f)?,
        )
        .mapv(gelu);
        let mut out = linear(
            inter.view(),
            &mat("output.dense", h, f)?,
            &bias("output.dense", h)?,
        ) + &a;
        layer_norm(
            &mut out,
            &w.vector(&l("output.LayerNorm.weight"), h)?,
            &w.vector(&l("output.LayerNorm.bias"), h)?,
            eps,
        );
        x = out;
    }
    Ok(x)
}

/// Add the encoder to `g`, reading int64 `[batch, seq]` values `input_ids` and `attention_mask` (both dynamic), and
/// return the name of the float32 `[batch, hidden]` `[CLS]` output: [`export_encoder_states`] followed by a gather
/// of token 0.
pub fn export_encoder(
    g: &mut GraphBuilder,
    cfg: &BertConfig,
    w: &Weights,
    prefix: &str,
    input_ids: &str,
    attention_mask: &str,
) -> Result<String> {
    let x3 = export_encoder_states(g, cfg, w, prefix, input_ids, attention_mask)?;
    // [CLS] pooling: token 0 of each sequence.
    let first = g.scalar_i64("bert_cls_index", 0);
    Ok(g.gather(&x3, &first, 1))
}

/// Add the encoder to `g` and return the name of the float32 `[batch, seq, hidden]` final hidden states of every
/// token (inputs as in [`export_encoder`]).
///
/// Initializers are named `{prefix}{hf name}` (plus `{prefix}embeddings.token_type_embeddings.row0`), so two
/// encoders in one graph need different prefixes. Hidden states are kept flattened as `[batch·seq, hidden]` inside
/// so every linear layer is a `Gemm` with `transB = 1`, like [`GraphBuilder::linear`].
pub fn export_encoder_states(
    g: &mut GraphBuilder,
    cfg: &BertConfig,
    w: &Weights,
    prefix: &str,
    input_ids: &str,
    attention_mask: &str,
) -> Result<String> {
    cfg.validate()?;
    w.validate(&cfg.param_specs(prefix))?;
    let h = cfg.hidden_size;
    let f = cfg.intermediate_size;
    let nh = cfg.num_heads as i64;
    let dh = cfg.head_dim();
    let p = |s: &str| format!("{prefix}{s}");
    let init = |g: &mut GraphBuilder, name: String, shape: &[usize]| -> Result<String> {
        let data = w.get(&name, shape)?;
        g.initializer(&name, shape, data)
    };

    // Shapes: [B, L] of the ids, L alone, and the reshape targets.
    let ids_shape = g.op("Shape", &[input_ids], vec![]);
    let one_idx = g.const_i64("bert_one", &[1]);
    let two_idx = g.const_i64("bert_two", &[2]);
    let zero_idx = g.const_i64("bert_zero", &[0]);
    let seq = g.op("Slice", &[&ids_shape, &one_idx, &two_idx], vec![]);
    let heads_tail = g.const_i64("bert_heads", &[nh, dh as i64]);
    let heads_shape = g.concat(&[&ids_shape, &heads_tail], 0);
    let hidden_tail = g.const_i64("bert_hidden", &[h as i64]);
    let seq_hidden_shape = g.concat(&[&ids_shape, &hidden_tail], 0);
    let flat_shape = g.const_i64("bert_flat", &[-1, h as i64]);

    // Embeddings.
    let matrix = |g: &mut GraphBuilder, name: String, shape: [usize; 2]| -> Result<String> {
        let data = w.get(&name, &shape)?;
        g.weight_matrix(&name, shape, data)
    };
    let word = matrix(
        g,
        p("embeddings.word_embeddings.weight"),
        [cfg.vocab_size, h],
    )?;
    let pos = matrix(
        g,
        p("embeddings.position_embeddings.weight"),
        [cfg.max_position, h],
    )?;
    let tt_all = w.get(
        &p("embeddings.token_type_embeddings.weight"),
        &[cfg.type_vocab_size, h],
    )?;
    let tt0 = g.initializer(
        &p("embeddings.token_type_embeddings.row0"),
        &[h],
        &tt_all[..h],
    )?;
    let we = g.gather(&word, input_ids, 0);
    let pe = g.op("Slice", &[&pos, &zero_idx, &seq, &zero_idx], vec![]);
    let sum = g.op("Add", &[&we, &pe], vec![]);
    let emb = g.op("Add", &[&sum, &tt0], vec![]);
    let emb_flat = g.op("Reshape", &[&emb, &flat_shape], vec![]);
    let lg = init(g, p("embeddings.LayerNorm.weight"), &[h])?;
    let lb = init(g, p("embeddings.LayerNorm.bias"), &[h])?;
    let mut x = g.layer_norm(&emb_flat, &lg, &lb, cfg.layer_norm_eps);

    // Additive mask [B, 1, 1, L]: (1 - mask) * MASK_VALUE.
    let mask_axes = g.const_i64("bert_mask_axes", &[1, 2]);
    let m4 = g.op("Unsqueeze", &[attention_mask, &mask_axes], vec![]);
    let mf = g.cast_f32(&m4);
    let one = g.scalar("bert_one_f", 1.0)?;
    let inv = g.op("Sub", &[&one, &mf], vec![]);
    let big = g.scalar("bert_mask_value", MASK_VALUE)?;
    let mask_add = g.op("Mul", &[&inv, &big], vec![]);
    let scale = g.scalar("bert_attn_scale", 1.0 / (dh as f32).sqrt())?;

    for i in 0..cfg.num_layers {
        let l = |s: &str| p(&format!("encoder.layer.{i}.{s}"));
        let dense = |g: &mut GraphBuilder, s: &str, o: usize, n: usize, x: &str| {
            let wt = matrix(g, l(&format!("{s}.weight")), [o, n])?;
            let bs = init(g, l(&format!("{s}.bias")), &[o])?;
            Ok::<String, CragError>(g.linear(x, &wt, Some(&bs)))
        };
        let q = dense(g, "attention.self.query", h, h, &x)?;
        let k = dense(g, "attention.self.key", h, h, &x)?;
        let v = dense(g, "attention.self.value", h, h, &x)?;
        let q4 = g.op("Reshape", &[&q, &heads_shape], vec![]);
        let k4 = g.op("Reshape", &[&k, &heads_shape], vec![]);
        let v4 = g.op("Reshape", &[&v, &heads_shape], vec![]);
        let qt = g.transpose(&q4, &[0, 2, 1, 3]); // [B, nh, L, dh]
        let kt = g.transpose(&k4, &[0, 2, 3, 1]); // [B, nh, dh, L]
        let vt = g.transpose(&v4, &[0, 2, 1, 3]); // [B, nh, L, dh]
        let raw = g.op("MatMul", &[&qt, &kt], vec![]);
        let scaled = g.op("Mul", &[&raw, &scale], vec![]);
        let masked = g.op("Add", &[&scaled, &mask_add], vec![]);
        let probs = g.softmax(&masked, -1);
        let ctx = g.op("MatMul", &[&probs, &vt], vec![]); // [B, nh, L, dh]
        let ctx_t = g.transpose(&ctx, &[0, 2, 1, 3]);
        let ctx_flat = g.op("Reshape", &[&ctx_t, &flat_shape], vec![]);
        let attn_out = dense(g, "attention.output.dense", h, h, &ctx_flat)?;
        let res = g.op("Add", &[&attn_out, &x], vec![]);
        let ag = init(g, l("attention.output.LayerNorm.weight"), &[h])?;
        let ab = init(g, l("attention.output.LayerNorm.bias"), &[h])?;
        let a = g.layer_norm(&res, &ag, &ab, cfg.layer_norm_eps);
        let inter = dense(g, "intermediate.dense", f, h, &a)?;
        let act = g.gelu(&inter)?;
        let out = dense(g, "output.dense", h, f, &act)?;
        let res2 = g.op("Add", &[&out, &a], vec![]);
        let og = init(g, l("output.LayerNorm.weight"), &[h])?;
        let ob = init(g, l("output.LayerNorm.bias"), &[h])?;
        x = g.layer_norm(&res2, &og, &ob, cfg.layer_norm_eps);
    }

    Ok(g.op("Reshape", &[&x, &seq_hidden_shape], vec![]))
}

/// A standalone encoder graph: int64 inputs [`io::INPUT_IDS`] and [`io::ATTENTION_MASK`] `[batch, seq]`, float32
/// output [`io::CLS`] `[batch, hidden]`.
pub fn export_onnx(cfg: &BertConfig, w: &Weights, prefix: &str) -> Result<Vec<u8>> {
    let batch = Dim::Symbolic("batch");
    let seq = Dim::Symbolic("seq");
    let mut g = GraphBuilder::new("crag_bert_encoder");
    let ids = g.input_i64(io::INPUT_IDS, &[batch.clone(), seq.clone()]);
    let mask = g.input_i64(io::ATTENTION_MASK, &[batch.clone(), seq]);
    let cls = export_encoder(&mut g, cfg, w, prefix, &ids, &mask)?;
    g.output(&cls, io::CLS, &[batch, Dim::Fixed(cfg.hidden_size)]);
    let arch = serde_json::to_string(cfg).map_err(|e| CragError::Runtime(e.to_string()))?;
    g.finish(&[
        ("crag.kind", "bert_encoder".to_string()),
        ("crag.architecture", arch),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BertConfig {
        BertConfig {
            vocab_size: 50,
            hidden_size: 16,
            num_layers: 2,
            num_heads: 2,
            intermediate_size: 32,
            max_position: 24,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        }
    }

    fn seeded(prefix: &str, seed: u64) -> Weights {
        let cfg = tiny();
        let mut w = Weights::seeded(&cfg.param_specs(prefix), seed);
        // Move LayerNorms off identity so the test sees gamma/beta.
        for spec in cfg.param_specs(prefix) {
            if spec.name.contains("LayerNorm") {
                let base = if spec.name.ends_with("weight") {
                    1.0
                } else {
                    0.0
                };
                let data = (0..spec.numel())
                    .map(|j| base + 0.05 * ((j % 7) as f32 - 3.0))
                    .collect();
                w.insert(spec.name.clone(), spec.shape.clone(), data)
                    .unwrap();
            }
        }
        w
    }

    #[test]
    fn bert_param_specs_are_unique_and_named_like_hf() {
        let cfg = tiny();
        let specs = cfg.param_specs("drug_encoder.");
        let mut names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 5 + 16 * cfg.num_layers);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), specs.len(), "parameter names must be unique");
        assert!(names.contains(&"drug_encoder.embeddings.word_embeddings.weight"));
        assert!(names.contains(&"drug_encoder.encoder.layer.1.attention.self.query.weight"));
        assert!(names.contains(&"drug_encoder.encoder.layer.0.output.LayerNorm.bias"));
        assert!(names.iter().all(|n| n.starts_with("drug_encoder.")));
        let big = BertConfig::minilm_l6().param_specs("");
        let n: usize = big.iter().map(|s| s.numel()).sum();
        assert_eq!(n, 22_565_376, "all-MiniLM-L6-v2 without the pooler");
    }

    #[test]
    fn bert_config_from_hf_json() {
        let json = br#"{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
            "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512,
            "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}"#;
        assert_eq!(
            BertConfig::from_hf_config_json(json).unwrap(),
            BertConfig::minilm_l6()
        );
        let bad = br#"{"vocab_size": 10, "hidden_size": 10, "num_hidden_layers": 1,
            "num_attention_heads": 3, "intermediate_size": 4, "max_position_embeddings": 8}"#;
        assert!(BertConfig::from_hf_config_json(bad).is_err());
        let relu = br#"{"vocab_size": 10, "hidden_size": 6, "num_hidden_layers": 1,
            "num_attention_heads": 3, "intermediate_size": 4, "max_position_embeddings": 8,
            "hidden_act": "relu"}"#;
        assert!(BertConfig::from_hf_config_json(relu).is_err());
    }

    #[test]
    fn bert_reference_shapes_and_input_checks() {
        let cfg = tiny();
        let w = seeded("", 3);
        let ids = [1, 5, 7, 2, 1, 9, 0, 0];
        let mask = [1, 1, 1, 1, 1, 1, 0, 0];
        let cls = reference_forward(&cfg, &w, "", &ids, &mask, 2, 4).unwrap();
        assert_eq!(cls.shape(), &[2, 16]);
        assert!(cls.iter().all(|v| v.is_finite()));
        assert!(reference_forward(&cfg, &w, "", &ids, &mask, 2, 3).is_err());
        assert!(reference_forward(&cfg, &w, "", &[50, 1], &[1, 1], 1, 2).is_err());
        assert!(reference_forward(&cfg, &w, "", &[3, 1], &[1, 2], 1, 2).is_err());
        assert!(reference_forward(&cfg, &w, "x.", &ids, &mask, 2, 4).is_err());
    }

    #[test]
    fn bert_states_hold_cls_as_token_zero() {
        let cfg = tiny();
        let w = seeded("", 3);
        let ids = [1, 5, 7, 2, 1, 9, 0, 0];
        let mask = [1, 1, 1, 1, 1, 1, 0, 0];
        let st = reference_states(&cfg, &w, "", &ids, &mask, 2, 4).unwrap();
        assert_eq!(st.shape(), &[8, 16]);
        let cls = reference_forward(&cfg, &w, "", &ids, &mask, 2, 4).unwrap();
        assert_eq!(cls.row(0), st.row(0));
        assert_eq!(cls.row(1), st.row(4));
        assert!(st.iter().all(|v| v.is_finite()));
        // Token states differ from each other (not a broadcast CLS).
        assert!((&st.row(1) - &st.row(2)).mapv(f32::abs).sum() > 1e-3);
    }

    #[test]
    fn bert_padding_does_not_change_cls() {
        let cfg = tiny();
        let w = seeded("", 4);
        let sent = [1i64, 12, 33, 7, 2];
        let alone = reference_forward(&cfg, &w, "", &sent, &[1; 5], 1, 5).unwrap();
        let mut ids = sent.to_vec();
        ids.extend([0, 0, 0]);
        let mut mask = vec![1i64; 5];
        mask.extend([0, 0, 0]);
        let padded = reference_forward(&cfg, &w, "", &ids, &mask, 1, 8).unwrap();
        let d = (&alone - &padded)
            .mapv(f32::abs)
            .fold(0.0f32, |a, &b| a.max(b));
        assert!(d < 1e-5, "padding changed CLS by {d}");
        // Padding with different junk ids, in a batch next to a longer sentence, still does not matter.
        let mut ids2 = vec![1, 12, 33, 7, 2, 44, 45, 46];
        ids2.extend([1, 3, 4, 5, 6, 8, 9, 2]);
        let mut mask2 = vec![1, 1, 1, 1, 1, 0, 0, 0];
        mask2.extend([1; 8]);
        let batch = reference_forward(&cfg, &w, "", &ids2, &mask2, 2, 8).unwrap();
        let d = (&alone.row(0) - &batch.row(0))
            .mapv(f32::abs)
            .fold(0.0f32, |a, &b| a.max(b));
        assert!(d < 1e-5, "batched padding changed CLS by {d}");
        assert!((&batch.row(0) - &batch.row(1)).mapv(f32::abs).sum() > 1e-3);
    }

    #[test]
    fn bert_pretrained_loader_renames_and_skips_extras() {
        let cfg = tiny();
        let src = seeded("bert.", 5);
        let mut st = src.clone();
        st.insert("bert.pooler.dense.weight", vec![16, 16], vec![0.0; 256])
            .unwrap();
        let bytes = st.to_safetensors().unwrap();
        let mut w = Weights::new();
        load_pretrained_into(&mut w, &cfg, &bytes, "drug_encoder.").unwrap();
        load_pretrained_into(&mut w, &cfg, &bytes, "prot_encoder.").unwrap();
        assert_eq!(w.names().count(), 2 * cfg.param_specs("").len());
        assert!(!w.names().any(|n| n.contains("pooler")));
        let a = reference_forward(&cfg, &w, "drug_encoder.", &[1, 2], &[1, 1], 1, 2).unwrap();
        let b = reference_forward(&cfg, &src, "bert.", &[1, 2], &[1, 1], 1, 2).unwrap();
        assert_eq!(a, b);
        let wrong = BertConfig {
            hidden_size: 8,
            ..tiny()
        };
        assert!(load_pretrained(&wrong, &bytes, "").is_err());
        assert!(load_pretrained(&cfg, b"junk", "").is_err());
    }

    #[test]
    fn bert_export_builds_a_dual_encoder_graph() {
        let cfg = tiny();
        let mut w = seeded("a.", 1);
        let b = seeded("b.", 2);
        for n in b.names() {
            let d = b.array(n).unwrap();
            w.insert(n, d.shape().to_vec(), d.iter().copied().collect())
                .unwrap();
        }
        let mut g = GraphBuilder::new("dual");
        let batch = Dim::Symbolic("batch");
        let seq = Dim::Symbolic("seq");
        let ids = g.input_i64("ids", &[batch.clone(), seq.clone()]);
        let mask = g.input_i64("mask", &[batch.clone(), seq]);
        let ca = export_encoder(&mut g, &cfg, &w, "a.", &ids, &mask).unwrap();
        let cb = export_encoder(&mut g, &cfg, &w, "b.", &ids, &mask).unwrap();
        assert_ne!(ca, cb);
        g.output(&ca, "ca", &[batch.clone(), Dim::Fixed(16)]);
        g.output(&cb, "cb", &[batch, Dim::Fixed(16)]);
        assert!(!g.finish(&[]).unwrap().is_empty());
        assert!(
            export_onnx(&cfg, &w, "c.").is_err(),
            "missing weights are an error"
        );
    }
}
