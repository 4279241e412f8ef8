//! The DTI/ADR multi-task model of `dti_adr_spec.md`: one description for training, export and reference.
//!
//! * Adapters `f_d`, `f_p`, `f_a`: `Linear(in, r·d) → GELU → Dropout → Linear(r·d, d) → LayerNorm(d)`.
//! * DTI head: cosine with learnable log-scale (`logit = exp(s)·cos(u, v)`) or bilinear (`logit = Σ u ⊙ W v + b`).
//! * ADR head: `Softplus(Linear(d, K))` regressing TF-IDF rows.
//! * Pair-conditioned ADR scorer: `score_k = σ(α·u·c_k + β·v·c_k + γ·u·v)` over prototypes `C ∈ ℝ^{K×d}`.
//!
//! [`DtiConfig::param_specs`] is the single list of parameters (names, shapes, initialisers); the trainer creates
//! its variables from it, [`export_onnx`] writes the inference graph from the same names and [`reference_forward`]
//! is the ndarray oracle both are tested against.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::onnx::{Dim, GraphBuilder, WeightPrecision};
use crate::weights::{Init, ParamSpec, Weights};
use crate::{CragError, Result};

/// Which DTI head the model uses (spec §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtiHead {
    /// Cosine similarity scaled by a learnable temperature (the spec's default).
    Cosine,
    /// Bilinear form `uᵀ W v + b`.
    Bilinear,
}

/// Shape of a DTI/ADR model. Stored as `config.architecture` with every model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DtiConfig {
    /// Length of the raw drug vector `x_d`.
    pub drug_dim: usize,
    /// Length of the raw protein vector `x_p`.
    pub prot_dim: usize,
    /// Number of ADR columns `K` (TF-IDF vocabulary size).
    pub n_adr: usize,
    /// Shared space size `d`.
    pub d: usize,
    /// Adapter hidden width is `hidden_ratio · d`.
    pub hidden_ratio: usize,
    /// DTI head.
    pub head: DtiHead,
    /// LayerNorm epsilon (PyTorch default 1e-5).
    #[serde(default = "default_ln_eps")]
    pub ln_eps: f32,
    /// How the large matrices ([`DtiConfig::int8_matrix_names`]) are stored in the ONNX graph. Absent (float32) in
    /// configs written before quantisation existed, and not written when float32, so float32 configs and graphs
    /// are unchanged.
    #[serde(default, skip_serializing_if = "is_f32")]
    pub precision: WeightPrecision,
}

fn default_ln_eps() -> f32 {
    1e-5
}

fn is_f32(p: &WeightPrecision) -> bool {
    *p == WeightPrecision::F32
}

/// Epsilon of `F.normalize` in the cosine head.
pub const NORMALIZE_EPS: f32 = 1e-12;

/// Names of the ONNX graph's inputs and outputs, shared by the exporter and the server.
pub mod io {
    /// Input: raw drug vectors `[B, drug_dim]`.
    pub const DRUG: &str = "drug";
    /// Input: raw protein vectors `[B, prot_dim]`.
    pub const PROTEIN: &str = "protein";
    /// Output: DTI logits `[B]`.
    pub const LOGIT: &str = "logit";
    /// Output: binding probabilities `[B]`.
    pub const P_BIND: &str = "p_bind";
    /// Output: drug embeddings `u` `[B, d]`.
    pub const U: &str = "u";
    /// Output: protein embeddings `v` `[B, d]`.
    pub const V: &str = "v";
    /// Output: predicted TF-IDF ADR profile `[B, K]`.
    pub const ADR_PRED: &str = "adr_pred";
    /// Output: pair-scorer α (scalar).
    pub const ALPHA: &str = "pair_alpha";
    /// Output: pair-scorer β (scalar).
    pub const BETA: &str = "pair_beta";
    /// Output: pair-scorer γ (scalar).
    pub const GAMMA: &str = "pair_gamma";
}

impl DtiConfig {
    /// The spec's recommended defaults for the given input sizes (`d = 512`, ratio 2, cosine head).
    pub fn new(drug_dim: usize, prot_dim: usize, n_adr: usize) -> Self {
        DtiConfig {
            drug_dim,
            prot_dim,
            n_adr,
            d: 512,
            hidden_ratio: 2,
            head: DtiHead::Cosine,
            ln_eps: 1e-5,
            precision: WeightPrecision::F32,
        }
    }

