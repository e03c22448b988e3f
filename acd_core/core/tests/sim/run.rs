//! The driver: one seed = one random configuration and a random command stream with
//! non-decreasing time, every step checked, with faults and adversarial timings injected; then
//! every call driven to its end, and the whole run replayed on a fresh router and from a
//! mid-run snapshot (I7).
//!
//! The command stream is generated in `stream`, the adversarial timings in `adversary`, the
//! journal with its crashes and lost tails in `journal`; the snapshot, replay and restore
//! comparisons (I7) are in `replay`.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use acd_core::{AcdError, Command, Event, Router, RouterConfig};

use super::command::{exec, Cmd, Expect};
use super::gen;
use super::journal::Journal;
use super::model::{Check, Model};
use super::rng::Rng;
use super::stats::{log_hash, Stats, LOG_HASH_START};

/// The router keeps interval counters for two days; the totals check needs all of them.
const RETAINED_MS: u64 = 47 * 3_600_000;

/// A step makes 2-3 events on average; a seed whose stream makes far fewer is a harness bug.
const MAX_STEPS_PER_EVENT: usize = 20;

/// How long a seed's random part runs: until its events reach a count, or a fixed number of
/// steps (then the first N steps are the same for any longer run of the seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Events(u64),
    Steps(usize),
}

impl Length {
    /// The environment that gives this length (for the replay command).
    pub fn env(self) -> String {
        match self {
            Length::Events(n) => format!("ACD_SIM_EVENTS={n}"),
            Length::Steps(n) => format!("ACD_SIM_STEPS={n}"),
        }
    }
}

pub struct Sim {
    seed: u64,
    pub(super) rng: Rng,
    pub(super) config: String,
    pub(super) router: Router,
    pub(super) model: Model,
    /// Everything sent to the router that the journal still holds (a lost tail is cut off),
    /// what it answered, and every event, in order.
    pub(super) cmds: Vec<Cmd>,
    pub(super) results: Vec<Result<bool, AcdError>>,
    pub(super) events: Vec<Event>,
    /// Events before each command (one more entry at the end: all of them).
    pub(super) offsets: Vec<usize>,
    /// (commands before it, events before it, bytes): the mid-run snapshot.
    pub(super) snapshot: Option<(usize, usize, Vec<u8>)>,
    pub(super) journal: Journal,
    /// Breaks asked for while the agent had an open offer, deferred as the service's break
    /// guard does: agent -> reason.
    pub(super) breaks: BTreeMap<String, String>,
    pub(super) next_call: u64,
    /// Commands sent, lost ones included, and the hash of every event the router gave.
    sent: u64,
    hash: u64,
    /// Random steps run (the driving to the end not counted).
    steps_run: usize,
    unchanged_checks: u64,
    pub(super) step: usize,
    /// Where the current step's commands and events begin (for failure reports).
    step_cmds: usize,
    step_events: usize,
}

/// Runs one seed; the error starts with the seed and the step and says how to replay it.
pub fn run_seed(seed: u64, length: Length) -> Result<Stats, String> {
    let mut sim = Sim::new(seed).map_err(|e| format!("seed {seed}: {e}"))?;
    let outcome = catch_unwind(AssertUnwindSafe(|| sim.run(length)));
    let message = match outcome {
        Ok(Ok(())) => {
            let mut stats = sim.model.stats.clone();
            stats.seeds = 1;
            stats.steps = sim.steps_run as u64;
            stats.commands = sim.sent;
            stats.min_events = stats.events;
            stats.log_hash = sim.hash;
            return Ok(stats);
        }
        Ok(Err(message)) => message,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("the router panicked: {what}")
        }
    };
    Err(sim.report(&message, length))
}

impl Sim {
    fn new(seed: u64) -> Result<Sim, String> {
        let mut rng = Rng::new(seed);
        let config = gen::config_json(&mut rng);
        let parsed = RouterConfig::from_json(&config).map_err(|e| format!("config: {e}"))?;
        let router = Router::from_json(&config).map_err(|e| format!("config: {e}"))?;
        Ok(Sim {
            seed,
            rng,
            model: Model::new(&parsed),
            config,
            router,
            cmds: Vec::new(),
            results: Vec::new(),
            events: Vec::new(),
            offsets: vec![0],
            snapshot: None,
            journal: Journal::new(),
            breaks: BTreeMap::new(),
            next_call: 0,
            sent: 0,
            hash: LOG_HASH_START,
            steps_run: 0,
            unchanged_checks: 0,
            step: 0,
            step_cmds: 0,
            step_events: 0,
        })
    }

