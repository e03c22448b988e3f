//! A new configuration for a running router (ROUTING.md, Reconfiguration): queues and agents
//! are added, updated in place or removed, and no call is lost.
//!
//! Refusals come before any change (validation, then the checks of `plan` against the live
//! state), so a refused reconfiguration leaves the router as it was. The change itself renumbers
//! queues and agents into the new config order and rebuilds what is derived from them (lookup
//! maps, requirement classes with their lines and ready sets, the timer heap); calls keep their
//! slots, sequence numbers and scores, agents their state and statistics. O(state), like a
//! snapshot restore: reconfiguration is rare, the hot paths are untouched.

use std::mem;

use crate::agent::{Agent, Presence};
use crate::call::CallState;
use crate::config::RouterConfig;
use crate::error::{AcdError, Result};
use crate::model::{AgentIx, CallIx, Channel, Millis, QueueIx};
use crate::timers::{TimerKind, Timers};

use super::{Queue, Router};

/// Where each queue and agent goes: the new config order against the old one.
struct Plan {
    /// For each queue of the new config, its index before (None: added).
    queue_from: Vec<Option<QueueIx>>,
    /// For each queue before, its new index (None: removed).
    queue_to: Vec<Option<QueueIx>>,
    agent_from: Vec<Option<AgentIx>>,
    agent_to: Vec<Option<AgentIx>>,
}

/// Pairs the ids of the new config with the indexes they had (`from`) and the other way
/// round (`to`, sized for the old arena).
fn pair(
    new_ids: &[&str],
    old: &rustc_hash::FxHashMap<std::sync::Arc<str>, u32>,
    old_len: usize,
) -> (Vec<Option<u32>>, Vec<Option<u32>>) {
    let from: Vec<Option<u32>> = new_ids.iter().map(|id| old.get(*id).copied()).collect();
    let mut to = vec![None; old_len];
    for (new, old) in from.iter().enumerate() {
        if let Some(o) = old {
            to[*o as usize] = Some(new as u32);
        }
    }
    (from, to)
}

impl Router {
    /// `reconfigure` with the configuration as JSON (ROUTING.md, Configuration).
    pub fn reconfigure_json(&mut self, config: &str, now: Millis) -> Result<()> {
        self.reconfigure(RouterConfig::from_json(config)?, now)
    }

    /// Replaces the router's configuration at `now` (ROUTING.md, Reconfiguration). Refused
    /// with the construction's errors for an invalid config, `InvalidArgument` for a new seed,
    /// and `IllegalTransition` for a queue or agent that cannot go (or an agent whose new
    /// capacity is below the work it holds); a refused reconfiguration changes nothing but the
    /// clock (due timers fire first, as for every command).
    pub fn reconfigure(&mut self, config: RouterConfig, now: Millis) -> Result<()> {
        config.validate()?;
        if config.seed != self.seed {
            return Err(AcdError::invalid(
                "seed",
                format!(
                    "a running router keeps its seed ({}), got {}",
                    self.seed, config.seed
                ),
            ));
        }
        self.advance(now)?;
        let plan = self.plan(&config)?;
        self.apply_plan(config, plan, now);
        Ok(())
    }

    /// Pairs old and new queues and agents, and refuses what the live state forbids.
    fn plan(&self, config: &RouterConfig) -> Result<Plan> {
        let ids: Vec<&str> = config.queues.iter().map(|q| q.id.as_str()).collect();
        let (queue_from, queue_to) = pair(&ids, &self.ix.queues, self.queues.len());
        let ids: Vec<&str> = config.agents.iter().map(|a| a.id.as_str()).collect();
        let (agent_from, agent_to) = pair(&ids, &self.ix.agents, self.agents.len());

        let mut in_use = vec![false; self.queues.len()];
        // The earliest live call that names each agent as its preferred agent.
        let mut preferred_by: Vec<Option<(u64, &str)>> = vec![None; self.agents.len()];
        for c in self.calls.iter().flatten() {
            in_use[c.queue as usize] = true;
            if let Some((ax, _)) = c.preferred {
                let first = &mut preferred_by[ax as usize];
                if first.is_none_or(|(seq, _)| c.seq < seq) {
                    *first = Some((c.seq, &c.id));
                }
            }
        }
        for w in self.agents.iter().flat_map(|a| &a.work) {
            in_use[w.queue as usize] = true;
        }
        for (qi, q) in self.queues.iter().enumerate() {
            if queue_to[qi].is_none() && in_use[qi] {
                return Err(AcdError::illegal(format!(
                    "queue '{}' still has calls (waiting, offered, connected or in wrap-up): \
                     cannot remove it",
                    q.id
                )));
            }
        }
        for (ax, a) in self.agents.iter().enumerate() {
            let Some(new) = agent_to[ax] else {
                if a.presence != Presence::LoggedOut || !a.work.is_empty() {
                    return Err(AcdError::illegal(format!(
                        "agent '{}' is {}: cannot remove it (log it out first)",
                        a.id,
                        a.derived_state().name()
                    )));
                }
                if let Some((_, call)) = preferred_by[ax] {
                    return Err(AcdError::illegal(format!(
                        "agent '{}' is the preferred agent of call '{call}': cannot remove it",
                        a.id
                    )));
                }
                continue;
            };
            let capacity = super::capacity_of(&config.agents[new as usize]);
            for ch in Channel::ALL {
                let held = a.work.iter().filter(|w| w.channel == ch).count();
                let cap = capacity[ch.index()];
                if held > cap as usize {
                    return Err(AcdError::illegal(format!(
                        "agent '{}' holds {held} {} work item(s): cannot lower its {} \
                         capacity to {cap}",
                        a.id,
                        ch.name(),
                        ch.name()
                    )));
                }
            }
        }
        Ok(Plan {
            queue_from,
            queue_to,
            agent_from,
            agent_to,
        })
    }

