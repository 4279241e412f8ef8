//! `crag-train` as a library: the tch models and training loops behind the `crag-train` binary.
//!
//! Architectures come from `crag-core` (one description each); this crate only adds what training needs.

pub mod bert_model;
pub mod boundary_fit;
pub mod curves;
pub mod dti_model;
pub mod dti_quantize;
pub mod dti_run;
pub mod dti_train;
pub mod ner_cli;
pub mod ner_model;
pub mod ner_train;
pub mod outputs;
pub mod params;
pub mod progress;
pub mod publish;
pub mod re_data;
pub mod re_eval;
pub mod relation_eval;
pub mod relation_model;
pub mod relation_run;
pub mod relation_train;