    /// Reject degenerate shapes.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("drug_dim", self.drug_dim),
            ("prot_dim", self.prot_dim),
            ("n_adr", self.n_adr),
            ("d", self.d),
            ("hidden_ratio", self.hidden_ratio),
        ] {
            if v == 0 {
                return Err(CragError::CorruptModel(format!(
                    "DTI config: {name} must be positive"
                )));
            }
        }
        Ok(())
    }

    fn hidden(&self) -> usize {
        self.hidden_ratio * self.d
    }

    fn adapter_specs(&self, prefix: &str, in_dim: usize) -> Vec<ParamSpec> {
        let h = self.hidden();
        vec![
            ParamSpec::new(
                format!("{prefix}.fc1.weight"),
                &[h, in_dim],
                Init::Uniform { fan_in: in_dim },
            ),
            ParamSpec::new(
                format!("{prefix}.fc1.bias"),
                &[h],
                Init::Uniform { fan_in: in_dim },
            ),
            ParamSpec::new(
                format!("{prefix}.fc2.weight"),
                &[self.d, h],
                Init::Uniform { fan_in: h },
            ),
            ParamSpec::new(
                format!("{prefix}.fc2.bias"),
                &[self.d],
                Init::Uniform { fan_in: h },
            ),
            ParamSpec::new(
                format!("{prefix}.ln.weight"),
                &[self.d],
                Init::Constant(1.0),
            ),
            ParamSpec::new(format!("{prefix}.ln.bias"), &[self.d], Init::Constant(0.0)),
        ]
    }

    /// Parameters needed at inference (what the ONNX graph holds).
    pub fn inference_specs(&self) -> Vec<ParamSpec> {
        let mut specs = self.adapter_specs("drug_adapter", self.drug_dim);
        specs.extend(self.adapter_specs("prot_adapter", self.prot_dim));
        match self.head {
            DtiHead::Cosine => {
                specs.push(ParamSpec::new(
                    "dti_head.log_scale",
                    &[],
                    Init::Constant(10f32.ln()),
                ));
            }
            DtiHead::Bilinear => {
                specs.push(ParamSpec::new(
                    "dti_head.weight",
                    &[self.d, self.d],
                    Init::Uniform { fan_in: self.d },
                ));
                specs.push(ParamSpec::new("dti_head.bias", &[], Init::Constant(0.0)));
            }
        }
        specs.push(ParamSpec::new(
            "adr_head.weight",
            &[self.n_adr, self.d],
            Init::Uniform { fan_in: self.d },
        ));
        specs.push(ParamSpec::new(
            "adr_head.bias",
            &[self.n_adr],
            Init::Uniform { fan_in: self.d },
        ));
        specs.push(ParamSpec::new(
            "pair_scorer.alpha",
            &[],
            Init::Constant(1.0),
        ));
        specs.push(ParamSpec::new("pair_scorer.beta", &[], Init::Constant(1.0)));
        specs.push(ParamSpec::new(
            "pair_scorer.gamma",
            &[],
            Init::Constant(0.5),
        ));
        specs
    }

    /// Matrices stored as int8 under [`WeightPrecision::Int8`]: the `Linear` weights of both adapters, the ADR head
    /// and (bilinear head) the DTI head matrix; in the shipped shape 99.8 % of the graph's parameters. Biases,
    /// LayerNorm parameters and the scalars stay float32.
    pub fn int8_matrix_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for prefix in ["drug_adapter", "prot_adapter"] {
            names.push(format!("{prefix}.fc1.weight"));
            names.push(format!("{prefix}.fc2.weight"));
        }
        if self.head == DtiHead::Bilinear {
            names.push("dti_head.weight".into());
        }
        names.push("adr_head.weight".into());
        names
    }

    /// Every learnable parameter: inference parameters plus the training-only ADR adapter `f_a`.
    pub fn param_specs(&self) -> Vec<ParamSpec> {
        let mut specs = self.inference_specs();
        specs.extend(self.adapter_specs("adr_adapter", self.n_adr));
        specs
    }
}

/// Outputs of one batched forward pass.
#[derive(Debug, Clone)]
pub struct DtiOutputs {
    /// DTI logits `[B]`.
    pub logit: Array1<f32>,
    /// Binding probabilities `[B]`.
    pub p_bind: Array1<f32>,
    /// Drug embeddings `[B, d]`.
    pub u: Array2<f32>,
    /// Protein embeddings `[B, d]`.
    pub v: Array2<f32>,
    /// Predicted ADR TF-IDF `[B, K]`.
    pub adr_pred: Array2<f32>,
}

