//! Call commands: enqueue, abandon, end, transfer, pick; and how a call finishes.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::agent::Phase;
use crate::call::{Call, CallState};
use crate::class::score;
use crate::error::{AcdError, Result};
use crate::event::{Detail, EventKind, Id, RevokeReason, Rule};
use crate::model::{
    AgentIx, CallIx, Channel, Millis, Outcome, QueueIx, MAX_LEVEL, MAX_PRIORITY, MIN_LEVEL,
};
use crate::stats::LeftLine;

use super::{CallId, Router};

/// Everything a PBX adapter says about a new call. Only `call_id` and `queue_id` are required.
#[derive(Debug, Clone, Default)]
pub struct EnqueueRequest {
    pub call_id: String,
    pub queue_id: String,
    pub priority: i32,
    pub channel: Option<Channel>,
    pub skills: Option<BTreeMap<String, u8>>,
    pub caller: String,
    pub dialled: String,
    pub preferred_agent: Option<String>,
    pub preferred_wait_ms: Millis,
    pub attributes: Vec<(String, String)>,
}

/// Where a connected call is transferred.
#[derive(Debug, Clone)]
pub enum TransferTarget {
    Queue(String),
    Agent(String),
    Destination(String),
}

pub(crate) fn check_id(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 256 || crate::model::has_control(id) {
        return Err(AcdError::invalid(
            field,
            "must be 1..256 characters without control characters",
        ));
    }
    Ok(())
}

