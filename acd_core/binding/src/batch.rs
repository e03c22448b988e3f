//! Parses the batch tuples of ROUTING.md ("Batch commands") into core commands.

use acd_core::{Command, TransferTarget};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::request::{enqueue_request, options_from_dict, EnqueueOptions};
use crate::router::Wide;

/// Extracts element `i` of command `index`, naming both in the error.
fn arg<T>(t: &Bound<'_, PyTuple>, i: usize, index: usize) -> PyResult<T>
where
    T: for<'a, 'py> FromPyObject<'a, 'py, Error = PyErr>,
{
    // Borrowed: a tuple cannot change under us, and a reference count taken and dropped per
    // field is a measurable share of a batch.
    let item = t.get_borrowed_item(i)?;
    item.extract::<T>()
        .map_err(|e| PyValueError::new_err(format!("commands[{index}][{i}]: {e}")))
}

fn parse_one(t: &Bound<'_, PyTuple>, index: usize) -> PyResult<Command> {
    if t.is_empty() {
        return Err(PyValueError::new_err(format!(
            "commands[{index}]: empty command"
        )));
    }
    // Borrowed, not copied: the name is only matched on.
    let first = t.get_borrowed_item(0)?;
    let name_obj = first.cast::<PyString>().map_err(|_| {
        PyValueError::new_err(format!("commands[{index}][0]: expected a command name"))
    })?;
    let name: &str = &name_obj.to_cow()?;
    let want = |n: usize| -> PyResult<()> {
        if t.len() == n {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "commands[{index}]: '{name}' takes {} arguments, got {}",
                n - 1,
                t.len() - 1
            )))
        }
    };
    let cmd = match name {
        "enqueue" => {
            // Five fields, or six with the options dict.
            if t.len() != 6 {
                want(5)?;
            }
            let options = if t.len() == 6 {
                let item = t.get_item(5)?; // rare: the options dict
                let d = item.cast::<PyDict>().map_err(|_| {
                    PyValueError::new_err(format!(
                        "commands[{index}][5]: expected a dict of options"
                    ))
                })?;
                options_from_dict(d, &format!("commands[{index}][5]"))?
            } else {
                EnqueueOptions::default()
            };
            let Wide(priority) = arg(t, 4, index)?;
            let req = enqueue_request(arg(t, 1, index)?, arg(t, 2, index)?, priority, options)
                .map_err(|e| PyValueError::new_err(format!("commands[{index}]: {e}")))?;
            Command::Enqueue(req, arg(t, 3, index)?)
        }
        "transfer" => {
            want(5)?;
            let (call, kind, target): (String, String, String) =
                (arg(t, 1, index)?, arg(t, 2, index)?, arg(t, 3, index)?);
            let target = match kind.as_str() {
                "queue" => TransferTarget::Queue(target),
                "agent" => TransferTarget::Agent(target),
                "destination" => TransferTarget::Destination(target),
                other => {
                    return Err(PyValueError::new_err(format!(
                        "commands[{index}][2]: unknown transfer target kind '{other}' \
                         (queue, agent, destination)"
                    )))
                }
            };
            Command::Transfer(call, target, arg(t, 4, index)?)
        }
        "pick" => {
            want(4)?;
            Command::Pick(arg(t, 1, index)?, arg(t, 2, index)?, arg(t, 3, index)?)
        }
        "withdraw" => {
            want(5)?;
            Command::Withdraw(
                arg(t, 1, index)?,
                arg(t, 2, index)?,
                arg(t, 3, index)?,
                arg(t, 4, index)?,
            )
        }
        "request_callback" => {
            want(5)?;
            Command::RequestCallback(
                arg(t, 1, index)?,
                arg(t, 2, index)?,
                arg(t, 3, index)?,
                arg(t, 4, index)?,
            )
        }
        "abandon" => {
            want(3)?;
            Command::Abandon(arg(t, 1, index)?, arg(t, 2, index)?)
        }
        "end" => {
            want(3)?;
            Command::End(arg(t, 1, index)?, arg(t, 2, index)?)
        }
        "login" | "logout" | "ready" => {
            want(3)?;
            let (a, now) = (arg(t, 1, index)?, arg(t, 2, index)?);
            match name {
                "login" => Command::Login(a, now),
                "logout" => Command::Logout(a, now),
                _ => Command::Ready(a, now),
            }
        }
        "not_ready" => {
            want(4)?;
            Command::NotReady(arg(t, 1, index)?, arg(t, 2, index)?, arg(t, 3, index)?)
        }
        "accept" | "reject" | "wrapup_done" => {
            want(4)?;
            let (a, c, now) = (arg(t, 1, index)?, arg(t, 2, index)?, arg(t, 3, index)?);
            match name {
                "accept" => Command::Accept(a, c, now),
                "reject" => Command::Reject(a, c, now),
                _ => Command::WrapupDone(a, c, now),
            }
        }
        "configure" => {
            want(3)?;
            Command::Configure(arg(t, 1, index)?, arg(t, 2, index)?)
        }
        "timeout" => {
            want(2)?;
            Command::Timeout(arg(t, 1, index)?)
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "commands[{index}]: unknown command '{other}'"
            )))
        }
    };
    Ok(cmd)
}

/// All tuples are parsed before any is applied, so a malformed batch changes nothing.
pub fn parse(commands: &Bound<'_, PyList>) -> PyResult<Vec<Command>> {
    let mut out = Vec::with_capacity(commands.len());
    for (index, item) in commands.iter().enumerate() {
        let t = item
            .cast::<PyTuple>()
            .map_err(|_| PyValueError::new_err(format!("commands[{index}]: expected a tuple")))?;
        out.push(parse_one(t, index)?);
    }
    Ok(out)
}
