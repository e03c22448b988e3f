//! Seeded randomized simulation of reconfiguration (ROUTING.md, Reconfiguration): random
//! commands on a random router, with random configuration changes among them (queues and
//! agents added, changed, reordered and removed; some changes that must be refused). After
//! every step:
//! - `check_invariants()` (I2, I3, I5, work conservation, every index);
//! - I1 from the events: one `terminal` per acknowledged enqueue, never two, none unasked;
//!   `call_ids()` is exactly the acknowledged calls not yet terminal, in arrival order;
//! - events never go back in time and never run ahead of the clock;
//! - a refused reconfiguration produced no event and left the snapshot bytes as they were;
//!   an accepted one snapshots, restores and snapshots to the same bytes.
//!
//! At the end every call is driven to its end (I1, I4), and the whole run is replayed on a
//! fresh router: the same results, events and final snapshot (I7).
//!
//! `ACD_RECONF_SEEDS=N` (default 60), `ACD_RECONF_STEPS=N` (default 400), and
//! `ACD_RECONF_SEED=S` to replay one seed; a failure names the seed and the command to rerun.

#[path = "sim/rng.rs"]
pub mod rng;
mod reconf {
    #[path = "variants.rs"]
    pub mod variants;
    pub use super::rng;
}

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use acd_core::{AcdError, AgentState, Channel, Command, EnqueueRequest, Event, EventKind, Router};
use serde_json::Value;

use reconf::variants;
use rng::Rng;

type Check = Result<(), String>;

fn env(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().parse().expect("a number"))
}

struct Run {
    rng: Rng,
    initial: String,
    current: Value,
    router: Router,
    next_id: u64,
    next_call: u64,
    /// Acknowledged calls with no terminal event yet, in arrival order.
    live: Vec<String>,
    last_at: u64,
    cmds: Vec<Command>,
    results: Vec<Result<bool, AcdError>>,
    events: Vec<Event>,
    /// What each step did, for the failure report.
    log: Vec<String>,
    /// Reconfigurations by outcome: refused (by error kind), accepted (with events or not).
    outcomes: BTreeMap<&'static str, u64>,
}

fn exec(router: &mut Router, cmd: &Command) -> Result<bool, AcdError> {
    match cmd {
        Command::Enqueue(req, t) => router.enqueue(req, *t),
        other => router.apply(other).map(|()| true),
    }
}

impl Run {
    fn new(seed: u64) -> Run {
        let mut rng = Rng::new(seed);
        let current = variants::base(&mut rng);
        let initial = current.to_string();
        let router = Router::from_json(&initial).expect("a valid starting config");
        Run {
            rng,
            initial,
            current,
            router,
            next_id: 0,
            next_call: 0,
            live: Vec::new(),
            last_at: 0,
            cmds: Vec::new(),
            results: Vec::new(),
            events: Vec::new(),
            log: Vec::new(),
            outcomes: BTreeMap::new(),
        }
    }

