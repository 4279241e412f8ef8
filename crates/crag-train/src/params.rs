//! tch variables from crag-core parameter specs: the one place a [`ParamSpec`] list becomes trainable tensors.

use std::collections::HashMap;

use crag_core::weights::{Init, ParamSpec};
use tch::{nn, Tensor};

/// Create one variable per spec under `root` (dotted names become nested paths, so the variable store's names equal
/// the spec names), initialised as the spec says; returns them by spec name.
pub fn vars_from_specs(root: &nn::Path, specs: &[ParamSpec]) -> HashMap<String, Tensor> {
    let mut params = HashMap::new();
    for spec in specs {
        let parts: Vec<&str> = spec.name.split('.').filter(|s| !s.is_empty()).collect();
        let mut path = root.clone();
        for part in &parts[..parts.len().saturating_sub(1)] {
            path = path / *part;
        }
        let init = match spec.init {
            Init::Uniform { fan_in } => {
                let b = 1.0 / (fan_in.max(1) as f64).sqrt();
                nn::Init::Uniform { lo: -b, up: b }
            }
            Init::Constant(c) => nn::Init::Const(c as f64),
        };
        let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
        let leaf = parts.last().copied().unwrap_or("param");
        params.insert(spec.name.clone(), path.var(leaf, &shape, init));
    }
    params
}
