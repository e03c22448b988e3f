//! `Router`: the Python face of `acd_core::Router`. Arguments are converted, results and
//! errors translated; nothing else.

use std::collections::BTreeMap;

use acd_core::{AgentState, Router, TransferTarget};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::batch;
use crate::errors::IntoPyResult;
use crate::event::PyEvents;
use crate::request::{enqueue_request, EnqueueOptions};

#[pyclass(name = "Router", module = "acd._core")]
pub struct PyRouter {
    inner: Router,
}

fn invalid(field: &'static str, message: String) -> PyErr {
    crate::errors::to_py(acd_core::AcdError::InvalidArgument { field, message })
}

/// `now_ms` as Python passes it: any int; out of range is the documented InvalidArgumentError
/// (not OverflowError).
pub struct Now(pub u64);

impl<'a, 'py> FromPyObject<'a, 'py> for Now {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        obj.extract::<u64>().map(Now).map_err(|_| {
            invalid(
                "now_ms",
                "must be an integer 0..2**64-1 (milliseconds)".into(),
            )
        })
    }
}

/// An integer argument checked by the core's own range rules: extracted wide, so a huge value
/// is reported as out of range (InvalidArgumentError) rather than as an OverflowError.
pub struct Int(pub i128);

/// A Python int as i128, through i64 first: an int that fits 64 bits (every valid value)
/// converts in one C call, where pyo3's 128-bit conversion takes a slower path, measurable on
/// every enqueue. Errors are the 128-bit conversion's.
pub struct Wide(pub i128);

impl<'a, 'py> FromPyObject<'a, 'py> for Wide {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(Wide(v.into()));
        }
        obj.extract::<i128>().map(Wide)
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Int {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<Wide>() {
            Ok(Wide(v)) => Ok(Int(v)),
            Err(_) if obj.is_instance_of::<pyo3::types::PyInt>() => Err(invalid(
                "integer",
                format!("{} out of range", obj.as_any().to_owned()),
            )),
            Err(e) => Err(e),
        }
    }
}

#[pymethods]
impl PyRouter {
    #[new]
    fn new(config_json: &str) -> PyResult<Self> {
        Ok(PyRouter {
            inner: Router::from_json(config_json).py()?,
        })
    }

    #[staticmethod]
    fn from_snapshot(data: &[u8]) -> PyResult<Self> {
        Ok(PyRouter {
            inner: Router::restore(data).py()?,
        })
    }

