//! Files a training run writes next to its model: pretty JSON and JSON lines.

use std::io::Write;
use std::path::Path;

use crag_core::{CragError, Result};

/// Write `v` as pretty-printed JSON.
pub fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| CragError::Runtime(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| CragError::io(format!("writing {}", path.display()), e))
}

/// Any serialisable value as JSON (`null` if it cannot be represented).
pub fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Write one JSON object per line (e.g. `history.jsonl`).
pub fn write_jsonl<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut file = std::fs::File::create(path)
        .map_err(|e| CragError::io(format!("writing {}", path.display()), e))?;
    for r in rows {
        let line = serde_json::to_string(r).map_err(|e| CragError::Runtime(e.to_string()))?;
        writeln!(file, "{line}")
            .map_err(|e| CragError::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}
