//! The harness's outside view of the router: calls and agents as the commands it sent and the
//! events it drained describe them (never the router's internals), and every history check.
//!
//! Each event is checked against the model *before* it is applied, so a check sees the world
//! exactly as it was when the router made that decision:
//! - I1: every acknowledged enqueue gets exactly one `terminal`; no event after it.
//! - I2/I5 from outside: an offer goes only to an agent that is available, not in a miss
//!   delay, not logging out, with free capacity on the channel (wrap-up counts as work).
//! - I3: at most one `connected` per call per queue visit, and only for an open offer.
//! - I4: every offer resolves by its `expires_at`; every call leaves by its time-to-live;
//!   timers fire at their exact deadlines (offer expiry, escalation, overflow, ttl).
//! - I6: an offer made by a strategy never skips a more urgent waiting call that the same
//!   agent could take; on arrival, the agent is the one the strategy names.
//! - the event contract of ROUTING.md: fields, rules, details, and time never going back.
//!
//! This file holds the model's state (agents, calls, queue totals) and the helpers every
//! check shares. The checks themselves, each an `impl Model` block of its own:
//! - `command`: what a command is expected to do (accepted, no-op, refused), its own
//!   effects, and the events its table entry promises;
//! - `events`: each event checked and applied (time order, escalation, agent state, and the
//!   call's ending, terminal, overflow and transfer);
//! - `offers`: offers, revokes / misses and answers (I2/I5, I3, I4 of an offer);
//! - `order`: the strategy's order and choice (I6);
//! - `compare`: the model against what the router reports after each step.

use std::collections::{BTreeMap, HashSet};

use acd_core::config::QueueConfig;
use acd_core::{AgentInfo, AgentState, Channel, Event, RouterConfig};

use super::command::Cmd;
use super::stats::Stats;

pub type Check = Result<(), String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    LoggedOut,
    NotReady,
    Available,
}

#[derive(Debug, Clone)]
pub struct AgentM {
    pub id: String,
    pub tier: u8,
    pub skills: BTreeMap<String, u8>,
    pub capacity: BTreeMap<Channel, u8>,
    /// The state the last `agent-state` event announced.
    pub state: AgentState,
    pub presence: Presence,
    pub pending_logout: bool,
    pub blocked_until: Option<u64>,
    pub misses: u32,
    /// Open offers and connected calls: call id -> channel.
    pub offers: BTreeMap<String, Channel>,
    pub connected: BTreeMap<String, Channel>,
    /// Wrap-ups: (call id, channel, automatic end).
    pub wrapups: Vec<(String, Channel, Option<u64>)>,
    /// When its last wrap-up ended by time alone (see `purge`).
    pub wrapup_ended_at: Option<u64>,
}

impl AgentM {
    fn work(&self) -> impl Iterator<Item = Channel> + '_ {
        self.offers
            .values()
            .chain(self.connected.values())
            .copied()
            .chain(self.wrapups.iter().map(|w| w.1))
    }

    pub fn has_work(&self) -> bool {
        self.work().next().is_some()
    }

    /// ROUTING.md, Eligibility (the capacity and readiness half), as of time `at`.
    pub fn can_take(&self, channel: Channel, at: u64) -> bool {
        if self.presence != Presence::Available
            || self.pending_logout
            || self.blocked_until.is_some_and(|b| b > at)
        {
            return false;
        }
        let cap = self.capacity.get(&channel).copied().unwrap_or(0);
        if cap == 0 {
            return false;
        }
        if channel.is_voice_like() {
            return !self.has_work();
        }
        let mut same = 0;
        for ch in self.work() {
            if ch.is_voice_like() {
                return false;
            }
            same += u8::from(ch == channel);
        }
        same < cap
    }

    pub(super) fn work_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .offers
            .keys()
            .chain(self.connected.keys())
            .map(String::as_str)
            .chain(self.wrapups.iter().map(|w| w.0.as_str()))
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[derive(Debug, Clone)]
pub struct CallM {
    pub id: String,
    pub seq: u64,
    pub priority: i32,
    /// ROUTING.md's static score, with the weight of the queue it was first enqueued in.
    pub score: i64,
    pub channel: Channel,
    pub skills_override: Option<BTreeMap<String, u8>>,
    /// No skill override, never had a preferred agent, never picked: the plain line (I6).
    pub clean: bool,
    pub preferred: Option<(usize, u64)>,
    pub enqueued_at: u64,
    pub queue: usize,
    pub entered_at: u64,
    pub step: u8,
    /// Open offers: agent -> expires_at.
    pub offers: BTreeMap<usize, u64>,
    pub connected: Option<usize>,
    /// Between `ended` and `terminal` / `transferred`.
    pub ended: bool,
    pub connects_this_visit: u32,
}