fn gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + statrs::function::erf::erf(x / std::f64::consts::SQRT_2))) as f32
}

fn softplus(x: f32) -> f32 {
    // torch.nn.functional.softplus with threshold 20.
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Logistic sigmoid, numerically stable for large |x|.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn linear(x: ArrayView2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Array2<f32> {
    x.dot(&w.t()) + b
}

fn layer_norm(x: &mut Array2<f32>, g: &Array1<f32>, b: &Array1<f32>, eps: f32) {
    for mut row in x.rows_mut() {
        let n = row.len() as f32;
        let mean = row.sum() / n;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + eps).sqrt();
        for (i, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inv * g[i] + b[i];
        }
    }
}

fn adapter(
    cfg: &DtiConfig,
    w: &Weights,
    prefix: &str,
    in_dim: usize,
    x: ArrayView2<f32>,
) -> Result<Array2<f32>> {
    let h = cfg.hidden();
    let w1 = w.matrix(&format!("{prefix}.fc1.weight"), h, in_dim)?;
    let b1 = w.vector(&format!("{prefix}.fc1.bias"), h)?;
    let w2 = w.matrix(&format!("{prefix}.fc2.weight"), cfg.d, h)?;
    let b2 = w.vector(&format!("{prefix}.fc2.bias"), cfg.d)?;
    let g = w.vector(&format!("{prefix}.ln.weight"), cfg.d)?;
    let b = w.vector(&format!("{prefix}.ln.bias"), cfg.d)?;
    let hidden = linear(x, &w1, &b1).mapv(gelu);
    let mut out = linear(hidden.view(), &w2, &b2);
    layer_norm(&mut out, &g, &b, cfg.ln_eps);
    Ok(out)
}

fn l2_normalize_rows(x: &Array2<f32>) -> Array2<f32> {
    let mut out = x.clone();
    for mut row in out.rows_mut() {
        let n = row.dot(&row).sqrt().max(NORMALIZE_EPS);
        row.mapv_inplace(|v| v / n);
    }
    out
}

/// Reference forward pass in ndarray (inference mode: dropout is the identity).
pub fn reference_forward(
    cfg: &DtiConfig,
    w: &Weights,
    drug: ArrayView2<f32>,
    prot: ArrayView2<f32>,
) -> Result<DtiOutputs> {
    cfg.validate()?;
    if drug.ncols() != cfg.drug_dim || prot.ncols() != cfg.prot_dim || drug.nrows() != prot.nrows()
    {
        return Err(CragError::invalid(format!(
            "reference_forward: got drug {:?} and protein {:?}, expected [B, {}] and [B, {}]",
            drug.shape(),
            prot.shape(),
            cfg.drug_dim,
            cfg.prot_dim
        )));
    }
    let u = adapter(cfg, w, "drug_adapter", cfg.drug_dim, drug)?;
    let v = adapter(cfg, w, "prot_adapter", cfg.prot_dim, prot)?;
    let logit: Array1<f32> = match cfg.head {
        DtiHead::Cosine => {
            let scale = w.scalar("dti_head.log_scale")?.exp();
            (l2_normalize_rows(&u) * l2_normalize_rows(&v)).sum_axis(Axis(1)) * scale
        }
        DtiHead::Bilinear => {
            let wm = w.matrix("dti_head.weight", cfg.d, cfg.d)?;
            let b = w.scalar("dti_head.bias")?;
            (&u * &v.dot(&wm.t())).sum_axis(Axis(1)) + b
        }
    };
    let aw = w.matrix("adr_head.weight", cfg.n_adr, cfg.d)?;
    let ab = w.vector("adr_head.bias", cfg.n_adr)?;
    let adr_pred = linear(u.view(), &aw, &ab).mapv(softplus);
    let p_bind = logit.mapv(sigmoid);
    Ok(DtiOutputs {
        logit,
        p_bind,
        u,
        v,
        adr_pred,
    })
}

fn export_adapter(
    g: &mut GraphBuilder,
    cfg: &DtiConfig,
    w: &Weights,
    prefix: &str,
    in_dim: usize,
    x: &str,
) -> Result<String> {
    let h = cfg.hidden();
    let p = |s: &str| format!("{prefix}.{s}");
    let w1 = g.weight_matrix(
        &p("fc1.weight"),
        [h, in_dim],
        w.get(&p("fc1.weight"), &[h, in_dim])?,
    )?;
    let b1 = g.initializer(&p("fc1.bias"), &[h], w.get(&p("fc1.bias"), &[h])?)?;
    let w2 = g.weight_matrix(
        &p("fc2.weight"),
        [cfg.d, h],
        w.get(&p("fc2.weight"), &[cfg.d, h])?,
    )?;
    let b2 = g.initializer(&p("fc2.bias"), &[cfg.d], w.get(&p("fc2.bias"), &[cfg.d])?)?;
    let lg = g.initializer(&p("ln.weight"), &[cfg.d], w.get(&p("ln.weight"), &[cfg.d])?)?;
    let lb = g.initializer(&p("ln.bias"), &[cfg.d], w.get(&p("ln.bias"), &[cfg.d])?)?;
    let hid = g.linear(x, &w1, Some(&b1));
    let act = g.gelu(&hid)?;
    let out = g.linear(&act, &w2, Some(&b2));
    Ok(g.layer_norm(&out, &lg, &lb, cfg.ln_eps))
}

/// Write the inference graph (adapters, DTI head, ADR head, pair-scorer scalars) as ONNX bytes.
///
/// Inputs `drug [B, drug_dim]`, `protein [B, prot_dim]`; outputs are named in [`io`]. The batch size is dynamic.
/// The matrices of [`DtiConfig::int8_matrix_names`] are stored in `cfg.precision` (float32, or per-row int8 expanded
/// by `DequantizeLinear`); everything else is float32.
pub fn export_onnx(cfg: &DtiConfig, w: &Weights) -> Result<Vec<u8>> {
    cfg.validate()?;
    w.validate(&cfg.inference_specs())?;
    let batch = Dim::Symbolic("batch");
    let mut g = GraphBuilder::new("crag_dti_adr");
    g.set_weight_precision(cfg.precision);
    let drug = g.input(io::DRUG, &[batch.clone(), Dim::Fixed(cfg.drug_dim)]);
    let prot = g.input(io::PROTEIN, &[batch.clone(), Dim::Fixed(cfg.prot_dim)]);
    let u = export_adapter(&mut g, cfg, w, "drug_adapter", cfg.drug_dim, &drug)?;
    let v = export_adapter(&mut g, cfg, w, "prot_adapter", cfg.prot_dim, &prot)?;
    let logit = match cfg.head {
        DtiHead::Cosine => {
            let s = g.initializer("dti_head.log_scale", &[], w.get("dti_head.log_scale", &[])?)?;
            let un = g.l2_normalize(&u, NORMALIZE_EPS)?;
            let vn = g.l2_normalize(&v, NORMALIZE_EPS)?;
            let prod = g.op("Mul", &[&un, &vn], vec![]);
            let cos = g.sum_last(&prod);
            let scale = g.op("Exp", &[&s], vec![]);
            g.op("Mul", &[&cos, &scale], vec![])
        }
        DtiHead::Bilinear => {
            let wm = g.weight_matrix(
                "dti_head.weight",
                [cfg.d, cfg.d],
                w.get("dti_head.weight", &[cfg.d, cfg.d])?,
            )?;
            let b = g.initializer("dti_head.bias", &[], w.get("dti_head.bias", &[])?)?;
            let wv = g.linear(&v, &wm, None);
            let prod = g.op("Mul", &[&u, &wv], vec![]);
            let s = g.sum_last(&prod);
            g.op("Add", &[&s, &b], vec![])
        }
    };
    let p_bind = g.op("Sigmoid", &[&logit], vec![]);
    let aw = g.weight_matrix(
        "adr_head.weight",
        [cfg.n_adr, cfg.d],
        w.get("adr_head.weight", &[cfg.n_adr, cfg.d])?,
    )?;
    let ab = g.initializer(
        "adr_head.bias",
        &[cfg.n_adr],
        w.get("adr_head.bias", &[cfg.n_adr])?,
    )?;
    let adr_lin = g.linear(&u, &aw, Some(&ab));
    let adr = g.op("Softplus", &[&adr_lin], vec![]);
    let alpha = g.initializer("pair_scorer.alpha", &[], w.get("pair_scorer.alpha", &[])?)?;
    let beta = g.initializer("pair_scorer.beta", &[], w.get("pair_scorer.beta", &[])?)?;
    let gamma = g.initializer("pair_scorer.gamma", &[], w.get("pair_scorer.gamma", &[])?)?;

    g.output(&logit, io::LOGIT, std::slice::from_ref(&batch));
    g.output(&p_bind, io::P_BIND, std::slice::from_ref(&batch));
    g.output(&u, io::U, &[batch.clone(), Dim::Fixed(cfg.d)]);
    g.output(&v, io::V, &[batch.clone(), Dim::Fixed(cfg.d)]);
    g.output(&adr, io::ADR_PRED, &[batch, Dim::Fixed(cfg.n_adr)]);
    g.output(&alpha, io::ALPHA, &[]);
    g.output(&beta, io::BETA, &[]);
    g.output(&gamma, io::GAMMA, &[]);
    let arch = serde_json::to_string(cfg).map_err(|e| CragError::Runtime(e.to_string()))?;
    g.finish(&[
        ("crag.kind", "dti_adr".to_string()),
        ("crag.architecture", arch),
    ])
}

/// Learned scalars of the pair-conditioned ADR scorer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScorer {
    /// Weight of the drug–prototype similarity.
    pub alpha: f32,
    /// Weight of the protein–prototype similarity.
    pub beta: f32,
    /// Weight of the drug–protein interaction term.
    pub gamma: f32,
}

