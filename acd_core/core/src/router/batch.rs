//! Commands as values: the batch API (one call for many commands), also used by the
//! simulation tests and the journal, which record inputs, not effects.

use crate::error::Result;
use crate::event::{Detail, Event, EventKind, Id, Rule};
use crate::model::Millis;

use super::{EnqueueRequest, Router};
use crate::router::calls::TransferTarget;

#[derive(Debug, Clone)]
pub enum Command {
    Enqueue(EnqueueRequest, Millis),
    Abandon(String, Millis),
    Login(String, Millis),
    Logout(String, Millis),
    Ready(String, Millis),
    NotReady(String, String, Millis),
    Accept(String, String, Millis),
    Reject(String, String, Millis),
    End(String, Millis),
    WrapupDone(String, String, Millis),
    Transfer(String, TransferTarget, Millis),
    Pick(String, String, Millis),
    /// agent, call, reason.
    Withdraw(String, String, String, Millis),
    /// A new configuration, as JSON (parsed when applied: a bad one is a refused command).
    Configure(String, Millis),
    /// call, callback id, number to call (empty: the caller's).
    RequestCallback(String, String, String, Millis),
    Timeout(Millis),
}

impl Router {
    pub fn apply(&mut self, command: &Command) -> Result<()> {
        match command {
            Command::Enqueue(req, t) => self.enqueue(req, *t).map(drop),
            Command::Abandon(c, t) => self.abandon(c, *t),
            Command::Login(a, t) => self.login(a, *t),
            Command::Logout(a, t) => self.logout(a, *t),
            Command::Ready(a, t) => self.set_ready(a, *t),
            Command::NotReady(a, r, t) => self.set_not_ready(a, r, *t),
            Command::Accept(a, c, t) => self.accept(a, c, *t),
            Command::Reject(a, c, t) => self.reject(a, c, *t),
            Command::End(c, t) => self.end_call(c, *t),
            Command::WrapupDone(a, c, t) => self.wrapup_done(a, c, *t),
            Command::Transfer(c, target, t) => self.transfer(c, target, *t),
            Command::Pick(a, c, t) => self.pick(a, c, *t),
            Command::Withdraw(a, c, r, t) => self.withdraw(a, c, r, *t),
            Command::Configure(json, t) => self.reconfigure_json(json, *t),
            Command::RequestCallback(c, cb, n, t) => self.request_callback(c, cb, n, *t),
            Command::Timeout(t) => self.handle_timeout(*t),
        }
    }

    /// Applies commands in order. A failing command does not stop the batch: it adds an
    /// `error` event where it happened (`reason`, shown as `rule`: the error's kind;
    /// `detail`: `command <index>: <message>`).
    pub fn apply_batch(&mut self, commands: &[Command]) {
        for (i, command) in commands.iter().enumerate() {
            if let Err(e) = self.apply(command) {
                self.events.push(Event {
                    kind: EventKind::CommandError,
                    call_id: Id::NONE,
                    agent_id: Id::NONE,
                    queue_id: Id::NONE,
                    at_ms: self.now,
                    expires_at_ms: 0,
                    rule: Rule::None,
                    reason: Id::from(e.kind()),
                    detail: Detail::Text(format!("command {i}: {e}")),
                });
            }
        }
    }
}
