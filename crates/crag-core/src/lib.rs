//! CRAG core: the plain-Rust heart of the CRAG PostgreSQL extension.
//!
//! Nothing here depends on pgrx or tch: the extension (`crag`) and the trainer (`crag-train`) both call into this
//! crate. Architectures are described once ([`dti::DtiConfig::param_specs`]) and feed training, ONNX export
//! ([`onnx`]) and the ndarray reference passes used as test oracles.

pub mod artifacts;
pub mod bert;
pub mod data;
pub mod dti;
pub mod error;
pub mod features;
pub mod metrics;
pub mod ner;
pub mod onnx;
pub mod relation;
pub mod runtime;
pub mod stats;
pub mod text;
pub mod tfidf;
pub mod validate;
pub mod weights;

pub use error::{CragError, Result};
