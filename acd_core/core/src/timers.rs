//! The router's timers, ordered by (deadline, kind, ordinal) as ROUTING.md fixes.
//! Each offer, agent and call has at most one entry: its next deadline.

use std::collections::BTreeMap;

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
    entries: BTreeMap<TimerKey, u32>,
}

impl Timers {
    pub fn arm(&mut self, key: TimerKey, target: u32) {
        self.entries.insert(key, target);
    }
    pub fn disarm(&mut self, key: TimerKey) {
        self.entries.remove(&key);
    }
    pub fn next_deadline(&self) -> Option<Millis> {
        self.entries.first_key_value().map(|(k, _)| k.0)
    }
    /// Removes and returns the first timer due at or before `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<(TimerKey, u32)> {
        let (&key, _) = self.entries.first_key_value()?;
        if key.0 > now {
            return None;
        }
        self.entries.pop_first()
    }
    pub fn contains(&self, key: TimerKey) -> bool {
        self.entries.contains_key(&key)
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
