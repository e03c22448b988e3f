//! State checks after a step: the model against what the router reports (agents, calls,
//! queue snapshots, interval counters), with I4 and work conservation from outside.

use acd_core::Router;

use super::model::{Check, Model, Presence, QueueTotals};

impl Model {
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
}
