//! The random command stream of a seed: mostly legal commands drawn from the model's view
//! of the state, some that must be refused, with non-decreasing time (time going backwards
//! is one of the refused kinds).

use std::collections::BTreeMap;

use acd_core::{AgentState, Channel, Command, EnqueueRequest, TransferTarget};

use super::command::Cmd;
use super::gen;
use super::run::Sim;

impl Sim {
    /// The time of the next step: mostly soon, sometimes after a long quiet spell.
    pub(super) fn next_time(&mut self) -> u64 {
        let dt = match self.rng.below(100) {
            0..=34 => self.rng.range(0, 300),
            35..=79 => self.rng.range(300, 4_000),
            80..=97 => self.rng.range(4_000, 20_000),
            _ => self.rng.range(20_000, 120_000),
        };
        self.router.now() + dt
    }

    pub(super) fn generate(&mut self, t: u64) -> Cmd {
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

    pub(super) fn pick_of(&mut self, items: Vec<String>) -> Option<String> {
        (!items.is_empty()).then(|| self.rng.pick(&items).clone())
    }

    pub(super) fn calls_where(&self, f: impl Fn(&super::model::CallM) -> bool) -> Vec<String> {
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
                } else if self.rng.percent(20) {
                    // The service withdraws it (the agent's desktop is gone).
                    core(Command::Withdraw(agent, call, "disconnected".into(), t))
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

    pub(super) fn random_agent(&mut self) -> String {
        let n = self.model.agents.len() as u64;
        self.model.agents[self.rng.below(n) as usize].id.clone()
    }

    fn random_queue(&mut self) -> String {
        let n = self.model.queues.len() as u64;
        self.model.queues[self.rng.below(n) as usize].id.clone()
    }

    pub(super) fn gen_transfer_target(&mut self) -> TransferTarget {
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

    pub(super) fn gen_enqueue(&mut self, t: u64) -> Cmd {
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
