//! Timers: offer expiry, agent timers (wrap-up end, miss delay end) and call timers
//! (time-to-live, overflow, escalation steps, preferred-agent limit). Each fires with its own
//! deadline as the time of the events it produces.

use crate::call::CallState;
use crate::event::{Detail, EventKind, RevokeReason, Rule};
use crate::model::{AgentIx, CallIx, Millis, Outcome};
use crate::stats::{interval_of, LeftLine};
use crate::timers::{TimerKey, TimerKind};

use super::{CallId, Router};

impl Router {
    pub(crate) fn fire_due_timers(&mut self, now: Millis) {
        while let Some((key, target)) = self.timers.peek() {
            let (deadline, kind, _) = key;
            if deadline > now {
                break;
            }
            self.timers.pop();
            if !self.timer_live(key, target) {
                continue;
            }
            // A timer's events carry its deadline, never a time before the clock: only a
            // reconfiguration arms deadlines in the past (they fire at once, at its time).
            let at = deadline.max(self.now);
            match kind {
                TimerKind::OfferExpiry => self.miss(target, Rule::TimedOut, at),
                TimerKind::Agent => self.agent_timer(target, at),
                TimerKind::Call => self.call_timer(target, at),
            }
        }
    }

    /// Does a timer entry still count? Its owner must still be armed for exactly it.
    pub(crate) fn timer_live(&self, (deadline, kind, ordinal): TimerKey, target: u32) -> bool {
        match kind {
            TimerKind::OfferExpiry => self
                .offers
                .get(target as usize)
                .and_then(Option::as_ref)
                .is_some_and(|o| o.seq == ordinal && o.expires_at == deadline),
            TimerKind::Agent => self.agents[target as usize].timer == Some(deadline),
            TimerKind::Call => self
                .calls
                .get(target as usize)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.seq == ordinal && c.timer == Some(deadline)),
        }
    }

    /// Drops stale entries from the top, so the top is the next deadline that counts.
    pub(crate) fn next_live_deadline(&mut self) -> Option<Millis> {
        while let Some((key, target)) = self.timers.peek() {
            if self.timer_live(key, target) {
                return Some(key.0);
            }
            self.timers.pop();
        }
        None
    }

    /// Rebuilds the timer heap when stale entries outnumber what can be live (at most one per
    /// open offer, live call and agent), so memory follows the live timers.
    pub(crate) fn compact_timers(&mut self) {
        let bound = self.offers.len() + self.live_calls() + self.agents.len();
        if self.timers.held() > 2 * bound + 64 {
            let mut timers = std::mem::take(&mut self.timers);
            timers.compact(|key, target| self.timer_live(key, target));
            self.timers = timers;
        }
    }

    fn agent_timer(&mut self, ax: AgentIx, at: Millis) {
        self.agents[ax as usize].timer = None;
        self.end_wrapups(ax, at, |w| w.wrapup_until.is_some_and(|u| u <= at));
        let agent = &mut self.agents[ax as usize];
        if agent.blocked_until.is_some_and(|b| b <= at) {
            agent.blocked_until = None;
            agent.ready_since = at;
            agent.ready_epoch += 1;
        }
        self.after_work_change(ax, at);
    }

    /// The call's next deadline: the earliest of time-to-live, overflow, next escalation step
    /// and preferred-agent limit. Connected calls have none.
    pub(crate) fn call_deadline_for_check(&self, cx: CallIx) -> Option<Millis> {
        self.call_deadline(cx)
    }

    fn call_deadline(&self, cx: CallIx) -> Option<Millis> {
        let call = self.call(cx);
        if let CallState::Connected(_) = call.state {
            return None;
        }
        let cfg = &self.queues[call.queue as usize].cfg;
        // Never before the call entered its queue: a call that overflows into a queue whose
        // time-to-live (from the first enqueue) has already run out expires on entry, not at
        // a deadline in the past (which would stamp its terminal event before the overflow).
        let mut next = (call.first_enqueued_at + cfg.ttl_ms).max(call.entered_at);
        if let Some(o) = &cfg.overflow {
            next = next.min(call.entered_at + o.after_ms);
        }
        if let Some(step) = cfg.escalation.get(call.step as usize) {
            next = next.min(call.entered_at + step.after_ms);
        }
        if let Some((_, until)) = call.preferred {
            next = next.min(until);
        }
        Some(next)
    }

    pub(crate) fn rearm_call_timer(&mut self, cx: CallIx) {
        let next = self.call_deadline(cx);
        let call = self.call_mut(cx);
        if next == call.timer {
            return;
        }
        let seq = call.seq;
        call.timer = next;
        if let Some(t) = next {
            self.timers.arm((t, TimerKind::Call, seq), cx);
        }
    }

    fn call_timer(&mut self, cx: CallIx, at: Millis) {
        self.call_mut(cx).timer = None;
        let call = self.call(cx);
        let cfg = &self.queues[call.queue as usize].cfg;
        if call.first_enqueued_at + cfg.ttl_ms <= at {
            let freed = self.take_out_of_line(cx, LeftLine::Expired, RevokeReason::Expired, at);
            self.finish_call(cx, Outcome::Expired, at);
            for ax in freed {
                self.match_agent(ax, at);
            }
            return;
        }
        if cfg
            .overflow
            .as_ref()
            .is_some_and(|o| call.entered_at + o.after_ms <= at)
        {
            self.overflow(cx, at);
            return;
        }
        let mut stepped = false;
        while let Some(step) = self.queues[self.call(cx).queue as usize]
            .cfg
            .escalation
            .get(self.call(cx).step as usize)
        {
            if self.call(cx).entered_at + step.after_ms > at {
                break;
            }
            self.call_mut(cx).step += 1;
            stepped = true;
        }
        let preferred_over = self
            .call(cx)
            .preferred
            .is_some_and(|(_, until)| until <= at);
        if stepped {
            self.change_class(cx, at);
        }
        if preferred_over {
            if self.call(cx).state == CallState::Held {
                self.unhold(cx);
                self.call_mut(cx).preferred = None;
                self.enter_line(cx);
                self.match_call(cx, at);
            } else {
                self.call_mut(cx).preferred = None;
            }
        }
        self.rearm_call_timer(cx);
    }

    /// An escalation step was reached: the call moves to the class of its new requirement,
    /// keeping its place (score, seq), and is matched again if it is waiting.
    fn change_class(&mut self, cx: CallIx, at: Millis) {
        let waiting = self.call(cx).state == CallState::Waiting;
        if waiting {
            self.leave_line(cx);
        }
        let qi = self.call(cx).queue;
        let snapshot = self.call(cx).clone();
        let ci = self.class_of(qi, &snapshot);
        self.call_mut(cx).class = ci;
        let step = self.call(cx).step;
        self.emit(EventKind::Escalated, Some(cx), None, at).detail = Detail::Step(step);
        if waiting {
            self.enter_line(cx);
            self.match_call(cx, at);
        }
    }

    /// Maximum wait reached: to the overflow queue, or out to the overflow destination.
    fn overflow(&mut self, cx: CallIx, at: Millis) {
        let from = self.call(cx).queue;
        let freed = self.take_out_of_line(cx, LeftLine::Overflowed, RevokeReason::Overflow, at);
        self.call_mut(cx).preferred = None;
        match self.queues[from as usize].overflow_target {
            Some(qi) => {
                self.move_to_queue(cx, qi, at);
                let from_id = self.queues[from as usize].id.clone();
                self.emit(EventKind::Overflow, Some(cx), None, at).detail = Detail::From(from_id);
                self.enter_queue(cx, qi, at);
            }
            None => self.finish_call(cx, Outcome::OverflowedOut, at),
        }
        for ax in freed {
            self.match_agent(ax, at);
        }
    }

    /// Forgets finished call ids past the dedup window and statistics past their retention.
    pub(crate) fn prune(&mut self, now: Millis) {
        while let Some((t, _)) = self.finished.front() {
            if t + self.dedup_window_ms > now {
                break;
            }
            let (t, id) = self.finished.pop_front().expect("front exists");
            if self.ix.calls.get(&id) == Some(&CallId::Finished(t)) {
                self.ix.calls.remove(&id);
            }
        }
        if interval_of(now) > self.pruned_interval {
            self.pruned_interval = interval_of(now);
            for q in &mut self.queues {
                q.stats.prune(now);
            }
            self.agent_time.prune(now);
        }
    }
}
