//! Commands as the harness sends them, and what the model expects of each: the prediction
//! (accepted, no-op or refused, from ROUTING.md's command tables), the command's own effects
//! on the model, and the events its table entry promises.

use std::collections::BTreeMap;

use acd_core::{
    AcdError, AgentState, Channel, Command, Detail, Event, EventKind, Outcome, RevokeReason,
    Router, Rule, TransferTarget,
};

use super::model::{CallM, Check, Model, Presence};

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
                | Command::Transfer(_, _, t)
                | Command::Pick(_, _, t)
                | Command::Withdraw(_, _, _, t)
                | Command::Configure(_, t)
                | Command::RequestCallback(_, _, _, t)
                | Command::Timeout(t) => *t,
            },
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Cmd::Core(Command::Timeout(_)))
    }

    /// The command as a batch command (what the service journals).
    pub fn to_command(&self) -> Command {
        match self {
            Cmd::Core(c) => c.clone(),
            Cmd::Transfer(c, target, t) => Command::Transfer(c.clone(), target.clone(), *t),
            Cmd::Pick(a, c, t) => Command::Pick(a.clone(), c.clone(), *t),
        }
    }

    /// The same message arriving at time `t` (the service stamps a message when it arrives).
    /// None for the commands no adapter or desktop sends (timers, configuration).
    pub fn at(&self, t: u64) -> Option<Cmd> {
        Some(match self.clone() {
            Cmd::Transfer(c, target, _) => Cmd::Transfer(c, target, t),
            Cmd::Pick(a, c, _) => Cmd::Pick(a, c, t),
            Cmd::Core(c) => Cmd::Core(match c {
                Command::Enqueue(req, _) => Command::Enqueue(req, t),
                Command::Abandon(c, _) => Command::Abandon(c, t),
                Command::Login(a, _) => Command::Login(a, t),
                Command::Logout(a, _) => Command::Logout(a, t),
                Command::Ready(a, _) => Command::Ready(a, t),
                Command::NotReady(a, r, _) => Command::NotReady(a, r, t),
                Command::Accept(a, c, _) => Command::Accept(a, c, t),
                Command::Reject(a, c, _) => Command::Reject(a, c, t),
                Command::End(c, _) => Command::End(c, t),
                Command::WrapupDone(a, c, _) => Command::WrapupDone(a, c, t),
                Command::Withdraw(a, c, r, _) => Command::Withdraw(a, c, r, t),
                Command::RequestCallback(c, cb, n, _) => Command::RequestCallback(c, cb, n, t),
                Command::Transfer(..)
                | Command::Pick(..)
                | Command::Configure(..)
                | Command::Timeout(_) => return None,
            }),
        })
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

impl Model {
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
            // Not generated yet: the model does not follow a call into its callback.
            Cmd::Core(Command::RequestCallback(..)) => Err,
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
            // As accept / reject, with a valid Not-Ready reason.
            Cmd::Core(Command::Withdraw(a, c, reason, _)) => ok(reason.len() <= 64
                && !reason.chars().any(char::is_control)
                && self.agent_ix.get(a).is_some_and(|&ax| {
                    self.calls
                        .get(c)
                        .is_some_and(|c| c.offers.contains_key(&ax))
                })),
            Cmd::Core(Command::Transfer(..) | Command::Pick(..)) => {
                unreachable!("the harness sends transfer and pick as Cmd::Transfer / Cmd::Pick")
            }
            // Reconfiguration has a harness of its own (tests/reconfigure.rs).
            Cmd::Core(Command::Configure(..)) => unreachable!("the harness does not reconfigure"),
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
            // Paused; its open offers are revoked by the events that follow.
            Cmd::Core(Command::NotReady(a, _, _) | Command::Withdraw(a, _, _, _)) => {
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
            Cmd::Core(Command::Withdraw(a, c, _, _))
                if !has(EventKind::Revoke, c, Some(a), &|e| {
                    e.detail == Detail::Revoke(RevokeReason::Withdrawn)
                }) =>
            {
                missing("revoke (withdrawn)")
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
}
