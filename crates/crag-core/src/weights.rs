//! Named f32 tensors: the weight exchange format between the trainer, the exporters and the reference passes.
//!
//! On disk and in the database they are safetensors; names and shapes come from each architecture's
//! parameter list, so one description serves training and export.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::{CragError, Result};

/// Name and shape of one learnable parameter, plus how to initialise it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Dotted parameter name, e.g. `drug_adapter.fc1.weight`.
    pub name: String,
    /// Tensor shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Initialisation used by seeded exports and by the trainer.
    pub init: Init,
}

/// Parameter initialisation schemes (PyTorch defaults where they exist).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, PyTorch's `nn.Linear` default.
    Uniform { fan_in: usize },
    /// Every element equals the value.
    Constant(f32),
}

impl ParamSpec {
    /// A parameter with the given name, shape and initialiser.
    pub fn new(name: impl Into<String>, shape: &[usize], init: Init) -> Self {
        ParamSpec {
            name: name.into(),
            shape: shape.to_vec(),
            init,
        }
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A set of named f32 tensors (row-major).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weights {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Weights {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert (or replace) a tensor, checking that the shape matches the data.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f32>,
    ) -> Result<()> {
        let name = name.into();
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(CragError::CorruptModel(format!(
                "tensor {name}: shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        self.tensors.insert(name, (shape, data));
        Ok(())
    }

    /// A copy in which each named `[rows, cols]` tensor is replaced by `f(data, rows, cols)`.
    fn map_matrices(
        &self,
        names: &[String],
        mut f: impl FnMut(&[f32], usize, usize) -> Vec<f32>,
    ) -> Result<Weights> {
        let mut out = self.clone();
        for name in names {
            let (shape, data) = self
                .tensors
                .get(name)
                .ok_or_else(|| CragError::CorruptModel(format!("weight {name} is missing")))?;
            let [rows, cols] = shape[..] else {
                return Err(CragError::CorruptModel(format!(
                    "weight {name} has shape {shape:?}; only matrices are quantised"
                )));
            };
            out.insert(name.clone(), shape.clone(), f(data, rows, cols))?;
        }
        Ok(out)
    }

    /// A copy in which each named `[rows, cols]` tensor is replaced by its per-row int8 round trip
    /// ([`crate::onnx::quantize_rows_int8`] then dequantised): the weights an int8 graph computes with.
    pub fn int8_round_trip(&self, names: &[String]) -> Result<Weights> {
        self.map_matrices(names, |data, rows, cols| {
            let (q, s) = crate::onnx::quantize_rows_int8(data, rows, cols);
            crate::onnx::dequantize_rows_int8(&q, &s, cols)
        })
    }

    /// Like [`Self::int8_round_trip`], but each value rounds to one of its two neighbouring int8 levels at random,
    /// up with probability equal to its distance from the lower one (seeded ChaCha8): unbiased, so a fine-tuning
    /// update smaller than half a step survives on average instead of being rounded away. The row scales are the
    /// same, so [`crate::onnx::quantize_rows_int8`] of the result reproduces these levels exactly.
    pub fn int8_stochastic_round_trip(&self, names: &[String], seed: u64) -> Result<Weights> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.map_matrices(names, |data, _, cols| {
            let mut v = Vec::with_capacity(data.len());
            for row in data.chunks(cols.max(1)) {
                let amax = row.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
                let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
                v.extend(row.iter().map(|&x| {
                    let t = f64::from(x / s);
                    let lo = t.floor();
                    let q = if rng.random::<f64>() < t - lo {
                        lo + 1.0
                    } else {
                        lo
                    };
                    q.clamp(-127.0, 127.0) as f32 * s
                }));
            }
            v
        })
    }

    /// Share of a training update that an export keeps: ⟨shipped − init, trained − init⟩ / ‖trained − init‖² over
    /// the tensors `names`. 1.0 keeps the update whole; near 0 means the export brought the weights back to where
    /// training started, as when weights that were already int8 are fine-tuned by less than half a quantisation
    /// step and quantised again on the same grid. NaN when training changed nothing.
    pub fn update_retained(
        init: &Weights,
        trained: &Weights,
        shipped: &Weights,
        names: &[String],
    ) -> Result<f64> {
        let (mut dot, mut norm) = (0.0f64, 0.0f64);
        for name in names {
            let (shape, t) = trained
                .tensors
                .get(name)
                .ok_or_else(|| CragError::CorruptModel(format!("weight {name} is missing")))?;
            let i = init.get(name, shape)?;
            let q = shipped.get(name, shape)?;
            for ((&t, &i), &q) in t.iter().zip(i).zip(q) {
                let d = f64::from(t) - f64::from(i);
                dot += (f64::from(q) - f64::from(i)) * d;
                norm += d * d;
            }
        }
        Ok(if norm > 0.0 { dot / norm } else { f64::NAN })
    }

    /// Tensor names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(|s| s.as_str())
    }

    /// The raw data of `name`, checked against `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let (s, d) = self
            .tensors
            .get(name)
            .ok_or_else(|| CragError::CorruptModel(format!("weight {name} is missing")))?;
        if s != shape {
            return Err(CragError::CorruptModel(format!(
                "weight {name} has shape {s:?}, expected {shape:?}"
            )));
        }
        Ok(d)
    }

    /// `name` as a matrix `[rows, cols]`.
    pub fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Array2<f32>> {
        let d = self.get(name, &[rows, cols])?;
        Array2::from_shape_vec((rows, cols), d.to_vec())
            .map_err(|e| CragError::CorruptModel(e.to_string()))
    }

    /// `name` as a vector of length `n`.
    pub fn vector(&self, name: &str, n: usize) -> Result<Array1<f32>> {
        Ok(Array1::from_vec(self.get(name, &[n])?.to_vec()))
    }

    /// `name` as a scalar (shape `[]`).
    pub fn scalar(&self, name: &str) -> Result<f32> {
        Ok(self.get(name, &[])?[0])
    }

    /// `name` as an n-dimensional array.
    pub fn array(&self, name: &str) -> Result<ArrayD<f32>> {
        let (s, d) = self
            .tensors
            .get(name)
            .ok_or_else(|| CragError::CorruptModel(format!("weight {name} is missing")))?;
        ArrayD::from_shape_vec(IxDyn(s), d.clone())
            .map_err(|e| CragError::CorruptModel(e.to_string()))
    }

    /// Check that every spec is present with the right shape, and nothing non-finite slipped in.
    pub fn validate(&self, specs: &[ParamSpec]) -> Result<()> {
        for spec in specs {
            let d = self.get(&spec.name, &spec.shape)?;
            if d.iter().any(|v| !v.is_finite()) {
                return Err(CragError::CorruptModel(format!(
                    "weight {} contains NaN or Inf",
                    spec.name
                )));
            }
        }
        Ok(())
    }

    /// Deterministic initialisation of every spec from `seed` (ChaCha8).
    pub fn seeded(specs: &[ParamSpec], seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut w = Weights::new();
        for spec in specs {
            let data: Vec<f32> = match spec.init {
                Init::Uniform { fan_in } => {
                    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                    (0..spec.numel())
                        .map(|_| rng.random_range(-bound..bound))
                        .collect()
                }
                Init::Constant(c) => vec![c; spec.numel()],
            };
            w.tensors
                .insert(spec.name.clone(), (spec.shape.clone(), data));
        }
        w
    }

    /// Parse safetensors bytes (f32 tensors only).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| CragError::CorruptModel(format!("reading safetensors: {e}")))?;
        let mut w = Weights::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(CragError::CorruptModel(format!(
                    "tensor {name} has dtype {:?}; only F32 is supported",
                    view.dtype()
                )));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            w.insert(name, view.shape().to_vec(), data)?;
        }
        Ok(w)
    }

