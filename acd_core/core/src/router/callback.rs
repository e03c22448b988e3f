//! A waiting caller asks to be called back instead of holding on.
//!
//! The call leaves the line as a voice (or chat...) contact and comes back at once as a
//! callback under a new id, keeping its place: the line's key is the call's score and arrival
//! seq, both kept, so the callback is offered exactly when the held call would have been. The
//! caller's contact ends (`terminal`, outcome `callback-requested`: neither answered nor
//! abandoned), and the callback is a new contact of the queue (offered again, channel
//! callback), with its own waiting time, escalation, overflow and time-to-live counted from
//! now: the caller is no longer on the line, so the clock of the hold that ended does not run
//! on into the callback's.

use std::sync::Arc;

use crate::call::CallState;
use crate::error::{AcdError, Result};
use crate::event::{Id, RevokeReason};
use crate::model::{Channel, Millis, Outcome};
use crate::stats::LeftLine;

use super::calls::check_id;
use super::{CallId, Router};

impl Router {
    /// Turns waiting call `call_id` into callback `callback_id` in its place. `number` is the
    /// number to call back; empty keeps the caller's number. An offer open for the call is
    /// revoked (reason `callback`) and its agent matched again.
    pub fn request_callback(
        &mut self,
        call_id: &str,
        callback_id: &str,
        number: &str,
        now: Millis,
    ) -> Result<()> {
        check_id("callback_id", callback_id)?;
        if !number.is_empty() {
            check_id("number", number)?;
        }
        self.advance(now)?;
        let cx = self.call_ix(call_id)?;
        if self.ix.calls.contains_key(callback_id) {
            return Err(AcdError::invalid(
                "callback_id",
                format!("'{callback_id}' is the id of another call"),
            ));
        }
        let call = self.call(cx);
        if let CallState::Connected(_) = call.state {
            return Err(AcdError::illegal(format!(
                "call '{call_id}' is connected: a callback replaces a waiting call"
            )));
        }
        if call.channel == Channel::Callback {
            return Err(AcdError::illegal(format!(
                "call '{call_id}' is a callback already"
            )));
        }
        if number.is_empty() && call.caller.is_empty() {
            return Err(AcdError::invalid(
                "number",
                format!("call '{call_id}' has no caller number: say which number to call"),
            ));
        }
        let freed = self.take_out_of_line(cx, LeftLine::Callback, RevokeReason::Callback, now);
        self.end_contact(cx, Outcome::CallbackRequested, now);

        let id: Arc<str> = Arc::from(callback_id);
        let caller = if number.is_empty() {
            self.call(cx).caller.clone()
        } else {
            Id::from(number)
        };
        let qi = self.call(cx).queue;
        let call = self.call_mut(cx);
        call.id = id.clone();
        call.caller = caller;
        call.channel = Channel::Callback;
        call.first_enqueued_at = now;
        self.move_to_queue(cx, qi, now);
        self.ix.calls.insert(id, CallId::Live(cx));
        self.enter_queue(cx, qi, now);
        for ax in freed {
            self.match_agent(ax, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Channel;
    use crate::router::calls::EnqueueRequest;
    use crate::{Event, EventKind, Router};

    const CONFIG: &str = r#"{
        "queues": [{"id": "sales", "skills": {"sales": 1}}],
        "agents": [{"id": "a1", "skills": {"sales": 5}, "capacity": {"voice": 1, "callback": 1}}]
    }"#;

    fn call(id: &str, priority: i32) -> EnqueueRequest {
        EnqueueRequest {
            call_id: id.into(),
            queue_id: "sales".into(),
            priority,
            caller: format!("+49{id}"),
            ..Default::default()
        }
    }

    fn offers(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter(|e| e.kind == EventKind::Offer)
            .map(|e| e.call_id.to_string())
            .collect()
    }

    #[test]
    fn the_callback_keeps_the_place_of_the_call_it_replaces() {
        let mut r = Router::from_json(CONFIG).unwrap();
        r.login("a1", 0).unwrap();
        for (i, id) in ["c1", "c2", "c3"].iter().enumerate() {
            r.enqueue(&call(id, 0), 10 * i as u64).unwrap();
        }
        r.drain();
        r.request_callback("c1", "c1-cb", "", 100).unwrap();
        let events = r.drain();
        let terminal = events
            .iter()
            .find(|e| e.kind == EventKind::Terminal)
            .unwrap();
        assert_eq!(&*terminal.call_id, "c1");
        assert_eq!(terminal.detail.to_string(), "callback-requested");
        let info = r.call_info("c1-cb").unwrap();
        assert_eq!(info.channel, Channel::Callback);
        assert_eq!(&*info.caller, "+49c1");
        assert!(r.call_info("c1").is_none());
        r.set_ready("a1", 200).unwrap();
        assert_eq!(offers(&r.drain()), ["c1-cb"], "first in line, as c1 was");
    }

    #[test]
    fn an_open_offer_is_revoked_and_its_agent_offered_the_callback() {
        let mut r = Router::from_json(CONFIG).unwrap();
        r.login("a1", 0).unwrap();
        r.set_ready("a1", 0).unwrap();
        r.enqueue(&call("c1", 0), 10).unwrap();
        assert_eq!(offers(&r.drain()), ["c1"]);
        r.request_callback("c1", "c1-cb", "+4930123", 20).unwrap();
        let events = r.drain();
        let revoke = events.iter().find(|e| e.kind == EventKind::Revoke).unwrap();
        assert_eq!(revoke.detail.to_string(), "callback");
        assert_eq!(offers(&events), ["c1-cb"]);
        assert_eq!(&*r.call_info("c1-cb").unwrap().caller, "+4930123");
    }

    #[test]
    fn refusals_change_nothing() {
        let mut r = Router::from_json(CONFIG).unwrap();
        r.login("a1", 0).unwrap();
        r.enqueue(&call("c1", 0), 9).unwrap();
        r.enqueue(&call("c2", 0), 9).unwrap();
        r.drain();
        let before = r.snapshot();
        let err = |r: &mut Router, c: &str, cb: &str| r.request_callback(c, cb, "", 9).unwrap_err();
        assert_eq!(err(&mut r, "nope", "x").kind(), "not-found");
        assert_eq!(err(&mut r, "c1", "c2").kind(), "invalid-argument");
        assert_eq!(err(&mut r, "c1", "").kind(), "invalid-argument");
        assert_eq!(r.snapshot(), before);
        assert!(r.drain().is_empty());
        r.request_callback("c1", "c1-cb", "", 9).unwrap();
        assert_eq!(
            err(&mut r, "c1-cb", "again").to_string(),
            "call 'c1-cb' is a callback already"
        );
        r.set_ready("a1", 9).unwrap();
        r.accept("a1", "c1-cb", 9).unwrap();
        assert!(err(&mut r, "c1-cb", "y").to_string().contains("connected"));
    }
}
