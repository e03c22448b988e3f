//! Small value types shared by the router's modules: handles, channels, strategies, outcomes.

use serde::{Deserialize, Serialize};

/// Milliseconds on the shell's clock. The core never reads a clock itself.
pub type Millis = u64;

/// Index of an agent in the router's agent arena (config order; agents are never removed).
pub type AgentIx = u32;
/// Index of a queue (config order).
pub type QueueIx = u32;
/// Slot of a live call in the call arena (slots are reused; `seq` identifies a call for life).
pub type CallIx = u32;
/// Index of a requirement class (see `class.rs`).
pub type ClassIx = u32;
/// Interned skill name.
pub type SkillIx = u16;

/// Skill requirements or skill set: sorted by skill, one entry per skill.
pub type Skills = Vec<(SkillIx, u8)>;

pub const MAX_PRIORITY: i32 = 1_000_000;
pub const MIN_LEVEL: u8 = 1;
pub const MAX_LEVEL: u8 = 10;
/// Weight of one priority level when a queue does not age calls: 10^10 ms (~115 days), so
/// priority strictly dominates waiting time for any realistic wait.
pub const STRICT_PRIORITY_WEIGHT_MS: i64 = 10_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Voice,
    Chat,
    Email,
    Messenger,
    Callback,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Voice,
        Channel::Chat,
        Channel::Email,
        Channel::Messenger,
        Channel::Callback,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
    /// Voice-like work occupies the agent entirely ("1 voice or 3 chats").
    pub fn is_voice_like(self) -> bool {
        matches!(self, Channel::Voice | Channel::Callback)
    }
    pub fn name(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Messenger => "messenger",
            Channel::Callback => "callback",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    #[default]
    LongestIdle,
    RoundRobin,
    FewestCalls,
    LeastTalkTime,
    Linear,
    Random,
    BestSkill,
    RingAll,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::LeastTalkTime => "least-talk-time",
            Strategy::Linear => "linear",
            Strategy::Random => "random",
            Strategy::BestSkill => "best-skill",
            Strategy::RingAll => "ring-all",
        }
    }
}

/// How a call left the router for good (invariant I1: exactly one per acknowledged enqueue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    Completed,
    Abandoned,
    OverflowedOut,
    Expired,
    TransferredOut,
    /// The caller asked to be called back: the call's place went to its callback.
    CallbackRequested,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Abandoned => "abandoned",
            Outcome::OverflowedOut => "overflowed-out",
            Outcome::Expired => "expired",
            Outcome::TransferredOut => "transferred-out",
            Outcome::CallbackRequested => "callback-requested",
        }
    }
}

/// The agent state of DESIGN.md, as seen from outside (derived from presence and work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AgentState {
    LoggedOut,
    NotReady,
    Ready,
    Reserved,
    Busy,
    WrapUp,
}

impl AgentState {
    pub const ALL: [AgentState; 6] = [
        AgentState::LoggedOut,
        AgentState::NotReady,
        AgentState::Ready,
        AgentState::Reserved,
        AgentState::Busy,
        AgentState::WrapUp,
    ];
    pub fn name(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged-out",
            AgentState::NotReady => "not-ready",
            AgentState::Ready => "ready",
            AgentState::Reserved => "reserved",
            AgentState::Busy => "busy",
            AgentState::WrapUp => "wrap-up",
        }
    }
}

/// Does an agent with `skills` meet every requirement in `reqs`? Both are sorted by skill.
/// Does `s` hold a control character (Unicode category Cc: U+0000..U+001F, U+007F..U+009F)?
/// Every enqueue checks its call id: ids are ASCII in practice (PBX UUIDs), and scanning bytes
/// costs a tenth of decoding UTF-8 char by char.
pub fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_ascii() {
        // No early exit: the loop vectorises, and ids are short.
        return b
            .iter()
            .fold(false, |found, &c| found | (c < 0x20) | (c == 0x7f));
    }
    s.chars().any(char::is_control)
}

pub fn meets(skills: &[(SkillIx, u8)], reqs: &[(SkillIx, u8)]) -> bool {
    let mut it = skills.iter();
    'req: for &(skill, min) in reqs {
        for &(s, level) in it.by_ref() {
            if s == skill {
                if level < min {
                    return false;
                }
                continue 'req;
            }
            if s > skill {
                return false;
            }
        }
        return false;
    }
    true
}

/// Sum of the agent's levels over the required skills (the `best-skill` strategy's measure).
pub fn level_sum(skills: &[(SkillIx, u8)], reqs: &[(SkillIx, u8)]) -> u32 {
    reqs.iter()
        .filter_map(|(r, _)| skills.iter().find(|(s, _)| s == r).map(|&(_, l)| l as u32))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_checks_every_requirement_and_level() {
        let agent = vec![(1, 5), (3, 2), (7, 9)];
        assert!(meets(&agent, &[]));
        assert!(meets(&agent, &[(1, 5), (7, 1)]));
        assert!(!meets(&agent, &[(1, 6)]));
        assert!(!meets(&agent, &[(2, 1)]));
        assert!(!meets(&agent, &[(3, 2), (8, 1)]));
        assert!(!meets(&[], &[(0, 1)]));
    }

    #[test]
    fn level_sum_counts_only_required_skills() {
        assert_eq!(level_sum(&[(1, 5), (3, 2), (7, 9)], &[(1, 1), (7, 1)]), 14);
        assert_eq!(level_sum(&[(1, 5)], &[(2, 1)]), 0);
    }
}
