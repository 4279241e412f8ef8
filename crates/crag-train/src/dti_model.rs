//! The DTI/ADR model in tch, built from [`DtiConfig::param_specs`] so it has exactly the parameters the ONNX
//! exporter and the ndarray reference read.

use std::collections::HashMap;

use crag_core::dti::{DtiConfig, DtiHead, NORMALIZE_EPS};
use crag_core::weights::Weights;
use crag_core::{CragError, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::params::vars_from_specs;

/// Trainable DTI/ADR network: adapters `f_d`, `f_p`, `f_a`, DTI head, ADR head and pair-scorer scalars.
pub struct DtiNet {
    /// Architecture.
    pub cfg: DtiConfig,
    /// The variable store (owned so the optimiser can be built on it).
    pub vs: nn::VarStore,
    params: HashMap<String, Tensor>,
    /// Dropout inside adapters.
    pub dropout: f64,
}

impl DtiNet {
    /// Create every parameter of `cfg.param_specs()` with its initialiser, seeded.
    pub fn new(cfg: &DtiConfig, device: Device, seed: u64, dropout: f64) -> Self {
        tch::manual_seed(seed as i64);
        let vs = nn::VarStore::new(device);
        let params = vars_from_specs(&vs.root(), &cfg.param_specs());
        DtiNet {
            cfg: cfg.clone(),
            vs,
            params,
            dropout,
        }
    }

    fn p(&self, name: &str) -> &Tensor {
        // Every name used below is created in `new` from the same spec list.
        &self.params[name]
    }

    fn adapter(&self, prefix: &str, x: &Tensor, train: bool) -> Tensor {
        let d = self.cfg.d as i64;
        let h = x.linear(
            self.p(&format!("{prefix}.fc1.weight")),
            Some(self.p(&format!("{prefix}.fc1.bias"))),
        );
        let h = h.gelu("none").dropout(self.dropout, train);
        let o = h.linear(
            self.p(&format!("{prefix}.fc2.weight")),
            Some(self.p(&format!("{prefix}.fc2.bias"))),
        );
        o.layer_norm(
            [d],
            Some(self.p(&format!("{prefix}.ln.weight"))),
            Some(self.p(&format!("{prefix}.ln.bias"))),
            self.cfg.ln_eps as f64,
            false,
        )
    }

    /// `u = f_d(x_d)`.
    pub fn encode_drug(&self, x: &Tensor, train: bool) -> Tensor {
        self.adapter("drug_adapter", x, train)
    }

    /// `v = f_p(x_p)`.
    pub fn encode_protein(&self, x: &Tensor, train: bool) -> Tensor {
        self.adapter("prot_adapter", x, train)
    }

    /// `w = f_a(t_d)` (training only).
    pub fn encode_adr(&self, t: &Tensor, train: bool) -> Tensor {
        self.adapter("adr_adapter", &t.dropout(self.dropout, train), train)
    }

    /// DTI logits for row-paired `u`, `v`.
    pub fn dti_logit(&self, u: &Tensor, v: &Tensor) -> Tensor {
        match self.cfg.head {
            DtiHead::Cosine => {
                let un = l2_normalize(u);
                let vn = l2_normalize(v);
                (un * vn).sum_dim_intlist(-1, false, Kind::Float)
                    * self.p("dti_head.log_scale").exp()
            }
            DtiHead::Bilinear => {
                let wv = v.linear::<&Tensor>(self.p("dti_head.weight"), None);
                (u * wv).sum_dim_intlist(-1, false, Kind::Float) + self.p("dti_head.bias")
            }
        }
    }

    /// Softplus ADR head: predicted TF-IDF rows `[B, K]`.
    pub fn adr_pred(&self, u: &Tensor) -> Tensor {
        u.linear(self.p("adr_head.weight"), Some(self.p("adr_head.bias")))
            .softplus()
    }

    /// Pair-scorer scalars `(α, β, γ)`.
    pub fn scorer_params(&self) -> (&Tensor, &Tensor, &Tensor) {
        (
            self.p("pair_scorer.alpha"),
            self.p("pair_scorer.beta"),
            self.p("pair_scorer.gamma"),
        )
    }

    /// Parameters other than the pair scorer (trained by the multi-task loss).
    pub fn network_params(&self) -> Vec<Tensor> {
        let mut names: Vec<&String> = self
            .params
            .keys()
            .filter(|n| !n.starts_with("pair_scorer."))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| self.params[n].shallow_clone())
            .collect()
    }

    /// Copy every parameter out as f32 [`Weights`].
    pub fn weights(&self) -> Result<Weights> {
        let mut w = Weights::new();
        for spec in self.cfg.param_specs() {
            let t = self
                .p(&spec.name)
                .detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .reshape([-1]);
            let data = Vec::<f32>::try_from(&t)
                .map_err(|e| CragError::Runtime(format!("{}: {e}", spec.name)))?;
            w.insert(spec.name.clone(), spec.shape.clone(), data)?;
        }
        Ok(w)
    }

    /// Overwrite one parameter with `data` (its shape is the spec's).
    pub fn set_param(&mut self, name: &str, data: &[f32]) -> Result<()> {
        let spec = self
            .cfg
            .param_specs()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| CragError::invalid(format!("no parameter {name}")))?;
        if spec.numel() != data.len() {
            return Err(CragError::invalid(format!(
                "{name} needs {} values, got {}",
                spec.numel(),
                data.len()
            )));
        }
        let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
        let src = Tensor::from_slice(data)
            .reshape(&shape)
            .to_device(self.vs.device());
        tch::no_grad(|| self.params[name].shallow_clone().copy_(&src));
        Ok(())
    }

    /// Load parameters from [`Weights`] (e.g. the best checkpoint).
    pub fn load_weights(&mut self, w: &Weights) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for spec in self.cfg.param_specs() {
                let data = w.get(&spec.name, &spec.shape)?;
                let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
                let src = Tensor::from_slice(data)
                    .reshape(&shape)
                    .to_device(self.vs.device());
                self.params[&spec.name].shallow_clone().copy_(&src);
            }
            Ok(())
        })
    }
}

/// `F.normalize(x, dim=-1)`.
pub fn l2_normalize(x: &Tensor) -> Tensor {
    let n = x
        .norm_scalaropt_dim(2, [-1i64].as_slice(), true)
        .clamp_min(NORMALIZE_EPS as f64);
    x / n
}

/// Bidirectional InfoNCE over in-batch negatives (spec §1.4), temperature `tau`.
pub fn info_nce(a: &Tensor, b: &Tensor, tau: f64) -> Tensor {
    let logits = l2_normalize(a).matmul(&l2_normalize(b).tr()) / tau;
    let n = logits.size()[0];
    let labels = Tensor::arange(n, (Kind::Int64, logits.device()));
    let l1 = logits.cross_entropy_for_logits(&labels);
    let l2 = logits.tr().cross_entropy_for_logits(&labels);
    (l1 + l2) * 0.5
}
