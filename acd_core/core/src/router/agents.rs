//! Agent commands: the state machine of DESIGN.md (table in ROUTING.md), accept / reject, the
//! miss policy, and what happens when an agent's work changes.

use crate::agent::{Phase, Presence, Work};
use crate::call::CallState;
use crate::error::{AcdError, Result};
use crate::event::{Detail, EventKind, Id, RevokeReason, Rule};
use crate::model::{AgentIx, AgentState, Millis};
use crate::stats::LeftLine;
use crate::timers::TimerKind;

use super::Router;

/// A Not-Ready reason code: short and printable (it is shown on wallboards and in reports).
fn check_reason(reason: &str) -> Result<()> {
    if reason.len() > 64 || reason.chars().any(char::is_control) {
        return Err(AcdError::invalid(
            "reason",
            "must be at most 64 characters without control characters",
        ));
    }
    Ok(())
}

impl Router {
    fn state_error(&self, ax: AgentIx, command: &str) -> AcdError {
        let agent = &self.agents[ax as usize];
        AcdError::illegal(format!(
            "agent '{}' is {}: cannot {command}",
            agent.id,
            agent.derived_state().name()
        ))
    }

    pub fn login(&mut self, agent_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let ax = self.agent_ix(agent_id)?;
        if self.agents[ax as usize].derived_state() != AgentState::LoggedOut {
            return Err(self.state_error(ax, "log in"));
        }
        let agent = &mut self.agents[ax as usize];
        agent.presence = Presence::NotReady;
        agent.reason = Id::from("login");
        agent.misses = 0;
        agent.calls_answered = 0;
        agent.talk_ms = 0;
        self.note_state(ax, now);
        Ok(())
    }

    pub fn logout(&mut self, agent_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let ax = self.agent_ix(agent_id)?;
        match self.agents[ax as usize].derived_state() {
            AgentState::LoggedOut => return Err(self.state_error(ax, "log out")),
            AgentState::NotReady | AgentState::Ready => {}
            AgentState::Reserved => {
                let agent = &mut self.agents[ax as usize];
                if agent.work.iter().all(|w| w.phase == Phase::Reserved) {
                    // Out before the offers are revoked: no passing "ready" state in between.
                    agent.presence = Presence::LoggedOut;
                    agent.reason = Id::from("logout");
                } else {
                    // Offers beside a chat in wrap-up: the logout waits for the wrap-up.
                    agent.pending_logout = true;
                }
            }
            AgentState::Busy | AgentState::WrapUp => {
                self.agents[ax as usize].pending_logout = true;
            }
        }
        // Open offers go back to their line at once; connected work finishes first.
        let returned = self.revoke_agent_offers(ax, RevokeReason::Logout, now);
        let agent = &mut self.agents[ax as usize];
        if agent.work.is_empty() {
            self.go_logged_out(ax, now);
        } else {
            self.sync_ready(ax);
        }
        for cx in returned {
            self.return_to_line(cx, now);
        }
        Ok(())
    }

    fn go_logged_out(&mut self, ax: AgentIx, at: Millis) {
        let agent = &mut self.agents[ax as usize];
        agent.presence = Presence::LoggedOut;
        agent.pending_logout = false;
        agent.reason = Id::from("logout");
        self.clear_block(ax);
        self.note_state(ax, at);
        self.sync_ready(ax);
        self.release_held(ax, at);
    }

    /// Calls held for an agent who logged out stop waiting for it: into the line at once.
    fn release_held(&mut self, ax: AgentIx, at: Millis) {
        let Some(held) = self.held.remove(&ax) else {
            return;
        };
        for (_, cx) in held {
            self.call_mut(cx).preferred = None;
            self.rearm_call_timer(cx);
            self.enter_line(cx);
            self.match_call(cx, at);
        }
    }

    pub fn set_ready(&mut self, agent_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let ax = self.agent_ix(agent_id)?;
        match self.agents[ax as usize].derived_state() {
            AgentState::Ready => return Ok(()),
            AgentState::NotReady => {}
            AgentState::WrapUp => {
                self.end_wrapups(ax, now, |_| true);
                self.rearm_agent_timer(ax);
                if self.agents[ax as usize].pending_logout {
                    self.go_logged_out(ax, now);
                    return Ok(());
                }
            }
            _ => return Err(self.state_error(ax, "set ready")),
        }
        let agent = &mut self.agents[ax as usize];
        agent.presence = Presence::Available;
        agent.reason = Id::NONE;
        agent.ready_since = now;
        agent.ready_epoch += 1;
        self.note_state(ax, now);
        self.match_agent(ax, now);
        Ok(())
    }

