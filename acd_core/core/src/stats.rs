//! Counters per queue and 15-minute interval, and agent time per group and interval, from
//! which every KPI of DESIGN.md can be computed (see `Kpis`). A call counts in the interval in
//! which it entered the queue ("offered in the period"), whenever its outcome comes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{AgentState, Millis};

pub const INTERVAL_MS: Millis = 15 * 60 * 1000;
/// Intervals kept in memory (two days); older ones belong to the report store.
pub const RETAINED_INTERVALS: u64 = 2 * 96;

pub fn interval_of(t: Millis) -> u64 {
    t / INTERVAL_MS
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalCounters {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub answered_within_sl: u64,
    pub abandoned_within_sl: u64,
    pub wait_answered_ms: u64,
    /// Calls that left the queue (answered, abandoned, overflowed, expired, replaced by a
    /// callback) and their waits.
    pub left: u64,
    pub wait_left_ms: u64,
    pub max_wait_ms: u64,
    pub overflowed: u64,
    pub expired: u64,
    pub transferred_out: u64,
    pub completed: u64,
    pub talk_ms: u64,
    pub wrapup_ms: u64,
}

impl IntervalCounters {
    pub fn fields(&self) -> [(&'static str, u64); 16] {
        [
            ("offered", self.offered),
            ("answered", self.answered),
            ("abandoned", self.abandoned),
            ("short_abandoned", self.short_abandoned),
            ("answered_within_sl", self.answered_within_sl),
            ("abandoned_within_sl", self.abandoned_within_sl),
            ("wait_answered_ms", self.wait_answered_ms),
            ("left", self.left),
            ("wait_left_ms", self.wait_left_ms),
            ("max_wait_ms", self.max_wait_ms),
            ("overflowed", self.overflowed),
            ("expired", self.expired),
            ("transferred_out", self.transferred_out),
            ("completed", self.completed),
            ("talk_ms", self.talk_ms),
            ("wrapup_ms", self.wrapup_ms),
        ]
    }
}

/// How a call left the waiting line, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftLine {
    Answered,
    Abandoned,
    Overflowed,
    Expired,
    /// Replaced by a callback in its place (counted as neither answered nor abandoned).
    Callback,
}

/// The calls of a queue not yet answered, in the order they entered it. Time never goes
/// backwards, so entry order is time order and the first live entry is the longest wait.
/// Leaving is O(1): an entry that left stays until it reaches the front and is found stale.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaitLine {
    /// (entered_at, call seq, call slot).
    entries: VecDeque<(Millis, u64, u32)>,
    count: u64,
}

impl WaitLine {
    pub fn enter(&mut self, at: Millis, seq: u64, slot: u32) {
        self.entries.push_back((at, seq, slot));
        self.count += 1;
    }

    /// Call `seq` left the line; `live(seq, slot, entered_at)` tells whether another entry
    /// still stands for a call in line. Keeps the front entry live.
    pub fn leave(&mut self, seq: u64, live: impl Fn(u64, u32, Millis) -> bool) {
        self.count -= 1;
        while let Some(&(at, s, slot)) = self.entries.front() {
            if s != seq && live(s, slot, at) {
                break;
            }
            self.entries.pop_front();
        }
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// When the longest-waiting call entered.
    pub fn oldest(&self) -> Option<Millis> {
        self.entries.front().map(|e| e.0)
    }

    /// Entries still held (live or not yet found stale), for consistency checks.
    pub fn entries(&self) -> impl Iterator<Item = (Millis, u64, u32)> + '_ {
        self.entries.iter().copied()
    }
}

/// Live and interval statistics of one queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueStats {
    pub waiting: WaitLine,
    pub offered_now: u64,
    pub connected_now: u64,
    pub intervals: BTreeMap<u64, IntervalCounters>,
}

impl QueueStats {
    pub fn counters(&mut self, entered_at: Millis) -> &mut IntervalCounters {
        self.intervals.entry(interval_of(entered_at)).or_default()
    }

    pub fn record_left(
        &mut self,
        entered_at: Millis,
        now: Millis,
        how: LeftLine,
        sl: Millis,
        short: Millis,
    ) {
        let wait = now.saturating_sub(entered_at);
        let c = self.counters(entered_at);
        c.left += 1;
        c.wait_left_ms += wait;
        c.max_wait_ms = c.max_wait_ms.max(wait);
        match how {
            LeftLine::Answered => {
                c.answered += 1;
                c.wait_answered_ms += wait;
                c.answered_within_sl += u64::from(wait <= sl);
            }
            LeftLine::Abandoned => {
                c.abandoned += 1;
                c.short_abandoned += u64::from(wait <= short);
                c.abandoned_within_sl += u64::from(wait <= sl);
            }
            LeftLine::Overflowed => c.overflowed += 1,
            LeftLine::Expired => c.expired += 1,
            // In `left` only: the callback that took its place is a contact of its own.
            LeftLine::Callback => {}
        }
    }