    /// Applies a plan `plan` accepted: nothing here can fail.
    fn apply_plan(&mut self, config: RouterConfig, plan: Plan, now: Millis) {
        self.dedup_window_ms = config.dedup_window_ms;
        self.prune(now);
        self.replace_agents(&config, &plan, now);
        self.replace_queues(config, &plan);
        self.ix.queues = (self.queues.iter().enumerate())
            .map(|(i, q)| (q.id.clone(), i as QueueIx))
            .collect();
        self.ix.agents = (self.agents.iter().enumerate())
            .map(|(i, a)| (a.id.clone(), i as AgentIx))
            .collect();
        self.resolve_queues();
        self.rebuild_classes(now);
        self.rebuild_timers();
        // Deadlines the new settings put in the past fire now, stamped now (fire_due_timers
        // never stamps an event before the router's clock).
        self.fire_due_timers(now);
        self.match_after_reconfigure(now);
    }

    /// Agents in the new order: kept ones updated (state and statistics stay), new ones
    /// logged out; every agent index held elsewhere follows.
    fn replace_agents(&mut self, config: &RouterConfig, plan: &Plan, now: Millis) {
        let mut old: Vec<Option<Agent>> =
            mem::take(&mut self.agents).into_iter().map(Some).collect();
        let mut agents = Vec::with_capacity(config.agents.len());
        for (cfg, from) in config.agents.iter().zip(&plan.agent_from) {
            let Some(ax) = from else {
                agents.push(self.new_agent(cfg, now));
                continue;
            };
            let mut a = old[*ax as usize].take().expect("each agent once");
            a.skills = self.intern_skills(&cfg.skills);
            a.tier = cfg.tier;
            // Time in the current state counts for the group the agent is in when it ends.
            a.group_ix = self.agent_time.group(&cfg.group);
            a.group = std::sync::Arc::from(cfg.group.as_str());
            a.capacity = super::capacity_of(cfg);
            agents.push(a);
        }
        self.agents = agents;
        let to = |ax: AgentIx| plan.agent_to[ax as usize].expect("an agent in use is kept");
        for o in self.offers.iter_mut().flatten() {
            o.agent = to(o.agent);
        }
        for c in self.calls.iter_mut().flatten() {
            if let CallState::Connected(ax) = c.state {
                c.state = CallState::Connected(to(ax));
            }
            if let Some((ax, until)) = c.preferred {
                c.preferred = Some((to(ax), until));
            }
        }
        self.held = mem::take(&mut self.held)
            .into_iter()
            .map(|(ax, calls)| (to(ax), calls))
            .collect();
    }

    /// Queues in the new order: kept ones take the new settings and keep their statistics
    /// (and round-robin position); every queue index held elsewhere follows.
    fn replace_queues(&mut self, config: RouterConfig, plan: &Plan) {
        let mut old: Vec<Option<Queue>> =
            mem::take(&mut self.queues).into_iter().map(Some).collect();
        let mut queues = Vec::with_capacity(config.queues.len());
        for (cfg, from) in config.queues.into_iter().zip(&plan.queue_from) {
            let Some(qi) = from else {
                queues.push(self.new_queue(cfg));
                continue;
            };
            let mut q = old[*qi as usize].take().expect("each queue once");
            q.base_reqs = self.intern_skills(&cfg.skills);
            q.cfg = cfg;
            q.rr_last = q.rr_last.and_then(|ax| plan.agent_to[ax as usize]);
            queues.push(q);
        }
        self.queues = queues;
        let to = |qi: QueueIx| plan.queue_to[qi as usize].expect("a queue in use is kept");
        for c in self.calls.iter_mut().flatten() {
            c.queue = to(c.queue);
        }
        for w in self.agents.iter_mut().flat_map(|a| &mut a.work) {
            w.queue = to(w.queue);
        }
    }

