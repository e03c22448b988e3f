//! The seeded randomized simulation behind `tests/invariants.rs`.
//!
//! - `rng`: a small seeded PRNG (splitmix64), so a seed reproduces a run exactly.
//! - `gen`: a random but valid router configuration for a seed.
//! - `model`: what the harness knows from outside (the commands it sent and the events it
//!   drained), and every history check on that (I1, I3, I4, I5, I6 and the event contract).
//! - `run`: the driver: random commands with non-decreasing time, refused-command checks,
//!   driving every call to its end, and replay / snapshot-restore comparison (I7).

/// Returns `Err(format!(..))` from the enclosing function when the condition is false.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(format!($($arg)*));
        }
    };
}

pub mod gen;
pub mod model;
pub mod rng;
pub mod run;
