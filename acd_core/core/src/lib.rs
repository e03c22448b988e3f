//! acd-core: the routing core of the ACD.
//!
//! A deterministic, sans-IO state machine (no clock, no I/O, no threads): queues with skill
//! requirements and strategies, agents with the state machine of DESIGN.md, calls, offers with
//! timeouts, escalation and overflow, and the statistics the KPIs need. Time (`now_ms`) and the
//! random seed are inputs, so the same inputs always give the same decisions; that is what makes
//! replay, simulation and the invariant tests possible. Semantics: `acd_core/ROUTING.md`.

pub mod agent;
pub mod call;
pub mod class;
pub mod config;
pub mod error;
pub mod event;
pub mod model;
pub mod router;
pub mod stats;
pub mod timers;

pub use config::{AgentConfig, QueueConfig, RouterConfig};
pub use error::{AcdError, Result};
pub use event::{Detail, Event, EventKind, Id, RevokeReason, Rule};
pub use model::{AgentState, Channel, Millis, Outcome, Strategy};
pub use router::calls::TransferTarget;
pub use router::{AgentInfo, CallInfo, Command, EnqueueRequest, QueueSnapshot, Router};
