//! Adversarial timings: messages that race each other at the same instant, or arrive twice or
//! in the wrong order, the way adapters and desktops send them in production. Each is a short
//! sequence of commands run like any other (predicted by the model, every result, event and
//! state checked), and counted by kind in the stats:
//! - an accept (or reject) at the very instant its offer times out, or one just before;
//! - the caller hanging up while the call is offered (at the offer's instant, during it, or as
//!   it times out), with the desktop's accept arriving after the hangup;
//! - an agent logging out, or asking for a break, while an offer rings: the break is refused
//!   by the core and deferred, as the service's break guard does, until no offer is open;
//! - a message sent twice (the adapter retried), and pairs that arrive swapped (a hangup
//!   before its call's arrival, an end before the accept, a wrap-up done before the end);
//! - a transfer racing the caller's hangup (either first, or the call ended just before);
//! - ring-all: every ringing agent accepting at the same instant (one wins).

use acd_core::{AgentState, Command};

use super::command::Cmd;
use super::model::Check;
use super::run::Sim;

/// One step in this many percent is an adversarial timing (when one fits the state).
const PERCENT: u64 = 5;

impl Sim {
    /// Now and then runs an adversarial timing instead of a random command; false: none
    /// this step (or none that fits the state), and a random command goes instead.
    pub(super) fn adversarial(&mut self, t: u64) -> Result<bool, String> {
        // Several agents ringing for one call is rare (ring-all, enough of them ready): take
        // the chance often when it is there.
        let multi = self.calls_where(|c| c.offers.len() >= 2);
        if !multi.is_empty() && self.rng.percent(30) {
            return self.simultaneous_accepts(multi);
        }
        if !self.rng.percent(PERCENT) {
            return Ok(false);
        }
        match self.rng.below(7) {
            0 => self.accept_at_expiry(),
            1 => self.hangup_during_offer(),
            2 => self.logout_during_offer(),
            3 => self.break_during_offer(),
            4 => self.duplicate(t),
            5 => self.reordered(t),
            _ => self.transfer_abandon_race(t),
        }
    }

    fn send(&mut self, kind: &'static str, cmds: Vec<Cmd>) -> Result<bool, String> {
        self.model.stats.fault(kind);
        for cmd in cmds {
            self.run_command(cmd)?;
        }
        Ok(true)
    }

    /// An open offer still running: (call, agent, expires_at), expires_at > now.
    fn some_offer(&mut self) -> Option<(String, String, u64)> {
        let now = self.router.now();
        let offers: Vec<_> = self
            .model
            .open_offers()
            .into_iter()
            .filter(|o| o.2 > now)
            .collect();
        (!offers.is_empty()).then(|| self.rng.pick(&offers).clone())
    }

    /// A time while the offer still rings: at once (the offer's own instant, often), or later.
    fn during(&mut self, expires: u64) -> u64 {
        let now = self.router.now();
        if self.rng.percent(30) {
            now
        } else {
            self.rng.range(now, expires - 1)
        }
    }

    fn accept_at_expiry(&mut self) -> Result<bool, String> {
        let Some((c, a, exp)) = self.some_offer() else {
            return Ok(false);
        };
        let accept = |at: u64| Cmd::Core(Command::Accept(a.clone(), c.clone(), at));
        // At the same instant the timer fires first: the answer comes too late.
        let cmds = match self.rng.below(4) {
            0 => vec![accept(exp)],
            1 => vec![Cmd::timeout(exp), accept(exp)],
            2 => vec![Cmd::Core(Command::Reject(a.clone(), c.clone(), exp))],
            _ => vec![accept(exp - 1), Cmd::timeout(exp)],
        };
        self.send("accepts at expiry", cmds)
    }

    fn hangup_during_offer(&mut self) -> Result<bool, String> {
        let Some((c, a, exp)) = self.some_offer() else {
            return Ok(false);
        };
        // Or at the very instant the offer times out.
        let at = if self.rng.percent(20) {
            exp
        } else {
            self.during(exp)
        };
        let mut cmds = vec![Cmd::Core(Command::Abandon(c.clone(), at))];
        if self.rng.percent(50) {
            cmds.push(Cmd::Core(Command::Accept(a, c, at)));
        }
        self.send("hangups during offers", cmds)
    }

    fn logout_during_offer(&mut self) -> Result<bool, String> {
        let Some((c, a, exp)) = self.some_offer() else {
            return Ok(false);
        };
        let at = self.during(exp);
        let mut cmds = vec![Cmd::Core(Command::Logout(a.clone(), at))];
        if self.rng.percent(30) {
            cmds.push(Cmd::Core(Command::Accept(a, c, at)));
        }
        self.send("logouts during offers", cmds)
    }

