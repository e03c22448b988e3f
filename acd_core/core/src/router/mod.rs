//! The router: one tenant's queues, agents, calls and offers, driven by commands with `now_ms`.
//!
//! Shape (as in quinn-proto): `handle_*(.., now)` for inputs, `handle_timeout(now)` for timers,
//! `poll_timeout()` for the next deadline, `drain()` for the events produced. No I/O, no clock,
//! no threads; the same inputs give the same events, byte for byte.
//!
//! The work is split by concern: `calls.rs` (call commands), `agents.rs` (agent commands),
//! `matching.rs` (indexes and offers), `timeouts.rs` (timers), `query.rs` (stats and views),
//! `reconfigure.rs` (a new configuration at runtime), `snapshot.rs` (save/restore).

mod agents;
mod batch;
mod callback;
pub mod calls;
mod invariants;
mod matching;
mod query;
mod reconfigure;
mod snapshot;
mod timeouts;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::agent::{Agent, Presence};
use crate::call::Call;
use crate::class::{Class, ClassKey, ALL_TIERS};
use crate::config::{AgentConfig, QueueConfig, RouterConfig};
use crate::error::{AcdError, Result};
use crate::event::{Detail, Event, EventKind, Id, Rule};
use crate::model::{AgentIx, AgentState, CallIx, ClassIx, Millis, QueueIx, SkillIx, Skills};
use crate::stats::{AgentTimeStats, QueueStats};
use crate::timers::Timers;

pub use batch::Command;
pub use calls::EnqueueRequest;
pub use query::{AgentInfo, CallInfo, QueueSnapshot};

/// A queue as the router holds it: its config plus resolved references and statistics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Queue {
    pub id: Arc<str>,
    pub cfg: QueueConfig,
    pub base_reqs: Skills,
    pub overflow_target: Option<QueueIx>,
    /// Agents that meet the base requirement (any tier): the queue's team in statistics.
    pub members: Vec<AgentIx>,
    pub rr_last: Option<AgentIx>,
    pub stats: QueueStats,
}

/// An open offer of a call to an agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Offer {
    pub seq: u64,
    pub call: CallIx,
    pub agent: AgentIx,
    pub expires_at: Millis,
    /// The agent's `ready_since` before the offer, given back if the offer is revoked.
    pub prev_ready_since: Millis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Router {
    pub(crate) seed: u64,
    pub(crate) dedup_window_ms: Millis,
    pub(crate) now: Millis,
    pub(crate) skill_names: Vec<String>,
    pub(crate) queues: Vec<Queue>,
    pub(crate) agents: Vec<Agent>,
    pub(crate) calls: Vec<Option<Call>>,
    pub(crate) free_calls: Vec<CallIx>,
    pub(crate) next_call_seq: u64,
    pub(crate) offers: Vec<Option<Offer>>,
    pub(crate) free_offers: Vec<u32>,
    pub(crate) next_offer_seq: u64,
    /// Decisions drawn by the `random` strategy so far (its pseudo-random sequence position).
    pub(crate) random_draws: u64,
    pub(crate) classes: Vec<Class>,
    /// Calls held for their preferred agent: agent -> (seq, call).
    pub(crate) held: BTreeMap<AgentIx, BTreeSet<(u64, CallIx)>>,
    pub(crate) timers: Timers,
    /// Finished call ids still inside the dedup window, oldest first.
    pub(crate) finished: VecDeque<(Millis, Arc<str>)>,
    pub(crate) agent_time: AgentTimeStats,
    pub(crate) pruned_interval: u64,
    pub(crate) events: Vec<Event>,
    #[serde(skip)]
    pub(crate) ix: Indexes,
}

/// Lookup maps derived from the arenas; not saved in snapshots, rebuilt on restore.
#[derive(Debug, Clone, Default)]
pub(crate) struct Indexes {
    pub skills: FxHashMap<String, SkillIx>,
    pub queues: FxHashMap<Arc<str>, QueueIx>,
    pub agents: FxHashMap<Arc<str>, AgentIx>,
    /// Every call id the router knows: live calls and those finished inside the dedup window,
    /// in one map, so an enqueue asks once and a finishing call changes its entry in place.
    pub calls: FxHashMap<Arc<str>, CallId>,
    pub classes: FxHashMap<ClassKey, ClassIx>,
    /// Class of (queue, channel, step) for calls without skill overrides: skips building a
    /// requirement key on every enqueue.
    pub base_classes: FxHashMap<(QueueIx, crate::model::Channel, u8), ClassIx>,
    /// Each class's most urgent waiting call, by class index (see `class::Front`).
    pub fronts: Vec<crate::class::Front>,
    /// By call slot: the call in line there, as (seq, class), or `NOT_LINED`. Says whether a
    /// key of a class's line is live from 16 bytes a slot, kept in cache, instead of from the
    /// call itself (a cache miss for each key looked at).
    pub lined: Vec<(u64, ClassIx)>,
}