    fn report(&self, message: &str, length: Length) -> String {
        let step = if self.step == usize::MAX {
            "replay".to_string()
        } else {
            self.step.to_string()
        };
        let mut out = format!("seed {} step {step}: {message}\n", self.seed);
        let step_cmds = self.step_cmds.min(self.cmds.len());
        out += "  commands of this step:\n";
        for (cmd, res) in self.cmds[step_cmds..]
            .iter()
            .zip(&self.results[step_cmds..])
        {
            out += &format!("    {cmd:?} -> {res:?}\n");
        }
        let events = &self.events[self.step_events.min(self.events.len())..];
        out += &format!("  events of this step ({}):\n", events.len());
        for e in events.iter().take(40) {
            out += &format!(
                "    {} call={} agent={} queue={} at={} expires={} rule={} detail={} reason={}\n",
                e.kind.name(),
                e.call_id,
                e.agent_id,
                e.queue_id,
                e.at_ms,
                e.expires_at_ms,
                e.rule.name(),
                e.detail,
                e.reason
            );
        }
        let from = step_cmds.saturating_sub(8);
        out += "  commands before it:\n";
        for cmd in &self.cmds[from..step_cmds] {
            out += &format!("    {cmd:?}\n");
        }
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        out += &format!(
            "  config: {}\n  replay: ACD_SIM_SEED={} {} cargo test{release} -p acd-core --test invariants -- --nocapture",
            self.config,
            self.seed,
            length.env()
        );
        out
    }

    fn run(&mut self, length: Length) -> Check {
        // The mid-run snapshot (I7) comes at a random point of the run.
        let snapshot_at = match length {
            Length::Events(n) => self.rng.below(n.max(1)),
            Length::Steps(n) => self.rng.below(n.max(1) as u64),
        };
        let mut step = 0;
        loop {
            let (done, at) = match length {
                Length::Events(n) => (self.model.stats.events >= n, self.model.stats.events),
                Length::Steps(n) => (step >= n, step as u64),
            };
            if done {
                break;
            }
            if let Length::Events(n) = length {
                ensure!(
                    step < n as usize * MAX_STEPS_PER_EVENT,
                    "only {} events after {step} steps: the stream makes no traffic",
                    self.model.stats.events
                );
            }
            self.begin_step(step);
            // Never inside an unsynced stretch: a lost tail would take it along.
            if self.snapshot.is_none() && at >= snapshot_at && self.journal.synced() {
                self.take_snapshot()?;
            }
            self.inject_faults(step)?;
            let t = self.next_time();
            if !self.adversarial(t)? {
                let cmd = self.generate(t);
                self.run_command(cmd)?;
            }
            self.settle_breaks()?;
            step += 1;
        }
        self.steps_run = step;
        self.begin_step(step);
        self.crash_if_unsynced()?;
        self.drive_to_end(step)?;
        ensure!(
            self.model.acknowledged == self.model.terminals,
            "I1: {} enqueues acknowledged, {} terminal events",
            self.model.acknowledged,
            self.model.terminals
        );
        if self.router.now() < RETAINED_MS {
            self.model.check_totals(&self.router)?;
        }
        self.step = usize::MAX; // reported as "step replay"
        self.replay()
    }

    pub(super) fn begin_step(&mut self, step: usize) {
        self.step = step;
        self.step_cmds = self.cmds.len();
        self.step_events = self.events.len();
    }