    /// The core refuses a break while an offer is open; the service defers it (`settle_breaks`).
    fn break_during_offer(&mut self) -> Result<bool, String> {
        let Some((_, a, exp)) = self.some_offer() else {
            return Ok(false);
        };
        let at = self.during(exp);
        let reason = self.rng.pick(&["break", "lunch"]).to_string();
        let cmd = Cmd::Core(Command::NotReady(a.clone(), reason.clone(), at));
        self.send("breaks during offers", vec![cmd])?;
        let refused = self.results.last().is_some_and(|r| r.is_err());
        let ax = self.model.agent_ix[&a];
        if refused && !self.model.agents[ax].offers.is_empty() {
            self.breaks.insert(a, reason);
        }
        Ok(true)
    }

    /// What the break guard does after each batch: a deferred break starts once the agent has
    /// no open offer, and is dropped once it is moot (logged out or paused meanwhile).
    pub(super) fn settle_breaks(&mut self) -> Check {
        if self.breaks.is_empty() {
            return Ok(());
        }
        let now = self.router.now();
        for (a, reason) in std::mem::take(&mut self.breaks) {
            let agent = &self.model.agents[self.model.agent_ix[&a]];
            let working = matches!(
                agent.state,
                AgentState::Ready | AgentState::Reserved | AgentState::Busy | AgentState::WrapUp
            );
            if !working {
                continue;
            }
            if !agent.offers.is_empty() {
                self.breaks.insert(a, reason);
                continue;
            }
            self.run_command(Cmd::Core(Command::NotReady(a, reason, now)))?;
            self.model.stats.fault("deferred breaks started");
        }
        Ok(())
    }

    /// The last message an adapter or desktop got accepted, sent again; or a new one sent
    /// twice at once.
    fn duplicate(&mut self, t: u64) -> Result<bool, String> {
        let last = self
            .cmds
            .iter()
            .zip(&self.results)
            .rev()
            .take(30)
            .filter(|(c, r)| r.is_ok() && !c.is_timeout())
            .find_map(|(c, _)| c.at(t));
        let cmds = match last {
            Some(again) if self.rng.percent(60) => vec![again],
            _ => {
                let cmd = self.generate(t);
                vec![cmd.clone(), cmd]
            }
        };
        self.send("duplicate messages", cmds)
    }

    fn reordered(&mut self, t: u64) -> Result<bool, String> {
        let cmds = match self.rng.below(3) {
            0 => {
                // The hangup overtakes the call's arrival (and is sent again, sometimes).
                let enqueue = self.gen_enqueue(t);
                let Cmd::Core(Command::Enqueue(req, _)) = &enqueue else {
                    unreachable!("gen_enqueue makes enqueues")
                };
                let hangup = Cmd::Core(Command::Abandon(req.call_id.clone(), t));
                let mut cmds = vec![hangup.clone(), enqueue];
                if self.rng.percent(50) {
                    cmds.push(hangup);
                }
                cmds
            }
            1 => {
                // The end of the call before the desktop's accept.
                let Some((c, a, exp)) = self.some_offer() else {
                    return Ok(false);
                };
                let at = self.during(exp);
                vec![
                    Cmd::Core(Command::End(c.clone(), at)),
                    Cmd::Core(Command::Accept(a, c, at)),
                ]
            }
            _ => {
                // Wrap-up done before the end it follows.
                let Some(c) = self.pick_of(self.calls_where(|c| c.connected.is_some())) else {
                    return Ok(false);
                };
                let ax = self.model.calls[&c].connected.expect("connected");
                let a = self.model.agents[ax].id.clone();
                vec![
                    Cmd::Core(Command::WrapupDone(a, c.clone(), t)),
                    Cmd::Core(Command::End(c, t)),
                ]
            }
        };
        self.send("reordered messages", cmds)
    }

    fn transfer_abandon_race(&mut self, t: u64) -> Result<bool, String> {
        let Some(c) = self.pick_of(self.calls_where(|c| c.connected.is_some())) else {
            return Ok(false);
        };
        let target = self.gen_transfer_target();
        let transfer = Cmd::Transfer(c.clone(), target, t);
        let cmds = match self.rng.below(3) {
            // The caller hangs up as the transfer lands: the call is waiting again, so the
            // hangup is an abandon.
            0 => vec![transfer, Cmd::Core(Command::Abandon(c, t))],
            // The hangup first: refused while connected (a connected call ends with end).
            1 => vec![Cmd::Core(Command::Abandon(c, t)), transfer],
            // The call ended just before the transfer: the transfer is refused.
            _ => vec![Cmd::Core(Command::End(c, t)), transfer],
        };
        self.send("transfer-abandon races", cmds)
    }

    /// Every agent ringing for one call accepts at the same instant, in random order.
    fn simultaneous_accepts(&mut self, calls: Vec<String>) -> Result<bool, String> {
        let c = self.rng.pick(&calls).clone();
        let call = &self.model.calls[&c];
        let exp = call.offers.values().copied().min().expect("offers");
        let mut agents: Vec<String> = call
            .offers
            .keys()
            .map(|&a| self.model.agents[a].id.clone())
            .collect();
        for i in (1..agents.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            agents.swap(i, j);
        }
        let at = self.during(exp);
        let cmds = agents
            .into_iter()
            .map(|a| Cmd::Core(Command::Accept(a, c.clone(), at)))
            .collect();
        self.send("simultaneous accepts", cmds)
    }
}
