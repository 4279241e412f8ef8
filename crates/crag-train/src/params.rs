//! tch variables from crag-core parameter specs: the one place a [`ParamSpec`] list becomes trainable tensors.

use std::collections::HashMap;

use crag_core::weights::{Init, ParamSpec, Weights};
use crag_core::{CragError, Result};
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

/// Copy the tensors of `specs` from `w` into the matching variables of `params` (no gradient is recorded).
pub fn load_params(
    params: &HashMap<String, Tensor>,
    specs: &[ParamSpec],
    w: &Weights,
) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for spec in specs {
            let data = w.get(&spec.name, &spec.shape)?;
            let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
            let t = params.get(&spec.name).ok_or_else(|| {
                CragError::CorruptModel(format!("no variable {} in the network", spec.name))
            })?;
            t.shallow_clone().copy_(
                &Tensor::from_slice(data)
                    .reshape(&shape)
                    .to_device(t.device()),
            );
        }
        Ok(())
    })
}

/// Add the current values of the variables of `specs` to `out` (float32, on the CPU).
pub fn export_params(
    params: &HashMap<String, Tensor>,
    specs: &[ParamSpec],
    out: &mut Weights,
) -> Result<()> {
    for spec in specs {
        let t = params
            .get(&spec.name)
            .ok_or_else(|| {
                CragError::CorruptModel(format!("no variable {} in the network", spec.name))
            })?
            .detach()
            .to_device(tch::Device::Cpu)
            .to_kind(tch::Kind::Float)
            .reshape([-1]);
        let data = Vec::<f32>::try_from(&t)
            .map_err(|e| CragError::Runtime(format!("{}: {e}", spec.name)))?;
        out.insert(spec.name.clone(), spec.shape.clone(), data)?;
    }
    Ok(())
}