impl CallM {
    /// In its queue's line: not offered, not connected, not held for a preferred agent.
    pub fn in_line(&self, at: u64) -> bool {
        self.connected.is_none()
            && self.offers.is_empty()
            && !self.ended
            && self.preferred.is_none_or(|(_, until)| until <= at)
    }

    pub(super) fn state_name(&self, now: u64) -> &'static str {
        if self.connected.is_some() {
            "connected"
        } else if !self.offers.is_empty() {
            "offered"
        } else if self.preferred.is_some_and(|(_, until)| until > now) {
            "held"
        } else {
            "waiting"
        }
    }
}

/// Per-queue totals the model counts, to compare with the router's interval counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueTotals {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    pub expired: u64,
    pub transferred_out: u64,
    pub completed: u64,
}

#[derive(Clone)]
pub struct Model {
    pub queues: Vec<QueueConfig>,
    pub queue_ix: BTreeMap<String, usize>,
    pub agents: Vec<AgentM>,
    pub agent_ix: BTreeMap<String, usize>,
    pub dedup_window_ms: u64,
    /// Live calls by id.
    pub calls: BTreeMap<String, CallM>,
    /// Finished call ids and when they finished (the latest generation).
    pub finished: BTreeMap<String, u64>,
    /// Round-robin memory per queue: the agent the queue offered last.
    pub(super) rr_last: Vec<Option<usize>>,
    pub(super) next_seq: u64,
    pub acknowledged: u64,
    pub terminals: u64,
    pub totals: Vec<QueueTotals>,
    pub(super) last_at: u64,
    /// The command whose events are being applied (None: timers).
    pub(super) command: Option<Cmd>,
    pub(super) pick_offered: bool,
    /// Calls and (call, agent) pairs with a missed/revoke in the current operation (see
    /// `check_order`); agents paused in it.
    pub(super) op_calls: HashSet<String>,
    pub(super) op_agents: HashSet<usize>,
    pub(super) op_pairs: HashSet<(String, usize)>,
    /// Agent infos read just before an enqueue, to check the strategy's choice of agent.
    pub(super) choice: Option<(String, Vec<AgentInfo>)>,
    pub stats: Stats,
}

impl Model {
    pub fn new(cfg: &RouterConfig) -> Model {
        let agents: Vec<AgentM> = cfg
            .agents
            .iter()
            .map(|a| AgentM {
                id: a.id.clone(),
                tier: a.tier,
                skills: a.skills.clone(),
                capacity: a.capacity.clone(),
                state: AgentState::LoggedOut,
                presence: Presence::LoggedOut,
                pending_logout: false,
                blocked_until: None,
                misses: 0,
                offers: BTreeMap::new(),
                connected: BTreeMap::new(),
                wrapups: Vec::new(),
                wrapup_ended_at: None,
            })
            .collect();
        Model {
            queues: cfg.queues.clone(),
            queue_ix: cfg
                .queues
                .iter()
                .enumerate()
                .map(|(i, q)| (q.id.clone(), i))
                .collect(),
            agent_ix: agents
                .iter()
                .enumerate()
                .map(|(i, a)| (a.id.clone(), i))
                .collect(),
            agents,
            dedup_window_ms: cfg.dedup_window_ms,
            calls: BTreeMap::new(),
            finished: BTreeMap::new(),
            rr_last: vec![None; cfg.queues.len()],
            next_seq: 0,
            acknowledged: 0,
            terminals: 0,
            totals: vec![QueueTotals::default(); cfg.queues.len()],
            last_at: 0,
            command: None,
            pick_offered: false,
            op_calls: HashSet::new(),
            op_agents: HashSet::new(),
            op_pairs: HashSet::new(),
            choice: None,
            stats: Stats::default(),
        }
    }

