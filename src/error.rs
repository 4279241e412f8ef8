//! Mapping of [`CragError`] to PostgreSQL errors with specific SQLSTATEs. Raised only at `#[pg_extern]` edges.

use crag_core::CragError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// An error on its way to `ereport(ERROR)`.
#[derive(Debug)]
pub struct PgError {
    code: PgSqlErrorCode,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

/// Result type of the extension's internals.
pub type PgResult<T> = std::result::Result<T, PgError>;

impl PgError {
    /// An error with an explicit SQLSTATE.
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        PgError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }
    /// Bad argument value (22023).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
    }
    /// Add a DETAIL line.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    /// Add a HINT line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Raise as `ERROR`; never returns.
    pub fn raise(self) -> ! {
        let mut r = ErrorReport::new(self.code, format!("crag: {}", self.message), "crag");
        if let Some(d) = self.detail {
            r = r.set_detail(d);
        }
        if let Some(h) = self.hint {
            r = r.set_hint(h);
        }
        r.report(PgLogLevel::ERROR);
        unreachable!("ereport(ERROR) returned")
    }
}

impl From<CragError> for PgError {
    fn from(e: CragError) -> Self {
        let code = match &e {
            CragError::InvalidArgument(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            CragError::NotFound(_) => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            CragError::CorruptModel(_) => PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
            CragError::Runtime(_) => PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
            CragError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                PgSqlErrorCode::ERRCODE_UNDEFINED_FILE
            }
            CragError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE
            }
            CragError::Io { .. } => PgSqlErrorCode::ERRCODE_IO_ERROR,
        };
        PgError::new(code, e.to_string())
    }
}

impl From<pgrx::spi::SpiError> for PgError {
    fn from(e: pgrx::spi::SpiError) -> Self {
        PgError::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("SPI: {e}"))
    }
}

/// Unwrap or raise: the one way `#[pg_extern]` functions leave with an error.
pub trait OrRaise<T> {
    /// The value, or `ereport(ERROR)` with the error's SQLSTATE.
    fn or_raise(self) -> T;
}

impl<T, E: Into<PgError>> OrRaise<T> for std::result::Result<T, E> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.into().raise(),
        }
    }
}