impl Router {
    /// Enqueues a call. Returns false (and does nothing) if the id is live or finished recently.
    pub fn enqueue(&mut self, req: &EnqueueRequest, now: Millis) -> Result<bool> {
        check_id("call_id", &req.call_id)?;
        if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&req.priority) {
            return Err(AcdError::invalid(
                "priority",
                format!(
                    "{} out of range -{MAX_PRIORITY}..{MAX_PRIORITY}",
                    req.priority
                ),
            ));
        }
        for (name, &level) in req.skills.iter().flatten() {
            check_id("skills", name)?;
            if !(MIN_LEVEL..=MAX_LEVEL).contains(&level) {
                return Err(AcdError::invalid(
                    "skills",
                    format!("{name}: level {level} out of range {MIN_LEVEL}..{MAX_LEVEL}"),
                ));
            }
        }
        let qi = self.queue_ix("queue_id", &req.queue_id)?;
        let preferred = match &req.preferred_agent {
            Some(a) if req.preferred_wait_ms > 0 => Some(self.agent_ix(a)?),
            Some(a) => {
                self.agent_ix(a)?;
                None
            }
            None => None,
        };
        self.advance(now)?;
        // One look-up of the id: the slot the call will take is known before the call is
        // built, so the id's entry is made now (nothing below can fail).
        let id: Arc<str> = Arc::from(req.call_id.as_str());
        let cx = match self.free_calls.last() {
            Some(&cx) => cx,
            None => self.calls.len() as CallIx,
        };
        match self.ix.calls.entry(id.clone()) {
            Entry::Occupied(_) => return Ok(false), // live, or finished inside the dedup window
            Entry::Vacant(slot) => {
                slot.insert(CallId::Live(cx));
            }
        }
        let skills_override = req.skills.as_ref().map(|s| {
            let mut v: Vec<_> = s.iter().map(|(n, &l)| (self.intern(n), l)).collect();
            v.sort_unstable();
            v
        });
        let seq = self.next_call_seq;
        self.next_call_seq += 1;
        let mut call = Call {
            id: id.clone(),
            seq,
            queue: qi,
            channel: req.channel.unwrap_or(Channel::Voice),
            priority: req.priority,
            score: score(req.priority, self.queues[qi as usize].cfg.aging_ms, now),
            skills_override,
            caller: Id::from(req.caller.as_str()),
            dialled: Id::from(req.dialled.as_str()),
            attributes: req.attributes.clone(),
            preferred: preferred.map(|a| (a, now + req.preferred_wait_ms)),
            first_enqueued_at: now,
            entered_at: now,
            step: 0,
            class: 0,
            state: CallState::Waiting,
            offers: Default::default(),
            timer: None,
        };
        call.class = self.class_of(qi, &call);
        match self.free_calls.pop() {
            Some(free) => self.calls[free as usize] = Some(call),
            None => self.calls.push(Some(call)),
        }
        self.enter_queue(cx, qi, now);
        Ok(true)
    }

    /// The call enters queue `qi` at `at` (new, overflowed or transferred): counters, timers,
    /// then its preferred agent, or the line.
    pub(crate) fn enter_queue(&mut self, cx: CallIx, qi: QueueIx, at: Millis) {
        let seq = self.call(cx).seq;
        let stats = &mut self.queues[qi as usize].stats;
        stats.counters(at).offered += 1;
        stats.waiting.enter(at, seq, cx);
        self.rearm_call_timer(cx);
        let call = self.call(cx);
        match call.preferred {
            Some((ax, until)) if until > at => {
                if self.agents[ax as usize].can_take(call.channel) {
                    // In line first (make_offer takes a waiting call out of its line).
                    self.enter_line(cx);
                    self.make_offer(cx, ax, Rule::PreferredAgent, at);
                } else {
                    self.hold(cx);
                }
            }
            _ => {
                self.enter_line(cx);
                self.match_call(cx, at);
            }
        }
    }

    /// Takes a waiting, held or offered call out of its queue's line (revoking its offers).
    /// Returns the agents freed by revoked offers, to be re-matched by the caller.
    pub(crate) fn take_out_of_line(
        &mut self,
        cx: CallIx,
        how: LeftLine,
        why: RevokeReason,
        at: Millis,
    ) -> Vec<AgentIx> {
        let mut freed = Vec::new();
        match self.call(cx).state {
            CallState::Waiting => self.leave_line(cx),
            CallState::Held => self.unhold(cx),
            CallState::Offered => {
                let offers: Vec<u32> = self.call(cx).offers.iter().copied().collect();
                for oi in offers {
                    freed.push(self.revoke_offer(oi, why, at));
                }
                let qi = self.call(cx).queue;
                self.queues[qi as usize].stats.offered_now -= 1;
            }
            CallState::Connected(_) => unreachable!("connected calls are not in line"),
        }
        let call = self.call(cx);
        let (qi, entered_at, seq) = (call.queue, call.entered_at, call.seq);
        self.leave_wait_line(qi, seq);
        let q = &mut self.queues[qi as usize];
        let (sl, short) = (q.cfg.sl_threshold_ms, q.cfg.short_abandon_ms);
        q.stats.record_left(entered_at, at, how, sl, short);
        freed
    }

    /// The call is done for good: terminal event, slot freed, id remembered for dedup.
    pub(crate) fn finish_call(&mut self, cx: CallIx, outcome: Outcome, at: Millis) {
        self.end_contact(cx, outcome, at);
        self.calls[cx as usize] = None;
        self.free_calls.push(cx);
    }

    /// The contact under the call's id is over (terminal event, id forgotten and remembered
    /// for dedup); the slot stays, for `finish_call` to free or a callback to take over.
    pub(crate) fn end_contact(&mut self, cx: CallIx, outcome: Outcome, at: Millis) {
        self.emit(EventKind::Terminal, Some(cx), None, at).detail = Detail::Outcome(outcome);
        let id = self.call(cx).id.clone();
        if self.dedup_window_ms > 0 {
            if let Some(entry) = self.ix.calls.get_mut(&id) {
                *entry = CallId::Finished(at);
            }
            self.finished.push_back((at, id));
        } else {
            self.ix.calls.remove(&id);
        }
    }

    /// The caller hung up before being connected.
    pub fn abandon(&mut self, call_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let cx = self.call_ix(call_id)?;
        if let CallState::Connected(_) = self.call(cx).state {
            return Err(AcdError::illegal(format!(
                "call '{call_id}' is connected: end it with end_call"
            )));
        }
        let freed = self.take_out_of_line(cx, LeftLine::Abandoned, RevokeReason::Abandoned, now);
        self.finish_call(cx, Outcome::Abandoned, now);
        for ax in freed {
            self.match_agent(ax, now);
        }
        Ok(())
    }

    /// A connected call ended (either side hung up): the agent goes to wrap-up.
    pub fn end_call(&mut self, call_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let cx = self.call_ix(call_id)?;
        let CallState::Connected(ax) = self.call(cx).state else {
            return Err(AcdError::illegal(format!(
                "call '{call_id}' is not connected"
            )));
        };
        self.hang_up(cx, ax, Detail::None, now);
        let (qi, entered_at) = (self.call(cx).queue, self.call(cx).entered_at);
        self.queues[qi as usize]
            .stats
            .counters(entered_at)
            .completed += 1;
        self.finish_call(cx, Outcome::Completed, now);
        self.after_work_change(ax, now);
        Ok(())
    }

    /// Ends the agent's part of a connected call: talk time counted, wrap-up begins.
    fn hang_up(&mut self, cx: CallIx, ax: AgentIx, detail: Detail, at: Millis) {
        let (seq, qi) = (self.call(cx).seq, self.call(cx).queue);
        self.emit(EventKind::Ended, Some(cx), Some(ax), at).detail = detail;
        let cfg = &self.queues[qi as usize].cfg;
        let wrapup_until = if cfg.wrapup_until_done {
            None
        } else {
            Some(at + cfg.wrapup_ms)
        };
        let agent = &mut self.agents[ax as usize];
        let i = agent
            .work_index(seq, Phase::Busy)
            .expect("connected call is the agent's work");
        let w = &mut agent.work[i];
        let talk = at - w.since;
        let entered_at = w.entered_at;
        w.phase = Phase::WrapUp;
        w.since = at;
        w.wrapup_until = wrapup_until;
        agent.talk_ms += talk;
        let stats = &mut self.queues[qi as usize].stats;
        stats.connected_now -= 1;
        stats.counters(entered_at).talk_ms += talk;
    }

    /// Transfers a connected call to a queue, a named agent, or out of the router.
    pub fn transfer(&mut self, call_id: &str, target: &TransferTarget, now: Millis) -> Result<()> {
        let (qi_target, agent_target) = match target {
            TransferTarget::Queue(q) => (Some(self.queue_ix("queue", q)?), None),
            TransferTarget::Agent(a) => (None, Some(self.agent_ix(a)?)),
            TransferTarget::Destination(d) => {
                check_id("destination", d)?;
                (None, None)
            }
        };
        self.advance(now)?;
        let cx = self.call_ix(call_id)?;
        let CallState::Connected(ax) = self.call(cx).state else {
            return Err(AcdError::illegal(format!(
                "call '{call_id}' is not connected"
            )));
        };
        if agent_target == Some(ax) {
            return Err(AcdError::invalid(
                "agent",
                "cannot transfer a call to the agent who has it",
            ));
        }
        self.hang_up(cx, ax, Detail::Transfer, now);
        let from = self.call(cx).queue;
        let entered_at = self.call(cx).entered_at;
        self.queues[from as usize]
            .stats
            .counters(entered_at)
            .transferred_out += 1;
        if qi_target.is_none() && agent_target.is_none() {
            self.finish_call(cx, Outcome::TransferredOut, now);
        } else {
            let qi = qi_target.unwrap_or(from);
            let wait = self.queues[qi as usize].cfg.transfer_agent_wait_ms;
            let call = self.call_mut(cx);
            call.preferred = agent_target.map(|a| (a, now + wait));
            // A new wait begins: its time-to-live counts from here, not from the first
            // enqueue (which may be long past after the talk: a deadline in the past).
            call.first_enqueued_at = now;
            self.move_to_queue(cx, qi, now);
            let from_id = self.queues[from as usize].id.clone();
            self.emit(EventKind::Transferred, Some(cx), agent_target, now)
                .detail = Detail::From(from_id);
            self.enter_queue(cx, qi, now);
        }
        self.after_work_change(ax, now);
        Ok(())
    }

    /// Re-homes a call in queue `qi` (overflow, transfer); the score and seq are kept.
    pub(crate) fn move_to_queue(&mut self, cx: CallIx, qi: QueueIx, at: Millis) {
        let call = self.call_mut(cx);
        call.queue = qi;
        call.entered_at = at;
        call.step = 0;
        call.timer = None;
        call.state = CallState::Waiting;
        let snapshot = call.clone();
        self.call_mut(cx).class = self.class_of(qi, &snapshot);
    }

    /// A supervisor or allowed agent takes a specific waiting call: it is offered to them now.
    pub fn pick(&mut self, agent_id: &str, call_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let ax = self.agent_ix(agent_id)?;
        let cx = self.call_ix(call_id)?;
        let call = self.call(cx);
        if !matches!(call.state, CallState::Waiting | CallState::Held) {
            return Err(AcdError::illegal(format!(
                "call '{call_id}' is not waiting"
            )));
        }
        if !self.agents[ax as usize].can_take(call.channel) {
            return Err(AcdError::illegal(format!(
                "agent '{agent_id}' cannot take a {} call now",
                call.channel.name()
            )));
        }
        self.make_offer(cx, ax, Rule::Pick, now);
        Ok(())
    }
}