/// ADR prototypes `C ∈ ℝ^{K×d}` (spec §1.5, §6); an all-zero row has no supporting train drug and is masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Prototypes {
    matrix: Array2<f32>,
    present: Vec<bool>,
}

impl Prototypes {
    /// Build from rows; `None` or an all-zero row marks an ADR without prototype.
    pub fn from_rows(
        k: usize,
        d: usize,
        rows: impl IntoIterator<Item = (usize, Option<Vec<f32>>)>,
    ) -> Result<Self> {
        let mut matrix = Array2::<f32>::zeros((k, d));
        let mut present = vec![false; k];
        for (idx, row) in rows {
            if idx >= k {
                return Err(CragError::CorruptModel(format!(
                    "prototype for ADR index {idx}, but the model has K = {k}"
                )));
            }
            let Some(row) = row else { continue };
            if row.len() != d {
                return Err(CragError::CorruptModel(format!(
                    "prototype {idx} has {} values, expected d = {d}",
                    row.len()
                )));
            }
            if row.iter().any(|v| !v.is_finite()) {
                return Err(CragError::CorruptModel(format!(
                    "prototype {idx} contains NaN or Inf"
                )));
            }
            present[idx] = row.iter().any(|&v| v != 0.0);
            matrix.row_mut(idx).assign(&Array1::from_vec(row));
        }
        Ok(Prototypes { matrix, present })
    }

