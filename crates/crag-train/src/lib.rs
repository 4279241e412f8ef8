//! `crag-train` as a library: the tch models and training loops behind the `crag-train` binary.
//!
//! Architectures come from `crag-core` (one description each); this crate only adds what training needs.

pub mod dti_model;