    pub fn set_not_ready(&mut self, agent_id: &str, reason: &str, now: Millis) -> Result<()> {
        check_reason(reason)?;
        self.advance(now)?;
        let ax = self.agent_ix(agent_id)?;
        let state = self.agents[ax as usize].derived_state();
        match state {
            AgentState::LoggedOut | AgentState::Reserved => {
                return Err(self.state_error(ax, "set not ready"))
            }
            _ => {}
        }
        let agent = &mut self.agents[ax as usize];
        if agent.work.iter().any(|w| w.phase == Phase::Reserved) {
            // Busy on chats with another chat offered: reserved for it, as in Reserved.
            return Err(AcdError::illegal(format!(
                "agent '{agent_id}' has an open offer: accept or reject it first"
            )));
        }
        agent.presence = Presence::NotReady;
        agent.reason = Id::from(reason);
        self.clear_block(ax);
        if state == AgentState::NotReady {
            // Same state, new reason: still worth telling supervisors (the agent's string).
            let reason = self.agents[ax as usize].reason.clone();
            let e = self.emit(EventKind::AgentState, None, Some(ax), now);
            e.detail = Detail::State(AgentState::NotReady);
            e.reason = reason;
        }
        self.note_state(ax, now);
        self.sync_ready(ax);
        Ok(())
    }

    /// The service withdraws an open offer the agent cannot answer (its desktop's stream is
    /// gone, or the offer was open when the service stopped): no miss is counted, the agent is
    /// paused NotReady(`reason`) with every open offer it holds withdrawn (so nothing more is
    /// offered to a desktop that is not there), and each call goes back to its place in line.
    pub fn withdraw(
        &mut self,
        agent_id: &str,
        call_id: &str,
        reason: &str,
        now: Millis,
    ) -> Result<()> {
        check_reason(reason)?;
        self.advance(now)?;
        let first = self.offer_of(agent_id, call_id)?;
        let ax = self.offer(first).agent;
        let agent = &mut self.agents[ax as usize];
        agent.presence = Presence::NotReady;
        agent.reason = Id::from(reason);
        self.clear_block(ax);
        for cx in self.revoke_agent_offers(ax, RevokeReason::Withdrawn, now) {
            self.return_to_line(cx, now);
        }
        Ok(())
    }

    /// Finds the open offer of `call_id` to `agent_id`, or says why there is none.
    fn offer_of(&self, agent_id: &str, call_id: &str) -> Result<u32> {
        let ax = self.agent_ix(agent_id)?;
        let cx = self.call_ix(call_id)?;
        self.call(cx)
            .offers
            .iter()
            .copied()
            .find(|&oi| self.offer(oi).agent == ax)
            .ok_or_else(|| {
                AcdError::illegal(format!(
                    "agent '{agent_id}' has no open offer for call '{call_id}'"
                ))
            })
    }

    pub fn accept(&mut self, agent_id: &str, call_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let oi = self.offer_of(agent_id, call_id)?;
        let cx = self.offer(oi).call;
        let others: Vec<u32> = self
            .call(cx)
            .offers
            .iter()
            .copied()
            .filter(|&o| o != oi)
            .collect();
        let mut freed = Vec::new();
        for o in others {
            freed.push(self.revoke_offer(o, RevokeReason::AnsweredElsewhere, now));
        }
        let (_, ax) = self.close_offer(oi);
        let call = self.call(cx);
        let (qi, entered_at, seq, channel, id) = (
            call.queue,
            call.entered_at,
            call.seq,
            call.channel,
            call.id.clone(),
        );
        let call = self.call_mut(cx);
        call.timer = None;
        call.state = CallState::Connected(ax);
        self.leave_wait_line(qi, seq);
        let q = &mut self.queues[qi as usize];
        let (sl, short) = (q.cfg.sl_threshold_ms, q.cfg.short_abandon_ms);
        q.stats.offered_now -= 1;
        q.stats.connected_now += 1;
        q.stats
            .record_left(entered_at, now, LeftLine::Answered, sl, short);
        let agent = &mut self.agents[ax as usize];
        agent.misses = 0;
        agent.calls_answered += 1;
        agent.work.push(crate::agent::Work {
            call_seq: seq,
            call: cx,
            call_id: id,
            channel,
            phase: Phase::Busy,
            queue: qi,
            wrapup_until: None,
            entered_at,
            since: now,
        });
        self.emit(EventKind::Connected, Some(cx), Some(ax), now);
        self.note_state(ax, now);
        self.sync_ready(ax);
        for a in freed {
            self.match_agent(a, now);
        }
        self.match_agent(ax, now);
        Ok(())
    }