    /// Number of ADRs `K`.
    pub fn k(&self) -> usize {
        self.present.len()
    }

    /// Whether ADR `k` has a prototype.
    pub fn is_present(&self, k: usize) -> bool {
        self.present.get(k).copied().unwrap_or(false)
    }

    /// Number of ADRs that have a prototype.
    pub fn n_present(&self) -> usize {
        self.present.iter().filter(|p| **p).count()
    }
}

/// One ranked ADR for a (drug, protein) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedAdr {
    /// 1-based rank.
    pub rank: usize,
    /// Column index in the model's ADR vocabulary.
    pub adr_index: usize,
    /// `σ(α s + β m + γ r)`.
    pub score: f32,
    /// `p_bind · score`.
    pub joint_score: f32,
}

/// PairADRScorer scores for every ADR (`None` where the prototype is masked).
pub fn pair_adr_scores(
    scorer: &PairScorer,
    u: &[f32],
    v: &[f32],
    c: &Prototypes,
) -> Vec<Option<f32>> {
    let u = ndarray::ArrayView1::from(u);
    let v = ndarray::ArrayView1::from(v);
    let s = c.matrix.dot(&u);
    let m = c.matrix.dot(&v);
    let r = u.dot(&v);
    (0..c.k())
        .map(|k| {
            c.present[k]
                .then(|| sigmoid(scorer.alpha * s[k] + scorer.beta * m[k] + scorer.gamma * r))
        })
        .collect()
}

/// The `k` best unmasked ADRs by score (ties broken by lower index), with joint scores `p_bind · score`.
pub fn top_k_adr(
    scorer: &PairScorer,
    u: &[f32],
    v: &[f32],
    p_bind: f32,
    c: &Prototypes,
    k: usize,
) -> Result<Vec<RankedAdr>> {
    let u = ndarray::ArrayView2::from_shape((1, u.len()), u)
        .map_err(|e| CragError::invalid(e.to_string()))?;
    let v = ndarray::ArrayView2::from_shape((1, v.len()), v)
        .map_err(|e| CragError::invalid(e.to_string()))?;
    Ok(top_k_adr_batch(scorer, u, v, &[p_bind], c, k)?
        .pop()
        .unwrap_or_default())
}

