//! The dual-encoder relation model in tch, built from [`RelationConfig::param_specs`] (the same list that
//! `crag_core::relation::export_onnx` and the ndarray reference read).

use std::collections::HashMap;

use crag_core::relation::{RelationConfig, ADR_PREFIX, DRUG_PREFIX};
use crag_core::weights::Weights;
use crag_core::Result;
use tch::{nn, Device, Kind, Tensor};

use crate::bert_model::BertEncoder;
use crate::params::{export_params, load_params, vars_from_specs};

/// One side's tokens: int64 `[B, L]` ids and mask.
pub struct Tokens {
    /// Token ids.
    pub ids: Tensor,
    /// Attention mask (1 = token).
    pub mask: Tensor,
}

impl Tokens {
    /// Pad rows of token ids (no special handling: ids already carry [CLS]/[SEP]) into tensors on `device`.
    pub fn from_rows(rows: &[&[i64]], pad_id: u32, device: Device) -> Self {
        Self::from_batch(
            &crag_core::text::Batch::from_rows(rows, pad_id as i64),
            device,
        )
    }

    /// The ids and mask of a tokenized batch as tensors on `device`.
    pub fn from_batch(b: &crag_core::text::Batch, device: Device) -> Self {
        let shape = [b.batch as i64, b.seq_len as i64];
        Tokens {
            ids: Tensor::from_slice(&b.input_ids)
                .reshape(shape)
                .to_device(device),
            mask: Tensor::from_slice(&b.attention_mask)
                .reshape(shape)
                .to_device(device),
        }
    }
}

/// The relation network: drug and ADR encoders, MLB fusion and MLP head.
pub struct RelationNet {
    /// Variables of every parameter.
    pub vs: nn::VarStore,
    /// Architecture.
    pub cfg: RelationConfig,
    drug: BertEncoder,
    adr: BertEncoder,
    head: HashMap<String, Tensor>,
}

impl RelationNet {
    /// Create the variables of `cfg.param_specs()` on `device`.
    pub fn new(cfg: &RelationConfig, device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let drug = BertEncoder::new(&root, &cfg.encoder, DRUG_PREFIX);
        let adr = BertEncoder::new(&root, &cfg.encoder, ADR_PREFIX);
        // Optimizer group 1: the fusion and head, trained from scratch at their own learning rate.
        let head = vars_from_specs(&root.set_group(1), &cfg.head_specs());
        RelationNet {
            vs,
            cfg: cfg.clone(),
            drug,
            adr,
            head,
        }
    }

    /// Load every parameter from `w` (e.g. [`crag_core::relation::init_from_pretrained`]).
    pub fn load(&mut self, w: &Weights) -> Result<()> {
        w.validate(&self.cfg.param_specs())?;
        self.drug.load(w)?;
        self.adr.load(w)?;
        load_params(&self.head, &self.cfg.head_specs(), w)
    }

    /// All parameters as [`Weights`] (for export and checkpoints).
    pub fn weights(&self) -> Result<Weights> {
        let mut w = self.drug.weights()?;
        self.adr.export_into(&mut w)?;
        export_params(&self.head, &self.cfg.head_specs(), &mut w)?;
        Ok(w)
    }

    /// Stop gradients into the embeddings and the first `n` transformer layers of both encoders (faster CPU
    /// training; the frozen part still runs forward).
    pub fn freeze_lower(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        for (name, t) in self.vs.variables() {
            let frozen = name.contains(".embeddings.")
                || (0..n).any(|i| name.contains(&format!(".encoder.layer.{i}.")));
            if frozen {
                let _ = t.set_requires_grad(false);
            }
        }
    }

    /// [CLS] vectors of both sides.
    pub fn encode(
        &self,
        drug: &Tokens,
        adr: &Tokens,
        train: bool,
        dropout: f64,
    ) -> (Tensor, Tensor) {
        (
            self.drug.forward_cls(&drug.ids, &drug.mask, train, dropout),
            self.adr.forward_cls(&adr.ids, &adr.mask, train, dropout),
        )
    }

    fn lin(&self, x: &Tensor, name: &str) -> Tensor {
        x.linear(
            &self.head[&format!("{name}.weight")],
            Some(&self.head[&format!("{name}.bias")]),
        )
    }

    /// The two fusion projections `U d + u` and `V a + v` (before tanh): the spaces InfoNCE compares.
    pub fn project(&self, d: &Tensor, a: &Tensor) -> (Tensor, Tensor) {
        (self.lin(d, "fusion.drug"), self.lin(a, "fusion.adr"))
    }