    pub fn reject(&mut self, agent_id: &str, call_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let oi = self.offer_of(agent_id, call_id)?;
        self.miss(oi, Rule::Rejected, now);
        Ok(())
    }

    /// An offer was rejected or timed out: ROUTING.md's miss policy, then the call goes back.
    pub(crate) fn miss(&mut self, oi: u32, cause: Rule, at: Millis) {
        let (cx, ax) = self.close_offer(oi);
        self.emit(EventKind::Missed, Some(cx), Some(ax), at).rule = cause;
        let policy = self.queues[self.call(cx).queue as usize].cfg.no_answer;
        let agent = &mut self.agents[ax as usize];
        agent.misses += 1;
        let paused = policy.max_misses > 0 && agent.misses >= policy.max_misses;
        if paused {
            agent.misses = 0;
            agent.presence = Presence::NotReady;
            agent.reason = Id::from("missed");
        } else {
            let delay = if cause == Rule::Rejected {
                policy.reject_delay_ms
            } else {
                policy.timeout_delay_ms
            };
            if delay == 0 {
                agent.ready_since = at;
                agent.ready_epoch += 1;
            } else {
                agent.blocked_until = Some(at + delay);
                self.rearm_agent_timer(ax);
            }
        }
        self.note_state(ax, at);
        self.sync_ready(ax);
        let mut returned = vec![cx];
        if paused {
            // A paused agent keeps no other open offer (a multi-channel agent may hold one).
            returned.extend(self.revoke_agent_offers(ax, RevokeReason::Paused, at));
        }
        for c in returned {
            if self.call(c).offers.is_empty() {
                self.return_to_line(c, at);
            }
        }
        self.match_agent(ax, at);
    }

    pub fn wrapup_done(&mut self, agent_id: &str, call_id: &str, now: Millis) -> Result<()> {
        self.advance(now)?;
        let ax = self.agent_ix(agent_id)?;
        let i = self.agents[ax as usize]
            .work
            .iter()
            .position(|w| w.phase == Phase::WrapUp && &*w.call_id == call_id)
            .ok_or_else(|| {
                AcdError::illegal(format!(
                    "agent '{agent_id}' is not in wrap-up for call '{call_id}'"
                ))
            })?;
        self.end_wrapup(ax, i, now);
        self.after_work_change(ax, now);
        Ok(())
    }

    /// Removes a finished wrap-up from the agent's work, counting its time.
    /// `i` indexes the agent's work: the agent may hold two wrap-ups of one call (a chat
    /// transferred back to a queue and taken again by the same agent), so not a call seq.
    pub(crate) fn end_wrapup(&mut self, ax: AgentIx, i: usize, at: Millis) {
        let agent = &mut self.agents[ax as usize];
        let w = agent.work.remove(i);
        debug_assert_eq!(w.phase, Phase::WrapUp);
        agent.ready_since = at;
        agent.ready_epoch += 1;
        self.queues[w.queue as usize]
            .stats
            .counters(w.entered_at)
            .wrapup_ms += at - w.since;
    }

    /// Ends every wrap-up of the agent that `done` selects.
    pub(crate) fn end_wrapups(&mut self, ax: AgentIx, at: Millis, done: impl Fn(&Work) -> bool) {
        while let Some(i) = self.agents[ax as usize]
            .work
            .iter()
            .position(|w| w.phase == Phase::WrapUp && done(w))
        {
            self.end_wrapup(ax, i, at);
        }
    }

    /// After the agent's work changed: zero wrap-ups end at once, a pending logout applies when
    /// nothing is left, timers are re-armed, and a Ready agent is matched.
    pub(crate) fn after_work_change(&mut self, ax: AgentIx, at: Millis) {
        self.end_wrapups(ax, at, |w| w.wrapup_until.is_some_and(|u| u <= at));
        let agent = &self.agents[ax as usize];
        if agent.pending_logout && agent.work.is_empty() {
            self.go_logged_out(ax, at);
            self.rearm_agent_timer(ax);
            return;
        }
        self.rearm_agent_timer(ax);
        self.note_state(ax, at);
        self.match_agent(ax, at);
    }

    fn clear_block(&mut self, ax: AgentIx) {
        if self.agents[ax as usize].blocked_until.take().is_some() {
            self.rearm_agent_timer(ax);
        }
    }

    /// Keeps the agent's single timer entry at its next deadline.
    pub(crate) fn rearm_agent_timer(&mut self, ax: AgentIx) {
        let agent = &mut self.agents[ax as usize];
        let next = agent.next_deadline();
        if next == agent.timer {
            return;
        }
        agent.timer = next;
        if let Some(t) = next {
            self.timers.arm((t, TimerKind::Agent, ax as u64), ax);
        }
    }
}
