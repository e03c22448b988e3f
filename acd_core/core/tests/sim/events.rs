//! Each drained event checked against the model, then applied: the dispatcher (time order,
//! escalation, agent state) and the call's ending, terminal, overflow and transfer (I1, I4).
//! Offers and their closing are in `offers`.

use acd_core::{AgentState, Command, Detail, Event, EventKind, Outcome, TransferTarget};

use super::command::Cmd;
use super::model::{Check, Model, Presence};

impl Model {
    /// Checks one event against the model as it stands, then applies it. `t`: command time.
    pub fn apply(&mut self, e: &Event, t: u64) -> Check {
        ensure!(
            e.at_ms >= self.last_at,
            "event time went backwards: {} at {} after an event at {}",
            e.kind.name(),
            e.at_ms,
            self.last_at
        );
        ensure!(
            e.at_ms <= t,
            "{} event at {} is later than the command's time {t}",
            e.kind.name(),
            e.at_ms
        );
        if e.at_ms != self.last_at {
            // A later deadline: a new operation (see `check_order`).
            self.op_calls.clear();
            self.op_agents.clear();
            self.op_pairs.clear();
        }
        self.last_at = e.at_ms;
        self.purge(e.at_ms);
        self.stats.events += 1;
        let at = e.at_ms;
        match e.kind {
            EventKind::Offer => self.on_offer(e),
            EventKind::Revoke | EventKind::Missed => self.on_close(e),
            EventKind::Connected => self.on_connected(e),
            EventKind::Ended => self.on_ended(e),
            EventKind::Terminal => self.on_terminal(e),
            EventKind::Overflow => self.on_overflow(e),
            EventKind::Transferred => self.on_transferred(e),
            EventKind::Escalated => {
                let c = &self.live(&e.call_id, e)?.clone();
                let Detail::Step(step) = e.detail else {
                    return Err(format!("escalated event with detail {:?}", e.detail));
                };
                let steps = &self.queues[c.queue].escalation;
                ensure!(
                    c.connected.is_none() && !c.ended,
                    "call '{}' escalated while connected",
                    c.id
                );
                ensure!(
                    step > c.step && (step as usize) <= steps.len(),
                    "call '{}' escalated from step {} to {step} of {}",
                    c.id,
                    c.step,
                    steps.len()
                );
                let due = |k: usize| c.entered_at + steps[k].after_ms;
                ensure!(
                    due(step as usize - 1) <= at
                        && due(c.step as usize) == at
                        && (step as usize == steps.len() || due(step as usize) > at),
                    "I4: call '{}' escalated to step {step} at {at}; entered {}, steps {:?}",
                    c.id,
                    c.entered_at,
                    steps.iter().map(|s| s.after_ms).collect::<Vec<_>>()
                );
                ensure!(
                    &*e.queue_id == self.queues[c.queue].id.as_str(),
                    "escalated event names queue {} for a call in {}",
                    e.queue_id,
                    self.queues[c.queue].id
                );
                self.calls.get_mut(&*e.call_id).expect("live").step = step;
                self.stats.escalations += 1;
                Ok(())
            }
            EventKind::AgentState => {
                let a = self.agent(&e.agent_id)?;
                let Detail::State(state) = e.detail else {
                    return Err(format!("agent-state event with detail {:?}", e.detail));
                };
                let agent = &mut self.agents[a];
                ensure!(
                    state != agent.state || state == AgentState::NotReady,
                    "agent-state event for '{}' repeats its state {state:?}",
                    agent.id
                );
                agent.state = state;
                match state {
                    AgentState::LoggedOut => {
                        // Open offers of a logging-out agent are revoked right after.
                        let logging_out = matches!(&self.command, Some(Cmd::Core(Command::Logout(la, _))) if la.as_str() == &*e.agent_id);
                        ensure!(
                            agent.connected.is_empty()
                                && agent.wrapups.is_empty()
                                && (logging_out || agent.offers.is_empty()),
                            "agent '{}' logged out holding work {:?}",
                            agent.id,
                            agent.work_ids()
                        );
                        agent.presence = Presence::LoggedOut;
                        agent.pending_logout = false;
                        agent.blocked_until = None;
                        // Calls held for it go to the line at once. A call offered at this
                        // moment (to it, revoked right after, or picked by another) decides
                        // when its offer closes (`on_close`): held again if the agent is back.
                        for c in self.calls.values_mut() {
                            if c.preferred.is_some_and(|(p, _)| p == a)
                                && c.connected.is_none()
                                && c.offers.is_empty()
                                && !c.ended
                            {
                                c.preferred = None;
                            }
                        }
                    }
                    AgentState::NotReady | AgentState::Ready => {
                        let want = if state == AgentState::Ready {
                            Presence::Available
                        } else {
                            Presence::NotReady
                        };
                        ensure!(
                            agent.presence == want && !agent.has_work(),
                            "agent '{}' announced {state:?} but the model has presence {:?}, work {:?}",
                            agent.id,
                            agent.presence,
                            agent.work_ids()
                        );
                    }
                    // A wrap-up that ends at this very instant still counts while the
                    // agent's own offer expiry, which fires first, is handled.
                    _ => ensure!(
                        agent.has_work()
                            || (state == AgentState::WrapUp
                                && agent.wrapup_ended_at == Some(e.at_ms)
                                && self.op_agents.contains(&a)),
                        "agent '{}' announced {state:?} without work",
                        agent.id
                    ),
                }
                Ok(())
            }
            EventKind::CommandError => Err(format!("error event outside a batch: {e:?}")),
        }
    }

