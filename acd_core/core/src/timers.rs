//! The router's timers, ordered by (deadline, kind, ordinal) as ROUTING.md fixes.
//!
//! A binary heap with lazy removal: each offer, agent and call records its own armed deadline,
//! and an entry counts only while its owner still says so (`Router::timer_live`). Disarming is
//! therefore free (the owner's field changes); stale entries are dropped when they reach the
//! top, and the whole heap is compacted when they outnumber the live ones.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::model::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimerKind {
    /// Ordinal: offer sequence number; target: offer slot.
    OfferExpiry = 0,
    /// Ordinal: agent index; target: agent index.
    Agent = 1,
    /// Ordinal: call sequence number; target: call slot.
    Call = 2,
}

pub type TimerKey = (Millis, TimerKind, u64);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Millis, TimerKind, u64, u32)>>,
}

impl Timers {
    pub fn arm(&mut self, key: TimerKey, target: u32) {
        self.heap.push(Reverse((key.0, key.1, key.2, target)));
    }

    /// The earliest entry, live or stale.
    pub fn peek(&self) -> Option<(TimerKey, u32)> {
        self.heap
            .peek()
            .map(|Reverse((t, k, o, target))| ((*t, *k, *o), *target))
    }

    pub fn pop(&mut self) -> Option<(TimerKey, u32)> {
        self.heap
            .pop()
            .map(|Reverse((t, k, o, target))| ((t, k, o), target))
    }

    /// Entries held, live or stale.
    pub fn held(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `live` accepts (one of each).
    pub fn compact(&mut self, live: impl Fn(TimerKey, u32) -> bool) {
        let mut keep: Vec<_> = self
            .heap
            .drain()
            .filter(|Reverse((t, k, o, g))| live((*t, *k, *o), *g))
            .collect();
        keep.sort_unstable();
        keep.dedup();
        self.heap = keep.into_iter().collect();
    }

    /// Every entry held, in no particular order (for consistency checks).
    pub fn entries(&self) -> impl Iterator<Item = (TimerKey, u32)> + '_ {
        self.heap
            .iter()
            .map(|Reverse((t, k, o, target))| ((*t, *k, *o), *target))
    }
}
