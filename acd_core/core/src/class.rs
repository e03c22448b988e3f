//! Requirement classes: the router's indexes.
//!
//! A class is "calls of queue Q on channel C that need skills R and a tier <= T". Every waiting
//! call sits in exactly one class (its queue's requirement at its current escalation step), and
//! every Ready agent sits in the ready set of every class it is eligible for. So:
//! - a call arriving looks at one ready set: its best agent is the first entry, O(log n);
//! - an agent becoming Ready looks at the first waiting call of each class it serves.
//!
//! Both are keyed so that "best first" is the minimum. The ready set is an ordered set (agents
//! leave it on every offer, and round-robin and random need ranges); the line of waiting calls
//! is a binary heap with lazy removal (`Line`): joining is O(log n), leaving O(1), and the best
//! call is always at the front.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::model::{level_sum, AgentIx, CallIx, Channel, Millis, QueueIx, Skills, Strategy};

/// Tier ceiling meaning "every tier".
pub const ALL_TIERS: u8 = u8::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClassKey {
    pub queue: QueueIx,
    pub channel: Channel,
    pub reqs: Skills,
    pub max_tier: u8,
}

/// Waiting-call order: (-score, seq): highest score first, then arrival order.
pub type CallKey = (i64, u64, CallIx);
/// Ready-agent order: (tier rank, strategy key, tie-break, agent).
pub type AgentKey = (u8, i64, i64, AgentIx);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Class {
    pub key: ClassKey,
    pub waiting: Line,
    pub ready: BTreeSet<AgentKey>,
}

impl Class {
    pub fn new(key: ClassKey) -> Class {
        Class {
            key,
            waiting: Line::default(),
            ready: BTreeSet::new(),
        }
    }

    pub fn admits(&self, agent: &Agent) -> bool {
        agent.tier <= self.key.max_tier && crate::model::meets(&agent.skills, &self.key.reqs)
    }
}

/// A class's waiting calls: a binary heap of keys (best = smallest) with lazy removal. A call
/// leaving costs O(1): its own state says it left, and its key is dropped when it reaches the
/// top (at once when it is the top already, the usual case). A flat heap keeps the best key in
/// one cache line, which is what every agent becoming Ready looks at, in each of its classes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Line {
    heap: BinaryHeap<Reverse<CallKey>>,
    live: u32,
}

impl Line {
    pub fn push(&mut self, key: CallKey) {
        self.heap.push(Reverse(key));
        self.live += 1;
    }

    /// The call with `key` left the line (its state already says so).
    pub fn left(&mut self, key: CallKey, is_live: impl Fn(&CallKey) -> bool) {
        self.live -= 1;
        if self.heap.peek().is_some_and(|Reverse(k)| *k == key) {
            self.heap.pop();
        }
        // Compact when stale keys outnumber live ones, so memory follows the live line. In
        // place: the buffer keeps its room for the calls still to come (a compacted heap cut
        // to its size grew back by doubling, a copy each time), unless it is far too big.
        if self.heap.len() > 2 * self.live as usize + 64 {
            let mut keys = std::mem::take(&mut self.heap).into_vec();
            keys.retain(|Reverse(k)| is_live(k));
            keys.sort_unstable();
            keys.dedup(); // a call put back in line may have left a copy of its key behind
            if keys.capacity() > 4 * keys.len() + 128 {
                keys.shrink_to(2 * keys.len() + 64);
            }
            self.heap = BinaryHeap::from(keys);
        }
    }

    /// The best live key, dropping stale keys from the top.
    pub fn top(&mut self, is_live: impl Fn(&CallKey) -> bool) -> Option<CallKey> {
        while let Some(Reverse(k)) = self.heap.peek() {
            if is_live(k) {
                return Some(*k);
            }
            self.heap.pop();
        }
        None
    }

    /// Calls in line.
    pub fn len(&self) -> u32 {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every key held, live or stale, in no particular order (for consistency checks).
    pub fn keys(&self) -> impl Iterator<Item = CallKey> + '_ {
        self.heap.iter().map(|Reverse(k)| *k)
    }
}

/// The most urgent call waiting in a class, kept for every class side by side in one array
/// (`Indexes::fronts`). An agent becoming Ready compares the fronts of the classes it serves:
/// with the array that is a few cache lines it already holds, where reading each class's heap
/// top and checking the call behind it cost three or four cache misses per class.
/// The router keeps every front live (a stale key is dropped from the heap's top as soon as it
/// gets there), so a front is never checked against the call arena when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Front {
    pub neg_score: i64,
    pub seq: u64,
    pub slot: CallIx,
    /// The class's channel, so that the agent's capacity is checked without the class.
    pub channel: Channel,
}

