//! `Event`: a read-only Python view of one core event.

use acd_core::Event;
use pyo3::prelude::*;
use pyo3::types::PyList;

#[pyclass(name = "Event", module = "acd._core", frozen)]
pub struct PyEvent(pub Event);

#[pymethods]
impl PyEvent {
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.name()
    }
    #[getter]
    fn call_id(&self) -> &str {
        &self.0.call_id
    }
    #[getter]
    fn agent_id(&self) -> &str {
        &self.0.agent_id
    }
    #[getter]
    fn queue_id(&self) -> &str {
        &self.0.queue_id
    }
    #[getter]
    fn at_ms(&self) -> u64 {
        self.0.at_ms
    }
    #[getter]
    fn expires_at_ms(&self) -> u64 {
        self.0.expires_at_ms
    }
    #[getter]
    fn rule(&self) -> &str {
        self.0.rule_text()
    }
    #[getter]
    fn detail(&self) -> String {
        self.0.detail.to_string()
    }
    #[allow(clippy::type_complexity)]
    fn as_tuple(&self) -> (&'static str, &str, &str, &str, u64, u64, &str, String) {
        let e = &self.0;
        (
            e.kind.name(),
            &e.call_id,
            &e.agent_id,
            &e.queue_id,
            e.at_ms,
            e.expires_at_ms,
            e.rule_text(),
            e.detail.to_string(),
        )
    }
    fn __repr__(&self) -> String {
        let e = &self.0;
        format!(
            "Event(kind={:?}, call_id={:?}, agent_id={:?}, queue_id={:?}, at_ms={}, rule={:?}, detail={:?})",
            e.kind.name(),
            &*e.call_id,
            &*e.agent_id,
            &*e.queue_id,
            e.at_ms,
            e.rule_text(),
            e.detail.to_string()
        )
    }
}

/// Builds the Python list of events. Events hold no Python references, so they can never be
/// part of a reference cycle: they are taken off the garbage collector's lists, which spares
/// every collection from traversing thousands of them during bulk work.
pub fn wrap<'py>(py: Python<'py>, events: Vec<Event>) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for e in events {
        let obj = Bound::new(py, PyEvent(e))?;
        // SAFETY: `obj` is a live GC object we own; untracking an object without references
        // to other objects is always sound, and untracking twice is a no-op.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
        list.append(obj)?;
    }
    Ok(list)
}
