//! Deterministic scenario tests of the routing core (acd_core/ROUTING.md): each test drives a
//! small router through concrete commands and asserts which agent gets which call, at which
//! time, by which rule. Every command goes through `common::Sim`, which runs
//! `Router::check_invariants()` after it.

mod common;

mod agents;
mod calls;
mod channels;
mod errors;
mod escalation;
mod offers;
mod ordering;
mod overflow;
mod reconfigure;
mod reconfigure_refusals;
mod snapshot;
mod stats;
mod strategies;
mod transfer;