/// What a call id stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallId {
    /// A live call, in this slot.
    Live(CallIx),
    /// A call that finished at this time, remembered until the dedup window has passed.
    Finished(Millis),
}

impl Indexes {
    /// The slot of the live call `id`.
    pub fn live_call(&self, id: &str) -> Option<CallIx> {
        match self.calls.get(id) {
            Some(&CallId::Live(cx)) => Some(cx),
            _ => None,
        }
    }
}

/// `Indexes::lined` of a slot whose call (if any) is not in a line.
pub(crate) const NOT_LINED: (u64, ClassIx) = (u64::MAX, ClassIx::MAX);

impl Router {
    pub fn from_json(config: &str) -> Result<Router> {
        Router::new(RouterConfig::from_json(config)?)
    }

    pub fn new(config: RouterConfig) -> Result<Router> {
        config.validate()?;
        let mut r = Router {
            seed: config.seed,
            dedup_window_ms: config.dedup_window_ms,
            now: 0,
            skill_names: Vec::new(),
            queues: Vec::new(),
            agents: Vec::new(),
            calls: Vec::new(),
            free_calls: Vec::new(),
            next_call_seq: 0,
            offers: Vec::new(),
            free_offers: Vec::new(),
            next_offer_seq: 0,
            random_draws: 0,
            classes: Vec::new(),
            held: BTreeMap::new(),
            timers: Timers::default(),
            finished: VecDeque::new(),
            agent_time: AgentTimeStats::default(),
            pruned_interval: 0,
            events: Vec::new(),
            ix: Indexes::default(),
        };
        for a in &config.agents {
            let agent = r.new_agent(a, 0);
            r.ix.agents
                .insert(agent.id.clone(), r.agents.len() as AgentIx);
            r.agents.push(agent);
        }
        for q in &config.queues {
            let queue = r.new_queue(q.clone());
            r.ix.queues
                .insert(queue.id.clone(), r.queues.len() as QueueIx);
            r.queues.push(queue);
        }
        r.resolve_queues();
        Ok(r)
    }

    /// A configured agent as it joins the router: logged out since `now`.
    fn new_agent(&mut self, a: &AgentConfig, now: Millis) -> Agent {
        let skills = self.intern_skills(&a.skills);
        let group_ix = self.agent_time.group(&a.group);
        Agent {
            id: Arc::from(a.id.as_str()),
            tier: a.tier,
            group: Arc::from(a.group.as_str()),
            group_ix,
            skills,
            capacity: capacity_of(a),
            presence: Presence::LoggedOut,
            reason: Id::NONE,
            pending_logout: false,
            work: Vec::new(),
            ready_since: 0,
            state_since: now,
            state: AgentState::LoggedOut,
            blocked_until: None,
            misses: 0,
            calls_answered: 0,
            talk_ms: 0,
            ready_epoch: 0,
            timer: None,
            classes: Vec::new(),
            in_ready: Vec::new(),
        }
    }

    /// A configured queue as it joins the router; `resolve_queues` fills in its references.
    fn new_queue(&mut self, q: QueueConfig) -> Queue {
        Queue {
            id: Arc::from(q.id.as_str()),
            base_reqs: self.intern_skills(&q.skills),
            cfg: q,
            overflow_target: None,
            members: Vec::new(),
            rr_last: None,
            stats: QueueStats::default(),
        }
    }

    /// Derives what queues refer to: each queue's team and its overflow target.
    fn resolve_queues(&mut self) {
        for qi in 0..self.queues.len() {
            let q = &self.queues[qi];
            let members = (0..self.agents.len() as AgentIx)
                .filter(|&a| crate::model::meets(&self.agents[a as usize].skills, &q.base_reqs))
                .collect();
            let target = q.cfg.overflow.as_ref().and_then(|o| o.queue.as_deref());
            let target = target.map(|t| self.ix.queues[t]);
            let q = &mut self.queues[qi];
            q.members = members;
            q.overflow_target = target;
        }
    }

    pub(crate) fn intern_skills(&mut self, skills: &BTreeMap<String, u8>) -> Skills {
        let mut out: Skills = skills
            .iter()
            .map(|(name, &level)| (self.intern(name), level))
            .collect();
        out.sort_unstable();
        out
    }

    pub(crate) fn intern(&mut self, name: &str) -> SkillIx {
        if let Some(&s) = self.ix.skills.get(name) {
            return s;
        }
        let s = self.skill_names.len() as SkillIx;
        self.skill_names.push(name.to_owned());
        self.ix.skills.insert(name.to_owned(), s);
        s
    }

    /// Moves the clock to `now`, firing due timers first (ROUTING.md, Driving API).
    pub(crate) fn advance(&mut self, now: Millis) -> Result<()> {
        if now < self.now {
            return Err(AcdError::invalid(
                "now_ms",
                format!("time went backwards ({now} < {})", self.now),
            ));
        }
        self.fire_due_timers(now);
        self.now = now;
        self.prune(now);
        self.compact_timers();
        Ok(())
    }