impl Front {
    pub fn empty(channel: Channel) -> Front {
        Front {
            neg_score: i64::MAX,
            seq: u64::MAX,
            slot: CallIx::MAX,
            channel,
        }
    }

    pub fn new(key: Option<CallKey>, channel: Channel) -> Front {
        match key {
            Some((neg_score, seq, slot)) => Front {
                neg_score,
                seq,
                slot,
                channel,
            },
            None => Front::empty(channel),
        }
    }

    pub fn key(&self) -> Option<CallKey> {
        (self.slot != CallIx::MAX).then_some((self.neg_score, self.seq, self.slot))
    }
}

/// What a queue's strategy needs to order its Ready agents.
#[derive(Debug, Clone, Copy)]
pub struct Ordering {
    pub strategy: Strategy,
    pub prefer_lower_tier: bool,
    pub seed: u64,
}

/// The key an agent is filed under in a class's ready set. Keys only use fields that do not
/// change while the agent stays Ready, so an entry never goes stale.
pub fn agent_key(order: Ordering, agent: &Agent, ax: AgentIx, reqs: &Skills) -> AgentKey {
    let tier = if order.prefer_lower_tier {
        agent.tier
    } else {
        0
    };
    let idle = agent.ready_since as i64;
    let (k1, k2) = match order.strategy {
        Strategy::LongestIdle | Strategy::RingAll => (idle, 0),
        Strategy::RoundRobin | Strategy::Linear => (ax as i64, 0),
        Strategy::FewestCalls => (agent.calls_answered as i64, idle),
        Strategy::LeastTalkTime => (agent.talk_ms as i64, idle),
        Strategy::Random => (draw(order.seed, ax, agent.ready_epoch), 0),
        Strategy::BestSkill => (-(level_sum(&agent.skills, reqs) as i64), idle),
    };
    (tier, k1, k2, ax)
}

/// Picks the best agent of a ready set: the first key, or with a `start` (round-robin: the
/// agent after the one offered last; random: a fresh random point) the first key of the best
/// tier at or after `start`, wrapping round to the tier's first key.
pub fn best_agent(ready: &BTreeSet<AgentKey>, start: Option<i64>) -> Option<AgentKey> {
    let first = *ready.first()?;
    let Some(start) = start else {
        return Some(first);
    };
    let tier = first.0;
    ready
        .range((tier, start, i64::MIN, 0)..=(tier, i64::MAX, i64::MAX, AgentIx::MAX))
        .next()
        .copied()
        .or(Some(first))
}

/// A deterministic pseudo-random draw (splitmix64) for the `random` strategy.
pub fn draw(seed: u64, ax: AgentIx, epoch: u64) -> i64 {
    let mut z = seed ^ ((ax as u64) << 32) ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as i64
}

/// The static score of ROUTING.md: priority * weight - enqueued_at.
pub fn score(priority: i32, aging_ms: Millis, enqueued_at: Millis) -> i64 {
    let weight = if aging_ms == 0 {
        crate::model::STRICT_PRIORITY_WEIGHT_MS
    } else {
        aging_ms as i64
    };
    (priority as i64) * weight - enqueued_at as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_continues_after_last_and_wraps_within_the_best_tier() {
        let ready: BTreeSet<AgentKey> = [(1, 2, 0, 2), (1, 5, 0, 5), (1, 9, 0, 9), (2, 0, 0, 0)]
            .into_iter()
            .collect();
        assert_eq!(best_agent(&ready, Some(0)).unwrap().3, 2);
        assert_eq!(best_agent(&ready, Some(3)).unwrap().3, 5);
        assert_eq!(best_agent(&ready, Some(6)).unwrap().3, 9);
        assert_eq!(best_agent(&ready, Some(10)).unwrap().3, 2);
    }

    #[test]
    fn strict_priority_beats_any_realistic_wait() {
        let old_low = score(0, 0, 0);
        let new_high = score(1, 0, 86_400_000 * 30);
        assert!(new_high > old_low);
        // with aging, 60 s of waiting is worth one priority level
        assert!(score(0, 60_000, 0) > score(1, 60_000, 61_000));
        assert!(score(0, 60_000, 0) < score(1, 60_000, 59_000));
    }
}
