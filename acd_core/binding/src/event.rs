//! `Event`: a read-only Python view of one core event; `Events`: a batch's events, native
//! until read.

use acd_core::Event;
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PySlice};

#[pyclass(name = "Event", module = "acd._core", frozen, freelist = 256)]
pub struct PyEvent(pub Event);

/// `Event.as_tuple()`: kind, call_id, agent_id, queue_id, at_ms, expires_at_ms, rule, detail.
type Row<'a> = (
    &'static str,
    &'a str,
    &'a str,
    &'a str,
    u64,
    u64,
    &'a str,
    String,
);

impl PyEvent {
    fn row(e: &Event) -> Row<'_> {
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
}

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
    fn as_tuple(&self) -> Row<'_> {
        PyEvent::row(&self.0)
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

/// A new `Event` object, off the garbage collector's lists. Events hold no Python references,
/// so they can never be part of a reference cycle: untracking them spares every collection
/// from traversing thousands of them during bulk work.
fn new_event(py: Python<'_>, e: Event) -> PyResult<Bound<'_, PyEvent>> {
    let obj = Bound::new(py, PyEvent(e))?;
    // SAFETY: `obj` is a live GC object we own; untracking an object without references
    // to other objects is always sound, and untracking twice is a no-op.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    Ok(obj)
}

/// Builds the Python list of events (sized once, filled in place).
pub fn wrap<'py>(
    py: Python<'py>,
    events: impl ExactSizeIterator<Item = Event>,
) -> PyResult<Bound<'py, PyList>> {
    let objects = events
        .map(|e| new_event(py, e))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, objects)
}

/// What `Router.apply_batch` returns: the batch's events, kept native until they are read.
/// A bulk caller pays for one Python object per batch, not one per event; reading an item
/// makes its `Event` then (ROUTING.md, Batch commands).
#[pyclass(name = "Events", module = "acd._core", frozen, sequence, freelist = 64)]
pub struct PyEvents(pub Vec<Event>);

/// The one empty `Events` every router hands out (it is immutable).
static EMPTY: PyOnceLock<Py<PyEvents>> = PyOnceLock::new();

impl PyEvents {
    pub fn empty(py: Python<'_>) -> PyResult<Py<PyEvents>> {
        let empty = EMPTY.get_or_try_init(py, || Py::new(py, PyEvents(Vec::new())))?;
        Ok(empty.clone_ref(py))
    }
}

#[pymethods]
impl PyEvents {
    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(slice) = index.cast::<PySlice>() {
            let ix = slice.indices(self.0.len() as isize)?;
            let picked = (0..ix.slicelength)
                .map(|k| self.0[(ix.start + k as isize * ix.step) as usize].clone());
            return Ok(wrap(py, picked)?.into_any().unbind());
        }
        let i: isize = index.extract()?;
        let n = self.0.len() as isize;
        let at = if i < 0 { i + n } else { i };
        if !(0..n).contains(&at) {
            return Err(PyIndexError::new_err("event index out of range"));
        }
        Ok(new_event(py, self.0[at as usize].clone())?
            .into_any()
            .unbind())
    }

    fn __iter__(slf: Bound<'_, Self>) -> PyEventsIter {
        PyEventsIter {
            events: slf.unbind(),
            next: 0,
        }
    }

    /// Every event as `Event.as_tuple()` gives it, in one call (what the service journals).
    fn as_tuples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self
            .0
            .iter()
            .map(|e| PyEvent::row(e).into_pyobject(py))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }

    fn __repr__(&self) -> String {
        format!("<Events: {}>", self.0.len())
    }
}

#[pyclass(name = "EventsIterator", module = "acd._core")]
pub struct PyEventsIter {
    events: Py<PyEvents>,
    next: usize,
}

#[pymethods]
impl PyEventsIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyEvent>>> {
        let Some(e) = self.events.get().0.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        new_event(py, e.clone()).map(Some)
    }
}
