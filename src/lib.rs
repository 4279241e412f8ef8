//! CRAG: pharmacovigilance models in PostgreSQL. This crate is the thin PostgreSQL edge over `crag-core`.

mod arrays;
mod dti;
mod error;
mod features;
mod gucs;
mod models;
mod ner;
mod registry;
mod relation;
mod signals;

pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);

/// Registers the `crag.*` settings; models and the ONNX Runtime are loaded lazily, per backend.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    include!("tests.rs");
}

/// Hooks for `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    /// Nothing to set up beyond CREATE EXTENSION.
    pub fn setup(_options: Vec<&str>) {}

    /// The test cluster loads ONNX Runtime from `ORT_DYLIB_PATH` (default: where scripts/setup-deps.sh puts it).
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        let lib = std::env::var("ORT_DYLIB_PATH")
            .unwrap_or_else(|_| "/usr/local/lib/crag/libonnxruntime.so".into());
        vec![Box::leak(
            format!("crag.onnxruntime_library = '{lib}'").into_boxed_str(),
        )]
    }
}
