//! The one place where core errors become Python exceptions (the hierarchy in `_core.pyi`).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    acd._core,
    AcdError,
    PyException,
    "Base of every error the routing core raises."
);
create_exception!(
    acd._core,
    ConfigError,
    AcdError,
    "The configuration is invalid; the message names the field."
);
create_exception!(
    acd._core,
    NotFoundError,
    AcdError,
    "An id (call, agent, queue) is unknown to this router."
);
create_exception!(
    acd._core,
    InvalidArgumentError,
    AcdError,
    "An argument is out of range or malformed."
);
create_exception!(
    acd._core,
    IllegalTransitionError,
    AcdError,
    "The command is not allowed in the current state."
);

pub fn to_py(e: acd_core::AcdError) -> PyErr {
    let msg = e.to_string();
    match e {
        acd_core::AcdError::Config { .. } => ConfigError::new_err(msg),
        acd_core::AcdError::NotFound { .. } => NotFoundError::new_err(msg),
        acd_core::AcdError::InvalidArgument { .. } => InvalidArgumentError::new_err(msg),
        acd_core::AcdError::IllegalTransition(_) => IllegalTransitionError::new_err(msg),
    }
}

/// `result.py()?` converts a core result at the boundary.
pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, acd_core::AcdError> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("AcdError", py.get_type::<AcdError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add(
        "IllegalTransitionError",
        py.get_type::<IllegalTransitionError>(),
    )?;
    Ok(())
}