    fn on_ended(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let call = c.id.as_str();
        ensure!(
            c.connected == Some(a),
            "ended of '{call}' for '{}', connected to {:?}",
            e.agent_id,
            c.connected
        );
        let transfer = self.is_command(|cmd| matches!(cmd, Cmd::Transfer(tc, _, _) if tc == call));
        let end =
            self.is_command(|cmd| matches!(cmd, Cmd::Core(Command::End(ec, _)) if ec == call));
        ensure!(
            (transfer && e.detail == Detail::Transfer) || (end && e.detail == Detail::None),
            "ended of '{call}' (detail {:?}) under {:?}",
            e.detail,
            self.command
        );
        let q = &self.queues[c.queue];
        let until = (!q.wrapup_until_done).then_some(at + q.wrapup_ms);
        let (qi, id, channel) = (c.queue, c.id.clone(), c.channel);
        let c = self.calls.get_mut(&id).expect("live");
        c.connected = None;
        c.ended = true;
        let agent = &mut self.agents[a];
        agent.connected.remove(&id);
        agent.wrapups.push((id, channel, until));
        if transfer {
            self.totals[qi].transferred_out += 1;
        } else {
            self.totals[qi].completed += 1;
        }
        Ok(())
    }

    fn on_terminal(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let c = &self.live(&e.call_id, e)?.clone();
        let call = c.id.as_str();
        let Detail::Outcome(outcome) = e.detail else {
            return Err(format!("terminal with detail {:?}", e.detail));
        };
        ensure!(
            c.offers.is_empty() && c.connected.is_none(),
            "terminal ({}) of '{call}' with open offers {:?} / connected {:?}",
            outcome.name(),
            c.offers,
            c.connected
        );
        let q = &self.queues[c.queue];
        ensure!(
            &*e.queue_id == q.id.as_str(),
            "terminal names queue {} for a call in {}",
            e.queue_id,
            q.id
        );
        let ok = match outcome {
            Outcome::Completed => {
                c.ended
                    && self.is_command(
                        |cmd| matches!(cmd, Cmd::Core(Command::End(ec, _)) if ec == call),
                    )
            }
            Outcome::TransferredOut => {
                c.ended
                    && self.is_command(|cmd| {
                        matches!(cmd, Cmd::Transfer(tc, TransferTarget::Destination(_), _) if tc == call)
                    })
            }
            Outcome::Abandoned => {
                !c.ended
                    && self.is_command(
                        |cmd| matches!(cmd, Cmd::Core(Command::Abandon(ac, _)) if ac == call),
                    )
            }
            Outcome::Expired => !c.ended && at == self.ttl_deadline(c),
            Outcome::CallbackRequested => {
                !c.ended
                    && self.is_command(|cmd| {
                        matches!(cmd, Cmd::Core(Command::RequestCallback(rc, ..)) if rc == call)
                    })
            }
            Outcome::OverflowedOut => {
                !c.ended
                    && q.overflow.as_ref().is_some_and(|o| {
                        o.destination.is_some() && at == c.entered_at + o.after_ms
                    })
            }
        };
        ensure!(
            ok,
            "terminal ({}) of '{call}' at {at} (enqueued {}, entered {} {}, ended {}) under {:?}",
            outcome.name(),
            c.enqueued_at,
            q.id,
            c.entered_at,
            c.ended,
            self.command
        );
        let qi = c.queue;
        match outcome {
            Outcome::Abandoned => self.totals[qi].abandoned += 1,
            Outcome::Expired => self.totals[qi].expired += 1,
            Outcome::OverflowedOut => self.totals[qi].overflowed += 1,
            _ => {}
        }
        let id = c.id.clone();
        self.calls.remove(&id);
        self.finished.insert(id, at);
        self.terminals += 1;
        *self
            .stats
            .outcomes
            .entry(outcome.name().to_string())
            .or_default() += 1;
        Ok(())
    }

