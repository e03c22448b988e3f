//! The driver: one seed = one random configuration and a random command stream with
//! non-decreasing time, every step checked; then every call driven to its end, and the whole
//! run replayed on a fresh router and from a mid-run snapshot (I7).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use acd_core::{
    AcdError, AgentState, Channel, Command, Detail, EnqueueRequest, Event, EventKind, Router,
    RouterConfig, TransferTarget,
};

use super::gen;
use super::model::{exec, Check, Cmd, Expect, Model, Stats};
use super::rng::Rng;

/// The router keeps interval counters for two days; the totals check needs all of them.
const RETAINED_MS: u64 = 47 * 3_600_000;

pub struct Sim {
    seed: u64,
    rng: Rng,
    config: String,
    router: Router,
    model: Model,
    /// Everything sent to the router, what it answered, and every event, in order.
    cmds: Vec<Cmd>,
    results: Vec<Result<bool, AcdError>>,
    events: Vec<Event>,
    /// Events before each command (one more entry at the end: all of them).
    offsets: Vec<usize>,
    /// (commands before it, events before it, bytes): the mid-run snapshot.
    snapshot: Option<(usize, usize, Vec<u8>)>,
    next_call: u64,
    unchanged_checks: u64,
    step: usize,
    /// Where the current step's commands and events begin (for failure reports).
    step_cmds: usize,
    step_events: usize,
}