    /// Serialise to safetensors bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, (s, d))| {
                (
                    n.clone(),
                    s.clone(),
                    d.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(n, s, b)| {
                TensorView::new(Dtype::F32, s.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| CragError::CorruptModel(format!("tensor {n}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        safetensors::serialize(views, None)
            .map_err(|e| CragError::CorruptModel(format!("writing safetensors: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stochastic_rounding_keeps_small_updates_on_average() {
        // One row: its largest value fixes the step (1/127); the others sit 0.3 step above a level.
        let step = 1.0f32 / 127.0;
        let mut row = vec![1.0f32];
        row.extend((0..2000).map(|i| ((i % 100) as f32 - 50.0 + 0.3) * step));
        let mut w = Weights::new();
        w.insert("m", vec![1, row.len()], row.clone()).unwrap();
        let names = vec!["m".to_string()];
        let sr = w.int8_stochastic_round_trip(&names, 7).unwrap();
        let got = sr.get("m", &[1, row.len()]).unwrap();
        let mean_shift: f32 = got[1..]
            .iter()
            .zip(&row[1..])
            .map(|(q, x)| (q - x) / step)
            .sum::<f32>()
            / 2000.0;
        assert!(mean_shift.abs() < 0.05, "unbiased: {mean_shift}");
        let near = w.int8_round_trip(&names).unwrap();
        let near_shift: f32 = near.get("m", &[1, row.len()]).unwrap()[1..]
            .iter()
            .zip(&row[1..])
            .map(|(q, x)| (q - x) / step)
            .sum::<f32>()
            / 2000.0;
        assert!(
            (near_shift + 0.3).abs() < 1e-3,
            "nearest rounding drops the 0.3 step: {near_shift}"
        );
        assert_eq!(near.get("m", &[1, row.len()]).unwrap()[0], 1.0);
        assert_eq!(
            sr.int8_round_trip(&names).unwrap(),
            sr,
            "the exporter reproduces the levels"
        );
        assert_ne!(
            sr,
            w.int8_stochastic_round_trip(&names, 8).unwrap(),
            "seeded"
        );
    }

    #[test]
    fn update_retained_measures_what_int8_export_keeps() {
        let names = vec!["m".to_string()];
        let mk = |v: Vec<f32>| {
            let mut w = Weights::new();
            w.insert("m", vec![2, 4], v).unwrap();
            w
        };
        // Start on the int8 grid (a dequantised model), move every weight but the rows' largest (which set the
        // scales) by far less than half a step: the export erases the update.
        let start = mk(vec![1.0, -0.5, 0.25, 0.125, 2.0, 1.0, -1.0, 0.5])
            .int8_round_trip(&names)
            .unwrap();
        let small: Vec<f32> = start
            .get("m", &[2, 4])
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 4 == 0 { *x } else { x + 1e-4 })
            .collect();
        let trained = mk(small);
        let shipped = trained.int8_round_trip(&names).unwrap();
        let kept = Weights::update_retained(&start, &trained, &shipped, &names).unwrap();
        assert!(kept.abs() < 0.05, "{kept}");
        // A float export keeps everything; an update of several steps survives int8 mostly.
        assert!(
            (Weights::update_retained(&start, &trained, &trained, &names).unwrap() - 1.0).abs()
                < 1e-9
        );
        let big = mk(start
            .get("m", &[2, 4])
            .unwrap()
            .iter()
            .map(|x| x + 0.1)
            .collect());
        let kept =
            Weights::update_retained(&start, &big, &big.int8_round_trip(&names).unwrap(), &names)
                .unwrap();
        assert!(kept > 0.8, "{kept}");
        assert!(Weights::update_retained(&start, &start, &start, &names)
            .unwrap()
            .is_nan());
    }

    use super::*;

    #[test]
    fn safetensors_round_trip_and_shape_checks() {
        let specs = vec![
            ParamSpec::new("a.weight", &[3, 2], Init::Uniform { fan_in: 2 }),
            ParamSpec::new("a.scale", &[], Init::Constant(0.5)),
        ];
        let w = Weights::seeded(&specs, 7);
        w.validate(&specs).unwrap();
        let back = Weights::from_safetensors(&w.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.scalar("a.scale").unwrap(), 0.5);
        assert!(back.get("a.weight", &[2, 3]).is_err());
        assert!(back.get("missing", &[1]).is_err());
        let bound = 1.0 / 2f32.sqrt();
        assert!(back
            .get("a.weight", &[3, 2])
            .unwrap()
            .iter()
            .all(|v| v.abs() < bound));
    }

    #[test]
    fn seeding_is_deterministic_and_seed_dependent() {
        let specs = vec![ParamSpec::new("x", &[16], Init::Uniform { fan_in: 4 })];
        assert_eq!(Weights::seeded(&specs, 1), Weights::seeded(&specs, 1));
        assert_ne!(Weights::seeded(&specs, 1), Weights::seeded(&specs, 2));
    }

    #[test]
    fn validate_rejects_non_finite() {
        let specs = vec![ParamSpec::new("x", &[2], Init::Constant(0.0))];
        let mut w = Weights::new();
        w.insert("x", vec![2], vec![1.0, f32::NAN]).unwrap();
        assert!(w.validate(&specs).is_err());
        assert!(w.insert("y", vec![3], vec![1.0]).is_err());
    }
}
