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

    /// Relation logits `[B, n_relation_labels]` for int64 `ids`, `mask` `[B, L]` and marker positions `pairs`
    /// `[B, 2]` (the relation head of `cfg.relations`; panics without one).
    pub fn relation_logits(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        pairs: &Tensor,
        train: bool,
        dropout: f64,
    ) -> Tensor {
        let states = self
            .encoder
            .forward_states(ids, mask, train, dropout)
            .dropout(dropout, train);
        let (b, h) = (states.size()[0], states.size()[2]);
        let idx = pairs.unsqueeze(-1).expand([b, 2, h], false);
        let picked = states.gather(1, &idx, false).reshape([b, 2 * h]);
        picked
            .linear(
                &self.head["relation.hidden.weight"],
                Some(&self.head["relation.hidden.bias"]),
            )
            .gelu("none")
            .dropout(dropout, train)
            .linear(
                &self.head["relation.out.weight"],
                Some(&self.head["relation.out.bias"]),
            )
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

/// Partial-label cross-entropy over relation logits `[B, K]`: `valid` `[B, K]` (bool) restricts the softmax to the
/// labels the pair's types allow, `allowed` `[B, K]` (bool, a subset) holds the labels the annotation permits
/// (one for an annotated relation; several for "anything but the annotated relation"). The loss is
/// `−log Σ_{allowed} p`, averaged over the batch.
pub fn partial_label_loss(logits: &Tensor, valid: &Tensor, allowed: &Tensor) -> Tensor {
    let neg = -1e4;
    let masked = logits.masked_fill(&valid.logical_not(), neg);
    let all = masked.logsumexp([-1], false);
    let ok = masked
        .masked_fill(&allowed.logical_not(), neg)
        .logsumexp([-1], false);
    (all - ok).mean(tch::Kind::Float)
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

    #[test]
    fn partial_label_loss_matches_hand_values() {
        let logits = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 50.0]).reshape([1, 4]);
        let valid = Tensor::from_slice(&[true, true, true, false]).reshape([1, 4]);
        let one = Tensor::from_slice(&[false, false, true, false]).reshape([1, 4]);
        let two = Tensor::from_slice(&[true, true, false, false]).reshape([1, 4]);
        let z = 1.0f64 + 1f64.exp() + 2f64.exp();
        let l1 = f64::try_from(partial_label_loss(&logits, &valid, &one)).unwrap();
        assert!((l1 - (z / 2f64.exp()).ln()).abs() < 1e-5, "{l1}");
        let l2 = f64::try_from(partial_label_loss(&logits, &valid, &two)).unwrap();
        assert!((l2 - (z / (1.0 + 1f64.exp())).ln()).abs() < 1e-5, "{l2}");
    }
}
