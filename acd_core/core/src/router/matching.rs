//! Indexes and offers: keeping every Ready agent filed in the ready sets of its classes, and
//! making offers when a call starts waiting or an agent becomes Ready (event-driven, no scans).

use crate::agent::{Phase, Presence, Work};
use crate::call::CallState;
use crate::class::{agent_key, best_agent, draw, CallKey, Class, ClassKey, Front, Ordering};
use crate::event::{Detail, EventKind, Rule};
use crate::model::{level_sum, AgentIx, CallIx, Channel, ClassIx, Millis, Strategy};
use crate::timers::TimerKind;

use super::{Offer, Router, NOT_LINED};

/// Does `key` in class `ci`'s line stand for a call waiting there now? The ground truth, from
/// the call itself (consistency checks compare `Indexes::lined` with it).
pub(crate) fn in_line(calls: &[Option<crate::call::Call>], ci: ClassIx, key: &CallKey) -> bool {
    calls
        .get(key.2 as usize)
        .and_then(Option::as_ref)
        .is_some_and(|c| {
            c.seq == key.1 && c.state == CallState::Waiting && c.class == ci && -c.score == key.0
        })
}

/// The same answer from `Indexes::lined` (a call's score never changes, so seq and class
/// identify its key).
fn lined(lined: &[(u64, ClassIx)], ci: ClassIx, key: &CallKey) -> bool {
    lined.get(key.2 as usize) == Some(&(key.1, ci))
}

impl Router {
    /// The class for `key`, created on first use: every agent that qualifies learns of it.
    pub(crate) fn class_ix(&mut self, key: ClassKey) -> ClassIx {
        if let Some(&c) = self.ix.classes.get(&key) {
            return c;
        }
        let ci = self.classes.len() as ClassIx;
        self.ix.fronts.push(Front::empty(key.channel));
        self.classes.push(Class::new(key.clone()));
        self.ix.classes.insert(key, ci);
        for ax in 0..self.agents.len() as AgentIx {
            if self.classes[ci as usize].admits(&self.agents[ax as usize]) {
                self.agents[ax as usize].classes.push(ci);
                self.file_ready(ax, ci);
            }
        }
        ci
    }

    fn ordering(&self, ci: ClassIx) -> Ordering {
        let q = &self.queues[self.classes[ci as usize].key.queue as usize];
        Ordering {
            strategy: q.cfg.strategy,
            prefer_lower_tier: q.cfg.prefer_lower_tier,
            seed: self.seed,
        }
    }

    /// Files agent `ax` in class `ci`'s ready set if it can take that class's channel now.
    fn file_ready(&mut self, ax: AgentIx, ci: ClassIx) {
        let class = &self.classes[ci as usize];
        let agent = &self.agents[ax as usize];
        if !agent.can_take(class.key.channel) {
            return;
        }
        let key = agent_key(self.ordering(ci), agent, ax, &class.key.reqs);
        self.classes[ci as usize].ready.insert(key);
        self.agents[ax as usize].in_ready.push((ci, key));
    }

    /// Re-files the agent after any change of its state: out of every ready set, then into
    /// those whose channel it can take now (with keys from its current idle time etc.).
    pub(crate) fn sync_ready(&mut self, ax: AgentIx) {
        // Drain in place: the agent keeps its Vec's capacity for the next filing.
        let agent = &mut self.agents[ax as usize];
        for (ci, key) in agent.in_ready.drain(..) {
            self.classes[ci as usize].ready.remove(&key);
        }
        if !self.agents[ax as usize].offerable() {
            return;
        }
        for i in 0..self.agents[ax as usize].classes.len() {
            let ci = self.agents[ax as usize].classes[i];
            self.file_ready(ax, ci);
        }
    }

    /// Records a change of the agent's derived state: time accounting and an `agent-state` event.
    pub(crate) fn note_state(&mut self, ax: AgentIx, at: Millis) {
        let agent = &self.agents[ax as usize];
        let state = agent.derived_state();
        if state == agent.state {
            return;
        }
        let (group, old, since) = (agent.group_ix, agent.state, agent.state_since);
        self.agent_time.add(group, old, since, at);
        let agent = &mut self.agents[ax as usize];
        agent.state = state;
        agent.state_since = at;
        let reason = agent.reason.clone();
        let e = self.emit(EventKind::AgentState, None, Some(ax), at);
        e.detail = Detail::State(state);
        e.reason = reason;
    }

