//! An enqueue request from Python values: shared by `Router.enqueue` (keyword arguments) and
//! the batch's `("enqueue", ..., options)` form, so both check and convert the same way.

use std::collections::BTreeMap;

use acd_core::{AcdError, Channel, EnqueueRequest};
use pyo3::prelude::*;

/// The optional fields of an enqueue, as Python gives them.
#[derive(Default)]
pub struct EnqueueOptions {
    /// None: voice (the default, so the common enqueue allocates no name).
    pub channel: Option<String>,
    pub skills: Option<BTreeMap<String, i64>>,
    pub caller: String,
    pub dialled: String,
    pub preferred_agent: Option<String>,
    pub preferred_wait_ms: i128,
    pub attributes: Option<BTreeMap<String, String>>,
}

fn invalid(field: &'static str, message: String) -> AcdError {
    AcdError::InvalidArgument { field, message }
}

/// Checks what only the binding can (Python ints wider than the core's fields, channel names)
/// and builds the core's request; everything else is the core's to check.
pub fn enqueue_request(
    call_id: String,
    queue_id: String,
    priority: i128,
    o: EnqueueOptions,
) -> Result<EnqueueRequest, AcdError> {
    let channel = match &o.channel {
        None => Channel::Voice,
        Some(name) => Channel::parse(name).ok_or_else(|| {
            invalid(
                "channel",
                format!("unknown channel '{name}' (voice, chat, email, messenger, callback)"),
            )
        })?,
    };
    let priority = i32::try_from(priority).map_err(|_| {
        let range = acd_core::model::MAX_PRIORITY;
        invalid(
            "priority",
            format!("{priority} out of range -{range}..{range}"),
        )
    })?;
    let preferred_wait_ms = u64::try_from(o.preferred_wait_ms)
        .map_err(|_| invalid("preferred_wait_ms", "must be an integer >= 0".into()))?;
    let skills = match o.skills {
        None => None,
        Some(map) => Some(
            map.into_iter()
                .map(|(name, level)| match u8::try_from(level) {
                    Ok(l) => Ok((name, l)),
                    Err(_) => Err(invalid(
                        "skills",
                        format!("{name}: level {level} out of range 1..10"),
                    )),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()?,
        ),
    };
    Ok(EnqueueRequest {
        call_id,
        queue_id,
        priority,
        channel: Some(channel),
        skills,
        caller: o.caller,
        dialled: o.dialled,
        preferred_agent: o.preferred_agent,
        preferred_wait_ms,
        attributes: o
            .attributes
            .map(|a| a.into_iter().collect())
            .unwrap_or_default(),
    })
}

/// The batch form's options dict: every key named in ROUTING.md, nothing else.
pub fn options_from_dict(d: &Bound<'_, pyo3::types::PyDict>, at: &str) -> PyResult<EnqueueOptions> {
    use pyo3::exceptions::PyValueError;
    let mut o = EnqueueOptions::default();
    for (k, v) in d.iter() {
        let key: String = k
            .extract()
            .map_err(|_| PyValueError::new_err(format!("{at}: option names are strings")))?;
        let bad = |e: PyErr| PyValueError::new_err(format!("{at}.{key}: {e}"));
        match key.as_str() {
            "channel" => o.channel = Some(v.extract().map_err(bad)?),
            "skills" => o.skills = Some(v.extract().map_err(bad)?),
            "caller" => o.caller = v.extract().map_err(bad)?,
            "dialled" => o.dialled = v.extract().map_err(bad)?,
            "preferred_agent" => o.preferred_agent = v.extract().map_err(bad)?,
            "preferred_wait_ms" => o.preferred_wait_ms = v.extract().map_err(bad)?,
            "attributes" => o.attributes = Some(v.extract().map_err(bad)?),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{at}: unknown option '{key}' (channel, skills, caller, dialled, \
                     preferred_agent, preferred_wait_ms, attributes)"
                )))
            }
        }
    }
    Ok(o)
}
