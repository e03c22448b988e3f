//! Many seeds on every core: each seed's stats summed, failing seeds collected (the run goes
//! on, so a soak reports all it found), and a sample of seeds run a second time, whose
//! event-log hash, events and commands must be the first run's (a seed replays exactly).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::run::{run_seed, Length};
use super::stats::Stats;

/// Past this many failing seeds the rest is not run: enough to see what breaks.
const MAX_FAILURES: usize = 20;
/// With this many seeds or more, a progress line every this many.
const PROGRESS_EVERY: usize = 1_000;

pub struct Outcome {
    /// Summed over the seeds that passed.
    pub stats: Stats,
    /// Seeds run, failing ones included.
    pub seeds: usize,
    /// (seed, report), by seed.
    pub failures: Vec<(u64, String)>,
    pub reruns: u64,
    pub threads: usize,
    pub seconds: f64,
}

/// Runs `seeds`; those `rerun` selects run twice and must give the same event log.
pub fn run_seeds(seeds: &[u64], length: Length, rerun: impl Fn(u64) -> bool + Sync) -> Outcome {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(seeds.len())
        .max(1);
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let total = Mutex::new(Stats::default());
    let reruns = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::<(u64, String)>::new());
    let fail = |seed: u64, message: String| {
        let mut f = failures.lock().expect("failures");
        f.push((seed, message));
        if f.len() >= MAX_FAILURES {
            stop.store(true, Ordering::Relaxed);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= seeds.len() || stop.load(Ordering::Relaxed) {
                    break;
                }
                let seed = seeds[i];
                match run_seed(seed, length) {
                    Ok(stats) => {
                        if rerun(seed) {
                            reruns.fetch_add(1, Ordering::Relaxed);
                            if let Err(message) = same_again(seed, length, &stats) {
                                fail(seed, message);
                            }
                        }
                        total.lock().expect("stats").merge(&stats);
                    }
                    Err(message) => fail(seed, message),
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if seeds.len() >= 2 * PROGRESS_EVERY && n.is_multiple_of(PROGRESS_EVERY) {
                    eprintln!(
                        "  {n}/{} seeds, {} failing, {:.0} s",
                        seeds.len(),
                        failures.lock().expect("failures").len(),
                        started.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("failures");
    failures.sort_by_key(|f| f.0);
    Outcome {
        stats: total.into_inner().expect("stats"),
        seeds: done.into_inner(),
        failures,
        reruns: reruns.into_inner() as u64,
        threads,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The seed run again: the same event log (hash), events and commands.
fn same_again(seed: u64, length: Length, first: &Stats) -> Result<(), String> {
    let replay = format!(
        "replay: ACD_SIM_SEED={seed} {} cargo test --release -p acd-core --test invariants -- --nocapture",
        length.env()
    );
    let again = run_seed(seed, length).map_err(|e| format!("seed {seed}: rerun failed: {e}"))?;
    let key = |s: &Stats| (s.log_hash, s.events, s.commands, s.steps);
    if key(&again) != key(first) {
        return Err(format!(
            "seed {seed}: the rerun differs: (event-log hash, events, commands, steps) = {:?}, the first run {:?}\n  {replay}",
            key(&again),
            key(first)
        ));
    }
    Ok(())
}