    /// Puts a call (back) in its class's line, in the place its score gives it.
    pub(crate) fn enter_line(&mut self, cx: CallIx) {
        let call = self.call_mut(cx);
        call.state = CallState::Waiting;
        let (ci, key): (ClassIx, CallKey) = (call.class, (-call.score, call.seq, cx));
        self.classes[ci as usize].waiting.push(key);
        if self.ix.lined.len() <= cx as usize {
            self.ix.lined.resize(cx as usize + 1, NOT_LINED);
        }
        self.ix.lined[cx as usize] = (key.1, ci);
        let front = &mut self.ix.fronts[ci as usize];
        if front.key().is_none_or(|f| key < f) {
            *front = Front::new(Some(key), front.channel);
        }
    }

    /// Takes a waiting call out of its class's line. Callers change the call's state right
    /// after (offered, held, gone), which is what makes its key stale.
    pub(crate) fn leave_line(&mut self, cx: CallIx) {
        let call = self.call(cx);
        let (ci, key) = (call.class, (-call.score, call.seq, cx));
        self.ix.lined[cx as usize] = NOT_LINED;
        let ix = &self.ix;
        self.classes[ci as usize]
            .waiting
            .left(key, |k| lined(&ix.lined, ci, k));
        if self.ix.fronts[ci as usize].key() == Some(key) {
            self.refresh_front(ci);
        }
    }

    /// Drops stale keys off the top of class `ci`'s line and records its new front.
    fn refresh_front(&mut self, ci: ClassIx) {
        let ix = &self.ix;
        let top = self.classes[ci as usize]
            .waiting
            .top(|k| lined(&ix.lined, ci, k));
        let front = &mut self.ix.fronts[ci as usize];
        *front = Front::new(top, front.channel);
    }

    /// `Indexes::lined` and every class's front from the calls and the lines (after a restore
    /// or a rebuild of the classes).
    pub(crate) fn rebuild_fronts(&mut self) {
        self.ix.lined = self
            .calls
            .iter()
            .map(|c| match c {
                Some(c) if c.state == CallState::Waiting => (c.seq, c.class),
                _ => NOT_LINED,
            })
            .collect();
        self.ix.fronts = self
            .classes
            .iter()
            .map(|c| Front::empty(c.key.channel))
            .collect();
        for ci in 0..self.classes.len() as ClassIx {
            self.refresh_front(ci);
        }
    }

    /// A call has just started waiting: offer it to the best Ready eligible agent(s).
    pub(crate) fn match_call(&mut self, cx: CallIx, at: Millis) {
        let ci = self.call(cx).class;
        let qi = self.classes[ci as usize].key.queue;
        let (strategy, ring) = {
            let q = &self.queues[qi as usize];
            (q.cfg.strategy, q.cfg.ring_all_max as usize)
        };
        let picks: Vec<AgentIx> = if strategy == Strategy::RingAll {
            // Inside the best tier only (the first key field is the tier rank).
            let ready = &self.classes[ci as usize].ready;
            let tier = ready.first().map(|k| k.0);
            ready
                .iter()
                .take_while(|k| Some(k.0) == tier)
                .take(ring)
                .map(|k| k.3)
                .collect()
        } else {
            let start = match strategy {
                Strategy::RoundRobin => {
                    Some(self.queues[qi as usize].rr_last.map_or(0, |a| a as i64 + 1))
                }
                Strategy::Random => {
                    // A fresh point for every decision: each Ready agent's chance is the gap
                    // before its own draw, so no agent is favoured by how recently it drew.
                    self.random_draws += 1;
                    Some(draw(self.seed, AgentIx::MAX, self.random_draws))
                }
                _ => None,
            };
            best_agent(&self.classes[ci as usize].ready, start)
                .map(|k| k.3)
                .into_iter()
                .collect()
        };
        for ax in picks {
            self.make_offer(cx, ax, Rule::Strategy(strategy), at);
        }
    }

