//! A full consistency check of the router's state, for tests and simulations (it is O(state),
//! never called on a hot path). It checks DESIGN.md's I2, I3, I5, work conservation, and that
//! every index agrees with the arenas it indexes. I1, I4, I6 and I7 are about histories and
//! are checked by the simulation harness from the events.

use std::collections::BTreeMap;

use crate::agent::{Phase, Presence};
use crate::call::CallState;
use crate::class::agent_key;
use crate::model::{AgentIx, Channel};
use crate::timers::TimerKind;

use super::matching::in_line;
use super::{CallId, Router};

impl Router {
    /// Is a live entry for `key` held in the timer heap?
    fn timer_held(&self, key: crate::timers::TimerKey, target: u32) -> bool {
        self.timers.entries().any(|e| e == (key, target)) && self.timer_live(key, target)
    }

    /// Returns the first violated invariant, described.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_calls()?;
        self.check_agents()?;
        self.check_classes()?;
        self.check_counts()
    }

    fn check_calls(&self) -> Result<(), String> {
        // Live keys of every class line, and each line's count of calls against them.
        let mut lined = std::collections::BTreeSet::new();
        for (ci, class) in self.classes.iter().enumerate() {
            let ci = ci as u32;
            let live: std::collections::BTreeSet<_> = class
                .waiting
                .keys()
                .filter(|k| in_line(&self.calls, ci, k))
                .collect();
            if live.len() != class.waiting.len() as usize {
                return Err(format!(
                    "class {ci} counts {} calls in line, its keys show {}",
                    class.waiting.len(),
                    live.len()
                ));
            }
            lined.extend(live.into_iter().map(|k| (ci, k)));
        }
        let mut busy_per_call: BTreeMap<u64, usize> = BTreeMap::new();
        for a in &self.agents {
            for w in a.work.iter().filter(|w| w.phase == Phase::Busy) {
                *busy_per_call.entry(w.call_seq).or_default() += 1;
            }
        }
        if let Some((seq, n)) = busy_per_call.iter().find(|(_, &n)| n > 1) {
            return Err(format!("I3: call seq {seq} is connected to {n} agents"));
        }
        let mut live_ids = 0;
        for (id, entry) in &self.ix.calls {
            match *entry {
                CallId::Live(_) => live_ids += 1,
                CallId::Finished(t) if t + self.dedup_window_ms <= self.now => {
                    return Err(format!("finished id '{id}' kept past the dedup window"));
                }
                CallId::Finished(_) => {}
            }
        }
        if live_ids != self.live_calls() {
            return Err(format!(
                "the id index has {live_ids} live ids for {} live calls",
                self.live_calls()
            ));
        }
        for (cx, call) in self.calls.iter().enumerate() {
            let Some(c) = call else { continue };
            let cx = cx as u32;
            if self.ix.calls.get(&c.id) != Some(&CallId::Live(cx)) {
                return Err(format!("call '{}' is missing from the id index", c.id));
            }
            let in_line = lined.contains(&(c.class, (-c.score, c.seq, cx)));
            if in_line != (c.state == CallState::Waiting) {
                return Err(format!(
                    "call '{}' ({:?}) in line: {in_line}",
                    c.id, c.state
                ));
            }
            let held = c.preferred.is_some_and(|(ax, _)| {
                self.held.get(&ax).is_some_and(|s| s.contains(&(c.seq, cx)))
            });
            if held != (c.state == CallState::Held) {
                return Err(format!("call '{}' ({:?}) held: {held}", c.id, c.state));
            }
            if (c.state == CallState::Offered) == c.offers.is_empty() {
                return Err(format!(
                    "call '{}' ({:?}) has {} offers",
                    c.id,
                    c.state,
                    c.offers.len()
                ));
            }
            for &oi in &c.offers {
                let o = self.offers[oi as usize]
                    .as_ref()
                    .ok_or("call lists a closed offer")?;
                let agent = &self.agents[o.agent as usize];
                let has = agent
                    .work
                    .iter()
                    .any(|w| w.call_seq == c.seq && w.phase == Phase::Reserved);
                if o.call != cx || !has {
                    return Err(format!(
                        "offer of call '{}' to '{}' is inconsistent",
                        c.id, agent.id
                    ));
                }
                if agent.presence != Presence::Available {
                    return Err(format!(
                        "I2: agent '{}' holds an offer while not available",
                        agent.id
                    ));
                }
            }
            if let CallState::Connected(ax) = c.state {
                let agent = &self.agents[ax as usize];
                if !agent
                    .work
                    .iter()
                    .any(|w| w.call_seq == c.seq && w.phase == Phase::Busy)
                {
                    return Err(format!(
                        "call '{}' connected to '{}' without its work",
                        c.id, agent.id
                    ));
                }
            }
            let deadline = self.call_deadline_for_check(cx);
            if c.timer != deadline {
                return Err(format!(
                    "call '{}' timer {:?} != deadline {deadline:?}",
                    c.id, c.timer
                ));
            }
            if let Some(t) = c.timer {
                if !self.timer_held((t, TimerKind::Call, c.seq), cx) {
                    return Err(format!("I4: call '{}' timer at {t} is not armed", c.id));
                }
            }
        }
        for (oi, o) in self.offers.iter().enumerate() {
            let Some(o) = o else { continue };
            if !self.timer_held((o.expires_at, TimerKind::OfferExpiry, o.seq), oi as u32) {
                return Err(format!("I4: offer {} has no expiry timer", o.seq));
            }
        }
        Ok(())
    }

    fn check_agents(&self) -> Result<(), String> {
        for (ax, a) in self.agents.iter().enumerate() {
            if a.state != a.derived_state() {
                return Err(format!(
                    "agent '{}' state {:?} != derived {:?}",
                    a.id,
                    a.state,
                    a.derived_state()
                ));
            }
            for ch in Channel::ALL {
                let n = a.work.iter().filter(|w| w.channel == ch).count();
                if n > a.capacity[ch.index()] as usize {
                    return Err(format!(
                        "I2: agent '{}' holds {n} {} items, capacity {}",
                        a.id,
                        ch.name(),
                        a.capacity[ch.index()]
                    ));
                }
            }
            let voice = a.work.iter().filter(|w| w.channel.is_voice_like()).count();
            if voice > 0 && a.work.len() > 1 {
                return Err(format!(
                    "I2/I5: agent '{}' holds voice work beside other work",
                    a.id
                ));
            }
            if a.presence == Presence::LoggedOut && !a.work.is_empty() {
                return Err(format!("agent '{}' is logged out with work", a.id));
            }
            if a.timer != a.next_deadline() {
                return Err(format!(
                    "agent '{}' timer {:?} != {:?}",
                    a.id,
                    a.timer,
                    a.next_deadline()
                ));
            }
            if let Some(t) = a.timer {
                if !self.timer_held((t, TimerKind::Agent, ax as u64), ax as u32) {
                    return Err(format!("agent '{}' timer at {t} is not armed", a.id));
                }
            }
            // The ready sets hold exactly the classes whose channel the agent can take now.
            let mut expected = Vec::new();
            if a.offerable() {
                for &ci in &a.classes {
                    if a.can_take(self.classes[ci as usize].key.channel) {
                        expected.push(ci);
                    }
                }
            }
            let filed: Vec<_> = a.in_ready.iter().map(|&(ci, _)| ci).collect();
            if filed != expected {
                return Err(format!(
                    "agent '{}' filed in {filed:?}, expected {expected:?}",
                    a.id
                ));
            }
            for &(ci, key) in &a.in_ready {
                let class = &self.classes[ci as usize];
                if !class.ready.contains(&key) {
                    return Err(format!(
                        "agent '{}' missing from ready set of class {ci}",
                        a.id
                    ));
                }
                let q = &self.queues[class.key.queue as usize];
                let order = crate::class::Ordering {
                    strategy: q.cfg.strategy,
                    prefer_lower_tier: q.cfg.prefer_lower_tier,
                    seed: self.seed,
                };
                if agent_key(order, a, ax as AgentIx, &class.key.reqs) != key {
                    return Err(format!(
                        "agent '{}' filed under a stale key in class {ci}",
                        a.id
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_classes(&self) -> Result<(), String> {
        if self.ix.fronts.len() != self.classes.len() {
            return Err(format!(
                "{} class fronts for {} classes",
                self.ix.fronts.len(),
                self.classes.len()
            ));
        }
        for (cx, call) in self.calls.iter().enumerate() {
            let want = match call {
                Some(c) if c.state == CallState::Waiting => (c.seq, c.class),
                _ => super::NOT_LINED,
            };
            if self.ix.lined.get(cx).copied().unwrap_or(super::NOT_LINED) != want {
                return Err(format!(
                    "slot {cx} is lined as {:?}, not {want:?}",
                    self.ix.lined.get(cx)
                ));
            }
        }
        for (ci, class) in self.classes.iter().enumerate() {
            let best = class
                .waiting
                .keys()
                .filter(|k| in_line(&self.calls, ci as u32, k))
                .min();
            let front = self.ix.fronts[ci];
            if front.key() != best || front.channel != class.key.channel {
                return Err(format!(
                    "class {ci}'s front is {front:?}, its best waiting key {best:?}"
                ));
            }
        }
        for (ci, class) in self.classes.iter().enumerate() {
            for &(_, _, _, ax) in &class.ready {
                let a = &self.agents[ax as usize];
                if !a.in_ready.iter().any(|&(c, _)| c as usize == ci) {
                    return Err(format!(
                        "class {ci} lists agent '{}' that is not filed there",
                        a.id
                    ));
                }
            }
            if !class.waiting.is_empty() && !class.ready.is_empty() {
                let ci32 = ci as u32;
                let (_, _, cx) = class
                    .waiting
                    .keys()
                    .filter(|k| in_line(&self.calls, ci32, k))
                    .min()
                    .expect("non-empty");
                let (_, _, _, ax) = class.ready.first().copied().expect("non-empty");
                return Err(format!(
                    "work conservation: call '{}' waits while agent '{}' is ready for it",
                    self.call(cx).id,
                    self.agents[ax as usize].id
                ));
            }
        }
        Ok(())
    }

    fn check_counts(&self) -> Result<(), String> {
        for (qi, q) in self.queues.iter().enumerate() {
            let live = self
                .calls
                .iter()
                .flatten()
                .filter(|c| c.queue as usize == qi);
            let (mut waiting, mut offered, mut connected) = (0u64, 0u64, 0u64);
            for c in live {
                match c.state {
                    CallState::Connected(_) => connected += 1,
                    CallState::Offered => {
                        offered += 1;
                        waiting += 1
                    }
                    _ => waiting += 1,
                }
            }
            let s = &q.stats;
            // The wait line: its front is a call still in line, the oldest of them.
            let in_line = |c: &crate::call::Call| {
                c.queue as usize == qi && !matches!(c.state, CallState::Connected(_))
            };
            let oldest = self
                .calls
                .iter()
                .flatten()
                .filter(|c| in_line(c))
                .map(|c| c.entered_at)
                .min();
            if s.waiting.oldest() != oldest {
                return Err(format!(
                    "queue '{}' wait line starts at {:?}, oldest call entered at {oldest:?}",
                    q.id,
                    s.waiting.oldest()
                ));
            }
            if let Some((at, seq, slot)) = s.waiting.entries().next() {
                let c = self.calls.get(slot as usize).and_then(Option::as_ref);
                if !c.is_some_and(|c| c.seq == seq && c.entered_at == at && in_line(c)) {
                    return Err(format!(
                        "queue '{}' wait line starts with a call no longer in line",
                        q.id
                    ));
                }
            }
            if (s.waiting.len(), s.offered_now, s.connected_now) != (waiting, offered, connected) {
                return Err(format!(
                    "queue '{}' stats (waiting {}, offered {}, connected {}) != live ({waiting}, {offered}, {connected})",
                    q.id,
                    s.waiting.len(),
                    s.offered_now,
                    s.connected_now
                ));
            }
        }
        // Every live entry belongs to an armed owner (by definition of live); and each armed
        // owner has exactly one distinct live entry.
        let armed = self.offers.iter().flatten().count()
            + self
                .calls
                .iter()
                .flatten()
                .filter(|c| c.timer.is_some())
                .count()
            + self.agents.iter().filter(|a| a.timer.is_some()).count();
        let live: std::collections::BTreeSet<_> = self
            .timers
            .entries()
            .filter(|&(k, t)| self.timer_live(k, t))
            .collect();
        if armed != live.len() {
            return Err(format!("{} live timers, {armed} armed owners", live.len()));
        }
        Ok(())
    }
}
