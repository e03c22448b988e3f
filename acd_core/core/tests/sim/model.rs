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

use std::collections::{BTreeMap, HashSet};

use acd_core::config::QueueConfig;
use acd_core::{
    AcdError, AgentInfo, AgentState, Channel, Command, Detail, Event, EventKind, Outcome,
    RevokeReason, Router, RouterConfig, Rule, Strategy, TransferTarget,
};

pub type Check = Result<(), String>;

/// A command as the harness sends it: the core's batch commands plus transfer and pick.
#[derive(Debug, Clone)]
pub enum Cmd {
    Core(Command),
    Transfer(String, TransferTarget, u64),
    Pick(String, String, u64),
}

impl Cmd {
    pub fn timeout(t: u64) -> Cmd {
        Cmd::Core(Command::Timeout(t))
    }

    pub fn time(&self) -> u64 {
        match self {
            Cmd::Transfer(_, _, t) | Cmd::Pick(_, _, t) => *t,
            Cmd::Core(c) => match c {
                Command::Enqueue(_, t)
                | Command::Abandon(_, t)
                | Command::Login(_, t)
                | Command::Logout(_, t)
                | Command::Ready(_, t)
                | Command::NotReady(_, _, t)
                | Command::Accept(_, _, t)
                | Command::Reject(_, _, t)
                | Command::End(_, t)
                | Command::WrapupDone(_, _, t)
                | Command::Timeout(t) => *t,
            },
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Cmd::Core(Command::Timeout(_)))
    }
}

/// Runs one command; `Ok(false)` only for an enqueue of a live or recently finished id.
pub fn exec(router: &mut Router, cmd: &Cmd) -> Result<bool, AcdError> {
    match cmd {
        Cmd::Core(Command::Enqueue(req, t)) => router.enqueue(req, *t),
        Cmd::Core(c) => router.apply(c).map(|()| true),
        Cmd::Transfer(call, target, t) => router.transfer(call, target, *t).map(|()| true),
        Cmd::Pick(agent, call, t) => router.pick(agent, call, *t).map(|()| true),
    }
}

