//! What the router tells the shell: decisions (offers, revocations) and notifications.
//! Events are small and cheap to build; text for `detail` is produced only when asked.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{AgentState, Millis, Outcome, Strategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Offer,
    Revoke,
    Connected,
    Missed,
    Ended,
    Terminal,
    Overflow,
    Transferred,
    Escalated,
    AgentState,
    /// Batch only: a command of the batch was refused.
    CommandError,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Offer => "offer",
            EventKind::Revoke => "revoke",
            EventKind::Connected => "connected",
            EventKind::Missed => "missed",
            EventKind::Ended => "ended",
            EventKind::Terminal => "terminal",
            EventKind::Overflow => "overflow",
            EventKind::Transferred => "transferred",
            EventKind::Escalated => "escalated",
            EventKind::AgentState => "agent-state",
            EventKind::CommandError => "error",
        }
    }
}

/// Which rule made a decision, so a supervisor can be told why (invariant I6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    None,
    Strategy(Strategy),
    PreferredAgent,
    Pick,
    Rejected,
    TimedOut,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::None => "",
            Rule::Strategy(s) => s.name(),
            Rule::PreferredAgent => "preferred-agent",
            Rule::Pick => "pick",
            Rule::Rejected => "rejected",
            Rule::TimedOut => "timed-out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RevokeReason {
    Abandoned,
    AnsweredElsewhere,
    Logout,
    Expired,
    Overflow,
    /// The agent was paused (NotReady "missed") by the miss policy.
    Paused,
    /// The service withdrew it: the agent cannot answer (its desktop is gone, or the offer was
    /// open when the service stopped).
    Withdrawn,
    /// The caller asked for a callback instead (the callback takes the call's place).
    Callback,
}

impl RevokeReason {
    pub fn name(self) -> &'static str {
        match self {
            RevokeReason::Abandoned => "abandoned",
            RevokeReason::AnsweredElsewhere => "answered-elsewhere",
            RevokeReason::Logout => "logout",
            RevokeReason::Expired => "expired",
            RevokeReason::Overflow => "overflow",
            RevokeReason::Paused => "paused",
            RevokeReason::Withdrawn => "withdrawn",
            RevokeReason::Callback => "callback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Detail {
    None,
    /// Offer: escalation step of the call, tier of the agent, sum of its required levels.
    Offer {
        step: u8,
        tier: u8,
        level: u32,
    },
    Revoke(RevokeReason),
    Outcome(Outcome),
    /// Overflow / transfer: the queue the call came from.
    From(Arc<str>),
    Step(u8),
    State(AgentState),
    /// `ended` of a transferred call.
    Transfer,
    Text(String),
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::None => Ok(()),
            Detail::Offer { step, tier, level } => {
                write!(f, "step={step} tier={tier} level={level}")
            }
            Detail::Revoke(r) => f.write_str(r.name()),
            Detail::Outcome(o) => f.write_str(o.name()),
            Detail::From(q) => f.write_str(q),
            Detail::Step(s) => write!(f, "{s}"),
            Detail::State(s) => f.write_str(s.name()),
            Detail::Transfer => f.write_str("transfer"),
            Detail::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub call_id: Arc<str>,
    pub agent_id: Arc<str>,
    pub queue_id: Arc<str>,
    pub at_ms: Millis,
    /// Offers only: when the offer times out.
    pub expires_at_ms: Millis,
    pub rule: Rule,
    /// `agent-state` events: the reason code of the new state.
    pub reason: Arc<str>,
    pub detail: Detail,
}

impl Event {
    /// The `rule` column of ROUTING.md: the picking rule, for agent states the reason code,
    /// for a refused batch command the kind of error (`AcdError::kind`).
    pub fn rule_text(&self) -> &str {
        match self.kind {
            EventKind::AgentState | EventKind::CommandError => &self.reason,
            _ => self.rule.name(),
        }
    }
}