    pub fn prune(&mut self, now: Millis) {
        let keep_from = interval_of(now).saturating_sub(RETAINED_INTERVALS);
        while self
            .intervals
            .first_key_value()
            .is_some_and(|(&k, _)| k < keep_from)
        {
            self.intervals.pop_first();
        }
    }
}

/// Agent time per state, summed over a group's agents, per interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTime {
    pub ready_ms: u64,
    pub busy_ms: u64,
    pub not_ready_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentTimeStats {
    /// Group names; keys below use their index (cheaper to compare than names).
    pub groups: Vec<Arc<str>>,
    pub intervals: BTreeMap<(u32, u64), AgentTime>,
}

impl AgentTimeStats {
    /// The index of a group name, added on first use.
    pub fn group(&mut self, name: &str) -> u32 {
        match self.groups.iter().position(|g| &**g == name) {
            Some(i) => i as u32,
            None => {
                self.groups.push(Arc::from(name));
                (self.groups.len() - 1) as u32
            }
        }
    }

    /// Adds the span [from, to) spent in `state`, split at interval borders. Logged-out time
    /// counts nowhere, and a span is only counted from the oldest retained interval: an agent's
    /// first login on an epoch-millisecond clock closes a span that began at 0, which must not
    /// cost one map entry per 15 minutes since 1970.
    pub fn add(&mut self, group: u32, state: AgentState, from: Millis, to: Millis) {
        if state == AgentState::LoggedOut {
            return;
        }
        let retained_from = interval_of(to).saturating_sub(RETAINED_INTERVALS) * INTERVAL_MS;
        let mut t = from.max(retained_from);
        while t < to {
            let iv = interval_of(t);
            let end = ((iv + 1) * INTERVAL_MS).min(to);
            let slot = self.intervals.entry((group, iv)).or_default();
            let span = end - t;
            match state {
                AgentState::Ready => slot.ready_ms += span,
                AgentState::Reserved | AgentState::Busy | AgentState::WrapUp => {
                    slot.busy_ms += span
                }
                AgentState::NotReady => slot.not_ready_ms += span,
                AgentState::LoggedOut => {}
            }
            t = end;
        }
    }

    pub fn prune(&mut self, now: Millis) {
        let keep_from = interval_of(now).saturating_sub(RETAINED_INTERVALS);
        self.intervals.retain(|(_, iv), _| *iv >= keep_from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_time_splits_at_interval_borders() {
        let mut s = AgentTimeStats::default();
        let g = s.group("g");
        assert_eq!(s.group("h"), g + 1);
        assert_eq!(s.group("g"), g);
        s.add(
            g,
            AgentState::Busy,
            INTERVAL_MS - 1_000,
            INTERVAL_MS + 2_500,
        );
        assert_eq!(s.intervals[&(g, 0)].busy_ms, 1_000);
        assert_eq!(s.intervals[&(g, 1)].busy_ms, 2_500);
    }

    #[test]
    fn agent_time_ignores_logged_out_and_spans_older_than_retained() {
        let mut s = AgentTimeStats::default();
        let g = s.group("g");
        let now = 1_800_000_000_000; // an epoch-millisecond clock
        s.add(g, AgentState::LoggedOut, 0, now);
        assert!(s.intervals.is_empty());
        s.add(g, AgentState::NotReady, 0, now);
        assert!(s.intervals.len() as u64 <= RETAINED_INTERVALS + 1);
        let last = s.intervals[&(g, interval_of(now - 1))].not_ready_ms;
        assert_eq!(last, now - interval_of(now - 1) * INTERVAL_MS);
    }

    #[test]
    fn wait_line_keeps_a_live_front() {
        let mut w = WaitLine::default();
        for seq in 0..4 {
            w.enter(10 * seq, seq, seq as u32);
        }
        let gone = std::cell::RefCell::new(vec![1u64]);
        // seq 1 left earlier (stale inside); now seq 0 leaves: the front skips both.
        w.leave(0, |s, _, _| !gone.borrow().contains(&s));
        assert_eq!((w.len(), w.oldest()), (3, Some(20)));
        gone.borrow_mut().push(3);
        w.leave(3, |s, _, _| !gone.borrow().contains(&s));
        assert_eq!((w.len(), w.oldest()), (2, Some(20)));
    }

    #[test]
    fn waits_count_in_the_interval_the_call_entered() {
        let mut q = QueueStats::default();
        q.record_left(
            INTERVAL_MS - 10,
            INTERVAL_MS + 4_990,
            LeftLine::Abandoned,
            20_000,
            5_000,
        );
        q.record_left(100, 30_100, LeftLine::Answered, 20_000, 5_000);
        let c = q.intervals[&0];
        assert_eq!(
            (c.abandoned, c.short_abandoned, c.abandoned_within_sl),
            (1, 1, 1)
        );
        assert_eq!(
            (c.answered, c.answered_within_sl, c.wait_answered_ms),
            (1, 0, 30_000)
        );
        assert_eq!((c.left, c.max_wait_ms), (2, 30_000));
    }
}