    fn ids(&self, what: &str) -> Vec<String> {
        self.current[what]
            .as_array()
            .expect("a list")
            .iter()
            .map(|v| v["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    fn agents_in(&self, states: &[AgentState]) -> Vec<String> {
        let ids = self.ids("agents");
        ids.into_iter()
            .filter(|a| states.contains(&self.router.agent_info(a).expect("agent").state))
            .collect()
    }

    fn calls_in(&self, states: &[&str]) -> Vec<(String, Vec<String>)> {
        self.live
            .iter()
            .filter_map(|c| self.router.call_info(c))
            .filter(|i| states.contains(&i.state))
            .map(|i| {
                (
                    i.id.to_string(),
                    i.agents.iter().map(|a| a.to_string()).collect(),
                )
            })
            .collect()
    }

    fn some<T: Clone>(&mut self, items: Vec<T>) -> Option<T> {
        (!items.is_empty()).then(|| self.rng.pick(&items).clone())
    }

    /// A random command at `t`, mostly one the state allows.
    fn command(&mut self, t: u64) -> Option<Command> {
        use AgentState as S;
        const WEIGHTS: [u64; 12] = [16, 3, 4, 2, 8, 2, 18, 4, 10, 4, 6, 6];
        Some(match self.rng.weighted(&WEIGHTS) {
            0 => {
                self.next_call += 1;
                let queue = self.rng.pick(&self.ids("queues")).clone();
                let chat = self.rng.percent(20);
                let req = EnqueueRequest {
                    call_id: format!("c{}", self.next_call),
                    queue_id: queue,
                    priority: self.rng.range(0, 2) as i32,
                    channel: chat.then_some(Channel::Chat),
                    ..Default::default()
                };
                Command::Enqueue(req, t)
            }
            1 => Command::Abandon(self.some(self.calls_in(&["waiting", "offered"]))?.0, t),
            2 => Command::Login(self.some(self.agents_in(&[S::LoggedOut]))?, t),
            3 => Command::Logout(self.some(self.agents_in(&[S::Ready, S::NotReady]))?, t),
            4 => Command::Ready(self.some(self.agents_in(&[S::NotReady, S::WrapUp]))?, t),
            5 => Command::NotReady(self.some(self.agents_in(&[S::Ready]))?, "break".into(), t),
            6 | 7 => {
                let (call, agents) = self.some(self.calls_in(&["offered"]))?;
                let agent = self.rng.pick(&agents).clone();
                if self.rng.below(2) == 0 || agents.len() > 1 {
                    Command::Accept(agent, call, t)
                } else {
                    Command::Reject(agent, call, t)
                }
            }
            8 => Command::End(self.some(self.calls_in(&["connected"]))?.0, t),
            9 => {
                let agent = self.some(self.agents_in(&[S::WrapUp]))?;
                let call = self.router.agent_info(&agent).expect("agent").calls[0].to_string();
                Command::WrapupDone(agent, call, t)
            }
            10 => Command::Timeout(
                self.router
                    .poll_timeout()
                    .unwrap_or(t)
                    .max(self.router.now()),
            ),
            _ => {
                let (next, what) =
                    variants::change(&mut self.rng, &self.current, &mut self.next_id);
                self.log.push(format!("  change: {what}"));
                Command::Configure(next.to_string(), t)
            }
        })
    }

    fn step(&mut self) -> Check {
        let dt = match self.rng.below(10) {
            0..=4 => self.rng.range(0, 500),
            5..=8 => self.rng.range(500, 6_000),
            _ => self.rng.range(6_000, 60_000),
        };
        let t = self.router.now() + dt;
        let Some(cmd) = self.command(t) else {
            return Ok(());
        };
        if let Command::Configure(json, _) = &cmd {
            // Timers first, as a command of its own: then a refusal must change nothing.
            let timers = self.send(Command::Timeout(t))?;
            ensure(timers.is_ok(), "handle_timeout refused")?;
            let before = self.router.snapshot();
            let seen = self.events.len();
            let result = self.send(cmd.clone())?;
            let outcome = match &result {
                Err(e) => e.kind(),
                Ok(_) if self.events.len() > seen => "accepted, with events",
                Ok(_) => "accepted",
            };
            *self.outcomes.entry(outcome).or_default() += 1;
            if result.is_err() {
                ensure(
                    self.events.len() == seen,
                    "a refused reconfiguration produced events",
                )?;
                ensure(
                    self.router.snapshot() == before,
                    "a refused reconfiguration changed the router's state",
                )?;
            } else {
                self.current = serde_json::from_str(json).expect("json");
                let bytes = self.router.snapshot();
                let mut restored = Router::restore(&bytes).map_err(|e| e.to_string())?;
                ensure(
                    restored.snapshot() == bytes,
                    "I7: a router restored after a reconfiguration snapshots differently",
                )?;
            }
            return Ok(());
        }
        self.send(cmd).map(drop)
    }

    /// Sends one command and checks what came back; returns its result.
    fn send(&mut self, cmd: Command) -> Result<Result<bool, AcdError>, String> {
        let result = exec(&mut self.router, &cmd);
        let events = self.router.drain();
        self.log
            .push(format!("  {cmd:?} -> {result:?} ({} events)", events.len()));
        if let (Command::Enqueue(req, _), Ok(true)) = (&cmd, &result) {
            self.live.push(req.call_id.clone());
        }
        for e in &events {
            ensure(
                e.at_ms >= self.last_at && e.at_ms <= self.router.now(),
                &format!(
                    "event at {} outside {}..={}",
                    e.at_ms,
                    self.last_at,
                    self.router.now()
                ),
            )?;
            self.last_at = e.at_ms;
            if e.kind == EventKind::Terminal {
                let i = self.live.iter().position(|c| **c == *e.call_id);
                let i = i.ok_or_else(|| format!("I1: terminal for '{}' not live", e.call_id))?;
                self.live.remove(i);
            }
        }
        self.router
            .check_invariants()
            .map_err(|e| format!("check_invariants: {e}"))?;
        let ids: Vec<String> = self
            .router
            .call_ids()
            .iter()
            .map(|c| c.to_string())
            .collect();
        ensure(
            ids == self.live,
            &format!("call_ids {ids:?} != live {:?}", self.live),
        )?;
        self.cmds.push(cmd);
        self.results.push(result.clone());
        self.events.extend(events);
        Ok(result)
    }

    /// Answers offers, ends calls and finishes wrap-ups until no call is left.
    fn drive_to_end(&mut self) -> Check {
        for _ in 0..100_000 {
            let now = self.router.now();
            let cmd = if let Some((c, a)) = self.calls_in(&["offered"]).first().cloned() {
                Command::Accept(a[0].clone(), c, now)
            } else if let Some((c, _)) = self.calls_in(&["connected"]).first().cloned() {
                Command::End(c, now)
            } else if self.live.is_empty() {
                return Ok(());
            } else {
                match self.router.poll_timeout() {
                    Some(d) => Command::Timeout(d.max(now)),
                    None => return Err(format!("I4: {:?} live, no timer pending", self.live)),
                }
            };
            ensure(
                self.send(cmd)?.is_ok(),
                "driving to the end: a command was refused",
            )?;
        }
        Err(format!("I4: {:?} still live", self.live))
    }

    /// I7: the same commands on a fresh router give the same results, events and state.
    fn replay(&mut self) -> Check {
        let mut fresh = Router::from_json(&self.initial).map_err(|e| e.to_string())?;
        let mut events = Vec::new();
        for (cmd, expected) in self.cmds.iter().zip(&self.results) {
            let result = exec(&mut fresh, cmd);
            ensure(
                &result == expected,
                &format!("I7: replayed {cmd:?} gave {result:?}"),
            )?;
            events.extend(fresh.drain());
        }
        ensure(events == self.events, "I7: the replay's events differ")?;
        ensure(
            fresh.snapshot() == self.router.snapshot(),
            "I7: the replay's final state differs",
        )
    }
}

fn ensure(cond: bool, what: &str) -> Check {
    if cond {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn run_seed(seed: u64, steps: usize) -> Result<BTreeMap<&'static str, u64>, String> {
    let mut run = Run::new(seed);
    let mut failed_step = 0;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        for step in 0..steps {
            failed_step = step;
            run.log.push(format!("step {step}:"));
            run.step()?;
        }
        failed_step = steps;
        run.drive_to_end()?;
        run.replay()
    }));
    let message = match outcome {
        Ok(Ok(())) => return Ok(run.outcomes),
        Ok(Err(m)) => m,
        Err(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    };
    let recent: Vec<&String> = run.log.iter().rev().take(12).collect();
    let recent: Vec<&str> = recent.into_iter().rev().map(String::as_str).collect();
    Err(format!(
        "seed {seed} step {failed_step}: {message}\n{}\n  config: {}\n  \
         replay: ACD_RECONF_SEED={seed} ACD_RECONF_STEPS={steps} cargo test -p acd-core \
         --test reconfigure -- --nocapture",
        recent.join("\n"),
        run.current
    ))
}

#[test]
fn random_reconfigurations_keep_every_invariant() {
    let steps = env("ACD_RECONF_STEPS").unwrap_or(400) as usize;
    let seeds: Vec<u64> = match env("ACD_RECONF_SEED") {
        Some(seed) => vec![seed],
        None => (0..env("ACD_RECONF_SEEDS").unwrap_or(60)).collect(),
    };
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    for &seed in &seeds {
        match run_seed(seed, steps) {
            Ok(o) => o
                .into_iter()
                .for_each(|(k, n)| *outcomes.entry(k).or_default() += n),
            Err(report) => panic!("{report}"),
        }
    }
    println!("reconfigurations over {} seeds: {outcomes:?}", seeds.len());
    if seeds.len() >= 20 {
        // Every kind of outcome happens, and most changes are accepted.
        for kind in [
            "accepted",
            "accepted, with events",
            "config",
            "invalid-argument",
            "illegal-transition",
        ] {
            assert!(
                outcomes.get(kind).is_some_and(|&n| n > 0),
                "no reconfiguration {kind}: {outcomes:?}"
            );
        }
    }
}