    /// An agent may have become Ready: offer it its held calls, then the most urgent eligible
    /// waiting calls across its classes, until it has no free capacity; then file it where it
    /// can still take calls. Matching before filing matters: an agent that becomes Ready while
    /// calls wait is offered one at once and never enters (and leaves) every ready set.
    pub(crate) fn match_agent(&mut self, ax: AgentIx, at: Millis) {
        self.offer_to_agent(ax, at);
        self.sync_ready(ax);
    }

    fn offer_to_agent(&mut self, ax: AgentIx, at: Millis) {
        while self.agents[ax as usize].offerable() {
            if let Some(cx) = self.next_held_call(ax) {
                self.make_offer(cx, ax, Rule::PreferredAgent, at);
                continue;
            }
            let agent = &self.agents[ax as usize];
            // The fronts only: no class, heap or call is touched until one is picked.
            let takes = Channel::ALL.map(|c| agent.can_take(c));
            let fronts = &self.ix.fronts;
            let mut best: Option<CallKey> = None;
            for &ci in &agent.classes {
                let front = &fronts[ci as usize];
                if !takes[front.channel.index()] {
                    continue;
                }
                if let Some(first) = front.key() {
                    if best.is_none_or(|b| first < b) {
                        best = Some(first);
                    }
                }
            }
            let Some((_, _, cx)) = best else { return };
            let qi = self.call(cx).queue;
            let strategy = self.queues[qi as usize].cfg.strategy;
            self.make_offer(cx, ax, Rule::Strategy(strategy), at);
        }
    }

    /// Offers agent `ax` the calls held for it that it can take now.
    pub(crate) fn offer_held_calls(&mut self, ax: AgentIx, at: Millis) {
        while let Some(cx) = self.next_held_call(ax) {
            self.make_offer(cx, ax, Rule::PreferredAgent, at);
        }
    }

    fn next_held_call(&self, ax: AgentIx) -> Option<CallIx> {
        let held = self.held.get(&ax)?;
        let agent = &self.agents[ax as usize];
        held.iter()
            .map(|&(_, cx)| cx)
            .find(|&cx| agent.can_take(self.call(cx).channel))
    }

    /// Offers call `cx` to agent `ax` (which can take it) and arms the offer's timer.
    pub(crate) fn make_offer(&mut self, cx: CallIx, ax: AgentIx, rule: Rule, at: Millis) {
        let call = self.call(cx);
        let (qi, ci, seq, channel, entered_at, step, state) = (
            call.queue,
            call.class,
            call.seq,
            call.channel,
            call.entered_at,
            call.step,
            call.state,
        );
        match state {
            CallState::Waiting => self.leave_line(cx),
            CallState::Held => self.unhold(cx),
            CallState::Offered => {}
            CallState::Connected(_) => unreachable!("offering a connected call"),
        }
        if state != CallState::Offered {
            self.queues[qi as usize].stats.offered_now += 1;
        }
        let q = &self.queues[qi as usize];
        let expires_at = at + q.cfg.offer_timeout_ms;
        let offer_seq = self.next_offer_seq;
        self.next_offer_seq += 1;
        let agent = &self.agents[ax as usize];
        let offer = Offer {
            seq: offer_seq,
            call: cx,
            agent: ax,
            expires_at,
            prev_ready_since: agent.ready_since,
        };
        let oi = match self.free_offers.pop() {
            Some(oi) => {
                self.offers[oi as usize] = Some(offer);
                oi
            }
            None => {
                self.offers.push(Some(offer));
                (self.offers.len() - 1) as u32
            }
        };
        let call = self.call_mut(cx);
        call.state = CallState::Offered;
        call.offers.push(oi);
        let call_id = call.id.clone();
        self.timers
            .arm((expires_at, TimerKind::OfferExpiry, offer_seq), oi);
        if self.queues[qi as usize].cfg.strategy == Strategy::RoundRobin {
            self.queues[qi as usize].rr_last = Some(ax);
        }
        let agent = &mut self.agents[ax as usize];
        agent.work.push(Work {
            call_seq: seq,
            call: cx,
            call_id,
            channel,
            phase: Phase::Reserved,
            queue: qi,
            wrapup_until: None,
            entered_at,
            since: at,
        });
        let (tier, level) = (
            agent.tier,
            level_sum(&agent.skills, &self.classes[ci as usize].key.reqs),
        );
        let e = self.emit(EventKind::Offer, Some(cx), Some(ax), at);
        e.expires_at_ms = expires_at;
        e.rule = rule;
        e.detail = Detail::Offer { step, tier, level };
        self.note_state(ax, at);
        self.sync_ready(ax);
    }

