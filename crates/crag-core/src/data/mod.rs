//! Readers for the public corpora CRAG trains and evaluates on. Paths are always given by the caller.

pub mod ade;
pub mod causality;
pub mod dti;
pub mod pubtator;
pub mod sider;