    /// Requirement classes from scratch: each call re-classed under its queue's new
    /// requirement (keeping its score and sequence number: its place in line), each agent
    /// filed where it qualifies now. A call keeps the escalation steps it had reached only as
    /// far as the new steps are reached too; steps the new times put in the past are due now.
    fn rebuild_classes(&mut self, now: Millis) {
        self.classes.clear();
        self.ix.classes.clear();
        self.ix.base_classes.clear();
        self.ix.fronts.clear();
        for a in &mut self.agents {
            a.classes.clear();
            a.in_ready.clear();
        }
        for cx in 0..self.calls.len() {
            // Out of its slot while its class is found (class_of never looks at calls).
            let Some(mut call) = self.calls[cx].take() else {
                continue;
            };
            let steps = &self.queues[call.queue as usize].cfg.escalation;
            let reached = steps
                .iter()
                .take_while(|s| call.entered_at + s.after_ms <= now)
                .count();
            call.step = call.step.min(reached as u8);
            call.class = self.class_of(call.queue, &call);
            let waiting = call.state == CallState::Waiting;
            let key = (-call.score, call.seq, cx as CallIx);
            let ci = call.class;
            self.calls[cx] = Some(call);
            if waiting {
                self.classes[ci as usize].waiting.push(key);
            }
        }
        self.rebuild_fronts();
    }

    /// The timer heap from its owners: offers and agent timers keep their deadlines (agent
    /// timers under their new index), call timers follow the new queue settings.
    fn rebuild_timers(&mut self) {
        let mut timers = Timers::default();
        for (oi, o) in self.offers.iter().enumerate() {
            if let Some(o) = o {
                timers.arm((o.expires_at, TimerKind::OfferExpiry, o.seq), oi as u32);
            }
        }
        for (ax, a) in self.agents.iter().enumerate() {
            if let Some(t) = a.timer {
                timers.arm((t, TimerKind::Agent, ax as u64), ax as u32);
            }
        }
        self.timers = timers;
        for cx in 0..self.calls.len() as CallIx {
            if let Some(c) = self.calls[cx as usize].as_mut() {
                c.timer = None;
                self.rearm_call_timer(cx);
            }
        }
    }

    /// Matching after the change, as after any change of state: calls held for an agent that
    /// can take them now are offered to it (agents in config order); then every waiting call
    /// whose class has a Ready agent, most urgent first, goes to the best one by its queue's
    /// strategy.
    fn match_after_reconfigure(&mut self, now: Millis) {
        let held: Vec<AgentIx> = self.held.keys().copied().collect();
        for ax in held {
            self.offer_held_calls(ax, now);
        }
        let mut waiting: Vec<(i64, u64, CallIx)> = (self.calls.iter().enumerate())
            .filter_map(|(cx, c)| c.as_ref().map(|c| (cx, c)))
            .filter(|(_, c)| c.state == CallState::Waiting)
            .map(|(cx, c)| (-c.score, c.seq, cx as CallIx))
            .collect();
        waiting.sort_unstable();
        for (_, _, cx) in waiting {
            let call = self.call(cx);
            if call.state == CallState::Waiting
                && !self.classes[call.class as usize].ready.is_empty()
            {
                self.match_call(cx, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_numbers_stay_and_new_skills_are_added_after_them() {
        let mut r = Router::from_json(
            r#"{"queues":[{"id":"q","skills":{"sales":2}}],"agents":[{"id":"a","skills":{"fr":3}}]}"#,
        )
        .unwrap();
        let before = r.skill_names.clone();
        r.reconfigure_json(
            r#"{"queues":[{"id":"q","skills":{"billing":1,"sales":2}}],
                "agents":[{"id":"a","skills":{"de":1,"fr":3}}]}"#,
            5,
        )
        .unwrap();
        assert_eq!(r.skill_names[..before.len()], before[..]);
        assert_eq!(r.skill_names[before.len()..], ["de", "billing"]);
        let sales = r.ix.skills["sales"];
        assert_eq!(
            r.queues[0].base_reqs,
            vec![(sales, 2), (r.ix.skills["billing"], 1)]
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        r.check_invariants().unwrap();
    }
}