/// Runs one seed; the error starts with the seed and the step and says how to replay it.
pub fn run_seed(seed: u64, steps: usize) -> Result<Stats, String> {
    let mut sim = Sim::new(seed).map_err(|e| format!("seed {seed}: {e}"))?;
    let snapshot_step = sim.rng.below(steps.max(1) as u64) as usize;
    let outcome = catch_unwind(AssertUnwindSafe(|| sim.run(steps, snapshot_step)));
    let message = match outcome {
        Ok(Ok(())) => {
            let mut stats = sim.model.stats.clone();
            stats.seeds = 1;
            stats.steps = steps as u64;
            stats.commands = sim.cmds.len() as u64;
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
    Err(sim.report(&message, steps))
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
            next_call: 0,
            unchanged_checks: 0,
            step: 0,
            step_cmds: 0,
            step_events: 0,
        })
    }

    fn report(&self, message: &str, steps: usize) -> String {
        let step = if self.step == usize::MAX {
            "replay".to_string()
        } else {
            self.step.to_string()
        };
        let mut out = format!("seed {} step {step}: {message}\n", self.seed);
        out += "  commands of this step:\n";
        for (cmd, res) in self.cmds[self.step_cmds..]
            .iter()
            .zip(&self.results[self.step_cmds..])
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
        let from = self.step_cmds.saturating_sub(8);
        out += "  commands before it:\n";
        for cmd in &self.cmds[from..self.step_cmds] {
            out += &format!("    {cmd:?}\n");
        }
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        out += &format!(
            "  config: {}\n  replay: ACD_SIM_SEED={} ACD_SIM_STEPS={steps} cargo test{release} -p acd-core --test invariants -- --nocapture",
            self.config, self.seed
        );
        out
    }

    fn run(&mut self, steps: usize, snapshot_step: usize) -> Check {
        for step in 0..steps {
            self.begin_step(step);
            if step == snapshot_step {
                self.take_snapshot()?;
            }
            let cmd = self.generate();
            self.run_command(cmd)?;
        }
        self.drive_to_end(steps)?;
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

    fn begin_step(&mut self, step: usize) {
        self.step = step;
        self.step_cmds = self.cmds.len();
        self.step_events = self.events.len();
    }

    fn take_snapshot(&mut self) -> Check {
        let bytes = self.router.snapshot();
        let restored = Router::restore(&bytes).map_err(|e| format!("I7: restore: {e}"))?;
        ensure!(
            restored.snapshot() == bytes,
            "I7: a restored snapshot does not snapshot to the same bytes"
        );
        restored
            .check_invariants()
            .map_err(|e| format!("I7: restored router: {e}"))?;
        self.snapshot = Some((self.cmds.len(), self.events.len(), bytes));
        Ok(())
    }

    /// Sends a command the way a shell would, predicts its result from the model, and checks
    /// the result, the events and the state (see the module notes of `model.rs`).
    fn run_command(&mut self, cmd: Cmd) -> Check {
        let t = cmd.time();
        let now = self.router.now();
        self.model.begin(None);
        // Timers due by `t` fire first. Usually as a separate handle_timeout(t), sometimes
        // inside the command itself ("fused"): then a clone runs handle_timeout(t) alone, and
        // the command's events must begin with exactly the clone's events.
        let mut fused: Option<Vec<Event>> = None;
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
                fused = Some(events);
            } else {
                self.exec_timeout(t, None)?;
            }
        }
        let at = t.max(now);
        self.model.purge(at);
        let expect = self.model.predict(&cmd, at);
        if expect != Expect::Ok {
            // A refused command must change nothing: compare the whole state, taken after
            // the timers it would fire anyway.
            if let Some(events) = fused.take() {
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
        let skip = fused.as_ref().map_or(0, Vec::len);
        if let Some(timer_events) = &fused {
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
                let is_enqueue = matches!(cmd, Cmd::Core(Command::Enqueue(..)));
                let fine = match expect {
                    Expect::NoOp => matches!(result, Ok(b) if b != is_enqueue),
                    _ => result.is_err(),
                };
                ensure!(fine, "expected {expect:?}, got {result:?}");
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

    fn check_state(&mut self) -> Check {
        self.router
            .check_invariants()
            .map_err(|e| format!("check_invariants: {e}"))?;
        self.model.check_router(&self.router)
    }

    fn record(&mut self, cmd: &Cmd, result: &Result<bool, AcdError>, events: &[Event]) {
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

    /// I7: the same commands on a fresh router (through the batch API where they can), and
    /// from the mid-run snapshot on (one by one), give the same answers, the same events
    /// (every field) and the same final state (snapshot bytes).
    fn replay(&self) -> Check {
        let final_state = self.router.snapshot();
        let mut fresh = Router::from_json(&self.config).map_err(|e| e.to_string())?;
        self.replay_batched(&mut fresh)?;
        ensure!(
            fresh.snapshot() == final_state,
            "I7: the replayed router's final state differs from the run's"
        );
        if let Some((ci, ei, bytes)) = &self.snapshot {
            let mut restored = Router::restore(bytes).map_err(|e| format!("I7: restore: {e}"))?;
            replay_into(
                &mut restored,
                &self.cmds[*ci..],
                &self.results[*ci..],
                &self.events[*ei..],
                "restored snapshot",
            )?;
            ensure!(
                restored.snapshot() == final_state,
                "I7: the router restored from the snapshot ends in another state than the run"
            );
        }
        Ok(())
    }

    /// Replays the run through `apply_batch`, a batch per stretch of batchable commands
    /// (transfer and pick are not: one by one). A refused command must turn into an `error`
    /// event (`command <i>: <message>`) exactly where the command was in the stream.
    fn replay_batched(&self, router: &mut Router) -> Check {
        let mut got = Vec::with_capacity(self.events.len());
        let mut i = 0;
        while i < self.cmds.len() {
            let end = (i..self.cmds.len())
                .find(|&k| !matches!(self.cmds[k], Cmd::Core(_)))
                .unwrap_or(self.cmds.len());
            if end == i {
                let res = exec(router, &self.cmds[i]);
                ensure!(
                    res == self.results[i],
                    "I7: replay: command {i} {:?} answered {res:?}, the run got {:?}",
                    self.cmds[i],
                    self.results[i]
                );
                got.extend(router.drain());
                i += 1;
                continue;
            }
            let batch: Vec<Command> = self.cmds[i..end]
                .iter()
                .map(|c| match c {
                    Cmd::Core(c) => c.clone(),
                    _ => unreachable!("a stretch of core commands"),
                })
                .collect();
            router.apply_batch(&batch);
            let mut errors = 0;
            for e in router.drain() {
                if e.kind != EventKind::CommandError {
                    got.push(e);
                    continue;
                }
                let Detail::Text(text) = &e.detail else {
                    return Err(format!("I7: batch error event with detail {:?}", e.detail));
                };
                let k: Option<usize> = text
                    .strip_prefix("command ")
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse().ok());
                let m = i + k.ok_or_else(|| format!("I7: batch error event '{text}'"))?;
                let want = match self.results.get(m) {
                    Some(Err(err)) if m < end => format!("command {}: {err}", m - i),
                    other => {
                        return Err(format!(
                            "I7: batch error '{text}' for a command the run answered {other:?}"
                        ))
                    }
                };
                ensure!(
                    *text == want && got.len() == self.offsets[m],
                    "I7: batch error '{text}' after {} events; the run refused command {m} with '{want}' after {}",
                    got.len(),
                    self.offsets[m]
                );
                errors += 1;
            }
            let refused = self.results[i..end].iter().filter(|r| r.is_err()).count();
            ensure!(
                errors == refused,
                "I7: the batch of commands {i}..{end} gave {errors} error events, the run refused {refused}"
            );
            i = end;
        }
        compare_events("replay (batched)", &got, &self.events)
    }

    // --- command generation ---------------------------------------------------------------

    fn generate(&mut self) -> Cmd {
        let now = self.router.now();
        let dt = match self.rng.below(100) {
            0..=34 => self.rng.range(0, 300),
            35..=79 => self.rng.range(300, 4_000),
            80..=97 => self.rng.range(4_000, 20_000),
            _ => self.rng.range(20_000, 120_000),
        };
        let t = now + dt;
        // enqueue, abandon, login, logout, ready, not-ready, accept, reject, end, wrap-up done,
        // transfer, pick, timeout at the next deadline, invalid.
        const WEIGHTS: [u64; 14] = [16, 3, 4, 1, 8, 2, 20, 4, 12, 5, 2, 2, 8, 6];
        for _ in 0..10 {
            let kind = self.rng.weighted(&WEIGHTS);
            if let Some(cmd) = self.try_generate(kind, t) {
                return cmd;
            }
        }
        Cmd::timeout(t)
    }

    fn agents_where(&self, f: impl Fn(AgentState) -> bool) -> Vec<String> {
        self.model
            .agents
            .iter()
            .filter(|a| f(a.state))
            .map(|a| a.id.clone())
            .collect()
    }

    fn pick_of(&mut self, items: Vec<String>) -> Option<String> {
        (!items.is_empty()).then(|| self.rng.pick(&items).clone())
    }

    fn calls_where(&self, f: impl Fn(&super::model::CallM) -> bool) -> Vec<String> {
        self.model
            .calls
            .values()
            .filter(|c| f(c))
            .map(|c| c.id.clone())
            .collect()
    }

    fn try_generate(&mut self, kind: usize, t: u64) -> Option<Cmd> {
        use AgentState as S;
        let core = |c: Command| Some(Cmd::Core(c));
        match kind {
            0 => Some(self.gen_enqueue(t)),
            1 => {
                let c = self.pick_of(self.calls_where(|c| c.connected.is_none()))?;
                core(Command::Abandon(c, t))
            }
            2 => {
                let a = self.pick_of(self.agents_where(|s| s == S::LoggedOut))?;
                core(Command::Login(a, t))
            }
            3 => {
                let a = self.pick_of(self.agents_where(|s| s != S::LoggedOut))?;
                core(Command::Logout(a, t))
            }
            4 => {
                let a =
                    self.pick_of(self.agents_where(|s| matches!(s, S::NotReady | S::WrapUp)))?;
                core(Command::Ready(a, t))
            }
            5 => {
                let a =
                    self.pick_of(self.agents_where(|s| !matches!(s, S::LoggedOut | S::Reserved)))?;
                let reason = self.rng.pick(&["break", "lunch", "training", "meeting"]);
                core(Command::NotReady(a, reason.to_string(), t))
            }
            6 | 7 => {
                let offers = self.model.open_offers();
                if offers.is_empty() {
                    return None;
                }
                let (call, agent, expires) = self.rng.pick(&offers).clone();
                // Mostly in time; sometimes late (the timer fires first: refused).
                let now = self.router.now();
                let t = if expires > now && self.rng.percent(85) {
                    t.min(expires - 1)
                } else {
                    t
                };
                if kind == 6 {
                    core(Command::Accept(agent, call, t))
                } else {
                    core(Command::Reject(agent, call, t))
                }
            }
            8 => {
                let c = self.pick_of(self.calls_where(|c| c.connected.is_some()))?;
                core(Command::End(c, t))
            }
            9 => {
                let pairs: Vec<(String, String)> = self
                    .model
                    .agents
                    .iter()
                    .flat_map(|a| a.wrapups.iter().map(|w| (a.id.clone(), w.0.clone())))
                    .collect();
                if pairs.is_empty() {
                    return None;
                }
                let (a, c) = self.rng.pick(&pairs).clone();
                core(Command::WrapupDone(a, c, t))
            }
            10 => {
                let c = self.pick_of(self.calls_where(|c| c.connected.is_some()))?;
                let target = self.gen_transfer_target();
                Some(Cmd::Transfer(c, target, t))
            }
            11 => {
                let c =
                    self.pick_of(self.calls_where(|c| {
                        c.connected.is_none() && c.offers.is_empty() && !c.ended
                    }))?;
                let channel = self.model.calls[&c].channel;
                let able: Vec<String> = self
                    .model
                    .agents
                    .iter()
                    .filter(|a| a.can_take(channel, t))
                    .map(|a| a.id.clone())
                    .collect();
                let a = if !able.is_empty() && self.rng.percent(80) {
                    self.rng.pick(&able).clone()
                } else {
                    self.random_agent()
                };
                Some(Cmd::Pick(a, c, t))
            }
            12 => {
                let now = self.router.now();
                let d = self.router.poll_timeout()?;
                Some(Cmd::timeout(d.max(now)))
            }
            _ => self.gen_invalid(t),
        }
    }

    fn random_agent(&mut self) -> String {
        let n = self.model.agents.len() as u64;
        self.model.agents[self.rng.below(n) as usize].id.clone()
    }

    fn random_queue(&mut self) -> String {
        let n = self.model.queues.len() as u64;
        self.model.queues[self.rng.below(n) as usize].id.clone()
    }

    fn gen_transfer_target(&mut self) -> TransferTarget {
        match self.rng.below(100) {
            0..=39 => TransferTarget::Queue(self.random_queue()),
            40..=74 => TransferTarget::Agent(self.random_agent()),
            _ => TransferTarget::Destination("ext-transfer".into()),
        }
    }

    fn fresh_call_id(&mut self) -> String {
        self.next_call += 1;
        format!("c{}", self.next_call)
    }

    fn gen_enqueue(&mut self, t: u64) -> Cmd {
        let call_id = if self.rng.percent(6) {
            // A duplicate: live (refused as a no-op), or finished (inside or past the window).
            let mut ids: Vec<String> = self.model.calls.keys().cloned().collect();
            ids.extend(self.model.finished.keys().rev().take(20).cloned());
            self.pick_of(ids).unwrap_or_else(|| self.fresh_call_id())
        } else {
            self.fresh_call_id()
        };
        let channel = match self.rng.below(100) {
            0..=69 => None,
            70..=84 => Some(Channel::Chat),
            85..=89 => Some(Channel::Callback),
            90..=94 => Some(Channel::Email),
            _ => Some(Channel::Voice),
        };
        let skills = self.rng.percent(8).then(|| {
            gen::skill_map(&mut self.rng, 0, 2, 1, 8)
                .into_iter()
                .map(|(k, v)| (k, v.as_u64().expect("level") as u8))
                .collect::<BTreeMap<String, u8>>()
        });
        let (preferred_agent, preferred_wait_ms) = if self.rng.percent(10) {
            let wait = if self.rng.percent(30) {
                0
            } else {
                self.rng.range(2_000, 30_000)
            };
            (Some(self.random_agent()), wait)
        } else {
            (None, 0)
        };
        let priority = if self.rng.percent(65) {
            0
        } else {
            self.rng.range(0, 4) as i32 - 2
        };
        let req = EnqueueRequest {
            queue_id: self.random_queue(),
            priority,
            channel,
            skills,
            caller: format!("+1555{:04}", self.next_call % 10_000),
            dialled: "+18005550100".into(),
            preferred_agent,
            preferred_wait_ms,
            attributes: vec![("order".into(), format!("{}", self.rng.below(1000)))],
            call_id,
        };
        Cmd::Core(Command::Enqueue(req, t))
    }

    /// Commands that must be refused (or, rarely, turn out legal: the model decides).
    fn gen_invalid(&mut self, t: u64) -> Option<Cmd> {
        use AgentState as S;
        let core = |c: Command| Some(Cmd::Core(c));
        let ghost = "ghost".to_string();
        match self.rng.below(16) {
            0 => {
                let c = self.pick_of(self.model.calls.keys().cloned().collect());
                let c = c.unwrap_or_else(|| ghost.clone());
                match self.rng.below(6) {
                    0 => core(Command::Login(ghost, t)),
                    1 => core(Command::Logout(ghost, t)),
                    2 => core(Command::Ready(ghost, t)),
                    3 => core(Command::NotReady(ghost, "break".into(), t)),
                    4 => core(Command::Accept(ghost, c, t)),
                    _ => Some(Cmd::Pick(ghost, c, t)),
                }
            }
            1 => {
                let a = self.random_agent();
                match self.rng.below(6) {
                    0 => core(Command::Abandon(ghost, t)),
                    1 => core(Command::End(ghost, t)),
                    2 => core(Command::Reject(a, ghost, t)),
                    3 => core(Command::WrapupDone(a, ghost, t)),
                    4 => Some(Cmd::Transfer(
                        ghost,
                        TransferTarget::Destination("x".into()),
                        t,
                    )),
                    _ => Some(Cmd::Pick(a, ghost, t)),
                }
            }
            2..=6 => {
                let Cmd::Core(Command::Enqueue(mut req, t)) = self.gen_enqueue(t) else {
                    unreachable!("gen_enqueue makes enqueues")
                };
                match self.rng.below(7) {
                    0 => req.queue_id = "no-such-queue".into(),
                    1 => {
                        req.priority = if self.rng.percent(50) {
                            1_000_001
                        } else {
                            -1_000_001
                        }
                    }
                    2 => {
                        let level = if self.rng.percent(50) { 0 } else { 11 };
                        req.skills = Some(BTreeMap::from([("sales".to_string(), level)]));
                    }
                    3 => req.call_id = String::new(),
                    4 => req.call_id = "bad\nid".into(),
                    5 => req.call_id = "x".repeat(257),
                    _ => {
                        req.preferred_agent = Some(ghost);
                        req.preferred_wait_ms = self.rng.range(0, 1) * 5_000;
                    }
                }
                core(Command::Enqueue(req, t))
            }
            7 => {
                let a = self.random_agent();
                let reason = if self.rng.percent(50) {
                    "r".repeat(65)
                } else {
                    "tab\there".into()
                };
                core(Command::NotReady(a, reason, t))
            }
            8 | 9 => {
                // Illegal transitions by the state table.
                let a = self.random_agent();
                let state = self.model.agents[self.model.agent_ix[&a]].state;
                let options: Vec<Command> = match state {
                    S::LoggedOut => vec![
                        Command::Ready(a.clone(), t),
                        Command::NotReady(a.clone(), "break".into(), t),
                        Command::Logout(a.clone(), t),
                    ],
                    S::Reserved => vec![
                        Command::Login(a.clone(), t),
                        Command::Ready(a.clone(), t),
                        Command::NotReady(a.clone(), "break".into(), t),
                    ],
                    S::Busy => vec![Command::Login(a.clone(), t), Command::Ready(a.clone(), t)],
                    _ => vec![Command::Login(a.clone(), t)],
                };
                let i = self.rng.below(options.len() as u64) as usize;
                core(options[i].clone())
            }
            10 => {
                let c = self.pick_of(self.calls_where(|c| c.connected.is_none()))?;
                core(Command::End(c, t))
            }
            11 => {
                let c = self.pick_of(self.calls_where(|c| c.connected.is_some()))?;
                if self.rng.percent(50) {
                    core(Command::Abandon(c, t))
                } else {
                    let own = self.model.calls[&c].connected.expect("connected");
                    let target = match self.rng.below(3) {
                        0 => TransferTarget::Agent(self.model.agents[own].id.clone()),
                        1 => TransferTarget::Queue("no-such-queue".into()),
                        _ => TransferTarget::Destination(String::new()),
                    };
                    Some(Cmd::Transfer(c, target, t))
                }
            }
            12 => {
                let c = self.pick_of(self.calls_where(|c| c.connected.is_none()))?;
                let target = self.gen_transfer_target();
                Some(Cmd::Transfer(c, target, t))
            }
            13 => {
                // Accept / reject by an agent without that offer.
                let (call, _, _) = {
                    let offers = self.model.open_offers();
                    if offers.is_empty() {
                        return None;
                    }
                    self.rng.pick(&offers).clone()
                };
                // Rarely the offer's own agent: then it is legal, and the model says so.
                let other = self.random_agent();
                if self.rng.percent(50) {
                    core(Command::Accept(other, call, t))
                } else {
                    core(Command::Reject(other, call, t))
                }
            }
            14 => {
                // wrap-up done for a call not in wrap-up, or pick of a call not waiting.
                let c = self.pick_of(self.model.calls.keys().cloned().collect())?;
                let a = self.random_agent();
                if self.rng.percent(50) {
                    core(Command::WrapupDone(a, c, t))
                } else {
                    Some(Cmd::Pick(a, c, t))
                }
            }
            _ => {
                // Time going backwards.
                let now = self.router.now();
                if now == 0 {
                    return None;
                }
                let back = now - self.rng.range(1, now.min(5_000));
                let a = self.random_agent();
                match self.rng.below(4) {
                    0 => core(Command::Login(a, back)),
                    1 => core(Command::Ready(a, back)),
                    2 => core(Command::Timeout(back)),
                    _ => match self.gen_enqueue(back) {
                        Cmd::Core(Command::Enqueue(req, _)) => core(Command::Enqueue(req, back)),
                        other => Some(other),
                    },
                }
            }
        }
    }
}

/// Applies `cmds` to `router` and compares answers and events with the run's.
fn replay_into(
    router: &mut Router,
    cmds: &[Cmd],
    results: &[Result<bool, AcdError>],
    events: &[Event],
    what: &str,
) -> Check {
    let mut got = Vec::with_capacity(events.len());
    for (i, (cmd, want)) in cmds.iter().zip(results).enumerate() {
        let res = exec(router, cmd);
        ensure!(
            &res == want,
            "I7: {what}: command {i} {cmd:?} answered {res:?}, the run got {want:?}"
        );
        got.extend(router.drain());
    }
    compare_events(what, &got, events)
}

fn compare_events(what: &str, got: &[Event], events: &[Event]) -> Check {
    if got != events {
        let i = got
            .iter()
            .zip(events)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(events.len()));
        return Err(format!(
            "I7: {what}: event {i} differs ({} vs {} events): {:?} vs the run's {:?}",
            got.len(),
            events.len(),
            got.get(i),
            events.get(i)
        ));
    }
    Ok(())
}