    /// Removes an open offer; the agent drops the reserved work. Returns (call, agent).
    pub(crate) fn close_offer(&mut self, oi: u32) -> (CallIx, AgentIx) {
        let offer = self.offers[oi as usize].take().expect("open offer");
        self.free_offers.push(oi);
        let call = self.call_mut(offer.call);
        call.offers.retain(|&o| o != oi);
        let seq = call.seq;
        let agent = &mut self.agents[offer.agent as usize];
        agent
            .work
            .retain(|w| w.call_seq != seq || w.phase != Phase::Reserved);
        (offer.call, offer.agent)
    }

    /// Withdraws an offer for a reason that is not the agent's fault: the agent gets its idle
    /// time back. The caller re-matches the agent once the call's fate is settled.
    pub(crate) fn revoke_offer(
        &mut self,
        oi: u32,
        why: crate::event::RevokeReason,
        at: Millis,
    ) -> AgentIx {
        let prev = self.offer(oi).prev_ready_since;
        let (cx, ax) = self.close_offer(oi);
        self.agents[ax as usize].ready_since = prev;
        self.emit(EventKind::Revoke, Some(cx), Some(ax), at).detail = Detail::Revoke(why);
        self.note_state(ax, at);
        self.sync_ready(ax);
        ax
    }

    /// Revokes every open offer agent `ax` holds (logout, pause, withdrawal); returns the calls
    /// left with no open offer, for the caller to send back to their line once the agent is
    /// settled.
    pub(crate) fn revoke_agent_offers(
        &mut self,
        ax: AgentIx,
        why: crate::event::RevokeReason,
        at: Millis,
    ) -> Vec<CallIx> {
        let offered: Vec<CallIx> = self.agents[ax as usize]
            .work
            .iter()
            .filter(|w| w.phase == Phase::Reserved)
            .map(|w| w.call)
            .collect();
        let mut orphaned = Vec::new();
        for cx in offered {
            let oi = *self
                .call(cx)
                .offers
                .iter()
                .find(|&&oi| self.offer(oi).agent == ax)
                .expect("offer of this agent");
            self.revoke_offer(oi, why, at);
            if self.call(cx).offers.is_empty() {
                orphaned.push(cx);
            }
        }
        orphaned
    }

    /// After a call's last offer closed without an answer: back to its place in line, or held
    /// for its preferred agent while the preference runs and that agent is logged in.
    pub(crate) fn return_to_line(&mut self, cx: CallIx, at: Millis) {
        let qi = self.call(cx).queue;
        self.queues[qi as usize].stats.offered_now -= 1;
        match self.call(cx).preferred {
            Some((ax, until)) if until > at => {
                if self.agents[ax as usize].presence != Presence::LoggedOut {
                    self.hold(cx);
                    return;
                }
                // The agent logged out while the call was offered (to it or, picked, to
                // another): not held for it, as release_held does for the calls held then.
                self.call_mut(cx).preferred = None;
                self.rearm_call_timer(cx);
            }
            _ => {}
        }
        self.enter_line(cx);
        self.match_call(cx, at);
    }

    pub(crate) fn hold(&mut self, cx: CallIx) {
        let call = self.call_mut(cx);
        call.state = CallState::Held;
        let (ax, seq) = (
            call.preferred.expect("held call has a preferred agent").0,
            call.seq,
        );
        self.held.entry(ax).or_default().insert((seq, cx));
    }

    pub(crate) fn unhold(&mut self, cx: CallIx) {
        let call = self.call(cx);
        let (ax, seq) = (
            call.preferred.expect("held call has a preferred agent").0,
            call.seq,
        );
        if let Some(set) = self.held.get_mut(&ax) {
            set.remove(&(seq, cx));
            if set.is_empty() {
                self.held.remove(&ax);
            }
        }
    }
}