    fn on_overflow(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let c = &self.live(&e.call_id, e)?.clone();
        let q = &self.queues[c.queue];
        ensure!(
            c.offers.is_empty() && c.connected.is_none() && !c.ended,
            "overflow of '{}' while offered or connected",
            c.id
        );
        ensure!(
            e.detail == Detail::From(q.id.as_str().into()),
            "overflow of '{}' from {:?}, the call is in {}",
            c.id,
            e.detail,
            q.id
        );
        let target = q
            .overflow
            .as_ref()
            .and_then(|o| o.queue.as_ref().filter(|_| at == c.entered_at + o.after_ms));
        ensure!(
            target.is_some_and(|t| t.as_str() == &*e.queue_id),
            "I4: overflow of '{}' to {} at {at} (entered {} at {}, overflow {:?})",
            c.id,
            e.queue_id,
            q.id,
            c.entered_at,
            q.overflow
        );
        let (from, to) = (c.queue, self.queue_ix[&*e.queue_id]);
        let c = self.calls.get_mut(&*e.call_id).expect("live");
        c.queue = to;
        c.entered_at = at;
        c.step = 0;
        c.preferred = None;
        c.connects_this_visit = 0;
        self.totals[from].overflowed += 1;
        self.totals[to].offered += 1;
        self.stats.overflows += 1;
        Ok(())
    }

    fn on_transferred(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let c = &self.live(&e.call_id, e)?.clone();
        let call = c.id.as_str();
        let target = match &self.command {
            Some(Cmd::Transfer(tc, target, _)) if tc == call => target.clone(),
            other => return Err(format!("transferred event of '{call}' under {other:?}")),
        };
        ensure!(c.ended, "transferred event of '{call}' before its ended");
        let from = c.queue;
        ensure!(
            e.detail == Detail::From(self.queues[from].id.as_str().into()),
            "transferred of '{call}' from {:?}, the call was in {}",
            e.detail,
            self.queues[from].id
        );
        let (to, agent) = match &target {
            TransferTarget::Queue(q) => (self.queue_ix[q], None),
            TransferTarget::Agent(a) => (from, Some(self.agent_ix[a])),
            TransferTarget::Destination(_) => {
                return Err("transferred event for a transfer out".into())
            }
        };
        ensure!(
            &*e.queue_id == self.queues[to].id.as_str()
                && &*e.agent_id == agent.map_or("", |a| self.agents[a].id.as_str()),
            "transferred of '{call}' names queue {} agent '{}' for target {target:?}",
            e.queue_id,
            e.agent_id
        );
        let wait = self.queues[to].transfer_agent_wait_ms;
        let c = self.calls.get_mut(call).expect("live");
        c.queue = to;
        c.entered_at = at;
        // A transfer starts a new wait: the time-to-live counts from it (the score is kept).
        c.enqueued_at = at;
        c.step = 0;
        c.ended = false;
        c.connects_this_visit = 0;
        c.preferred = agent.map(|a| (a, at + wait));
        if agent.is_some() {
            c.clean = false;
        }
        self.totals[to].offered += 1;
        self.stats.transfers += 1;
        Ok(())
    }
}
