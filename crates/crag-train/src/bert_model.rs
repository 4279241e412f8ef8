//! The BERT encoder in tch, built from [`BertConfig::param_specs`] so training, ONNX export
//! (`crag_core::bert::export_encoder`) and the ndarray reference share one parameter list. Pretrained weights
//! (all-MiniLM-L6-v2, or any BERT with the Hugging Face layout) are loaded from [`Weights`].

use std::collections::HashMap;

use crag_core::bert::{BertConfig, MASK_VALUE};
use crag_core::weights::Weights;
use crag_core::Result;
use tch::{nn, Kind, Tensor};

use crate::params::{export_params, load_params, vars_from_specs};

/// A BERT encoder (per-token states or [CLS] pooling) whose parameters live under `prefix` in a tch variable store.
pub struct BertEncoder {
    /// Architecture.
    pub cfg: BertConfig,
    prefix: String,
    params: HashMap<String, Tensor>,
}

impl BertEncoder {
    /// Create the parameters of `cfg.param_specs(prefix)` under `root` with the specs' initialisers.
    pub fn new(root: &nn::Path, cfg: &BertConfig, prefix: &str) -> Self {
        let params = vars_from_specs(root, &cfg.param_specs(prefix));
        BertEncoder {
            cfg: cfg.clone(),
            prefix: prefix.to_string(),
            params,
        }
    }

    fn p(&self, name: &str) -> &Tensor {
        // Every name is created in `new` from the same spec list.
        &self.params[&format!("{}{name}", self.prefix)]
    }

    /// Copy pretrained (or exported) weights in; every spec must be present with its shape.
    pub fn load(&mut self, w: &Weights) -> Result<()> {
        load_params(&self.params, &self.cfg.param_specs(&self.prefix), w)
    }

    /// Copy the current parameters out as [`Weights`] (for export).
    pub fn weights(&self) -> Result<Weights> {
        let mut w = Weights::new();
        self.export_into(&mut w)?;
        Ok(w)
    }

    /// Add the current parameters to `out` (e.g. next to another encoder's).
    pub fn export_into(&self, out: &mut Weights) -> Result<()> {
        export_params(&self.params, &self.cfg.param_specs(&self.prefix), out)
    }

    fn layer_norm(&self, x: &Tensor, name: &str) -> Tensor {
        x.layer_norm(
            [self.cfg.hidden_size as i64],
            Some(self.p(&format!("{name}.weight"))),
            Some(self.p(&format!("{name}.bias"))),
            self.cfg.layer_norm_eps as f64,
            false,
        )
    }

    fn linear(&self, x: &Tensor, name: &str) -> Tensor {
        x.linear(
            self.p(&format!("{name}.weight")),
            Some(self.p(&format!("{name}.bias"))),
        )
    }

    /// [CLS] hidden state `[B, H]` for int64 `input_ids` and `attention_mask` `[B, L]` (token type 0): token 0 of
    /// [`Self::forward_states`].
    pub fn forward_cls(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
        dropout: f64,
    ) -> Tensor {
        self.forward_states(input_ids, attention_mask, train, dropout)
            .select(1, 0)
    }

    /// Final hidden state of every token, `[B, L, H]`, for int64 `input_ids` and `attention_mask` `[B, L]`.
    pub fn forward_states(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
        dropout: f64,
    ) -> Tensor {
        let (b, l) = input_ids.size2().unwrap_or((0, 0));
        let h = self.cfg.hidden_size as i64;
        let nh = self.cfg.num_heads as i64;
        let dh = self.cfg.head_dim() as i64;
        let word = self
            .p("embeddings.word_embeddings.weight")
            .index_select(0, &input_ids.reshape([-1]))
            .reshape([b, l, h]);
        let pos = self
            .p("embeddings.position_embeddings.weight")
            .narrow(0, 0, l)
            .unsqueeze(0);
        let token_type = self.p("embeddings.token_type_embeddings.weight").get(0);
        let mut x = self
            .layer_norm(&((word + pos) + token_type), "embeddings.LayerNorm")
            .dropout(dropout, train);
        let mask_add = (attention_mask.to_kind(Kind::Float).neg() + 1.0).reshape([b, 1, 1, l])
            * (MASK_VALUE as f64);
        let scale = 1.0 / (dh as f64).sqrt();
        for i in 0..self.cfg.num_layers {
            let n = |s: &str| format!("encoder.layer.{i}.{s}");
            let heads = |t: Tensor| t.reshape([b, l, nh, dh]).transpose(1, 2);
            let q = heads(self.linear(&x, &n("attention.self.query")));
            let k = heads(self.linear(&x, &n("attention.self.key")));
            let v = heads(self.linear(&x, &n("attention.self.value")));
            let scores = q.matmul(&k.transpose(-1, -2)) * scale + &mask_add;
            let probs = scores.softmax(-1, Kind::Float).dropout(dropout, train);
            let ctx = probs
                .matmul(&v)
                .transpose(1, 2)
                .contiguous()
                .reshape([b, l, h]);
            let attn = self
                .linear(&ctx, &n("attention.output.dense"))
                .dropout(dropout, train);
            x = self.layer_norm(&(attn + &x), &n("attention.output.LayerNorm"));
            let inter = self.linear(&x, &n("intermediate.dense")).gelu("none");
            let out = self
                .linear(&inter, &n("output.dense"))
                .dropout(dropout, train);
            x = self.layer_norm(&(out + &x), &n("output.LayerNorm"));
        }
        x
    }
}