    /// Requirement of a call at its current step: (skill -> min level, tier ceiling; 0 = all).
    pub fn class_of(&self, c: &CallM) -> (BTreeMap<String, u8>, u8) {
        let q = &self.queues[c.queue];
        let steps = &q.escalation[..c.step as usize];
        // A step without lower_levels_by keeps the previous step's.
        let lower = steps
            .iter()
            .rev()
            .find_map(|s| s.lower_levels_by)
            .unwrap_or(0);
        let tier = steps
            .iter()
            .rev()
            .find_map(|s| s.max_tier)
            .unwrap_or(q.max_tier);
        let base = c.skills_override.as_ref().unwrap_or(&q.skills);
        let reqs = base
            .iter()
            .map(|(s, &l)| (s.clone(), l.saturating_sub(lower).max(1)))
            .collect();
        (reqs, tier)
    }

    pub fn eligible(&self, a: usize, reqs: &BTreeMap<String, u8>, ceiling: u8) -> bool {
        let agent = &self.agents[a];
        (ceiling == 0 || agent.tier <= ceiling)
            && reqs
                .iter()
                .all(|(s, &min)| agent.skills.get(s).is_some_and(|&l| l >= min))
    }

    pub(super) fn level_sum(&self, a: usize, reqs: &BTreeMap<String, u8>) -> u32 {
        reqs.keys()
            .filter_map(|s| self.agents[a].skills.get(s))
            .map(|&l| u32::from(l))
            .sum()
    }

    /// Time-to-live of a call not connected: from its (first) enqueue, by its current queue's
    /// `ttl_ms`; a call that overflows into a queue whose ttl has run out expires on entry.
    pub(super) fn ttl_deadline(&self, c: &CallM) -> u64 {
        (c.enqueued_at + self.queues[c.queue].ttl_ms).max(c.entered_at)
    }

    /// Applies what time alone does by `t`: wrap-ups and miss delays that ran out.
    /// The end of a wrap-up is remembered: timers due at one instant fire offer expiries
    /// before wrap-up ends (ROUTING.md, timer order), so an agent whose offer times out at the
    /// very instant its wrap-up ends is still in wrap-up when the miss is handled.
    pub fn purge(&mut self, t: u64) {
        for a in &mut self.agents {
            for w in &a.wrapups {
                if let Some(end) = w.2.filter(|&end| end <= t) {
                    a.wrapup_ended_at = Some(end);
                }
            }
            a.wrapups.retain(|w| w.2.is_none_or(|end| end > t));
            if a.blocked_until.is_some_and(|b| b <= t) {
                a.blocked_until = None;
            }
        }
    }

    /// A new command's events begin (or the timers before it).
    pub fn begin(&mut self, command: Option<&Cmd>) {
        self.command = command.cloned();
        self.pick_offered = false;
        self.op_calls.clear();
        self.op_agents.clear();
        self.op_pairs.clear();
    }

    pub fn set_choice(&mut self, choice: Option<(String, Vec<AgentInfo>)>) {
        self.choice = choice;
    }

    pub(super) fn agent(&self, id: &str) -> Result<usize, String> {
        self.agent_ix
            .get(id)
            .copied()
            .ok_or_else(|| format!("event names unknown agent '{id}'"))
    }

    pub(super) fn live(&self, id: &str, e: &Event) -> Result<&CallM, String> {
        self.calls.get(id).ok_or_else(|| {
            let after = self
                .finished
                .get(id)
                .map_or(String::new(), |t| format!(" (it ended at {t})"));
            format!(
                "I1: {} event for call '{id}', which is not live{after}",
                e.kind.name()
            )
        })
    }

    pub(super) fn is_command(&self, f: impl Fn(&Cmd) -> bool) -> bool {
        self.command.as_ref().is_some_and(f)
    }

    /// Open offers as (call, agent id, expires_at), in a deterministic order.
    pub fn open_offers(&self) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        for c in self.calls.values() {
            for (&a, &exp) in &c.offers {
                out.push((c.id.clone(), self.agents[a].id.clone(), exp));
            }
        }
        out
    }
}