    /// Sends a command the way a shell would, predicts its result from the model, and checks
    /// the result, the events and the state (see the module notes of `model.rs`).
    pub(super) fn run_command(&mut self, cmd: Cmd) -> Check {
        let t = cmd.time();
        let now = self.router.now();
        self.model.begin(None);
        // Timers due by `t` fire first. Usually as a separate handle_timeout(t), sometimes
        // inside the command itself ("fused"): then a clone runs handle_timeout(t) alone, and
        // the command's events must begin with exactly the clone's events.
        let mut fused: Option<(Vec<Event>, Router)> = None;
        let due = self.router.poll_timeout().is_some_and(|d| d <= t);
        if !cmd.is_timeout() && t >= now && due {
            if self.rng.percent(20) {
                let mut clone = self.router.clone();
                clone
                    .handle_timeout(t)
                    .map_err(|e| format!("handle_timeout({t}) refused: {e}"))?;
                let events = clone.drain();
                for e in &events {
                    self.model.apply(e, t)?;
                }
                self.model.stats.fused += 1;
                fused = Some((events, clone));
            } else {
                self.exec_timeout(t, None)?;
            }
        }
        let at = t.max(now);
        // A timeout's events come at their own (earlier) deadlines, each purging as it goes:
        // purging to `t` first would end wrap-ups and miss delays before those events.
        if !cmd.is_timeout() {
            self.model.purge(at);
        }
        let expect = self.model.predict(&cmd, at);
        if expect != Expect::Ok {
            // A refused command must change nothing: compare the whole state, taken after
            // the timers it would fire anyway.
            if let Some((events, clone)) = fused.take() {
                // Or the refused command meets the due timers itself, as the service sends it.
                if self.rng.percent(50) {
                    return self.unaccepted_with_timers(cmd, expect, events, clone);
                }
                self.exec_timeout(t, Some(events))?;
            } else if t > now {
                self.exec_timeout(t, None)?;
            }
        }
        let choice = match &cmd {
            Cmd::Core(Command::Enqueue(req, _)) if expect == Expect::Ok && fused.is_none() => {
                let infos = self
                    .model
                    .agents
                    .iter()
                    .map(|a| self.router.agent_info(&a.id).expect("known agent"))
                    .collect();
                Some((req.call_id.clone(), infos))
            }
            _ => None,
        };
        // Snapshots are the costly part: compare the whole state for one in four refused
        // or no-op commands (every one of them is still checked for events and result).
        let compare = expect != Expect::Ok && {
            self.unchanged_checks += 1;
            self.unchanged_checks % 4 == 1
        };
        let before = compare.then(|| self.router.snapshot());
        self.model.begin(Some(&cmd));
        self.model.set_choice(choice);
        let result = exec(&mut self.router, &cmd);
        let events = self.router.drain();
        self.record(&cmd, &result, &events);
        let skip = fused.as_ref().map_or(0, |f| f.0.len());
        if let Some((timer_events, _)) = &fused {
            ensure!(
                events.len() >= skip && events[..skip] == timer_events[..],
                "the command did not first run handle_timeout({t}): its first events differ from handle_timeout's alone"
            );
        }
        let own = &events[skip..];
        match expect {
            Expect::Ok => ensure!(
                matches!(result, Ok(true)),
                "expected the command to be accepted, got {result:?}"
            ),
            Expect::NoOp | Expect::Err => {
                unaccepted_as_expected(&cmd, expect, &result)?;
                ensure!(
                    own.is_empty(),
                    "a {} command produced {} events",
                    if result.is_err() { "refused" } else { "no-op" },
                    own.len()
                );
                if let Some(before) = before {
                    ensure!(
                        self.router.snapshot() == before,
                        "a {} command changed the router's state ({result:?})",
                        if result.is_err() { "refused" } else { "no-op" }
                    );
                }
                if result.is_err() {
                    self.model.stats.refused += 1;
                }
            }
        }
        self.model.before_command(&cmd, &result, t)?;
        for e in own {
            self.model.apply(e, t)?;
        }
        if result == Ok(true) {
            self.model.after_command(&cmd, own)?;
        }
        self.model.begin(None);
        self.model.set_choice(None);
        self.check_state()
    }