    /// Runs every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Millis) -> Result<()> {
        self.advance(now)
    }

    /// The earliest pending deadline: call `handle_timeout` then.
    pub fn poll_timeout(&mut self) -> Option<Millis> {
        self.next_live_deadline()
    }

    /// Returns and clears the events produced so far.
    pub fn drain(&mut self) -> Vec<Event> {
        // An exact-size copy out; the buffer keeps its capacity, so pushes rarely reallocate.
        self.events.drain(..).collect()
    }

    /// Takes the events produced so far one by one, without the copy `drain` makes (the
    /// binding turns each into a Python object as it goes). Dropping the iterator clears them.
    pub fn drain_iter(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Events produced so far, without clearing them.
    pub fn pending_events(&self) -> &[Event] {
        &self.events
    }

    pub(crate) fn agent_ix(&self, id: &str) -> Result<AgentIx> {
        self.ix
            .agents
            .get(id)
            .copied()
            .ok_or_else(|| AcdError::not_found("agent_id", id))
    }

    pub(crate) fn call_ix(&self, id: &str) -> Result<CallIx> {
        self.ix
            .live_call(id)
            .ok_or_else(|| AcdError::not_found("call_id", id))
    }

    pub(crate) fn queue_ix(&self, field: &'static str, id: &str) -> Result<QueueIx> {
        self.ix
            .queues
            .get(id)
            .copied()
            .ok_or_else(|| AcdError::not_found(field, id))
    }

    pub(crate) fn call(&self, cx: CallIx) -> &Call {
        self.calls[cx as usize].as_ref().expect("live call slot")
    }

    /// Call `seq` left queue `qi`'s line (answered, abandoned, overflowed, expired, moved).
    pub(crate) fn leave_wait_line(&mut self, qi: QueueIx, seq: u64) {
        let calls = &self.calls;
        self.queues[qi as usize]
            .stats
            .waiting
            .leave(seq, |s, slot, at| {
                calls
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|c| {
                        c.seq == s
                            && c.queue == qi
                            && c.entered_at == at
                            && !matches!(c.state, crate::call::CallState::Connected(_))
                    })
            });
    }

    pub(crate) fn call_mut(&mut self, cx: CallIx) -> &mut Call {
        self.calls[cx as usize].as_mut().expect("live call slot")
    }

    pub(crate) fn offer(&self, oi: u32) -> &Offer {
        self.offers[oi as usize].as_ref().expect("open offer slot")
    }

    pub(crate) fn emit(
        &mut self,
        kind: EventKind,
        call: Option<CallIx>,
        agent: Option<AgentIx>,
        at: Millis,
    ) -> &mut Event {
        let (call_id, queue_id) = match call {
            Some(cx) => {
                let c = self.call(cx);
                (Id::from(&c.id), Id::from(&self.queues[c.queue as usize].id))
            }
            None => (Id::NONE, Id::NONE),
        };
        let agent_id = agent.map_or(Id::NONE, |a| Id::from(&self.agents[a as usize].id));
        self.events.push(Event {
            kind,
            call_id,
            agent_id,
            queue_id,
            at_ms: at,
            expires_at_ms: 0,
            rule: Rule::None,
            reason: Id::NONE,
            detail: Detail::None,
        });
        self.events.last_mut().expect("just pushed")
    }

    /// The requirement class of a call at its current escalation step (created on first use).
    pub(crate) fn class_of(&mut self, qi: QueueIx, call: &Call) -> ClassIx {
        let base_key = (qi, call.channel, call.step);
        if call.skills_override.is_none() {
            if let Some(&ci) = self.ix.base_classes.get(&base_key) {
                return ci;
            }
        }
        let q = &self.queues[qi as usize];
        let steps = &q.cfg.escalation[..call.step as usize];
        let lower = steps
            .iter()
            .rev()
            .find_map(|s| s.lower_levels_by)
            .unwrap_or(0);
        let tier = steps
            .iter()
            .rev()
            .find_map(|s| s.max_tier)
            .unwrap_or(q.cfg.max_tier);
        let base = call.skills_override.as_ref().unwrap_or(&q.base_reqs);
        let reqs = base
            .iter()
            .map(|&(s, l)| (s, l.saturating_sub(lower).max(1)))
            .collect();
        let key = ClassKey {
            queue: qi,
            channel: call.channel,
            reqs,
            max_tier: if tier == 0 { ALL_TIERS } else { tier },
        };
        let ci = self.class_ix(key);
        if call.skills_override.is_none() {
            self.ix.base_classes.insert(base_key, ci);
        }
        ci
    }
}

/// An agent's capacity per channel, indexed by `Channel::index`.
pub(crate) fn capacity_of(a: &AgentConfig) -> [u8; 5] {
    let mut capacity = [0u8; 5];
    for (ch, n) in &a.capacity {
        capacity[ch.index()] = *n;
    }
    capacity
}
