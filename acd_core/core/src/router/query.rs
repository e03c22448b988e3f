//! Read-only views for supervisors and dashboards: live queue statistics, interval counters,
//! agent and call details. None of these change state.

use std::sync::Arc;

use crate::agent::Presence;
use crate::call::CallState;
use crate::error::Result;
use crate::event::Id;
use crate::model::{AgentState, Channel, Millis};
use crate::stats::{AgentTime, IntervalCounters, INTERVAL_MS};

use super::Router;

/// Live numbers of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Calls in the queue not yet answered (waiting, held for an agent, or being offered).
    pub waiting: u64,
    pub offered: u64,
    pub connected: u64,
    pub longest_wait_ms: Millis,
    /// Agents of the queue's team by state, in `AgentState::ALL` order.
    pub agents: [u64; 6],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub id: Arc<str>,
    pub state: AgentState,
    pub reason: Id,
    pub state_since: Millis,
    pub ready_since: Millis,
    pub tier: u8,
    pub group: Arc<str>,
    pub calls_answered: u64,
    pub talk_ms: Millis,
    pub misses: u32,
    pub calls: Vec<Arc<str>>,
    pub pending_logout: bool,
    pub pending_not_ready: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub id: Arc<str>,
    pub state: &'static str,
    pub queue_id: Arc<str>,
    pub channel: Channel,
    pub priority: i32,
    /// The line's order: higher first, then `seq` (ROUTING.md, Order of waiting calls).
    pub score: i64,
    pub seq: u64,
    pub enqueued_at: Millis,
    pub entered_queue_at: Millis,
    pub step: u8,
    pub agents: Vec<Arc<str>>,
    pub caller: Id,
    pub dialled: Id,
    pub attributes: Vec<(String, String)>,
}

impl Router {
    pub fn queue_snapshot(&self, queue_id: &str, now: Millis) -> Result<QueueSnapshot> {
        let q = &self.queues[self.queue_ix("queue_id", queue_id)? as usize];
        let mut agents = [0u64; 6];
        for &ax in &q.members {
            let s = self.agents[ax as usize].state;
            agents[AgentState::ALL
                .iter()
                .position(|&x| x == s)
                .expect("known state")] += 1;
        }
        let longest = q
            .stats
            .waiting
            .oldest()
            .map_or(0, |t| now.saturating_sub(t));
        Ok(QueueSnapshot {
            waiting: q.stats.waiting.len(),
            offered: q.stats.offered_now,
            connected: q.stats.connected_now,
            longest_wait_ms: longest,
            agents,
        })
    }

    /// Interval counters of a queue: (interval start in ms, counters), oldest first.
    pub fn interval_counters(&self, queue_id: &str) -> Result<Vec<(Millis, IntervalCounters)>> {
        let q = &self.queues[self.queue_ix("queue_id", queue_id)? as usize];
        Ok(q.stats
            .intervals
            .iter()
            .map(|(&iv, &c)| (iv * INTERVAL_MS, c))
            .collect())
    }

    /// Agent time per group and interval: (group, interval start in ms, time), by group then time.
    /// Time in the current state counts up to the last state change, not up to now.
    pub fn agent_time(&self) -> Vec<(Arc<str>, Millis, AgentTime)> {
        let groups = &self.agent_time.groups;
        let mut out: Vec<_> = self
            .agent_time
            .intervals
            .iter()
            .map(|(&(g, iv), &t)| (groups[g as usize].clone(), iv * INTERVAL_MS, t))
            .collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    pub fn agent_info(&self, agent_id: &str) -> Result<AgentInfo> {
        let a = &self.agents[self.agent_ix(agent_id)? as usize];
        Ok(AgentInfo {
            id: a.id.clone(),
            state: a.state,
            reason: a.reason.clone(),
            state_since: a.state_since,
            ready_since: a.ready_since,
            tier: a.tier,
            group: a.group.clone(),
            calls_answered: a.calls_answered,
            talk_ms: a.talk_ms,
            misses: a.misses,
            calls: a.work.iter().map(|w| w.call_id.clone()).collect(),
            pending_logout: a.pending_logout,
            pending_not_ready: a.presence == Presence::NotReady && !a.work.is_empty(),
        })
    }

    pub fn call_info(&self, call_id: &str) -> Option<CallInfo> {
        let cx = self.ix.live_call(call_id)?;
        let c = self.call(cx);
        let (state, agents) = match c.state {
            CallState::Waiting => ("waiting", vec![]),
            CallState::Held => ("held", vec![]),
            CallState::Offered => (
                "offered",
                c.offers
                    .iter()
                    .map(|&oi| self.agents[self.offer(oi).agent as usize].id.clone())
                    .collect(),
            ),
            CallState::Connected(ax) => ("connected", vec![self.agents[ax as usize].id.clone()]),
        };
        Some(CallInfo {
            id: c.id.clone(),
            state,
            queue_id: self.queues[c.queue as usize].id.clone(),
            channel: c.channel,
            priority: c.priority,
            score: c.score,
            seq: c.seq,
            enqueued_at: c.first_enqueued_at,
            entered_queue_at: c.entered_at,
            step: c.step,
            agents,
            caller: c.caller.clone(),
            dialled: c.dialled.clone(),
            attributes: c.attributes.clone(),
        })
    }

    /// A waiting call's place in its queue's line as (queue, score, seq): the line is ordered by
    /// (-score, seq). None for a call that is not waiting (held, offered, connected, unknown).
    /// The shell's position estimates read this for each call a batch moved, so it copies
    /// nothing but the queue id.
    pub fn waiting_key(&self, call_id: &str) -> Option<(Arc<str>, i64, u64)> {
        let c = self.call(self.ix.live_call(call_id)?);
        match c.state {
            CallState::Waiting => Some((self.queues[c.queue as usize].id.clone(), c.score, c.seq)),
            _ => None,
        }
    }

    pub fn queue_ids(&self) -> Vec<Arc<str>> {
        self.queues.iter().map(|q| q.id.clone()).collect()
    }

    pub fn agent_ids(&self) -> Vec<Arc<str>> {
        self.agents.iter().map(|a| a.id.clone()).collect()
    }

    /// Every live call id (waiting, held, offered or connected), in arrival order.
    pub fn call_ids(&self) -> Vec<Arc<str>> {
        let mut live: Vec<_> = self
            .calls
            .iter()
            .flatten()
            .map(|c| (c.seq, &c.id))
            .collect();
        live.sort_unstable_by_key(|&(seq, _)| seq);
        live.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Live calls not yet connected, across all queues.
    pub fn waiting_count(&self) -> usize {
        self.queues
            .iter()
            .map(|q| q.stats.waiting.len() as usize)
            .sum()
    }

    /// Live calls, connected or not.
    pub fn live_calls(&self) -> usize {
        self.calls.len() - self.free_calls.len() // a slot is live or free
    }

    pub fn now(&self) -> Millis {
        self.now
    }
}