    /// A refused or no-op command sent while timers are due (their events already applied to
    /// the model, from `after`: a clone that ran handle_timeout alone). Either it fired them
    /// and refused (its events and state are exactly the clone's: the service journals it as
    /// that clock movement), or it refused before taking its time (nothing changed, and the
    /// timers fire after it).
    fn unaccepted_with_timers(
        &mut self,
        cmd: Cmd,
        expect: Expect,
        timers: Vec<Event>,
        mut after: Router,
    ) -> Check {
        let t = cmd.time();
        let before = self.router.snapshot();
        self.model.begin(Some(&cmd));
        let result = exec(&mut self.router, &cmd);
        let events = self.router.drain();
        self.record(&cmd, &result, &events);
        unaccepted_as_expected(&cmd, expect, &result)?;
        self.model.before_command(&cmd, &result, t)?;
        if result.is_err() {
            self.model.stats.refused += 1;
        }
        if self.router.now() == t {
            ensure!(
                events == timers,
                "a {expect:?} command that met due timers gave other events than handle_timeout({t}) alone ({result:?})"
            );
            ensure!(
                self.router.snapshot() == after.snapshot(),
                "a {expect:?} command that met due timers changed more than handle_timeout({t}) alone ({result:?})"
            );
        } else {
            ensure!(
                events.is_empty() && self.router.snapshot() == before,
                "a {expect:?} command that did not take its time {t} changed the router ({result:?})"
            );
            self.model.begin(None);
            self.exec_timeout(t, Some(timers))?;
        }
        self.model.begin(None);
        self.check_state()
    }

    /// handle_timeout(t) as a command of its own. `seen`: its events were already applied
    /// to the model (from a clone) and must come out the same.
    fn exec_timeout(&mut self, t: u64, seen: Option<Vec<Event>>) -> Check {
        let cmd = Cmd::timeout(t);
        let result = exec(&mut self.router, &cmd);
        let events = self.router.drain();
        self.record(&cmd, &result, &events);
        ensure!(result.is_ok(), "handle_timeout({t}) refused: {result:?}");
        match seen {
            Some(seen) => ensure!(
                events == seen,
                "handle_timeout({t}) on the router and on its clone gave different events"
            ),
            None => {
                self.model.begin(Some(&cmd));
                for e in &events {
                    self.model.apply(e, t)?;
                }
                self.model.begin(None);
            }
        }
        // The core's own check runs after the command that follows.
        self.model.check_router(&self.router)
    }

    pub(super) fn check_state(&mut self) -> Check {
        self.router
            .check_invariants()
            .map_err(|e| format!("check_invariants: {e}"))?;
        self.model.check_router(&self.router)
    }

    fn record(&mut self, cmd: &Cmd, result: &Result<bool, AcdError>, events: &[Event]) {
        self.sent += 1;
        for e in events {
            log_hash(&mut self.hash, e);
        }
        self.journal.record(cmd, result, self.router.now());
        self.cmds.push(cmd.clone());
        self.results.push(result.clone());
        self.events.extend_from_slice(events);
        self.offsets.push(self.events.len());
    }

    /// After the random steps: answer what is offered, end what is connected, and otherwise
    /// jump to the next deadline, until no call is left (time-to-live guarantees it).
    fn drive_to_end(&mut self, steps: usize) -> Check {
        for i in 0..200_000 {
            if self.model.calls.is_empty() {
                return Ok(());
            }
            self.begin_step(steps + i);
            let now = self.router.now();
            let offer = self
                .model
                .open_offers()
                .into_iter()
                .find(|o| o.2 > now && self.rng.percent(70));
            let connected = self
                .model
                .calls
                .values()
                .find(|c| c.connected.is_some())
                .map(|c| c.id.clone());
            let cmd = if let Some((call, agent, _)) = offer {
                Cmd::Core(Command::Accept(agent, call, now))
            } else if let Some(call) = connected {
                Cmd::Core(Command::End(call, now))
            } else {
                match self.router.poll_timeout() {
                    Some(d) => Cmd::timeout(d.max(now)),
                    None => {
                        return Err(format!(
                            "I4: calls {:?} are live but no timer is pending",
                            self.model.calls.keys().collect::<Vec<_>>()
                        ))
                    }
                }
            };
            self.run_command(cmd)?;
        }
        Err(format!(
            "I4: calls {:?} still live after driving time forward",
            self.model.calls.keys().collect::<Vec<_>>()
        ))
    }
}

/// A command predicted refused or no-op got that answer.
fn unaccepted_as_expected(cmd: &Cmd, expect: Expect, result: &Result<bool, AcdError>) -> Check {
    let is_enqueue = matches!(cmd, Cmd::Core(Command::Enqueue(..)));
    let fine = match expect {
        Expect::NoOp => matches!(result, Ok(b) if *b != is_enqueue),
        _ => result.is_err(),
    };
    ensure!(fine, "expected {expect:?}, got {result:?}");
    Ok(())
}
