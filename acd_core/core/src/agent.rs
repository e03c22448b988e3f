//! An agent: skills, capacity, presence and the work it holds.
//!
//! The DESIGN.md state (LoggedOut, NotReady, Ready, Reserved, Busy, WrapUp) is *derived* from
//! two things kept here: the agent's presence (what it said: logged out, not ready, available)
//! and its work items (offers, connected calls, wrap-ups). Deriving it means the two can never
//! disagree, and "pending not-ready after this call" is simply presence NotReady with work left.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::class::AgentKey;
use crate::event::Id;
use crate::model::{AgentState, CallIx, Channel, ClassIx, Millis, QueueIx, Skills};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    LoggedOut,
    NotReady,
    Available,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Reserved,
    Busy,
    WrapUp,
}

/// One piece of work the agent holds: an offer, a connected call or its wrap-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Work {
    pub call_seq: u64,
    /// The live call's slot; meaningless once the call is finished (wrap-up).
    pub call: CallIx,
    pub call_id: Arc<str>,
    pub channel: Channel,
    pub phase: Phase,
    pub queue: QueueIx,
    /// Wrap-up: when it ends by itself (None = until the agent says done).
    pub wrapup_until: Option<Millis>,
    /// Interval counters the call's handle time belongs to (the call's enqueue time).
    pub entered_at: Millis,
    /// When the current phase began.
    pub since: Millis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agent {
    pub id: Arc<str>,
    pub tier: u8,
    pub group: Arc<str>,
    /// The group's index in the agent-time statistics.
    pub group_ix: u32,
    pub skills: Skills,
    pub capacity: [u8; 5],
    pub presence: Presence,
    pub reason: Id,
    pub pending_logout: bool,
    pub work: Vec<Work>,
    /// When the agent last became Ready (longest-idle counts from here).
    pub ready_since: Millis,
    /// When the derived state last changed.
    pub state_since: Millis,
    pub state: AgentState,
    /// Miss delay: not offered anything before this time.
    pub blocked_until: Option<Millis>,
    pub misses: u32,
    pub calls_answered: u64,
    pub talk_ms: Millis,
    /// Draws of the `random` strategy: bumped each time the agent becomes Ready.
    pub ready_epoch: u64,
    /// The agent timer currently armed (wrap-up end or miss-delay end).
    pub timer: Option<Millis>,
    /// Requirement classes this agent is eligible for (by skills and tier).
    pub classes: Vec<ClassIx>,
    /// The ready sets the agent is in now, with the key it was filed under.
    pub in_ready: Vec<(ClassIx, AgentKey)>,
}

impl Agent {
    pub fn derived_state(&self) -> AgentState {
        if self.presence == Presence::LoggedOut {
            return AgentState::LoggedOut;
        }
        let mut state = None;
        for w in &self.work {
            state = Some(match (state, w.phase) {
                (_, Phase::Busy) | (Some(AgentState::Busy), _) => AgentState::Busy,
                (_, Phase::Reserved) | (Some(AgentState::Reserved), _) => AgentState::Reserved,
                _ => AgentState::WrapUp,
            });
        }
        match (state, self.presence) {
            (Some(s), _) => s,
            (None, Presence::Available) => AgentState::Ready,
            (None, _) => AgentState::NotReady,
        }
    }

    /// Can the agent be offered a call on `channel` right now (ROUTING.md, Eligibility)?
    pub fn can_take(&self, channel: Channel) -> bool {
        if self.presence != Presence::Available
            || self.pending_logout
            || self.blocked_until.is_some()
        {
            return false;
        }
        let cap = self.capacity[channel.index()];
        if cap == 0 {
            return false;
        }
        if channel.is_voice_like() {
            return self.work.is_empty();
        }
        let mut same = 0;
        for w in &self.work {
            if w.channel.is_voice_like() {
                return false;
            }
            if w.channel == channel {
                same += 1;
            }
        }
        same < cap
    }

    /// True when the agent could be offered something on some channel.
    pub fn offerable(&self) -> bool {
        if self.presence != Presence::Available
            || self.pending_logout
            || self.blocked_until.is_some()
        {
            return false;
        }
        // The usual answers without a look at each channel: no work (any capacity will do),
        // or a voice-like call held (nothing else fits beside it).
        match self.work.first() {
            None => self.capacity.iter().any(|&c| c > 0),
            Some(w) if w.channel.is_voice_like() => false,
            Some(_) => Channel::ALL.iter().any(|&c| self.can_take(c)),
        }
    }

    /// The agent's work item for call `call_seq` in `phase`. The phase matters: a chat
    /// transferred back to a queue can be offered to the agent still in wrap-up for it.
    pub fn work_index(&self, call_seq: u64, phase: Phase) -> Option<usize> {
        self.work
            .iter()
            .position(|w| w.call_seq == call_seq && w.phase == phase)
    }

    /// The earliest moment the agent's own timer must fire.
    pub fn next_deadline(&self) -> Option<Millis> {
        let wrap = self.work.iter().filter_map(|w| w.wrapup_until).min();
        match (wrap, self.blocked_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
