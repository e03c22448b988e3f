//! The core's one error type. The binding maps each variant to one Python exception class
//! (and the service to one gRPC status), so the variants follow those categories.

use std::fmt;

/// Why a command or a configuration was refused. A refused command changes no state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdError {
    /// The configuration is invalid; `path` names the field (e.g. `queues[2].strategy`).
    Config { path: String, message: String },
    /// An id is unknown: `field` is the argument name, `id` its value.
    NotFound { field: &'static str, id: String },
    /// An argument is out of range or malformed.
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    /// The command is not allowed in the current state.
    IllegalTransition(String),
}

impl AcdError {
    pub(crate) fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        AcdError::Config {
            path: path.into(),
            message: message.into(),
        }
    }
    pub(crate) fn not_found(field: &'static str, id: &str) -> Self {
        AcdError::NotFound {
            field,
            id: id.to_owned(),
        }
    }
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AcdError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
    pub(crate) fn illegal(message: impl Into<String>) -> Self {
        AcdError::IllegalTransition(message.into())
    }

    /// The error's category as a stable name: what a shell maps to its own status codes
    /// (the gRPC service: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION).
    pub fn kind(&self) -> &'static str {
        match self {
            AcdError::Config { .. } => "config",
            AcdError::NotFound { .. } => "not-found",
            AcdError::InvalidArgument { .. } => "invalid-argument",
            AcdError::IllegalTransition(_) => "illegal-transition",
        }
    }
}

impl fmt::Display for AcdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcdError::Config { path, message } if path.is_empty() => write!(f, "{message}"),
            AcdError::Config { path, message } => write!(f, "{path}: {message}"),
            AcdError::NotFound { field, id } => {
                let what = field.trim_end_matches("_id");
                write!(f, "{field} '{id}': unknown {what}")
            }
            AcdError::InvalidArgument { field, message } => write!(f, "{field}: {message}"),
            AcdError::IllegalTransition(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for AcdError {}

pub type Result<T> = std::result::Result<T, AcdError>;
