//! Offer events: `offer` (I2/I5 from outside, rule and detail), `revoke` / `missed` (the
//! offer closes; miss policy) and `connected` (I3). The order checks of a strategy's offer
//! (I6) are in `order`.

use acd_core::{Channel, Command, Detail, Event, EventKind, RevokeReason, Rule, Strategy};

use super::command::Cmd;
use super::model::{Check, Model, Presence};

impl Model {
    pub(super) fn on_offer(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let qcfg = &self.queues[c.queue];
        let agent = &self.agents[a];
        ensure!(
            c.connected.is_none() && !c.ended,
            "call '{}' offered to '{}' while connected",
            c.id,
            agent.id
        );
        ensure!(
            !c.offers.contains_key(&a),
            "call '{}' offered twice to '{}'",
            c.id,
            agent.id
        );
        ensure!(
            &*e.queue_id == qcfg.id.as_str(),
            "offer names queue {} for a call in {}",
            e.queue_id,
            qcfg.id
        );
        ensure!(
            e.expires_at_ms == at + qcfg.offer_timeout_ms,
            "offer expires at {} instead of {} + {}",
            e.expires_at_ms,
            at,
            qcfg.offer_timeout_ms
        );
        // I2 / I5 from outside: Ready, not in a miss delay, capacity free (wrap-up is work).
        ensure!(
            agent.can_take(c.channel, at),
            "I2/I5: call '{}' ({}) offered to '{}' which cannot take it: presence {:?}, pending logout {}, blocked until {:?}, work {:?}",
            c.id,
            c.channel.name(),
            agent.id,
            agent.presence,
            agent.pending_logout,
            agent.blocked_until,
            agent.work_ids()
        );
        let (reqs, ceiling) = self.class_of(c);
        let Detail::Offer { step, tier, level } = e.detail else {
            return Err(format!("offer with detail {:?}", e.detail));
        };
        ensure!(
            (step, tier, level) == (c.step, agent.tier, self.level_sum(a, &reqs)),
            "offer detail step={step} tier={tier} level={level}, expected step={} tier={} level={}",
            c.step,
            agent.tier,
            self.level_sum(a, &reqs)
        );
        match e.rule {
            Rule::Strategy(s) => {
                ensure!(
                    s == qcfg.strategy,
                    "offer by rule {} in a {} queue",
                    s.name(),
                    qcfg.strategy.name()
                );
                ensure!(
                    self.eligible(a, &reqs, ceiling),
                    "call '{}' offered to ineligible agent '{}' (needs {reqs:?} tier <= {ceiling})",
                    c.id,
                    agent.id
                );
                if !c.offers.is_empty() {
                    ensure!(
                        s == Strategy::RingAll && c.offers.len() < qcfg.ring_all_max as usize,
                        "call '{}' holds {} offers under {}",
                        c.id,
                        c.offers.len() + 1,
                        s.name()
                    );
                }
                self.check_order(&e.call_id, a, at)?;
                self.check_choice(&e.call_id, a, s, at)?;
            }
            Rule::PreferredAgent => {
                ensure!(
                    c.preferred.is_some_and(|(p, until)| p == a && until >= at),
                    "preferred-agent offer of '{}' to '{}' (preferred {:?})",
                    c.id,
                    agent.id,
                    c.preferred
                );
                ensure!(c.offers.is_empty(), "preferred offer of an offered call");
                // Held calls go to their agent in arrival order.
                let earlier = self.calls.values().find(|y| {
                    y.seq < c.seq
                        && y.preferred.is_some_and(|(p, until)| p == a && until > at)
                        && y.connected.is_none()
                        && y.offers.is_empty()
                        && !y.ended
                        && y.channel == c.channel
                        && !self.op_calls.contains(&y.id)
                });
                if let Some(y) = earlier {
                    return Err(format!(
                        "held call '{}' (seq {}) offered to '{}' before held call '{}' (seq {})",
                        c.id, c.seq, agent.id, y.id, y.seq
                    ));
                }
            }
            Rule::Pick => {
                let expected = matches!(&self.command, Some(Cmd::Pick(pa, pc, _)) if pa.as_str() == &*e.agent_id && pc.as_str() == &*e.call_id);
                ensure!(
                    expected && !self.pick_offered,
                    "pick offer of '{}' to '{}' under command {:?}",
                    c.id,
                    agent.id,
                    self.command
                );
                ensure!(c.offers.is_empty(), "pick of an offered call");
                self.pick_offered = true;
            }
            other => return Err(format!("offer with rule {other:?}")),
        }
        let (qi, channel) = (c.queue, c.channel);
        if self.queues[qi].strategy == Strategy::RoundRobin {
            self.rr_last[qi] = Some(a);
        }
        let c = self.calls.get_mut(&*e.call_id).expect("live");
        c.offers.insert(a, e.expires_at_ms);
        if e.rule == Rule::Pick {
            c.clean = false;
        }
        self.agents[a].offers.insert(c.id.clone(), channel);
        *self
            .stats
            .offers_by_rule
            .entry(e.rule.name().to_string())
            .or_default() += 1;
        self.stats.chat_offers += u64::from(channel == Channel::Chat);
        Ok(())
    }