/// What the model predicts a command does, given the state after due timers fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Accepted, with effects.
    Ok,
    /// Accepted without any effect (duplicate enqueue, set_ready of a Ready agent).
    NoOp,
    /// Refused: an error, and no state change at all.
    Err,
}

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

    fn work_ids(&self) -> Vec<&str> {
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

    fn state_name(&self, now: u64) -> &'static str {
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

/// What the runs did, summed over seeds: proof that the harness drives real traffic.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub seeds: u64,
    pub steps: u64,
    pub commands: u64,
    pub events: u64,
    pub enqueued: u64,
    pub offers_by_rule: BTreeMap<String, u64>,
    pub connected: u64,
    pub missed_rejected: u64,
    pub missed_timed_out: u64,
    pub revokes: BTreeMap<String, u64>,
    pub outcomes: BTreeMap<String, u64>,
    pub escalations: u64,
    pub overflows: u64,
    pub transfers: u64,
    pub chat_offers: u64,
    pub refused: u64,
    pub no_ops: u64,
    pub fused: u64,
    pub i6_checked: u64,
    pub i6_exempt: u64,
    pub choice_checked: u64,
    pub max_live_calls: u64,
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        self.seeds += o.seeds;
        self.steps += o.steps;
        self.commands += o.commands;
        self.events += o.events;
        self.enqueued += o.enqueued;
        for (k, v) in &o.offers_by_rule {
            *self.offers_by_rule.entry(k.clone()).or_default() += v;
        }
        self.connected += o.connected;
        self.missed_rejected += o.missed_rejected;
        self.missed_timed_out += o.missed_timed_out;
        for (k, v) in &o.revokes {
            *self.revokes.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += v;
        }
        self.escalations += o.escalations;
        self.overflows += o.overflows;
        self.transfers += o.transfers;
        self.chat_offers += o.chat_offers;
        self.refused += o.refused;
        self.no_ops += o.no_ops;
        self.fused += o.fused;
        self.i6_checked += o.i6_checked;
        self.i6_exempt += o.i6_exempt;
        self.choice_checked += o.choice_checked;
        self.max_live_calls = self.max_live_calls.max(o.max_live_calls);
    }
}

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
    rr_last: Vec<Option<usize>>,
    next_seq: u64,
    pub acknowledged: u64,
    pub terminals: u64,
    pub totals: Vec<QueueTotals>,
    last_at: u64,
    /// The command whose events are being applied (None: timers).
    command: Option<Cmd>,
    pick_offered: bool,
    /// Calls and (call, agent) pairs with a missed/revoke in the current operation (see
    /// `check_order`); agents paused in it.
    op_calls: HashSet<String>,
    op_agents: HashSet<usize>,
    op_pairs: HashSet<(String, usize)>,
    /// Agent infos read just before an enqueue, to check the strategy's choice of agent.
    choice: Option<(String, Vec<AgentInfo>)>,
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

    fn level_sum(&self, a: usize, reqs: &BTreeMap<String, u8>) -> u32 {
        reqs.keys()
            .filter_map(|s| self.agents[a].skills.get(s))
            .map(|&l| u32::from(l))
            .sum()
    }

    /// Time-to-live of a call not connected: from its (first) enqueue, by its current queue's
    /// `ttl_ms`; a call that overflows into a queue whose ttl has run out expires on entry.
    fn ttl_deadline(&self, c: &CallM) -> u64 {
        (c.enqueued_at + self.queues[c.queue].ttl_ms).max(c.entered_at)
    }

    /// Applies what time alone does by `t`: wrap-ups and miss delays that ran out.
    pub fn purge(&mut self, t: u64) {
        for a in &mut self.agents {
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

    fn agent(&self, id: &str) -> Result<usize, String> {
        self.agent_ix
            .get(id)
            .copied()
            .ok_or_else(|| format!("event names unknown agent '{id}'"))
    }

    fn live(&self, id: &str, e: &Event) -> Result<&CallM, String> {
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

    // --- predictions ----------------------------------------------------------------------

    /// ROUTING.md's command tables, applied to the model as of `now` (timers already fired).
    pub fn predict(&self, cmd: &Cmd, now: u64) -> Expect {
        use Expect::{Err, NoOp, Ok};
        if cmd.time() < now {
            return Err;
        }
        let agent = |id: &str| self.agent_ix.get(id).map(|&a| &self.agents[a]);
        let ok = |b: bool| if b { Ok } else { Err };
        match cmd {
            Cmd::Core(Command::Timeout(_)) => Ok,
            Cmd::Core(Command::Enqueue(req, _)) => {
                let bad_id =
                    |s: &str| s.is_empty() || s.len() > 256 || s.chars().any(char::is_control);
                if bad_id(&req.call_id)
                    || !(-1_000_000..=1_000_000).contains(&req.priority)
                    || req
                        .skills
                        .iter()
                        .flatten()
                        .any(|(s, &l)| bad_id(s) || !(1..=10).contains(&l))
                    || !self.queue_ix.contains_key(&req.queue_id)
                    || req
                        .preferred_agent
                        .as_ref()
                        .is_some_and(|a| !self.agent_ix.contains_key(a))
                {
                    return Err;
                }
                if self.calls.contains_key(&req.call_id)
                    || self.finished.get(&req.call_id).is_some_and(|&t| {
                        self.dedup_window_ms > 0 && t + self.dedup_window_ms > now
                    })
                {
                    return NoOp;
                }
                Ok
            }
            Cmd::Core(Command::Abandon(c, _)) => ok(self
                .calls
                .get(c)
                .is_some_and(|c| c.connected.is_none() && !c.ended)),
            Cmd::Core(Command::Login(a, _)) => {
                ok(agent(a).is_some_and(|a| a.state == AgentState::LoggedOut))
            }
            Cmd::Core(Command::Logout(a, _)) => {
                ok(agent(a).is_some_and(|a| a.state != AgentState::LoggedOut))
            }
            Cmd::Core(Command::Ready(a, _)) => match agent(a).map(|a| a.state) {
                Some(AgentState::NotReady | AgentState::WrapUp) => Ok,
                Some(AgentState::Ready) => NoOp,
                _ => Err,
            },
            // Refused while the agent holds an open offer (also beside a busy chat).
            Cmd::Core(Command::NotReady(a, reason, _)) => ok(reason.len() <= 64
                && !reason.chars().any(char::is_control)
                && agent(a).is_some_and(|a| {
                    !matches!(a.state, AgentState::LoggedOut | AgentState::Reserved)
                        && a.offers.is_empty()
                })),
            Cmd::Core(Command::Accept(a, c, _) | Command::Reject(a, c, _)) => {
                ok(self.agent_ix.get(a).is_some_and(|&ax| {
                    self.calls
                        .get(c)
                        .is_some_and(|c| c.offers.contains_key(&ax))
                }))
            }
            Cmd::Core(Command::End(c, _)) => {
                ok(self.calls.get(c).is_some_and(|c| c.connected.is_some()))
            }
            Cmd::Core(Command::WrapupDone(a, c, _)) => {
                ok(agent(a).is_some_and(|a| a.wrapups.iter().any(|w| &w.0 == c)))
            }
            Cmd::Transfer(c, target, _) => {
                let target_ok = match target {
                    TransferTarget::Queue(q) => self.queue_ix.contains_key(q),
                    TransferTarget::Agent(a) => self.agent_ix.contains_key(a),
                    TransferTarget::Destination(d) => {
                        !d.is_empty() && d.len() <= 256 && !d.chars().any(char::is_control)
                    }
                };
                let to_self = |ax: usize| matches!(target, TransferTarget::Agent(a) if self.agent_ix.get(a) == Some(&ax));
                ok(target_ok
                    && self
                        .calls
                        .get(c)
                        .is_some_and(|c| c.connected.is_some_and(|ax| !to_self(ax))))
            }
            Cmd::Pick(a, c, _) => ok(match (agent(a), self.calls.get(c)) {
                (Some(a), Some(c)) => {
                    c.connected.is_none()
                        && c.offers.is_empty()
                        && !c.ended
                        && a.can_take(c.channel, now)
                }
                _ => false,
            }),
        }
    }

    // --- command effects that produce no event of their own -------------------------------

    /// Applies an accepted command's own effects, after the timers and before its events.
    pub fn before_command(&mut self, cmd: &Cmd, result: &Result<bool, AcdError>, t: u64) -> Check {
        let Ok(acknowledged) = result else {
            return Ok(());
        };
        match cmd {
            Cmd::Core(Command::Enqueue(req, _)) => {
                if !acknowledged {
                    self.stats.no_ops += 1;
                    return Ok(());
                }
                ensure!(
                    !self.calls.contains_key(&req.call_id),
                    "I1: enqueue of live call '{}' was acknowledged twice",
                    req.call_id
                );
                if let Some(&done) = self.finished.get(&req.call_id) {
                    ensure!(
                        self.dedup_window_ms == 0 || done + self.dedup_window_ms <= t,
                        "enqueue of '{}' acknowledged inside the dedup window (it ended at {done}, window {})",
                        req.call_id,
                        self.dedup_window_ms
                    );
                }
                let qi = self.queue_ix[&req.queue_id];
                let aging = self.queues[qi].aging_ms;
                let weight = if aging == 0 {
                    10_000_000_000
                } else {
                    aging as i64
                };
                let preferred = match &req.preferred_agent {
                    Some(a) if req.preferred_wait_ms > 0 => {
                        Some((self.agent_ix[a], t + req.preferred_wait_ms))
                    }
                    _ => None,
                };
                let seq = self.next_seq;
                self.next_seq += 1;
                self.acknowledged += 1;
                self.totals[qi].offered += 1;
                self.stats.enqueued += 1;
                self.calls.insert(
                    req.call_id.clone(),
                    CallM {
                        id: req.call_id.clone(),
                        seq,
                        priority: req.priority,
                        score: i64::from(req.priority) * weight - t as i64,
                        channel: req.channel.unwrap_or(Channel::Voice),
                        skills_override: req.skills.clone(),
                        clean: req.skills.is_none() && preferred.is_none(),
                        preferred,
                        enqueued_at: t,
                        queue: qi,
                        entered_at: t,
                        step: 0,
                        offers: BTreeMap::new(),
                        connected: None,
                        ended: false,
                        connects_this_visit: 0,
                    },
                );
            }
            Cmd::Core(Command::Login(a, _)) => {
                let agent = &mut self.agents[self.agent_ix[a]];
                agent.presence = Presence::NotReady;
                agent.misses = 0;
            }
            Cmd::Core(Command::Logout(a, _)) => {
                // Connected work or a wrap-up finishes first; open offers are revoked.
                let agent = &mut self.agents[self.agent_ix[a]];
                if !agent.connected.is_empty() || !agent.wrapups.is_empty() {
                    agent.pending_logout = true;
                }
            }
            Cmd::Core(Command::Ready(a, _)) => {
                let agent = &mut self.agents[self.agent_ix[a]];
                match agent.state {
                    AgentState::Ready => self.stats.no_ops += 1,
                    AgentState::WrapUp => {
                        agent.wrapups.clear();
                        if !agent.pending_logout {
                            agent.presence = Presence::Available;
                        }
                    }
                    _ => agent.presence = Presence::Available,
                }
            }
            Cmd::Core(Command::NotReady(a, _, _)) => {
                let agent = &mut self.agents[self.agent_ix[a]];
                agent.presence = Presence::NotReady;
                agent.blocked_until = None;
            }
            Cmd::Core(Command::WrapupDone(a, c, _)) => {
                let agent = &mut self.agents[self.agent_ix[a]];
                let i = agent.wrapups.iter().position(|w| &w.0 == c);
                ensure!(
                    i.is_some(),
                    "wrapup_done({a}, {c}) accepted, but the agent has no such wrap-up"
                );
                agent.wrapups.remove(i.unwrap_or_default());
            }
            _ => {}
        }
        Ok(())
    }

    /// After an accepted command's events: the events its table entry promises are there.
    pub fn after_command(&self, cmd: &Cmd, events: &[Event]) -> Check {
        let has = |kind: EventKind, call: &str, agent: Option<&str>, f: &dyn Fn(&Event) -> bool| {
            events.iter().any(|e| {
                e.kind == kind
                    && &*e.call_id == call
                    && agent.is_none_or(|a| &*e.agent_id == a)
                    && f(e)
            })
        };
        let any = |_: &Event| true;
        let outcome = |o: Outcome| move |e: &Event| e.detail == Detail::Outcome(o);
        let missing = |what: &str| Err(format!("accepted {cmd:?} produced no {what} event"));
        match cmd {
            Cmd::Core(Command::Accept(a, c, _)) if !has(EventKind::Connected, c, Some(a), &any) => {
                missing("connected")
            }
            Cmd::Core(Command::Reject(a, c, _))
                if !has(EventKind::Missed, c, Some(a), &|e| e.rule == Rule::Rejected) =>
            {
                missing("missed (rejected)")
            }
            Cmd::Core(Command::End(c, _))
                if !has(EventKind::Ended, c, None, &any)
                    || !has(EventKind::Terminal, c, None, &outcome(Outcome::Completed)) =>
            {
                missing("ended + terminal (completed)")
            }
            Cmd::Core(Command::Abandon(c, _))
                if !has(EventKind::Terminal, c, None, &outcome(Outcome::Abandoned)) =>
            {
                missing("terminal (abandoned)")
            }
            Cmd::Transfer(c, target, _) => {
                let ended = has(EventKind::Ended, c, None, &|e| e.detail == Detail::Transfer);
                let next = match target {
                    TransferTarget::Destination(_) => has(
                        EventKind::Terminal,
                        c,
                        None,
                        &outcome(Outcome::TransferredOut),
                    ),
                    _ => has(EventKind::Transferred, c, None, &any),
                };
                if ended && next {
                    Ok(())
                } else {
                    missing("ended (transfer) + transferred / terminal")
                }
            }
            Cmd::Pick(a, c, _) if !has(EventKind::Offer, c, Some(a), &|e| e.rule == Rule::Pick) => {
                missing("offer (pick)")
            }
            Cmd::Core(Command::Login(a, _))
                if !events.iter().any(|e| {
                    e.kind == EventKind::AgentState
                        && &*e.agent_id == a
                        && e.detail == Detail::State(AgentState::NotReady)
                        && &*e.reason == "login"
                }) =>
            {
                missing("agent-state not-ready (login)")
            }
            Cmd::Core(Command::Logout(a, _)) => {
                let agent = &self.agents[self.agent_ix[a]];
                ensure!(
                    agent.state == AgentState::LoggedOut || agent.pending_logout,
                    "accepted logout left '{a}' {:?} without a pending logout",
                    agent.state
                );
                Ok(())
            }
            Cmd::Core(Command::Ready(a, _)) => {
                let agent = &self.agents[self.agent_ix[a]];
                ensure!(
                    !matches!(agent.state, AgentState::NotReady | AgentState::WrapUp),
                    "accepted set_ready left '{a}' {:?}",
                    agent.state
                );
                Ok(())
            }
            Cmd::Core(Command::Enqueue(req, _)) => {
                ensure!(
                    self.calls.contains_key(&req.call_id),
                    "acknowledged call '{}' is gone right after its enqueue",
                    req.call_id
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    // --- events ---------------------------------------------------------------------------

    /// Checks one event against the model as it stands, then applies it. `t`: command time.
    pub fn apply(&mut self, e: &Event, t: u64) -> Check {
        ensure!(
            e.at_ms >= self.last_at,
            "event time went backwards: {} at {} after an event at {}",
            e.kind.name(),
            e.at_ms,
            self.last_at
        );
        ensure!(
            e.at_ms <= t,
            "{} event at {} is later than the command's time {t}",
            e.kind.name(),
            e.at_ms
        );
        if e.at_ms != self.last_at {
            // A later deadline: a new operation (see `check_order`).
            self.op_calls.clear();
            self.op_agents.clear();
            self.op_pairs.clear();
        }
        self.last_at = e.at_ms;
        self.purge(e.at_ms);
        self.stats.events += 1;
        let at = e.at_ms;
        match e.kind {
            EventKind::Offer => self.on_offer(e),
            EventKind::Revoke | EventKind::Missed => self.on_close(e),
            EventKind::Connected => self.on_connected(e),
            EventKind::Ended => self.on_ended(e),
            EventKind::Terminal => self.on_terminal(e),
            EventKind::Overflow => self.on_overflow(e),
            EventKind::Transferred => self.on_transferred(e),
            EventKind::Escalated => {
                let c = &self.live(&e.call_id, e)?.clone();
                let Detail::Step(step) = e.detail else {
                    return Err(format!("escalated event with detail {:?}", e.detail));
                };
                let steps = &self.queues[c.queue].escalation;
                ensure!(
                    c.connected.is_none() && !c.ended,
                    "call '{}' escalated while connected",
                    c.id
                );
                ensure!(
                    step > c.step && (step as usize) <= steps.len(),
                    "call '{}' escalated from step {} to {step} of {}",
                    c.id,
                    c.step,
                    steps.len()
                );
                let due = |k: usize| c.entered_at + steps[k].after_ms;
                ensure!(
                    due(step as usize - 1) <= at
                        && due(c.step as usize) == at
                        && (step as usize == steps.len() || due(step as usize) > at),
                    "I4: call '{}' escalated to step {step} at {at}; entered {}, steps {:?}",
                    c.id,
                    c.entered_at,
                    steps.iter().map(|s| s.after_ms).collect::<Vec<_>>()
                );
                ensure!(
                    &*e.queue_id == self.queues[c.queue].id.as_str(),
                    "escalated event names queue {} for a call in {}",
                    e.queue_id,
                    self.queues[c.queue].id
                );
                self.calls.get_mut(&*e.call_id).expect("live").step = step;
                self.stats.escalations += 1;
                Ok(())
            }
            EventKind::AgentState => {
                let a = self.agent(&e.agent_id)?;
                let Detail::State(state) = e.detail else {
                    return Err(format!("agent-state event with detail {:?}", e.detail));
                };
                let agent = &mut self.agents[a];
                ensure!(
                    state != agent.state || state == AgentState::NotReady,
                    "agent-state event for '{}' repeats its state {state:?}",
                    agent.id
                );
                agent.state = state;
                match state {
                    AgentState::LoggedOut => {
                        // Open offers of a logging-out agent are revoked right after.
                        let logging_out = matches!(&self.command, Some(Cmd::Core(Command::Logout(la, _))) if la.as_str() == &*e.agent_id);
                        ensure!(
                            agent.connected.is_empty()
                                && agent.wrapups.is_empty()
                                && (logging_out || agent.offers.is_empty()),
                            "agent '{}' logged out holding work {:?}",
                            agent.id,
                            agent.work_ids()
                        );
                        agent.presence = Presence::LoggedOut;
                        agent.pending_logout = false;
                        agent.blocked_until = None;
                        // Calls held for it (or about to be, after its offer is revoked) go
                        // to the line at once.
                        for c in self.calls.values_mut() {
                            if c.preferred.is_some_and(|(p, _)| p == a)
                                && c.connected.is_none()
                                && !c.ended
                            {
                                c.preferred = None;
                            }
                        }
                    }
                    AgentState::NotReady | AgentState::Ready => {
                        let want = if state == AgentState::Ready {
                            Presence::Available
                        } else {
                            Presence::NotReady
                        };
                        ensure!(
                            agent.presence == want && !agent.has_work(),
                            "agent '{}' announced {state:?} but the model has presence {:?}, work {:?}",
                            agent.id,
                            agent.presence,
                            agent.work_ids()
                        );
                    }
                    _ => ensure!(
                        agent.has_work(),
                        "agent '{}' announced {state:?} without work",
                        agent.id
                    ),
                }
                Ok(())
            }
            EventKind::CommandError => Err(format!("error event outside a batch: {e:?}")),
        }
    }

    fn on_offer(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let qcfg = &self.queues[c.queue];
        let agent = &self.agents[a];
        ensure!(
            c.connected.is_none() && !c.ended,
            "call '{}' offered to '{}' while connected",
            c.id,
            agent.id
        );
        ensure!(
            !c.offers.contains_key(&a),
            "call '{}' offered twice to '{}'",
            c.id,
            agent.id
        );
        ensure!(
            &*e.queue_id == qcfg.id.as_str(),
            "offer names queue {} for a call in {}",
            e.queue_id,
            qcfg.id
        );
        ensure!(
            e.expires_at_ms == at + qcfg.offer_timeout_ms,
            "offer expires at {} instead of {} + {}",
            e.expires_at_ms,
            at,
            qcfg.offer_timeout_ms
        );
        // I2 / I5 from outside: Ready, not in a miss delay, capacity free (wrap-up is work).
        ensure!(
            agent.can_take(c.channel, at),
            "I2/I5: call '{}' ({}) offered to '{}' which cannot take it: presence {:?}, pending logout {}, blocked until {:?}, work {:?}",
            c.id,
            c.channel.name(),
            agent.id,
            agent.presence,
            agent.pending_logout,
            agent.blocked_until,
            agent.work_ids()
        );
        let (reqs, ceiling) = self.class_of(c);
        let Detail::Offer { step, tier, level } = e.detail else {
            return Err(format!("offer with detail {:?}", e.detail));
        };
        ensure!(
            (step, tier, level) == (c.step, agent.tier, self.level_sum(a, &reqs)),
            "offer detail step={step} tier={tier} level={level}, expected step={} tier={} level={}",
            c.step,
            agent.tier,
            self.level_sum(a, &reqs)
        );
        match e.rule {
            Rule::Strategy(s) => {
                ensure!(
                    s == qcfg.strategy,
                    "offer by rule {} in a {} queue",
                    s.name(),
                    qcfg.strategy.name()
                );
                ensure!(
                    self.eligible(a, &reqs, ceiling),
                    "call '{}' offered to ineligible agent '{}' (needs {reqs:?} tier <= {ceiling})",
                    c.id,
                    agent.id
                );
                if !c.offers.is_empty() {
                    ensure!(
                        s == Strategy::RingAll && c.offers.len() < qcfg.ring_all_max as usize,
                        "call '{}' holds {} offers under {}",
                        c.id,
                        c.offers.len() + 1,
                        s.name()
                    );
                }
                self.check_order(&e.call_id, a, at)?;
                self.check_choice(&e.call_id, a, s, at)?;
            }
            Rule::PreferredAgent => {
                ensure!(
                    c.preferred.is_some_and(|(p, until)| p == a && until >= at),
                    "preferred-agent offer of '{}' to '{}' (preferred {:?})",
                    c.id,
                    agent.id,
                    c.preferred
                );
                ensure!(c.offers.is_empty(), "preferred offer of an offered call");
                // Held calls go to their agent in arrival order.
                let earlier = self.calls.values().find(|y| {
                    y.seq < c.seq
                        && y.preferred.is_some_and(|(p, until)| p == a && until > at)
                        && y.connected.is_none()
                        && y.offers.is_empty()
                        && !y.ended
                        && y.channel == c.channel
                        && !self.op_calls.contains(&y.id)
                });
                if let Some(y) = earlier {
                    return Err(format!(
                        "held call '{}' (seq {}) offered to '{}' before held call '{}' (seq {})",
                        c.id, c.seq, agent.id, y.id, y.seq
                    ));
                }
            }
            Rule::Pick => {
                let expected = matches!(&self.command, Some(Cmd::Pick(pa, pc, _)) if pa.as_str() == &*e.agent_id && pc.as_str() == &*e.call_id);
                ensure!(
                    expected && !self.pick_offered,
                    "pick offer of '{}' to '{}' under command {:?}",
                    c.id,
                    agent.id,
                    self.command
                );
                ensure!(c.offers.is_empty(), "pick of an offered call");
                self.pick_offered = true;
            }
            other => return Err(format!("offer with rule {other:?}")),
        }
        let (qi, channel) = (c.queue, c.channel);
        if self.queues[qi].strategy == Strategy::RoundRobin {
            self.rr_last[qi] = Some(a);
        }
        let c = self.calls.get_mut(&*e.call_id).expect("live");
        c.offers.insert(a, e.expires_at_ms);
        if e.rule == Rule::Pick {
            c.clean = false;
        }
        self.agents[a].offers.insert(c.id.clone(), channel);
        *self
            .stats
            .offers_by_rule
            .entry(e.rule.name().to_string())
            .or_default() += 1;
        self.stats.chat_offers += u64::from(channel == Channel::Chat);
        Ok(())
    }

    /// I6, the call side: an offer made by a strategy must not skip a more urgent call of the
    /// same channel that is in line and that the same agent is eligible for (the agent then
    /// has the capacity for it too). Ordering is ROUTING.md's score, then arrival (seq).
    ///
    /// Only calls in the plain line take part (no skill override, no preferred agent, never
    /// picked). Calls that lost an offer in the same operation are left out as candidates:
    /// the router puts them back in line one by one (logout), so the harness cannot tell
    /// from events whether they are back yet. One documented exception: ROUTING.md orders a
    /// miss (or revoke) as "the call goes back to its place and is matched; then the agent is
    /// matched", so the returning call may take an agent freed in the same operation before a
    /// more urgent call does (so may an overflowing call, with the agents its revoked offers
    /// freed). Only that (call, agent) pair is exempt; such offers count in `i6_exempt`.
    fn check_order(&mut self, x_id: &str, a: usize, at: u64) -> Check {
        let x = &self.calls[x_id];
        if !x.clean {
            return Ok(());
        }
        for y in self.calls.values() {
            if y.id == x.id
                || !y.clean
                || y.channel != x.channel
                || !y.in_line(at)
                || self.op_calls.contains(&y.id)
                || (y.score, std::cmp::Reverse(y.seq)) <= (x.score, std::cmp::Reverse(x.seq))
            {
                continue;
            }
            let (reqs, ceiling) = self.class_of(y);
            if !self.eligible(a, &reqs, ceiling) {
                continue;
            }
            if self.op_pairs.contains(&(x.id.clone(), a)) {
                self.stats.i6_exempt += 1;
                return Ok(());
            }
            return Err(format!(
                "I6: call '{}' (queue {}, priority {}, seq {}, step {}) offered to '{}' while call '{}' (queue {}, priority {}, seq {}, step {}) is ahead of it in line and the agent is eligible for it",
                x.id,
                self.queues[x.queue].id,
                x.priority,
                x.seq,
                x.step,
                self.agents[a].id,
                y.id,
                self.queues[y.queue].id,
                y.priority,
                y.seq,
                y.step
            ));
        }
        self.stats.i6_checked += 1;
        Ok(())
    }

    /// I6, the agent side, on arrival only (the one moment the whole ready set is known from
    /// outside): the offered agent is the best eligible Ready agent by the queue's strategy,
    /// with the values `agent_info` reported just before the enqueue.
    fn check_choice(&mut self, x_id: &str, a: usize, s: Strategy, at: u64) -> Check {
        let Some((call, infos)) = &self.choice else {
            return Ok(());
        };
        if call != x_id {
            return Ok(());
        }
        let x = &self.calls[x_id];
        let q = &self.queues[x.queue];
        let (reqs, ceiling) = self.class_of(x);
        let candidates: Vec<usize> = (0..self.agents.len())
            .filter(|&b| {
                !x.offers.contains_key(&b)
                    && self.agents[b].can_take(x.channel, at)
                    && self.eligible(b, &reqs, ceiling)
            })
            .collect();
        let tier = |b: usize| {
            if q.prefer_lower_tier {
                self.agents[b].tier
            } else {
                0
            }
        };
        let best_tier = candidates.iter().map(|&b| tier(b)).min();
        ensure!(
            best_tier == Some(tier(a)),
            "I6: '{}' (tier {}) offered call '{}' but the eligible Ready agents are {:?}",
            self.agents[a].id,
            self.agents[a].tier,
            x.id,
            candidates
                .iter()
                .map(|&b| (&self.agents[b].id, self.agents[b].tier))
                .collect::<Vec<_>>()
        );
        let in_tier: Vec<usize> = candidates
            .into_iter()
            .filter(|&b| Some(tier(b)) == best_tier)
            .collect();
        let key = |b: usize| -> (i64, i64, usize) {
            let i = &infos[b];
            let since = i.ready_since as i64;
            match s {
                Strategy::LongestIdle | Strategy::RingAll => (since, 0, b),
                Strategy::FewestCalls => (i.calls_answered as i64, since, b),
                Strategy::LeastTalkTime => (i.talk_ms as i64, since, b),
                Strategy::BestSkill => (-(self.level_sum(b, &reqs) as i64), since, b),
                Strategy::Linear | Strategy::RoundRobin | Strategy::Random => (0, 0, b),
            }
        };
        let expected = match s {
            Strategy::Random => a,
            Strategy::RoundRobin => {
                let last = self.rr_last[x.queue];
                in_tier
                    .iter()
                    .copied()
                    .find(|&b| last.is_none_or(|l| b > l))
                    .unwrap_or(in_tier[0])
            }
            _ => *in_tier
                .iter()
                .min_by_key(|&&b| key(b))
                .expect("a candidate"),
        };
        ensure!(
            expected == a,
            "I6: {} offered call '{}' to '{}' but the strategy names '{}' (candidates {:?})",
            s.name(),
            x.id,
            self.agents[a].id,
            self.agents[expected].id,
            in_tier
                .iter()
                .map(|&b| (&self.agents[b].id, key(b)))
                .collect::<Vec<_>>()
        );
        self.stats.choice_checked += 1;
        Ok(())
    }

    fn is_command(&self, f: impl Fn(&Cmd) -> bool) -> bool {
        self.command.as_ref().is_some_and(f)
    }

    /// `revoke` or `missed`: an open offer closes without an answer.
    fn on_close(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let Some(&expires) = c.offers.get(&a) else {
            return Err(format!(
                "{} of call '{}' for '{}', which holds no offer of it",
                e.kind.name(),
                c.id,
                e.agent_id
            ));
        };
        ensure!(
            at <= expires,
            "I4: offer of '{}' to '{}' (expires {expires}) still open at {at}",
            c.id,
            e.agent_id
        );
        let (call, agent) = (c.id.as_str(), &*e.agent_id);
        if e.kind == EventKind::Missed {
            match e.rule {
                Rule::TimedOut => ensure!(
                    at == expires,
                    "I4: offer of '{call}' timed out at {at}, expiry {expires}"
                ),
                Rule::Rejected => ensure!(
                    self.is_command(|cmd| matches!(cmd, Cmd::Core(Command::Reject(ra, rc, _)) if ra == agent && rc == call)),
                    "missed (rejected) of '{call}' by '{agent}' under {:?}",
                    self.command
                ),
                other => return Err(format!("missed with rule {other:?}")),
            }
        } else {
            let Detail::Revoke(why) = e.detail else {
                return Err(format!("revoke with detail {:?}", e.detail));
            };
            let q = &self.queues[c.queue];
            let ok = match why {
                RevokeReason::Abandoned => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Abandon(ac, _)) if ac == call),
                ),
                RevokeReason::AnsweredElsewhere => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Accept(aa, ac, _)) if ac == call && aa != agent),
                ),
                RevokeReason::Logout => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Logout(la, _)) if la == agent),
                ),
                RevokeReason::Expired => at == self.ttl_deadline(c),
                // The miss policy just paused this agent (its `missed` came first).
                RevokeReason::Paused => {
                    self.op_agents.contains(&a) && self.agents[a].presence == Presence::NotReady
                }
                RevokeReason::Overflow => q
                    .overflow
                    .as_ref()
                    .is_some_and(|o| at == c.entered_at + o.after_ms),
            };
            ensure!(
                ok,
                "revoke ({}) of '{call}' to '{agent}' at {at} under {:?}",
                why.name(),
                self.command
            );
            *self
                .stats
                .revokes
                .entry(why.name().to_string())
                .or_default() += 1;
        }
        let (qi, id) = (c.queue, c.id.clone());
        let call = self.calls.get_mut(&id).expect("live");
        call.offers.remove(&a);
        // Back to line: never held for a preferred agent that has logged out meanwhile.
        if call.offers.is_empty()
            && call
                .preferred
                .is_some_and(|(p, _)| self.agents[p].presence == Presence::LoggedOut)
        {
            call.preferred = None;
        }
        let agent = &mut self.agents[a];
        agent.offers.remove(&id);
        self.op_pairs.insert((id.clone(), a));
        self.op_calls.insert(id);
        self.op_agents.insert(a);
        if e.kind == EventKind::Missed {
            // ROUTING.md, miss policy of the call's queue.
            let policy = self.queues[qi].no_answer;
            agent.misses += 1;
            if e.rule == Rule::Rejected {
                self.stats.missed_rejected += 1;
            } else {
                self.stats.missed_timed_out += 1;
            }
            if policy.max_misses > 0 && agent.misses >= policy.max_misses {
                agent.misses = 0;
                agent.presence = Presence::NotReady;
            } else {
                let delay = if e.rule == Rule::Rejected {
                    policy.reject_delay_ms
                } else {
                    policy.timeout_delay_ms
                };
                if delay > 0 {
                    agent.blocked_until = Some(at + delay);
                }
            }
        }
        Ok(())
    }

    fn on_connected(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let (call, agent) = (c.id.as_str(), &*e.agent_id);
        let Some(&expires) = c.offers.get(&a) else {
            return Err(format!(
                "I3: call '{call}' connected to '{agent}' without an open offer"
            ));
        };
        ensure!(
            c.offers.len() == 1,
            "call '{call}' connected to '{agent}' while offers to others are still open"
        );
        ensure!(
            at < expires,
            "I4: call '{call}' connected at {at}, its offer expired at {expires}"
        );
        ensure!(
            self.is_command(|cmd| matches!(cmd, Cmd::Core(Command::Accept(aa, ac, _)) if aa == agent && ac == call)),
            "connected of '{call}' to '{agent}' under {:?}",
            self.command
        );
        ensure!(
            c.connects_this_visit == 0,
            "I3: call '{call}' connected a second time in queue {}",
            self.queues[c.queue].id
        );
        let qi = c.queue;
        let c = self.calls.get_mut(call).expect("live");
        c.offers.clear();
        c.connected = Some(a);
        c.connects_this_visit += 1;
        let (id, channel) = (c.id.clone(), c.channel);
        let agent = &mut self.agents[a];
        agent.offers.remove(&id);
        agent.connected.insert(id, channel);
        agent.misses = 0;
        self.totals[qi].answered += 1;
        self.stats.connected += 1;
        Ok(())
    }

    fn on_ended(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let call = c.id.as_str();
        ensure!(
            c.connected == Some(a),
            "ended of '{call}' for '{}', connected to {:?}",
            e.agent_id,
            c.connected
        );
        let transfer = self.is_command(|cmd| matches!(cmd, Cmd::Transfer(tc, _, _) if tc == call));
        let end =
            self.is_command(|cmd| matches!(cmd, Cmd::Core(Command::End(ec, _)) if ec == call));
        ensure!(
            (transfer && e.detail == Detail::Transfer) || (end && e.detail == Detail::None),
            "ended of '{call}' (detail {:?}) under {:?}",
            e.detail,
            self.command
        );
        let q = &self.queues[c.queue];
        let until = (!q.wrapup_until_done).then_some(at + q.wrapup_ms);
        let (qi, id, channel) = (c.queue, c.id.clone(), c.channel);
        let c = self.calls.get_mut(&id).expect("live");
        c.connected = None;
        c.ended = true;
        let agent = &mut self.agents[a];
        agent.connected.remove(&id);
        agent.wrapups.push((id, channel, until));
        if transfer {
            self.totals[qi].transferred_out += 1;
        } else {
            self.totals[qi].completed += 1;
        }
        Ok(())
    }

    fn on_terminal(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let c = &self.live(&e.call_id, e)?.clone();
        let call = c.id.as_str();
        let Detail::Outcome(outcome) = e.detail else {
            return Err(format!("terminal with detail {:?}", e.detail));
        };
        ensure!(
            c.offers.is_empty() && c.connected.is_none(),
            "terminal ({}) of '{call}' with open offers {:?} / connected {:?}",
            outcome.name(),
            c.offers,
            c.connected
        );
        let q = &self.queues[c.queue];
        ensure!(
            &*e.queue_id == q.id.as_str(),
            "terminal names queue {} for a call in {}",
            e.queue_id,
            q.id
        );
        let ok = match outcome {
            Outcome::Completed => {
                c.ended
                    && self.is_command(
                        |cmd| matches!(cmd, Cmd::Core(Command::End(ec, _)) if ec == call),
                    )
            }
            Outcome::TransferredOut => {
                c.ended
                    && self.is_command(|cmd| {
                        matches!(cmd, Cmd::Transfer(tc, TransferTarget::Destination(_), _) if tc == call)
                    })
            }
            Outcome::Abandoned => {
                !c.ended
                    && self.is_command(
                        |cmd| matches!(cmd, Cmd::Core(Command::Abandon(ac, _)) if ac == call),
                    )
            }
            Outcome::Expired => !c.ended && at == self.ttl_deadline(c),
            Outcome::OverflowedOut => {
                !c.ended
                    && q.overflow.as_ref().is_some_and(|o| {
                        o.destination.is_some() && at == c.entered_at + o.after_ms
                    })
            }
        };
        ensure!(
            ok,
            "terminal ({}) of '{call}' at {at} (enqueued {}, entered {} {}, ended {}) under {:?}",
            outcome.name(),
            c.enqueued_at,
            q.id,
            c.entered_at,
            c.ended,
            self.command
        );
        let qi = c.queue;
        match outcome {
            Outcome::Abandoned => self.totals[qi].abandoned += 1,
            Outcome::Expired => self.totals[qi].expired += 1,
            Outcome::OverflowedOut => self.totals[qi].overflowed += 1,
            _ => {}
        }
        let id = c.id.clone();
        self.calls.remove(&id);
        self.finished.insert(id, at);
        self.terminals += 1;
        *self
            .stats
            .outcomes
            .entry(outcome.name().to_string())
            .or_default() += 1;
        Ok(())
    }

    fn on_overflow(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let c = &self.live(&e.call_id, e)?.clone();
        let q = &self.queues[c.queue];
        ensure!(
            c.offers.is_empty() && c.connected.is_none() && !c.ended,
            "overflow of '{}' while offered or connected",
            c.id
        );
        ensure!(
            e.detail == Detail::From(q.id.as_str().into()),
            "overflow of '{}' from {:?}, the call is in {}",
            c.id,
            e.detail,
            q.id
        );
        let target = q
            .overflow
            .as_ref()
            .and_then(|o| o.queue.as_ref().filter(|_| at == c.entered_at + o.after_ms));
        ensure!(
            target.is_some_and(|t| t.as_str() == &*e.queue_id),
            "I4: overflow of '{}' to {} at {at} (entered {} at {}, overflow {:?})",
            c.id,
            e.queue_id,
            q.id,
            c.entered_at,
            q.overflow
        );
        let (from, to) = (c.queue, self.queue_ix[&*e.queue_id]);
        let c = self.calls.get_mut(&*e.call_id).expect("live");
        c.queue = to;
        c.entered_at = at;
        c.step = 0;
        c.preferred = None;
        c.connects_this_visit = 0;
        self.totals[from].overflowed += 1;
        self.totals[to].offered += 1;
        self.stats.overflows += 1;
        Ok(())
    }

    fn on_transferred(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let c = &self.live(&e.call_id, e)?.clone();
        let call = c.id.as_str();
        let target = match &self.command {
            Some(Cmd::Transfer(tc, target, _)) if tc == call => target.clone(),
            other => return Err(format!("transferred event of '{call}' under {other:?}")),
        };
        ensure!(c.ended, "transferred event of '{call}' before its ended");
        let from = c.queue;
        ensure!(
            e.detail == Detail::From(self.queues[from].id.as_str().into()),
            "transferred of '{call}' from {:?}, the call was in {}",
            e.detail,
            self.queues[from].id
        );
        let (to, agent) = match &target {
            TransferTarget::Queue(q) => (self.queue_ix[q], None),
            TransferTarget::Agent(a) => (from, Some(self.agent_ix[a])),
            TransferTarget::Destination(_) => {
                return Err("transferred event for a transfer out".into())
            }
        };
        ensure!(
            &*e.queue_id == self.queues[to].id.as_str()
                && &*e.agent_id == agent.map_or("", |a| self.agents[a].id.as_str()),
            "transferred of '{call}' names queue {} agent '{}' for target {target:?}",
            e.queue_id,
            e.agent_id
        );
        let wait = self.queues[to].transfer_agent_wait_ms;
        let c = self.calls.get_mut(call).expect("live");
        c.queue = to;
        c.entered_at = at;
        // A transfer starts a new wait: the time-to-live counts from it (the score is kept).
        c.enqueued_at = at;
        c.step = 0;
        c.ended = false;
        c.connects_this_visit = 0;
        c.preferred = agent.map(|a| (a, at + wait));
        if agent.is_some() {
            c.clean = false;
        }
        self.totals[to].offered += 1;
        self.stats.transfers += 1;
        Ok(())
    }

    // --- state checks after a step --------------------------------------------------------

    /// Compares the model with what the router reports, and checks I4 and work conservation
    /// from outside. `now`: the router's time; every timer due by then has fired.
    pub fn check_router(&mut self, r: &Router) -> Check {
        let now = r.now();
        self.purge(now);
        ensure!(
            r.live_calls() == self.calls.len(),
            "router has {} live calls, the events say {}",
            r.live_calls(),
            self.calls.len()
        );
        self.stats.max_live_calls = self.stats.max_live_calls.max(self.calls.len() as u64);
        for a in &self.agents {
            let info = r.agent_info(&a.id).map_err(|e| e.to_string())?;
            let mut calls: Vec<&str> = info.calls.iter().map(|c| &**c).collect();
            calls.sort_unstable();
            let model = (
                a.state,
                a.misses,
                a.pending_logout,
                a.presence == Presence::NotReady && a.has_work(),
                a.work_ids(),
            );
            let router = (
                info.state,
                info.misses,
                info.pending_logout,
                info.pending_not_ready,
                calls,
            );
            ensure!(
                model == router,
                "agent '{}': events say (state, misses, pending logout, pending not-ready, work) = {model:?}, router says {router:?}",
                a.id
            );
        }
        let mut per_queue = vec![(0u64, 0u64, 0u64); self.queues.len()];
        for c in self.calls.values() {
            let info = r
                .call_info(&c.id)
                .ok_or_else(|| format!("router does not know live call '{}'", c.id))?;
            let mut agents: Vec<&str> = info.agents.iter().map(|a| &**a).collect();
            agents.sort_unstable();
            let mut want: Vec<&str> = c
                .offers
                .keys()
                .chain(c.connected.iter())
                .map(|&a| self.agents[a].id.as_str())
                .collect();
            want.sort_unstable();
            let model = (
                c.state_name(now),
                self.queues[c.queue].id.as_str(),
                c.step,
                c.seq,
                c.enqueued_at,
                c.entered_at,
                want,
            );
            let router = (
                info.state,
                &*info.queue_id,
                info.step,
                info.seq,
                info.enqueued_at,
                info.entered_queue_at,
                agents,
            );
            ensure!(
                model == router,
                "call '{}': events say (state, queue, step, seq, enqueued, entered, agents) = {model:?}, router says {router:?}",
                c.id
            );
            // I4: nothing overdue survives a step.
            for (&a, &expires) in &c.offers {
                ensure!(
                    expires > now,
                    "I4: offer of '{}' to '{}' expired at {expires}, still open at {now}",
                    c.id,
                    self.agents[a].id
                );
            }
            if c.connected.is_none() {
                let ttl = self.ttl_deadline(c);
                ensure!(
                    ttl > now,
                    "I4: call '{}' (enqueued {}, in {}) outlived its time-to-live {ttl} at {now}",
                    c.id,
                    c.enqueued_at,
                    self.queues[c.queue].id
                );
            }
            let n = &mut per_queue[c.queue];
            match (c.connected.is_some(), c.offers.is_empty()) {
                (true, _) => n.2 += 1,
                (false, false) => {
                    n.0 += 1;
                    n.1 += 1
                }
                (false, true) => n.0 += 1,
            }
            // Work conservation from outside: no Ready agent is eligible for a call in line.
            if c.in_line(now) && self.agents.iter().any(|a| a.can_take(c.channel, now)) {
                let (reqs, ceiling) = self.class_of(c);
                for (b, agent) in self.agents.iter().enumerate() {
                    ensure!(
                        !(agent.can_take(c.channel, now) && self.eligible(b, &reqs, ceiling)),
                        "work conservation: call '{}' ({}, queue {}, step {}) waits while '{}' is ready and eligible",
                        c.id,
                        c.channel.name(),
                        self.queues[c.queue].id,
                        c.step,
                        agent.id
                    );
                }
            }
        }
        for (qi, q) in self.queues.iter().enumerate() {
            let s = r.queue_snapshot(&q.id, now).map_err(|e| e.to_string())?;
            ensure!(
                (s.waiting, s.offered, s.connected) == per_queue[qi],
                "queue {}: router says (waiting, offered, connected) = {:?}, events say {:?}",
                q.id,
                (s.waiting, s.offered, s.connected),
                per_queue[qi]
            );
        }
        Ok(())
    }

    /// The router's interval counters, summed, against what the events say.
    pub fn check_totals(&self, r: &Router) -> Check {
        for (qi, q) in self.queues.iter().enumerate() {
            let mut t = QueueTotals::default();
            for (_, c) in r.interval_counters(&q.id).map_err(|e| e.to_string())? {
                t.offered += c.offered;
                t.answered += c.answered;
                t.abandoned += c.abandoned;
                t.overflowed += c.overflowed;
                t.expired += c.expired;
                t.transferred_out += c.transferred_out;
                t.completed += c.completed;
            }
            ensure!(
                t == self.totals[qi],
                "queue {} interval counters {t:?}, events say {:?}",
                q.id,
                self.totals[qi]
            );
        }
        Ok(())
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
