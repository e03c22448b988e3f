//! A call (any channel) while it is live in the router.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{AgentIx, Channel, ClassIx, Millis, QueueIx, Skills};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallState {
    /// In its class's line, waiting for an agent.
    Waiting,
    /// Held for its preferred agent until the preference runs out.
    Held,
    /// Offered to one agent (or several with ring-all); `offers` lists them.
    Offered,
    /// Accepted by an agent.
    Connected(AgentIx),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    pub id: Arc<str>,
    /// Arrival order, unique for the router's life (the tie-breaker of I6).
    pub seq: u64,
    pub queue: QueueIx,
    pub channel: Channel,
    pub priority: i32,
    /// Static urgency (ROUTING.md): higher first; kept through offers and overflows.
    pub score: i64,
    pub skills_override: Option<Skills>,
    pub caller: Arc<str>,
    pub dialled: Arc<str>,
    pub attributes: Vec<(String, String)>,
    pub preferred: Option<(AgentIx, Millis)>,
    /// First enqueue, or the last transfer (time-to-live and waiting time count from here).
    pub first_enqueued_at: Millis,
    /// Entry into the current queue (escalation and overflow count from here).
    pub entered_at: Millis,
    /// Escalation steps already applied in the current queue.
    pub step: u8,
    pub class: ClassIx,
    pub state: CallState,
    /// Open offers (slots in the offer arena).
    pub offers: Vec<u32>,
    /// The call timer currently armed.
    pub timer: Option<Millis>,
}
