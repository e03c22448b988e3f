//! What the router tells the shell: decisions (offers, revocations) and notifications.
//! Events are small and cheap to build; text for `detail` is produced only when asked.

use std::fmt;
use std::ops::Deref;
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

/// An id an event carries: the router's own (shared, not copied) or none ("").
///
/// Why not a plain `Arc<str>` for "none" too: cloning and dropping an `Arc` are atomic
/// read-modify-writes (about 20 ns a pair here), and most events leave one or two of their ids
/// blank; an empty `Id` is no reference at all.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Id(Option<Arc<str>>);

impl Id {
    /// The blank id ("").
    pub const NONE: Id = Id(None);
}

impl Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

impl From<Arc<str>> for Id {
    fn from(s: Arc<str>) -> Id {
        Id(if s.is_empty() { None } else { Some(s) })
    }
}

impl From<&Arc<str>> for Id {
    fn from(s: &Arc<str>) -> Id {
        Id(if s.is_empty() { None } else { Some(s.clone()) })
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Id {
        Id(if s.is_empty() {
            None
        } else {
            Some(Arc::from(s))
        })
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

// As the `Arc<str>` it replaces: a string, "" for none (snapshots keep their layout).
impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        Ok(Id::from(Arc::<str>::deserialize(d)?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub call_id: Id,
    pub agent_id: Id,
    pub queue_id: Id,
    pub at_ms: Millis,
    /// Offers only: when the offer times out.
    pub expires_at_ms: Millis,
    pub rule: Rule,
    /// `agent-state` events: the reason code of the new state.
    pub reason: Id,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_id_holds_no_string_and_reads_as_empty() {
        for blank in [Id::from(""), Id::from(Arc::<str>::from("")), Id::default()] {
            assert_eq!(blank, Id(None));
            assert_eq!(&*blank, "");
        }
        let shared: Arc<str> = Arc::from("call-1");
        let id = Id::from(&shared);
        assert!(Arc::ptr_eq(id.0.as_ref().unwrap(), &shared)); // the router's string, not a copy
        assert_eq!(id, *"call-1");
        assert_eq!(format!("{id} {id:?}"), "call-1 \"call-1\"");
    }

    #[test]
    fn an_id_serializes_as_the_string_it_replaced() {
        // Snapshots written when ids were `Arc<str>` read back unchanged, and the other way.
        for text in ["", "agent-7", "ünïcode"] {
            let old: Arc<str> = Arc::from(text);
            let new = Id::from(text);
            let bytes = bincode::serialize(&new).unwrap();
            assert_eq!(bytes, bincode::serialize(&old).unwrap());
            assert_eq!(bincode::deserialize::<Id>(&bytes).unwrap(), new);
            assert_eq!(
                serde_json::to_string(&new).unwrap(),
                serde_json::to_string(&old).unwrap()
            );
        }
    }
}
