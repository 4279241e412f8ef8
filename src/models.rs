//! SQL entry points for loading models from files and inspecting the per-backend runtime.

use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::registry;

/// Import a model directory (as written by `crag-train … --out DIR`) as a new version; returns the version.
/// Importing the same ONNX bytes with the same config again returns the existing version. Needs superuser or pg_read_server_files.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn import_model(path: &str, activate: default!(bool, true)) -> i32 {
    registry::import_dir(path, activate).or_raise()
}

/// Import (idempotently) and activate the models packaged under `$sharedir/extension/crag_models`.
#[pg_extern(volatile, parallel_unsafe)]
fn import_default_models() -> TableIterator<'static, (name!(model, String), name!(version, i32))> {
    TableIterator::new(registry::import_defaults().or_raise())
}

/// What this backend has loaded: the ONNX Runtime library and the cached model sessions.
#[pg_extern(volatile, parallel_safe)]
fn runtime_info() -> pgrx::JsonB {
    let models: Vec<_> = registry::cached_models()
        .into_iter()
        .map(|(name, version, device, dequantize_once)| {
            serde_json::json!({"model": name, "version": version, "device": device, "dequantize_once": dequantize_once})
        })
        .collect();
    pgrx::JsonB(serde_json::json!({
        "onnxruntime_library": crag_core::runtime::loaded_library(),
        "configured_library": crate::gucs::onnxruntime_library(),
        "sessions": models,
    }))
}

pgrx::extension_sql!(
    r#"
REVOKE ALL ON FUNCTION crag.import_model(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crag.import_default_models() FROM PUBLIC;
"#,
    name = "revoke_import",
    requires = [import_model, import_default_models]
);