/// [`top_k_adr`] for a batch of row-paired embeddings `u`, `v` (`[B, d]`): the similarities to all prototypes are
/// two matrix products (`U Cᵀ`, `V Cᵀ`), so `C` is read once per batch instead of twice per pair.
pub fn top_k_adr_batch(
    scorer: &PairScorer,
    u: ArrayView2<f32>,
    v: ArrayView2<f32>,
    p_bind: &[f32],
    c: &Prototypes,
    k: usize,
) -> Result<Vec<Vec<RankedAdr>>> {
    if k == 0 {
        return Err(CragError::invalid("k must be positive"));
    }
    let d = c.matrix.ncols();
    if u.ncols() != d || v.ncols() != d || u.nrows() != v.nrows() || u.nrows() != p_bind.len() {
        return Err(CragError::CorruptModel(format!(
            "embeddings {:?} / {:?} for {} pairs do not match prototype size {d}",
            u.shape(),
            v.shape(),
            p_bind.len()
        )));
    }
    // One pair: two matrix-vector products; several: two matrix products over the whole batch.
    let (s, m) = if u.nrows() == 1 {
        let s = c.matrix.dot(&u.row(0)).insert_axis(ndarray::Axis(0));
        let m = c.matrix.dot(&v.row(0)).insert_axis(ndarray::Axis(0));
        (s, m)
    } else {
        (u.dot(&c.matrix.t()), v.dot(&c.matrix.t()))
    };
    let mut out = Vec::with_capacity(u.nrows());
    for (i, &p) in p_bind.iter().enumerate() {
        let r = u.row(i).dot(&v.row(i));
        let mut scored: Vec<(usize, f32)> = (0..c.k())
            .filter(|&j| c.present[j])
            .map(|j| {
                (
                    j,
                    sigmoid(scorer.alpha * s[[i, j]] + scorer.beta * m[[i, j]] + scorer.gamma * r),
                )
            })
            .collect();
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
        }
        scored.sort_by(order);
        out.push(
            scored
                .into_iter()
                .enumerate()
                .map(|(rank, (adr_index, score))| RankedAdr {
                    rank: rank + 1,
                    adr_index,
                    score,
                    joint_score: p * score,
                })
                .collect(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    pub(crate) fn tiny(head: DtiHead) -> DtiConfig {
        DtiConfig {
            drug_dim: 12,
            prot_dim: 9,
            n_adr: 7,
            d: 8,
            hidden_ratio: 2,
            head,
            ln_eps: 1e-5,
            precision: WeightPrecision::F32,
        }
    }

    fn inputs(cfg: &DtiConfig, b: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let d = Array2::from_shape_fn((b, cfg.drug_dim), |_| rng.random_range(-1.0..1.0));
        let p = Array2::from_shape_fn((b, cfg.prot_dim), |_| rng.random_range(-1.0..1.0));
        (d, p)
    }

    #[test]
    fn param_specs_have_unique_names_and_cover_training_adapter() {
        let cfg = tiny(DtiHead::Bilinear);
        let specs = cfg.param_specs();
        let mut names: Vec<_> = specs.iter().map(|s| s.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), specs.len());
        assert!(names.iter().any(|n| n == "adr_adapter.fc1.weight"));
        assert!(!cfg
            .inference_specs()
            .iter()
            .any(|s| s.name.starts_with("adr_adapter")));
    }

    #[test]
    fn reference_forward_shapes_and_ranges() {
        for head in [DtiHead::Cosine, DtiHead::Bilinear] {
            let cfg = tiny(head);
            let w = Weights::seeded(&cfg.param_specs(), 3);
            let (d, p) = inputs(&cfg, 5, 1);
            let out = reference_forward(&cfg, &w, d.view(), p.view()).unwrap();
            assert_eq!(out.u.shape(), &[5, 8]);
            assert_eq!(out.adr_pred.shape(), &[5, 7]);
            assert!(out.p_bind.iter().all(|p| (0.0..=1.0).contains(p)));
            assert!(
                out.adr_pred.iter().all(|v| *v >= 0.0),
                "softplus keeps ADR predictions non-negative"
            );
            // LayerNorm with unit gain / zero bias: each embedding row has mean 0 and variance ~1.
            for row in out.u.rows() {
                assert!(row.mean().unwrap().abs() < 1e-5);
            }
            if head == DtiHead::Cosine {
                // |cos| ≤ 1, so |logit| ≤ exp(log 10) = 10.
                assert!(out.logit.iter().all(|l| l.abs() <= 10.0 + 1e-4));
            }
        }
    }

    #[test]
    fn reference_forward_rejects_wrong_dims() {
        let cfg = tiny(DtiHead::Cosine);
        let w = Weights::seeded(&cfg.param_specs(), 3);
        let d = Array2::<f32>::zeros((2, 11));
        let p = Array2::<f32>::zeros((2, 9));
        assert!(reference_forward(&cfg, &w, d.view(), p.view()).is_err());
    }

    #[test]
    fn export_requires_every_inference_weight() {
        let cfg = tiny(DtiHead::Cosine);
        let mut w = Weights::new();
        w.insert("drug_adapter.fc1.weight", vec![16, 12], vec![0.0; 192])
            .unwrap();
        let err = export_onnx(&cfg, &w).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn pair_scorer_matches_formula_and_masks_zero_prototypes() {
        let c = Prototypes::from_rows(
            3,
            2,
            vec![
                (0, Some(vec![1.0, 0.0])),
                (1, Some(vec![0.0, 0.0])),
                (2, Some(vec![0.5, 0.5])),
            ],
        )
        .unwrap();
        assert_eq!(c.n_present(), 2);
        let sc = PairScorer {
            alpha: 1.0,
            beta: 2.0,
            gamma: 0.5,
        };
        let u = [1.0, 2.0];
        let v = [3.0, -1.0];
        let scores = pair_adr_scores(&sc, &u, &v, &c);
        // k=0: s = 1, m = 3, r = 3 - 2 = 1 → σ(1 + 6 + 0.5)
        assert!((scores[0].unwrap() - sigmoid(7.5)).abs() < 1e-7);
        assert!(scores[1].is_none());
        // k=2: s = 1.5, m = 1.0 → σ(1.5 + 2 + 0.5)
        assert!((scores[2].unwrap() - sigmoid(4.0)).abs() < 1e-7);
        let top = top_k_adr(&sc, &u, &v, 0.5, &c, 10).unwrap();
        assert_eq!(top.len(), 2, "masked ADRs never appear");
        assert_eq!((top[0].rank, top[0].adr_index), (1, 0));
        assert_eq!(top[1].adr_index, 2);
        assert!((top[0].joint_score - 0.5 * top[0].score).abs() < 1e-7);
        assert!(top_k_adr(&sc, &u, &v, 0.5, &c, 0).is_err());
    }

    #[test]
    fn batched_top_k_equals_full_sort_of_pair_scores() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (k_adr, d) = (40, 6);
        let rows = (0..k_adr).map(|i| {
            let row: Vec<f32> = if i % 7 == 3 {
                vec![0.0; d]
            } else {
                (0..d).map(|_| rng.random_range(-1.0..1.0)).collect()
            };
            (i, Some(row))
        });
        let c = Prototypes::from_rows(k_adr, d, rows).unwrap();
        let u = Array2::from_shape_fn((3, d), |_| rng.random_range(-1.0f32..1.0));
        let v = Array2::from_shape_fn((3, d), |_| rng.random_range(-1.0f32..1.0));
        let sc = PairScorer {
            alpha: 0.7,
            beta: -0.3,
            gamma: 0.2,
        };
        let batch = top_k_adr_batch(&sc, u.view(), v.view(), &[0.1, 0.5, 0.9], &c, 5).unwrap();
        for (i, got) in batch.iter().enumerate() {
            let mut all: Vec<(usize, f32)> = pair_adr_scores(
                &sc,
                u.row(i).as_slice().unwrap(),
                v.row(i).as_slice().unwrap(),
                &c,
            )
            .into_iter()
            .enumerate()
            .filter_map(|(j, s)| s.map(|s| (j, s)))
            .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let want: Vec<usize> = all.iter().take(5).map(|x| x.0).collect();
            assert_eq!(got.iter().map(|r| r.adr_index).collect::<Vec<_>>(), want);
            assert!(got.iter().all(|r| r.adr_index % 7 != 3));
            assert!((got[0].score - all[0].1).abs() < 1e-6);
        }
    }

    #[test]
    fn config_without_precision_reads_as_f32_and_f32_is_not_written() {
        // The architecture stored in models/dti/model.json before quantisation existed.
        let old = serde_json::json!({"d": 512, "drug_dim": 2048, "head": "cosine", "hidden_ratio": 2,
            "ln_eps": 9.999999747378752e-06, "n_adr": 3863, "prot_dim": 420});
        let cfg: DtiConfig = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(cfg.precision, WeightPrecision::F32);
        assert_eq!(cfg, DtiConfig::new(2048, 420, 3863));
        assert_eq!(
            serde_json::to_value(&cfg).unwrap(),
            old,
            "float32 configs are written as before"
        );
        let int8 = DtiConfig {
            precision: WeightPrecision::Int8,
            ..cfg
        };
        let v = serde_json::to_value(&int8).unwrap();
        assert_eq!(v["precision"], "int8");
        assert_eq!(serde_json::from_value::<DtiConfig>(v).unwrap(), int8);
    }

    #[test]
    fn f32_export_is_byte_identical_to_the_exporter_before_quantisation() {
        // SHA-256 of these exports computed with the exporter before `precision` existed (commit 822cafe).
        for (head, len, sha) in [
            (
                DtiHead::Cosine,
                6399,
                "61782a0f65fac520d9d07212a38a7b84f26a599aa8edffb3d97eeef725d53c7c",
            ),
            (
                DtiHead::Bilinear,
                6310,
                "e4ceb6f90834fc4ff7681327bbdf090f87ad6108c0dc1a8278eef0cd88f6b578",
            ),
        ] {
            let cfg = tiny(head);
            let w = Weights::seeded(&cfg.param_specs(), 7);
            let bytes = export_onnx(&cfg, &w).unwrap();
            assert_eq!(bytes.len(), len, "{head:?}");
            assert_eq!(crate::artifacts::sha256_hex(&bytes), sha, "{head:?}");
        }
    }

    #[test]
    fn int8_export_stores_the_large_matrices_and_reads_back() {
        for head in [DtiHead::Cosine, DtiHead::Bilinear] {
            let cfg = tiny(head);
            let names = cfg.int8_matrix_names();
            assert_eq!(names.len(), if head == DtiHead::Bilinear { 6 } else { 5 });
            let specs = cfg.inference_specs();
            for n in &names {
                let spec = specs
                    .iter()
                    .find(|s| &s.name == n)
                    .expect("an inference matrix");
                assert_eq!(spec.shape.len(), 2, "{n}");
            }
            let w = Weights::seeded(&cfg.param_specs(), 4);
            let f = export_onnx(&cfg, &w).unwrap();
            let int8 = DtiConfig {
                precision: WeightPrecision::Int8,
                ..cfg.clone()
            };
            let q = export_onnx(&int8, &w).unwrap();
            assert!(
                q.len() < f.len(),
                "{head:?}: int8 {} >= f32 {}",
                q.len(),
                f.len()
            );
            // Read back: exact from float32, the int8 round trip from int8 (other parameters exact).
            let back = crate::onnx::weights_from_onnx(&f, &specs).unwrap();
            let back_q = crate::onnx::weights_from_onnx(&q, &specs).unwrap();
            let wq = w.int8_round_trip(&names).unwrap();
            for spec in &specs {
                let get = |x: &Weights| x.get(&spec.name, &spec.shape).unwrap().to_vec();
                assert_eq!(get(&back), get(&w), "{}", spec.name);
                assert_eq!(get(&back_q), get(&wq), "{}", spec.name);
            }
            let reexport = export_onnx(&int8, &back).unwrap();
            assert_eq!(
                reexport, q,
                "re-exporting recovered float32 weights gives the same int8 graph"
            );
        }
        // With a realistic shape, int8 is about a quarter of float32.
        let cfg = DtiConfig {
            d: 64,
            ..DtiConfig::new(256, 60, 300)
        };
        let w = Weights::seeded(&cfg.param_specs(), 1);
        let f = export_onnx(&cfg, &w).unwrap().len() as f64;
        let q = export_onnx(
            &DtiConfig {
                precision: WeightPrecision::Int8,
                ..cfg
            },
            &w,
        )
        .unwrap()
        .len() as f64;
        assert!(q / f < 0.3, "int8 / f32 = {}", q / f);
    }

    #[test]
    fn prototypes_reject_bad_rows() {
        assert!(Prototypes::from_rows(2, 2, vec![(2, Some(vec![1.0, 1.0]))]).is_err());
        assert!(Prototypes::from_rows(2, 2, vec![(0, Some(vec![1.0]))]).is_err());
        assert!(Prototypes::from_rows(2, 2, vec![(0, Some(vec![f32::NAN, 1.0]))]).is_err());
    }
}
