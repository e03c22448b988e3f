//! The seeded randomized simulation behind `tests/invariants.rs`.
//!
//! - `rng`: a small seeded PRNG (splitmix64), so a seed reproduces a run exactly.
//! - `gen`: a random but valid router configuration for a seed.
//! - `model`: what the harness knows from outside (the commands it sent and the events it
//!   drained), and every history check on that (I1, I3, I4, I5, I6 and the event contract),
//!   in `impl Model` blocks spread over:
//!   - `command`: the commands the harness sends and what the model expects of each;
//!   - `events`: each event checked and applied; the call's ending, terminal, overflow and
//!     transfer;
//!   - `offers`: offer, revoke / missed and connected events;
//!   - `order`: I6, a strategy's order and choice;
//!   - `compare`: the model against what the router reports after each step.
//! - `stats`: what the runs did, summed over seeds, and the event-log hash.
//! - `run`: one seed: random commands with non-decreasing time, refused-command checks,
//!   driving every call to its end; `stream` generates the commands, `adversary` the
//!   adversarial timings (races at one instant, duplicate and reordered messages),
//!   `journal` the service's journal with crashes, restarts and lost unsynced tails, and
//!   `replay` does the snapshot-restore and replay comparisons (I7).
//! - `driver`: many seeds on all cores, a sample of them run twice (same event-log hash),
//!   and the summary.

/// Returns `Err(format!(..))` from the enclosing function when the condition is false.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(format!($($arg)*));
        }
    };
}

pub mod adversary;
pub mod command;
pub mod compare;
pub mod driver;
pub mod events;
pub mod gen;
pub mod journal;
pub mod model;
pub mod offers;
pub mod order;
pub mod replay;
pub mod rng;
pub mod run;
pub mod stats;
pub mod stream;
