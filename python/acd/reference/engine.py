"""The reference router's mechanics: indexes, matching, offers, timers (no argument checking).

Indexes, all built so no hot path scans every call or every agent:
- per queue, a heap of waiting calls ``(key, seq)``: ``key = enqueued_at - priority * 10**10``
  (minus the ROUTING.md score), so the top is the most urgent call; entries of calls that left
  are dropped lazily when they reach the top;
- per queue, a heap of Ready eligible agents ``(tier or 0, ready_since, index, ready_version)``;
  an entry is live while the agent is Ready with that version (lazy deletion);
- per queue ``agent index -> sum of levels`` (eligibility + offer detail), per agent the list of
  queues it serves, both computed once from skills;
- one timer heap ``(deadline, kind, ordinal, token)``, invalidated lazily.
Heaps are rebuilt when stale entries outnumber live ones, so memory stays bounded.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from acd.reference.config import AgentConfig, QueueConfig, RouterConfig
from acd.reference.events import CONNECTED, ENDED, MISSED, OFFER, REVOKE, TERMINAL, Event
from acd.reference.state import Agent, AgentState, Call, CallState

PRIORITY_WEIGHT_MS = 10**10
TIMER_OFFER, TIMER_AGENT, TIMER_CALL = 0, 1, 2
MISS_DELAY_REASON = "miss-delay"
MISSED_REASON = "missed"

READY = AgentState.READY
RESERVED = AgentState.RESERVED
NOT_READY = AgentState.NOT_READY
WAITING = CallState.WAITING
OFFERED = CallState.OFFERED
CONNECTED_STATE = CallState.CONNECTED


def eligibility(
    queues: tuple[QueueConfig, ...], agents: tuple[AgentConfig, ...]
) -> list[dict[int, int]]:
    """Per queue, ``agent index -> sum of the agent's levels over the queue's skills``.

    Candidates come from the rarest required skill's agent list, not from every agent.
    """
    by_skill: dict[str, dict[int, int]] = {}
    for i, agent in enumerate(agents):
        for skill, level in agent.skills.items():
            by_skill.setdefault(skill, {})[i] = level
    every = {i: 0 for i in range(len(agents))}
    result: list[dict[int, int]] = []
    for queue in queues:
        required = sorted(queue.skills.items(), key=lambda kv: len(by_skill.get(kv[0], {})))
        candidates = by_skill.get(required[0][0], {}) if required else every
        levels: dict[int, int] = {}
        for i in candidates:
            agent = agents[i]
            if agent.capacity.get("voice", 0) < 1:
                continue
            if queue.max_tier and agent.tier > queue.max_tier:
                continue
            total = 0
            for skill, minimum in required:
                level = agent.skills.get(skill, 0)
                if level < minimum:
                    break
                total += level
            else:
                levels[i] = total
        result.append(levels)
    return result


class Engine:
    """State and transitions; the public ``Router`` checks arguments and calls these."""

    def __init__(self, config: RouterConfig) -> None:
        self._config = config
        self._queues = config.queues
        self._queue_index = {q.id: i for i, q in enumerate(config.queues)}
        self._levels = eligibility(config.queues, config.agents)
        served: list[list[int]] = [[] for _ in config.agents]
        for q, levels in enumerate(self._levels):
            for i in levels:
                served[i].append(q)
        self._agents = [
            Agent(i, a.id, a.tier, sorted(served[i])) for i, a in enumerate(config.agents)
        ]
        self._agent_index = {a.id: a.index for a in self._agents}
        self._call_heaps: list[list[tuple[int, int]]] = [[] for _ in config.queues]
        self._agent_heaps: list[list[tuple[int, int, int, int]]] = [[] for _ in config.queues]
        self._waiting = [0] * len(config.queues)
        self._connected = 0  # live calls connected to an agent
        self._calls: dict[str, Call] = {}
        self._calls_by_seq: dict[int, Call] = {}
        self._finished: set[str] = set()  # ids of finished calls, for idempotent enqueue
        self._timers: list[tuple[int, int, int, int]] = []
        self._events: list[Event] = []
        self._now = 0
        self._offer_seq = 0
        self._call_seq = 0

    # ---- matching -------------------------------------------------------------------------

    def _match_call(self, call: Call, at: int) -> None:
        """A call became waiting: offer it to the best Ready eligible agent, or queue it."""
        heap = self._agent_heaps[call.queue]
        agents = self._agents
        while heap:
            entry = heappop(heap)
            agent = agents[entry[2]]
            if agent.state is READY and agent.ready_version == entry[3]:
                self._offer(call, agent, at)
                return
        call.state = WAITING
        heap_calls = self._call_heaps[call.queue]
        heappush(heap_calls, (call.key, call.seq))
        self._waiting[call.queue] += 1
        if len(heap_calls) > 2 * self._waiting[call.queue] + 32:
            live = self._calls_by_seq
            heap_calls[:] = [e for e in heap_calls if e[1] in live and live[e[1]].state is WAITING]
            heapify(heap_calls)

    def _match_agent(self, agent: Agent, at: int) -> bool:
        """A Ready agent takes the most urgent waiting call across its queues, if any."""
        best: tuple[int, int] | None = None
        best_queue = -1
        live = self._calls_by_seq
        for q in agent.queues:
            heap = self._call_heaps[q]
            while heap:
                call = live.get(heap[0][1])
                if call is not None and call.state is WAITING:
                    if best is None or heap[0] < best:
                        best, best_queue = heap[0], q
                    break
                heappop(heap)
        if best is None:
            return False
        heappop(self._call_heaps[best_queue])
        self._waiting[best_queue] -= 1
        self._offer(live[best[1]], agent, at)
        return True

    def _enter_ready(self, agent: Agent, since: int) -> None:
        """Make the agent Ready and visible to arriving calls (pushed into its queues' heaps)."""
        agent.state = READY
        agent.reason = ""
        agent.in_delay = False
        agent.ready_since = since
        agent.ready_version += 1
        version = agent.ready_version
        agents = self._agents
        for q in agent.queues:
            heap = self._agent_heaps[q]
            tier = agent.tier if self._queues[q].prefer_lower_tier else 0
            heappush(heap, (tier, since, agent.index, version))
            if len(heap) > 2 * len(self._levels[q]) + 32:
                heap[:] = [
                    e
                    for e in heap
                    if agents[e[2]].state is READY and agents[e[2]].ready_version == e[3]
                ]
                heapify(heap)

    def _become_ready(self, agent: Agent, at: int, since: int) -> None:
        """The agent is Ready: it takes a waiting call, or waits in the ready heaps."""
        agent.state = READY
        agent.reason = ""
        agent.in_delay = False
        agent.ready_since = since
        if not self._match_agent(agent, at):
            self._enter_ready(agent, since)

    def _offer(self, call: Call, agent: Agent, at: int) -> None:
        self._offer_seq += 1
        queue = self._queues[call.queue]
        expires = at + queue.offer_timeout_ms
        agent.prev_ready_since = agent.ready_since
        agent.state = RESERVED
        agent.call = call
        agent.offer_seq = self._offer_seq
        call.state = OFFERED
        call.agent = agent
        heappush(self._timers, (expires, TIMER_OFFER, self._offer_seq, agent.index))
        detail = f"step=0 tier={agent.tier} level={self._levels[call.queue][agent.index]}"
        self._events.append(
            Event(OFFER, call.id, agent.id, queue.id, at, expires, "longest-idle", detail)
        )

    # ---- transitions ----------------------------------------------------------------------

    def _miss(self, agent: Agent, call: Call, rule: str, at: int) -> None:
        """Reject or offer timeout: missed event, agent state, call back in line, agent match."""
        queue = self._queues[call.queue]
        self._events.append(Event(MISSED, call.id, agent.id, queue.id, at, 0, rule, ""))
        agent.call = None
        call.agent = None
        agent.misses += 1
        policy = queue.no_answer
        delay = policy.reject_delay_ms if rule == "rejected" else policy.timeout_delay_ms
        ready_now = False
        if policy.max_misses > 0 and agent.misses >= policy.max_misses:
            agent.misses = 0
            self._set_not_ready(agent, MISSED_REASON)
        elif delay > 0:
            self._set_not_ready(agent, MISS_DELAY_REASON)
            agent.in_delay = True
            self._set_agent_timer(agent, at + delay)
        else:
            # Ready (and visible to the returning call) before the call is matched.
            self._enter_ready(agent, at)
            ready_now = True
        self._match_call(call, at)
        if ready_now and agent.state is READY:
            self._match_agent(agent, at)

    def _revoke(self, call: Call, why: str, at: int) -> Agent:
        agent = call.agent
        assert agent is not None
        queue_id = self._queues[call.queue].id
        self._events.append(Event(REVOKE, call.id, agent.id, queue_id, at, 0, "", why))
        agent.call = None
        call.agent = None
        return agent

    def _finish(self, call: Call, outcome: str, at: int) -> None:
        """The call leaves the router: terminal event, the id is remembered forever."""
        if call.state is WAITING:
            self._waiting[call.queue] -= 1
        elif call.state is CONNECTED_STATE:
            self._connected -= 1
        del self._calls[call.id]
        del self._calls_by_seq[call.seq]
        self._finished.add(call.id)
        queue_id = self._queues[call.queue].id
        self._events.append(Event(TERMINAL, call.id, "", queue_id, at, 0, "", outcome))

    def _drop(self, call: Call, outcome: str, at: int) -> None:
        """Abandon or time-to-live: revoke an open offer, end the call, rematch the agent."""
        if call.state is OFFERED:
            agent = self._revoke(call, outcome, at)
            self._finish(call, outcome, at)
            self._become_ready(agent, at, agent.prev_ready_since)
        else:
            self._finish(call, outcome, at)

    def _connect(self, agent: Agent, call: Call, at: int) -> None:
        agent.state = AgentState.BUSY
        agent.misses = 0
        call.state = CONNECTED_STATE
        self._connected += 1
        queue_id = self._queues[call.queue].id
        self._events.append(Event(CONNECTED, call.id, agent.id, queue_id, at, 0, "", ""))

    def _end(self, call: Call, at: int) -> None:
        agent = call.agent
        assert agent is not None
        queue = self._queues[call.queue]
        self._events.append(Event(ENDED, call.id, agent.id, queue.id, at, 0, "", ""))
        self._finish(call, "completed", at)
        agent.state = AgentState.WRAP_UP
        if queue.wrapup_until_done:
            return
        if queue.wrapup_ms > 0:
            self._set_agent_timer(agent, at + queue.wrapup_ms)
        else:
            self._end_wrapup(agent, at)

    def _end_wrapup(self, agent: Agent, at: int) -> None:
        """Wrap-up is over: a pending logout or not-ready applies, else the agent is Ready."""
        self._cancel_agent_timer(agent)
        agent.call = None
        if agent.pending_logout:
            self._log_out(agent)
        elif agent.pending_reason is not None:
            self._set_not_ready(agent, agent.pending_reason)
        else:
            self._become_ready(agent, at, at)
        agent.pending_logout = False
        agent.pending_reason = None

    def _set_not_ready(self, agent: Agent, reason: str) -> None:
        self._cancel_agent_timer(agent)
        agent.state = NOT_READY
        agent.reason = reason
        agent.in_delay = False

    def _log_out(self, agent: Agent) -> None:
        self._cancel_agent_timer(agent)
        agent.state = AgentState.LOGGED_OUT
        agent.reason = "logout"
        agent.in_delay = False
        agent.call = None
        agent.pending_logout = False
        agent.pending_reason = None

    # ---- timers ---------------------------------------------------------------------------

    def _push_timer(self, entry: tuple[int, int, int, int]) -> None:
        heappush(self._timers, entry)

    def _set_agent_timer(self, agent: Agent, deadline: int) -> None:
        agent.timer_version += 1
        heappush(self._timers, (deadline, TIMER_AGENT, agent.index, agent.timer_version))

    def _cancel_agent_timer(self, agent: Agent) -> None:
        agent.timer_version += 1

    def _timer_live(self, entry: tuple[int, int, int, int]) -> bool:
        _, kind, ordinal, token = entry
        if kind == TIMER_OFFER:
            agent = self._agents[token]
            return agent.state is RESERVED and agent.offer_seq == ordinal
        if kind == TIMER_AGENT:
            return self._agents[ordinal].timer_version == token
        call = self._calls_by_seq.get(ordinal)
        return call is not None and call.state is not CONNECTED_STATE

    def _fire_due(self, now: int, floor: int = 0) -> None:
        """Fire every live timer with deadline <= now, in (deadline, kind, ordinal) order.

        Events carry the deadline, or ``floor`` when that is later: a reconfiguration fires
        the deadlines it put in the past at its own time."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            entry = heappop(timers)
            if not self._timer_live(entry):
                continue
            deadline, kind, ordinal, token = entry
            if deadline < floor:
                deadline = floor
            if kind == TIMER_OFFER:
                agent = self._agents[token]
                call = agent.call
                assert call is not None
                self._miss(agent, call, "timed-out", deadline)
            elif kind == TIMER_AGENT:
                agent = self._agents[ordinal]
                if agent.state is AgentState.WRAP_UP:
                    self._end_wrapup(agent, deadline)
                elif agent.in_delay:
                    self._become_ready(agent, deadline, deadline)
            else:
                self._drop(self._calls_by_seq[ordinal], "expired", deadline)

    def _next_deadline(self) -> int | None:
        timers = self._timers
        while timers and not self._timer_live(timers[0]):
            heappop(timers)
        return timers[0][0] if timers else None
