//! I6: a strategy's offer skips no more urgent call in line (the call side), and on arrival
//! goes to the agent the strategy names (the agent side).

use acd_core::Strategy;

use super::model::{Check, Model};

impl Model {
    /// I6, the call side: an offer made by a strategy must not skip a more urgent call of the
    /// same channel that is in line and that the same agent is eligible for (the agent then
    /// has the capacity for it too). Ordering is ROUTING.md's score, then arrival (seq).
    ///
    /// Only calls in the plain line take part (no skill override, no preferred agent, never
    /// picked). Calls that lost an offer in the same operation are left out as candidates:
    /// the router puts them back in line one by one (logout), so the harness cannot tell
    /// from events whether they are back yet. One documented exception: ROUTING.md orders a
    /// miss (or revoke) as "the call goes back to its place and is matched; then the agent is
    /// matched", so the returning call may take an agent freed in the same operation before a
    /// more urgent call does (so may an overflowing call, with the agents its revoked offers
    /// freed). Only that (call, agent) pair is exempt; such offers count in `i6_exempt`.
    pub(super) fn check_order(&mut self, x_id: &str, a: usize, at: u64) -> Check {
        let x = &self.calls[x_id];
        if !x.clean {
            return Ok(());
        }
        for y in self.calls.values() {
            if y.id == x.id
                || !y.clean
                || y.channel != x.channel
                || !y.in_line(at)
                || self.op_calls.contains(&y.id)
                || (y.score, std::cmp::Reverse(y.seq)) <= (x.score, std::cmp::Reverse(x.seq))
            {
                continue;
            }
            let (reqs, ceiling) = self.class_of(y);
            if !self.eligible(a, &reqs, ceiling) {
                continue;
            }
            if self.op_pairs.contains(&(x.id.clone(), a)) {
                self.stats.i6_exempt += 1;
                return Ok(());
            }
            return Err(format!(
                "I6: call '{}' (queue {}, priority {}, seq {}, step {}) offered to '{}' while call '{}' (queue {}, priority {}, seq {}, step {}) is ahead of it in line and the agent is eligible for it",
                x.id,
                self.queues[x.queue].id,
                x.priority,
                x.seq,
                x.step,
                self.agents[a].id,
                y.id,
                self.queues[y.queue].id,
                y.priority,
                y.seq,
                y.step
            ));
        }
        self.stats.i6_checked += 1;
        Ok(())
    }

    /// I6, the agent side, on arrival only (the one moment the whole ready set is known from
    /// outside): the offered agent is the best eligible Ready agent by the queue's strategy,
    /// with the values `agent_info` reported just before the enqueue.
    pub(super) fn check_choice(&mut self, x_id: &str, a: usize, s: Strategy, at: u64) -> Check {
        let Some((call, infos)) = &self.choice else {
            return Ok(());
        };
        if call != x_id {
            return Ok(());
        }
        let x = &self.calls[x_id];
        let q = &self.queues[x.queue];
        let (reqs, ceiling) = self.class_of(x);
        let candidates: Vec<usize> = (0..self.agents.len())
            .filter(|&b| {
                !x.offers.contains_key(&b)
                    && self.agents[b].can_take(x.channel, at)
                    && self.eligible(b, &reqs, ceiling)
            })
            .collect();
        let tier = |b: usize| {
            if q.prefer_lower_tier {
                self.agents[b].tier
            } else {
                0
            }
        };
        let best_tier = candidates.iter().map(|&b| tier(b)).min();
        ensure!(
            best_tier == Some(tier(a)),
            "I6: '{}' (tier {}) offered call '{}' but the eligible Ready agents are {:?}",
            self.agents[a].id,
            self.agents[a].tier,
            x.id,
            candidates
                .iter()
                .map(|&b| (&self.agents[b].id, self.agents[b].tier))
                .collect::<Vec<_>>()
        );
        let in_tier: Vec<usize> = candidates
            .into_iter()
            .filter(|&b| Some(tier(b)) == best_tier)
            .collect();
        let key = |b: usize| -> (i64, i64, usize) {
            let i = &infos[b];
            let since = i.ready_since as i64;
            match s {
                Strategy::LongestIdle | Strategy::RingAll => (since, 0, b),
                Strategy::FewestCalls => (i.calls_answered as i64, since, b),
                Strategy::LeastTalkTime => (i.talk_ms as i64, since, b),
                Strategy::BestSkill => (-(self.level_sum(b, &reqs) as i64), since, b),
                Strategy::Linear | Strategy::RoundRobin | Strategy::Random => (0, 0, b),
            }
        };
        let expected = match s {
            Strategy::Random => a,
            Strategy::RoundRobin => {
                let last = self.rr_last[x.queue];
                in_tier
                    .iter()
                    .copied()
                    .find(|&b| last.is_none_or(|l| b > l))
                    .unwrap_or(in_tier[0])
            }
            _ => *in_tier
                .iter()
                .min_by_key(|&&b| key(b))
                .expect("a candidate"),
        };
        ensure!(
            expected == a,
            "I6: {} offered call '{}' to '{}' but the strategy names '{}' (candidates {:?})",
            s.name(),
            x.id,
            self.agents[a].id,
            self.agents[expected].id,
            in_tier
                .iter()
                .map(|&b| (&self.agents[b].id, key(b)))
                .collect::<Vec<_>>()
        );
        self.stats.choice_checked += 1;
        Ok(())
    }
}
