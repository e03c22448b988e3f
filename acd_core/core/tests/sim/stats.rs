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
    /// Faults and adversarial timings injected, by kind (`FAULTS`).
    pub faults: BTreeMap<&'static str, u64>,
    /// The fewest events one seed made (the run's guarantee per seed).
    pub min_events: u64,
    /// The event-log hash of a seed (`log_hash`); summed over seeds, so the total does not
    /// depend on which thread ran which seed.
    pub log_hash: u64,
}

/// The fault kinds, in the order the summary line names them.
pub const FAULTS: [&str; 15] = [
    "crashes",
    "tail losses",
    "lost commands",
    "retried messages",
    "restart withdrawals",
    "accepts at expiry",
    "hangups during offers",
    "logouts during offers",
    "breaks during offers",
    "deferred breaks started",
    "duplicate messages",
    "reordered messages",
    "transfer-abandon races",
    "simultaneous accepts",
    "journal snapshots",
];

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        let first = self.seeds == 0;
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
        for (k, v) in &o.faults {
            *self.faults.entry(k).or_default() += v;
        }
        self.min_events = if first {
            o.min_events
        } else {
            self.min_events.min(o.min_events)
        };
        self.log_hash = self.log_hash.wrapping_add(o.log_hash);
    }

    pub fn fault(&mut self, kind: &'static str) {
        self.count(kind, 1);
    }

    pub fn count(&mut self, kind: &'static str, n: u64) {
        debug_assert!(FAULTS.contains(&kind), "unknown fault kind {kind}");
        *self.faults.entry(kind).or_default() += n;
    }

    /// One line: seeds, events, every fault kind and the violations (`make soak` prints it).
    /// `seeds`: run, failing ones included (the sums are over the passing ones).
    pub fn summary(&self, label: &str, seeds: usize, violations: usize) -> String {
        let mut out = format!(
            "{label}: seeds {seeds}, events {}, commands {}, calls {}",
            self.events, self.commands, self.enqueued
        );
        for kind in FAULTS {
            out += &format!(", {kind} {}", self.faults.get(kind).copied().unwrap_or(0));
        }
        out += &format!(", violations {violations}");
        out
    }
}

/// FNV-1a over every field of each event, in order: the run's event log in one number, the
/// same for a rerun of the seed in any build (no hasher with random keys).
pub fn log_hash(hash: &mut u64, e: &acd_core::Event) {
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            *hash = (*hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(e.kind.name().as_bytes());
    feed(e.call_id.as_bytes());
    feed(e.agent_id.as_bytes());
    feed(e.queue_id.as_bytes());
    feed(&e.at_ms.to_le_bytes());
    feed(&e.expires_at_ms.to_le_bytes());
    feed(e.rule.name().as_bytes());
    feed(e.detail.to_string().as_bytes());
    feed(e.reason.as_bytes());
}

pub const LOG_HASH_START: u64 = 0xcbf2_9ce4_8422_2325;
