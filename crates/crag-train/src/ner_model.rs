//! The NER token classifier in tch, built from [`NerConfig::param_specs`] (the same list that
//! `crag_core::ner::model::export_onnx` and the ndarray reference read).

use std::collections::HashMap;

use crag_core::ner::model::{NerConfig, ENCODER_PREFIX};
use crag_core::ner::tagging::IGNORE;
use crag_core::weights::Weights;
use crag_core::Result;
use tch::{nn, Device, Tensor};

use crate::bert_model::BertEncoder;
use crate::params::{export_params, load_params, vars_from_specs};

/// Encoder and linear classification head over every token.
pub struct NerNet {
    /// Variables of every parameter (group 0: encoder, group 1: head).
    pub vs: nn::VarStore,
    /// Architecture.
    pub cfg: NerConfig,
    encoder: BertEncoder,
    head: HashMap<String, Tensor>,
}

impl NerNet {
    /// Create the variables of `cfg.param_specs()` on `device`.
    pub fn new(cfg: &NerConfig, device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = BertEncoder::new(&root, &cfg.encoder, ENCODER_PREFIX);
        let head = vars_from_specs(&root.set_group(1), &cfg.head_specs());
        NerNet {
            vs,
            cfg: cfg.clone(),
            encoder,
            head,
        }
    }

    /// Load every parameter from `w` (e.g. [`crag_core::ner::model::init_from_pretrained`]).
    pub fn load(&mut self, w: &Weights) -> Result<()> {
        w.validate(&self.cfg.param_specs())?;
        self.encoder.load(w)?;
        load_params(&self.head, &self.cfg.head_specs(), w)
    }

    /// All parameters as [`Weights`].
    pub fn weights(&self) -> Result<Weights> {
        let mut w = self.encoder.weights()?;
        export_params(&self.head, &self.cfg.head_specs(), &mut w)?;
        Ok(w)
    }

    /// Logits `[B, L, n_labels]` for int64 `ids` and `mask` `[B, L]`; dropout on the states when training.
    pub fn logits(&self, ids: &Tensor, mask: &Tensor, train: bool, dropout: f64) -> Tensor {
        let states = self
            .encoder
            .forward_states(ids, mask, train, dropout)
            .dropout(dropout, train);
        states.linear(
            &self.head["classifier.weight"],
            Some(&self.head["classifier.bias"]),
        )
    }
}

/// Token-classification cross-entropy over `[B, L, n]` logits and `[B, L]` labels, skipping [`IGNORE`] positions.
pub fn token_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    let n = logits.size().last().copied().unwrap_or(1);
    logits.reshape([-1, n]).cross_entropy_loss::<Tensor>(
        &labels.reshape([-1]),
        None,
        tch::Reduction::Mean,
        IGNORE,
        0.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_loss_ignores_minus_100() {
        let logits = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 5.0, 1.0, 1.0]).reshape([1, 3, 2]);
        let all = Tensor::from_slice(&[0i64, 1, 0]).reshape([1, 3]);
        let some = Tensor::from_slice(&[0i64, IGNORE, 0]).reshape([1, 3]);
        let l_all = f64::try_from(token_loss(&logits, &all)).unwrap();
        let l_some = f64::try_from(token_loss(&logits, &some)).unwrap();
        // Mean over the two kept positions: (ln(1 + e^-2) + ln 2) / 2.
        let want = ((1.0 + (-2.0f64).exp()).ln() + 2f64.ln()) / 2.0;
        assert!((l_some - want).abs() < 1e-5, "{l_some} vs {want}");
        assert!((l_all - l_some).abs() > 1e-3);
    }
}