    fn snapshot<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.snapshot())
    }

    #[pyo3(
        signature = (call_id, queue_id, now_ms, priority=Int(0), channel="voice", skills=None, caller="", dialled="", preferred_agent=None, preferred_wait_ms=Int(0), attributes=None),
        text_signature = "(self, call_id, queue_id, now_ms, priority=0, channel='voice', skills=None, caller='', dialled='', preferred_agent=None, preferred_wait_ms=0, attributes=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        call_id: String,
        queue_id: String,
        now_ms: Now,
        priority: Int,
        channel: &str,
        skills: Option<BTreeMap<String, i64>>,
        caller: &str,
        dialled: &str,
        preferred_agent: Option<String>,
        preferred_wait_ms: Int,
        attributes: Option<BTreeMap<String, String>>,
    ) -> PyResult<bool> {
        let options = EnqueueOptions {
            channel: (channel != "voice").then(|| channel.to_owned()),
            skills,
            caller: caller.to_owned(),
            dialled: dialled.to_owned(),
            preferred_agent,
            preferred_wait_ms: preferred_wait_ms.0,
            attributes,
        };
        let req = enqueue_request(call_id, queue_id, priority.0, options).py()?;
        self.inner.enqueue(&req, now_ms.0).py()
    }

    fn abandon(&mut self, call_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.abandon(call_id, now_ms.0).py()
    }
    fn login(&mut self, agent_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.login(agent_id, now_ms.0).py()
    }
    fn logout(&mut self, agent_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.logout(agent_id, now_ms.0).py()
    }
    fn set_ready(&mut self, agent_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.set_ready(agent_id, now_ms.0).py()
    }
    fn set_not_ready(&mut self, agent_id: &str, reason: &str, now_ms: Now) -> PyResult<()> {
        self.inner.set_not_ready(agent_id, reason, now_ms.0).py()
    }
    fn accept(&mut self, agent_id: &str, call_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.accept(agent_id, call_id, now_ms.0).py()
    }
    fn reject(&mut self, agent_id: &str, call_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.reject(agent_id, call_id, now_ms.0).py()
    }
    fn end_call(&mut self, call_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.end_call(call_id, now_ms.0).py()
    }
    fn wrapup_done(&mut self, agent_id: &str, call_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.wrapup_done(agent_id, call_id, now_ms.0).py()
    }
    fn pick(&mut self, agent_id: &str, call_id: &str, now_ms: Now) -> PyResult<()> {
        self.inner.pick(agent_id, call_id, now_ms.0).py()
    }

    /// Turns a waiting call into a callback in its place (empty `number`: the caller's).
    fn request_callback(
        &mut self,
        call_id: &str,
        callback_id: &str,
        number: &str,
        now_ms: Now,
    ) -> PyResult<()> {
        self.inner
            .request_callback(call_id, callback_id, number, now_ms.0)
            .py()
    }

    fn withdraw(
        &mut self,
        agent_id: &str,
        call_id: &str,
        reason: &str,
        now_ms: Now,
    ) -> PyResult<()> {
        self.inner
            .withdraw(agent_id, call_id, reason, now_ms.0)
            .py()
    }

    #[pyo3(signature = (call_id, now_ms, queue=None, agent=None, destination=None))]
    fn transfer(
        &mut self,
        call_id: &str,
        now_ms: Now,
        queue: Option<String>,
        agent: Option<String>,
        destination: Option<String>,
    ) -> PyResult<()> {
        let target = match (queue, agent, destination) {
            (Some(q), None, None) => TransferTarget::Queue(q),
            (None, Some(a), None) => TransferTarget::Agent(a),
            (None, None, Some(d)) => TransferTarget::Destination(d),
            _ => {
                return Err(invalid(
                    "queue",
                    "name exactly one of queue, agent or destination".into(),
                ))
            }
        };
        self.inner.transfer(call_id, &target, now_ms.0).py()
    }

    /// A new configuration for the running router (ROUTING.md, Reconfiguration).
    fn reconfigure(&mut self, config_json: &str, now_ms: Now) -> PyResult<()> {
        self.inner.reconfigure_json(config_json, now_ms.0).py()
    }

    fn handle_timeout(&mut self, now_ms: Now) -> PyResult<()> {
        self.inner.handle_timeout(now_ms.0).py()
    }
    fn poll_timeout(&mut self) -> Option<u64> {
        self.inner.poll_timeout()
    }
    /// The events produced so far, cleared from the router and kept native until read
    /// (`Events`, as `apply_batch` gives them): a caller that only looks at some of them pays
    /// for those. Most commands produce none; they all get one shared empty `Events`.
    fn drain(&mut self, py: Python<'_>) -> PyResult<Py<PyEvents>> {
        if self.inner.pending_events().is_empty() {
            return PyEvents::empty(py);
        }
        Py::new(py, PyEvents(self.inner.drain()))
    }

    /// Applies many commands with the GIL released (ROUTING.md, Batch commands).
    fn apply_batch(&mut self, py: Python<'_>, commands: &Bound<'_, PyList>) -> PyResult<PyEvents> {
        let commands = batch::parse(commands)?;
        let inner = &mut self.inner;
        let events = py.detach(move || {
            inner.apply_batch(&commands);
            inner.drain()
        });
        Ok(PyEvents(events))
    }

    fn queue_stats<'py>(
        &self,
        py: Python<'py>,
        queue_id: &str,
        now_ms: Now,
    ) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.queue_snapshot(queue_id, now_ms.0).py()?;
        let d = PyDict::new(py);
        d.set_item("waiting", s.waiting)?;
        d.set_item("offered", s.offered)?;
        d.set_item("connected", s.connected)?;
        d.set_item("longest_wait_ms", s.longest_wait_ms)?;
        for (state, n) in AgentState::ALL.iter().zip(s.agents) {
            d.set_item(format!("agents_{}", state.name().replace('-', "_")), n)?;
        }
        Ok(d)
    }

    fn interval_stats<'py>(
        &self,
        py: Python<'py>,
        queue_id: &str,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let mut out = Vec::new();
        for (start, c) in self.inner.interval_counters(queue_id).py()? {
            let d = PyDict::new(py);
            d.set_item("interval_start_ms", start)?;
            for (k, v) in c.fields() {
                d.set_item(k, v)?;
            }
            out.push(d);
        }
        Ok(out)
    }

    fn agent_time_stats<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let mut out = Vec::new();
        for (group, start, t) in self.inner.agent_time() {
            let d = PyDict::new(py);
            d.set_item("group", &*group)?;
            d.set_item("interval_start_ms", start)?;
            d.set_item("ready_ms", t.ready_ms)?;
            d.set_item("busy_ms", t.busy_ms)?;
            d.set_item("not_ready_ms", t.not_ready_ms)?;
            out.push(d);
        }
        Ok(out)
    }

    fn agent_info<'py>(&self, py: Python<'py>, agent_id: &str) -> PyResult<Bound<'py, PyDict>> {
        let a = self.inner.agent_info(agent_id).py()?;
        let d = PyDict::new(py);
        d.set_item("id", &*a.id)?;
        d.set_item("state", a.state.name())?;
        d.set_item("reason", &*a.reason)?;
        d.set_item("state_since_ms", a.state_since)?;
        d.set_item("ready_since_ms", a.ready_since)?;
        d.set_item("tier", a.tier)?;
        d.set_item("group", &*a.group)?;
        d.set_item("calls_answered", a.calls_answered)?;
        d.set_item("talk_ms", a.talk_ms)?;
        d.set_item("misses", a.misses)?;
        d.set_item("calls", a.calls.iter().map(|c| &**c).collect::<Vec<_>>())?;
        d.set_item("pending_logout", a.pending_logout)?;
        d.set_item("pending_not_ready", a.pending_not_ready)?;
        Ok(d)
    }

    fn call_info<'py>(
        &self,
        py: Python<'py>,
        call_id: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(c) = self.inner.call_info(call_id) else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("id", &*c.id)?;
        d.set_item("state", c.state)?;
        d.set_item("queue_id", &*c.queue_id)?;
        d.set_item("channel", c.channel.name())?;
        d.set_item("priority", c.priority)?;
        d.set_item("score", c.score)?;
        d.set_item("seq", c.seq)?;
        d.set_item("enqueued_at_ms", c.enqueued_at)?;
        d.set_item("entered_queue_at_ms", c.entered_queue_at)?;
        d.set_item("step", c.step)?;
        d.set_item("agents", c.agents.iter().map(|a| &**a).collect::<Vec<_>>())?;
        d.set_item("caller", &*c.caller)?;
        d.set_item("dialled", &*c.dialled)?;
        d.set_item(
            "attributes",
            c.attributes.into_iter().collect::<BTreeMap<_, _>>(),
        )?;
        Ok(Some(d))
    }

    /// (queue_id, score, seq) of a waiting call (its line is ordered by (-score, seq)); None
    /// otherwise. A tuple, not `call_info`'s dict: the service asks for every call a batch moved.
    fn waiting_key(&self, call_id: &str) -> Option<(String, i64, u64)> {
        self.inner
            .waiting_key(call_id)
            .map(|(q, score, seq)| (q.to_string(), score, seq))
    }

    fn queue_ids(&self) -> Vec<String> {
        self.inner
            .queue_ids()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn agent_ids(&self) -> Vec<String> {
        self.inner
            .agent_ids()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn call_ids(&self) -> Vec<String> {
        self.inner
            .call_ids()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn waiting_count(&self) -> usize {
        self.inner.waiting_count()
    }
}
