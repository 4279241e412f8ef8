//! The one error type of CRAG. The extension maps each variant to a SQLSTATE.

use thiserror::Error;

/// Everything that can go wrong in CRAG's core.
#[derive(Debug, Error)]
pub enum CragError {
    /// A caller passed a bad argument (wrong dimension, NaN, k <= 0, negative count...).
    #[error("{0}")]
    InvalidArgument(String),
    /// A named model or artefact does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A stored model or artefact is malformed.
    #[error("{0}")]
    CorruptModel(String),
    /// The ONNX runtime or another external library failed.
    #[error("{0}")]
    Runtime(String),
    /// An I/O error reading or writing artefacts.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Result alias used throughout CRAG.
pub type Result<T> = std::result::Result<T, CragError>;

impl CragError {
    /// Shorthand for [`CragError::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        CragError::InvalidArgument(msg.into())
    }
    /// Wrap an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CragError::Io {
            context: context.into(),
            source,
        }
    }
}
