//! Turning `real[]` arguments into dense Rust buffers, with errors that name the argument.

use pgrx::array::RawArray;
use pgrx::datum::Array;
use pgrx::PgSqlErrorCode;

use crate::error::{PgError, PgResult};

/// A row-major matrix read from a one- or two-dimensional `real[]`.
pub struct Matrix {
    /// Number of rows (1 for a one-dimensional array).
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows × cols` values.
    pub data: Vec<f32>,
}

/// Read a `real[]` of at most two dimensions; NULL elements are rejected.
pub fn matrix(arg: &str, arr: Array<'_, f32>) -> PgResult<Matrix> {
    // SAFETY: `arr` came from PostgreSQL as a detoasted float4 array; RawArray only reads its header and data.
    let mut raw = unsafe { RawArray::from_array(arr) }
        .ok_or_else(|| PgError::invalid(format!("{arg} could not be read as an array")))?;
    if unsafe { raw.any_nulls() } {
        return Err(PgError::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{arg} contains NULL elements"),
        ));
    }
    let dims: Vec<usize> = raw.dims().iter().map(|&d| d as usize).collect();
    let (rows, cols) = match dims.as_slice() {
        [] => (1, 0),
        [n] => (1, *n),
        [r, c] => (*r, *c),
        _ => {
            return Err(PgError::new(
                PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR,
                format!(
                    "{arg} has {} dimensions; CRAG takes vectors (1-D) or batches of vectors (2-D)",
                    dims.len()
                ),
            ))
        }
    };
    // SAFETY: the array has no NULLs, so its data area is `len` contiguous float4 values.
    let data = unsafe { raw.data::<f32>().as_ref() }.to_vec();
    Ok(Matrix { rows, cols, data })
}

/// Read a one-dimensional `real[]` vector.
pub fn vector(arg: &str, arr: Array<'_, f32>) -> PgResult<Vec<f32>> {
    let m = matrix(arg, arr)?;
    if m.rows != 1 {
        return Err(PgError::new(
            PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR,
            format!("{arg} must be a one-dimensional array; for batches use the _batch functions"),
        ));
    }
    Ok(m.data)
}