    /// Logits `[B]` of P(causal) for row-aligned [CLS] vectors.
    pub fn head_logits(&self, d: &Tensor, a: &Tensor, train: bool, dropout: f64) -> Tensor {
        let (pd, pa) = self.project(d, a);
        let fused = (pd.tanh() * pa.tanh()).dropout(dropout, train);
        let h = self.lin(&fused, "head.hidden").gelu("none");
        self.lin(&h, "head.out").reshape([-1])
    }

    /// Logits `[B]` for tokenized pairs.
    pub fn logits(&self, drug: &Tokens, adr: &Tokens, train: bool, dropout: f64) -> Tensor {
        let (d, a) = self.encode(drug, adr, train, dropout);
        self.head_logits(&d, &a, train, dropout)
    }
}

/// Symmetric InfoNCE over in-batch pairs: `cos(z_d_i, z_a_j) / τ`, positives on the diagonal; `exclude[i][j]`
/// removes off-diagonal entries that are true pairs too (the same drug and reaction annotated elsewhere).
pub fn info_nce_masked(zd: &Tensor, za: &Tensor, tau: f64, exclude: &[Vec<bool>]) -> Tensor {
    let n = zd.size()[0];
    let norm = |t: &Tensor| t / t.norm_scalaropt_dim(2.0, [-1], true).clamp_min(1e-12);
    let mut logits = norm(zd).matmul(&norm(za).tr()) / tau;
    let flat: Vec<bool> = exclude.iter().flatten().copied().collect();
    if flat.iter().any(|&b| b) {
        let m = Tensor::from_slice(&flat)
            .reshape([n, n])
            .to_device(logits.device());
        logits = logits.masked_fill(&m, -1e9);
    }
    let labels = Tensor::arange(n, (Kind::Int64, logits.device()));
    let l1 = logits.cross_entropy_for_logits(&labels);
    let l2 = logits.tr().cross_entropy_for_logits(&labels);
    (l1 + l2) * 0.5
}

/// Binary loss on logits: BCE, or focal loss `-(1 - p_t)^γ log p_t` (Lin et al. 2017, α = 0.5: batches are balanced).
pub fn binary_loss(logits: &Tensor, labels: &Tensor, focal_gamma: Option<f64>) -> Tensor {
    match focal_gamma {
        None => logits.binary_cross_entropy_with_logits::<Tensor>(
            labels,
            None,
            None,
            tch::Reduction::Mean,
        ),
        Some(g) => {
            let bce = logits.binary_cross_entropy_with_logits::<Tensor>(
                labels,
                None,
                None,
                tch::Reduction::None,
            );
            let p = logits.sigmoid();
            let p_t = &p * labels + (p.neg() + 1.0) * (labels.neg() + 1.0);
            ((p_t.neg() + 1.0).pow_tensor_scalar(g) * bce).mean(Kind::Float)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focal_loss_with_gamma_zero_is_bce_and_downweights_easy_examples() {
        let logits = Tensor::from_slice(&[3.0f32, -2.0, 0.5, -0.1]);
        let labels = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0]);
        let bce = f64::try_from(binary_loss(&logits, &labels, None)).unwrap();
        let f0 = f64::try_from(binary_loss(&logits, &labels, Some(0.0))).unwrap();
        assert!((bce - f0).abs() < 1e-6);
        let f2 = f64::try_from(binary_loss(&logits, &labels, Some(2.0))).unwrap();
        assert!(f2 < bce);
        // Hand value for one example: logit 0.5, label 0: p = 0.6225, BCE = 0.9741, (p)^2 · BCE = 0.3775.
        let one = f64::try_from(binary_loss(
            &Tensor::from_slice(&[0.5f32]),
            &Tensor::from_slice(&[0.0f32]),
            Some(2.0),
        ))
        .unwrap();
        assert!((one - 0.3775).abs() < 1e-3, "{one}");
    }

    #[test]
    fn info_nce_mask_removes_false_negatives() {
        let zd = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 0.0]).reshape([2, 2]);
        let za = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 0.0]).reshape([2, 2]);
        let plain = f64::try_from(info_nce_masked(
            &zd,
            &za,
            0.07,
            &[vec![false; 2], vec![false; 2]],
        ))
        .unwrap();
        // Identical rows: each row's two logits tie, loss = ln 2.
        assert!((plain - 2f64.ln()).abs() < 1e-5);
        let masked = f64::try_from(info_nce_masked(
            &zd,
            &za,
            0.07,
            &[vec![false, true], vec![true, false]],
        ))
        .unwrap();
        assert!(
            masked < 1e-5,
            "with the duplicate masked nothing competes: {masked}"
        );
    }
}
