"""Reconfiguration of the reference router (ROUTING.md, Reconfiguration), in its subset.

``check`` refuses, without changing anything, what the live state forbids; ``apply`` then
renumbers queues and agents into the new config order and rebuilds what is derived from them
(eligibility, the served queues, the heaps of waiting calls and Ready agents, the timers),
fires the time-to-live deadlines the new settings put in the past (stamped now), and matches
the waiting calls, most urgent first, as the core does.
"""

from __future__ import annotations

from heapq import heapify, heappop

from acd.reference.config import RouterConfig
from acd.reference.engine import TIMER_AGENT, TIMER_CALL, TIMER_OFFER, Engine, eligibility
from acd.reference.errors import IllegalTransitionError
from acd.reference.state import Agent, AgentState, CallState

_HOLDING_WORK = frozenset({AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP})


def _state_name(agent: Agent) -> str:
    return "ready" if agent.in_delay else agent.state.value


class Reconfigurable(Engine):
    """The engine plus its reconfiguration (the public ``Router`` checks the arguments)."""

    def _check_config(self, config: RouterConfig) -> None:
        """Refuses (``IllegalTransitionError``) what the core refuses, in the same order."""
        queue_ids = {q.id for q in config.queues}
        in_use = {call.queue for call in self._calls.values()}
        in_use |= {a.call.queue for a in self._agents if a.state is AgentState.WRAP_UP and a.call}
        for index, queue in enumerate(self._queues):
            if queue.id not in queue_ids and index in in_use:
                raise IllegalTransitionError(
                    f"queue '{queue.id}' still has calls (waiting, offered, connected or in"
                    " wrap-up): cannot remove it"
                )
        capacity = {a.id: a.capacity.get("voice", 0) for a in config.agents}
        for agent in self._agents:
            if agent.id not in capacity:
                if agent.state is not AgentState.LOGGED_OUT:
                    raise IllegalTransitionError(
                        f"agent '{agent.id}' is {_state_name(agent)}: cannot remove it"
                        " (log it out first)"
                    )
                continue
            held = 1 if agent.state in _HOLDING_WORK else 0
            if held > capacity[agent.id]:
                raise IllegalTransitionError(
                    f"agent '{agent.id}' holds {held} voice work item(s): cannot lower its"
                    f" voice capacity to {capacity[agent.id]}"
                )

    def _apply_config(self, config: RouterConfig, now: int) -> None:
        old_agents = self._agents
        # Offer and agent timers keep their deadlines under the agents' new indexes (taken
        # while the old ones still say which entries are live); call timers are made anew.
        kept = [e for e in self._timers if e[1] != TIMER_CALL and self._timer_live(e)]
        queue_to = {q.id: i for i, q in enumerate(config.queues)}
        old_queue_to_new = [queue_to.get(q.id, -1) for q in self._queues]

        self._config = config
        self._queues = config.queues
        self._queue_index = queue_to
        self._levels = eligibility(config.queues, config.agents)
        served: list[list[int]] = [[] for _ in config.agents]
        for q, levels in enumerate(self._levels):
            for i in levels:
                served[i].append(q)
        by_id = {a.id: a for a in old_agents}
        agents: list[Agent] = []
        for i, cfg in enumerate(config.agents):
            agent = by_id.get(cfg.id)
            if agent is None:
                agent = Agent(i, cfg.id, cfg.tier, served[i])
            else:
                agent.index, agent.tier, agent.queues = i, cfg.tier, served[i]
            agents.append(agent)
        self._agents = agents
        self._agent_index = {a.id: a.index for a in agents}

        timers: list[tuple[int, int, int, int]] = []
        for deadline, kind, ordinal, token in kept:
            if kind == TIMER_OFFER:
                token = old_agents[token].index
            elif kind == TIMER_AGENT:
                ordinal = old_agents[ordinal].index
            timers.append((deadline, kind, ordinal, token))
        self._call_heaps = [[] for _ in config.queues]
        self._waiting = [0] * len(config.queues)
        for agent in agents:
            if agent.state is AgentState.WRAP_UP and agent.call is not None:
                agent.call.queue = old_queue_to_new[agent.call.queue]  # finished: not in _calls
        for call in self._calls.values():
            call.queue = old_queue_to_new[call.queue]
            if call.state is CallState.CONNECTED:
                continue
            # Time-to-live from the enqueue, under the new setting (maybe already past).
            ttl_at = call.enqueued_at_ms + config.queues[call.queue].ttl_ms
            timers.append((ttl_at, TIMER_CALL, call.seq, 0))
            if call.state is CallState.WAITING:
                self._call_heaps[call.queue].append((call.key, call.seq))
                self._waiting[call.queue] += 1
        for line in self._call_heaps:
            heapify(line)
        heapify(timers)
        self._timers = timers
        self._agent_heaps = [[] for _ in config.queues]
        for agent in agents:
            if agent.state is AgentState.READY:
                for q in agent.queues:
                    tier = agent.tier if config.queues[q].prefer_lower_tier else 0
                    self._agent_heaps[q].append(
                        (tier, agent.ready_since, agent.index, agent.ready_version)
                    )
        for ready in self._agent_heaps:
            heapify(ready)

        self._fire_due(now, floor=now)
        self._match_waiting(now)

    def _match_waiting(self, now: int) -> None:
        """Every waiting call whose queue has a Ready agent, most urgent first, is offered to
        the best one. Agent heaps only shrink meanwhile, so an offered call is always the live
        top of its queue's line."""
        live = self._calls_by_seq
        for _, seq in sorted((c.key, c.seq) for c in live.values() if c.state is CallState.WAITING):
            call = live[seq]
            heap = self._agent_heaps[call.queue]
            agent = None
            while heap:
                _, _, index, version = heap[0]
                candidate = self._agents[index]
                if candidate.state is AgentState.READY and candidate.ready_version == version:
                    agent = candidate
                    break
                heappop(heap)
            if agent is None:
                continue
            heappop(heap)
            line = self._call_heaps[call.queue]
            while line[0][1] != seq:
                left = heappop(line)[1]  # only entries of calls that left can come first
                assert left not in live or live[left].state is not CallState.WAITING
            heappop(line)
            self._waiting[call.queue] -= 1
            self._offer(call, agent, now)
