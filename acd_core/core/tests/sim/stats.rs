//! What the runs did, summed over seeds: the proof that the harness drives real traffic.

use std::collections::BTreeMap;

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