    /// `revoke` or `missed`: an open offer closes without an answer.
    pub(super) fn on_close(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let Some(&expires) = c.offers.get(&a) else {
            return Err(format!(
                "{} of call '{}' for '{}', which holds no offer of it",
                e.kind.name(),
                c.id,
                e.agent_id
            ));
        };
        ensure!(
            at <= expires,
            "I4: offer of '{}' to '{}' (expires {expires}) still open at {at}",
            c.id,
            e.agent_id
        );
        let (call, agent) = (c.id.as_str(), &*e.agent_id);
        if e.kind == EventKind::Missed {
            match e.rule {
                Rule::TimedOut => ensure!(
                    at == expires,
                    "I4: offer of '{call}' timed out at {at}, expiry {expires}"
                ),
                Rule::Rejected => ensure!(
                    self.is_command(|cmd| matches!(cmd, Cmd::Core(Command::Reject(ra, rc, _)) if ra == agent && rc == call)),
                    "missed (rejected) of '{call}' by '{agent}' under {:?}",
                    self.command
                ),
                other => return Err(format!("missed with rule {other:?}")),
            }
        } else {
            let Detail::Revoke(why) = e.detail else {
                return Err(format!("revoke with detail {:?}", e.detail));
            };
            let q = &self.queues[c.queue];
            let ok = match why {
                RevokeReason::Abandoned => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Abandon(ac, _)) if ac == call),
                ),
                RevokeReason::AnsweredElsewhere => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Accept(aa, ac, _)) if ac == call && aa != agent),
                ),
                RevokeReason::Callback => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::RequestCallback(rc, ..)) if rc == call),
                ),
                RevokeReason::Withdrawn => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Withdraw(wa, _, _, _)) if wa == agent),
                ),
                RevokeReason::Logout => self.is_command(
                    |cmd| matches!(cmd, Cmd::Core(Command::Logout(la, _)) if la == agent),
                ),
                RevokeReason::Expired => at == self.ttl_deadline(c),
                // The miss policy just paused this agent (its `missed` came first).
                RevokeReason::Paused => {
                    self.op_agents.contains(&a) && self.agents[a].presence == Presence::NotReady
                }
                RevokeReason::Overflow => q
                    .overflow
                    .as_ref()
                    .is_some_and(|o| at == c.entered_at + o.after_ms),
            };
            ensure!(
                ok,
                "revoke ({}) of '{call}' to '{agent}' at {at} under {:?}",
                why.name(),
                self.command
            );
            *self
                .stats
                .revokes
                .entry(why.name().to_string())
                .or_default() += 1;
        }
        let (qi, id) = (c.queue, c.id.clone());
        let call = self.calls.get_mut(&id).expect("live");
        call.offers.remove(&a);
        // Back to line: never held for a preferred agent that has logged out meanwhile.
        if call.offers.is_empty()
            && call
                .preferred
                .is_some_and(|(p, _)| self.agents[p].presence == Presence::LoggedOut)
        {
            call.preferred = None;
        }
        let agent = &mut self.agents[a];
        agent.offers.remove(&id);
        self.op_pairs.insert((id.clone(), a));
        self.op_calls.insert(id);
        self.op_agents.insert(a);
        if e.kind == EventKind::Missed {
            // ROUTING.md, miss policy of the call's queue.
            let policy = self.queues[qi].no_answer;
            agent.misses += 1;
            if e.rule == Rule::Rejected {
                self.stats.missed_rejected += 1;
            } else {
                self.stats.missed_timed_out += 1;
            }
            if policy.max_misses > 0 && agent.misses >= policy.max_misses {
                agent.misses = 0;
                agent.presence = Presence::NotReady;
            } else {
                let delay = if e.rule == Rule::Rejected {
                    policy.reject_delay_ms
                } else {
                    policy.timeout_delay_ms
                };
                if delay > 0 {
                    agent.blocked_until = Some(at + delay);
                }
            }
        }
        Ok(())
    }

    pub(super) fn on_connected(&mut self, e: &Event) -> Check {
        let at = e.at_ms;
        let a = self.agent(&e.agent_id)?;
        let c = &self.live(&e.call_id, e)?.clone();
        let (call, agent) = (c.id.as_str(), &*e.agent_id);
        let Some(&expires) = c.offers.get(&a) else {
            return Err(format!(
                "I3: call '{call}' connected to '{agent}' without an open offer"
            ));
        };
        ensure!(
            c.offers.len() == 1,
            "call '{call}' connected to '{agent}' while offers to others are still open"
        );
        ensure!(
            at < expires,
            "I4: call '{call}' connected at {at}, its offer expired at {expires}"
        );
        ensure!(
            self.is_command(|cmd| matches!(cmd, Cmd::Core(Command::Accept(aa, ac, _)) if aa == agent && ac == call)),
            "connected of '{call}' to '{agent}' under {:?}",
            self.command
        );
        ensure!(
            c.connects_this_visit == 0,
            "I3: call '{call}' connected a second time in queue {}",
            self.queues[c.queue].id
        );
        let qi = c.queue;
        let c = self.calls.get_mut(call).expect("live");
        c.offers.clear();
        c.connected = Some(a);
        c.connects_this_visit += 1;
        let (id, channel) = (c.id.clone(), c.channel);
        let agent = &mut self.agents[a];
        agent.offers.remove(&id);
        agent.connected.insert(id, channel);
        agent.misses = 0;
        self.totals[qi].answered += 1;
        self.stats.connected += 1;
        Ok(())
    }
}
