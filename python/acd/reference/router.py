"""Pure-Python reference router: the **[ref]** subset of acd_core/ROUTING.md.

The oracle of the differential tests and the baseline of the benchmarks. Mechanics and indexes
are in ``engine.py``; this module checks arguments and states, then calls them.

Choices where ROUTING.md leaves the subset open (the Rust core must match them):

1. Command order: ``now_ms`` is checked first (not an int, or smaller than the last one seen,
   the clock starting at 0: ``InvalidArgumentError``, nothing changes); then the clock advances
   and due timers fire; then the other arguments, in signature order, and the state are
   checked. So a command refused for any other reason has still advanced the clock and fired
   the timers (a late accept sees its offer's expiry first).
2. Every duration that sets a timer is >= 1 ms (``offer_timeout_ms`` must be >= 1; a 0 wrap-up,
   delay or ttl means "at once" / "none"), so a timer is always due strictly after the moment
   it is set; timers set while timers fire are due in the same ``handle_timeout`` when their
   deadline is ``<= now_ms``. Offer sequence numbers and call seqs both start at 1.
3. Enqueue: all arguments are checked before the duplicate check, so a duplicate id with a bad
   argument raises. Finished ids are remembered forever (``dedup_window_ms`` ignored).
   ``ttl_ms = 0`` means no time-to-live. ``caller`` and ``dialled`` are accepted and unused;
   ``preferred_wait_ms`` must be 0.
4. Score: exactly ``key = enqueued_at - priority * 10**10`` (lower = more urgent), then seq.
5. Best agent: the queue heap is keyed ``(tier if prefer_lower_tier else 0, ready_since,
   agent index)``; ``max_tier`` (static, no escalation) filters eligibility. Agents with voice
   capacity 0 are never eligible. An offer detail's level is the sum of the agent's levels over
   the queue's skills (0 when the queue requires none).
6. Miss with delay 0: the agent is Ready (``ready_since`` = the event time) *before* the call is
   re-matched, so the call may be offered straight back to it when it is the best (e.g. only)
   Ready eligible agent; then, if still Ready, the agent is matched. Max misses is checked
   first: reaching it gives NotReady("missed") whatever the delay. A miss delay is reported as
   state "not-ready" with reason "miss-delay"; in it, set_ready / set_not_ready / logout act as
   in not-ready and cancel the delay. The miss counter is reset by accept, by reaching
   max_misses and by login. The no-answer policy used is the call's queue's.
7. Wrap-up: ``wrapup_until_done`` wins over ``wrapup_ms`` (no timer at all). ``set_ready`` in
   wrap-up clears any pending not-ready/logout (the agent's latest word). ``wrapup_done`` ends
   wrap-up (timed or not) and applies the pending state. Pending logout beats pending
   not-ready. ``set_not_ready`` while not-ready only changes the reason (any string).
8. end_call: ``ended`` (with agent), then ``terminal`` completed (agent ""), then wrap-up.
   Abandon / time-to-live of an offered call: ``revoke`` (detail "abandoned" / "expired"),
   ``terminal``, then the agent is Ready again with its previous ``ready_since`` and matched.
   Logout of a reserved agent: ``revoke`` "logout", agent logged out, the call re-matched.
9. Commands on a finished call (abandon, end_call) raise ``IllegalTransitionError``; ids never
   seen raise ``NotFoundError``; ``call_info`` of a finished call is ``{"state": "terminal",
   "queue_id", "outcome"}``. accept/reject/wrapup_done check the agent, then that the call id
   is known, then the offer/wrap-up (``IllegalTransitionError``).
10. ``waiting_count`` counts calls waiting (not offered, not connected). ``apply_batch``
    returns ``drain()`` after the batch (events left undrained before it come first). A failed
    command's ``error`` event has at_ms = the router's clock after the attempt, empty ids, rule
    and expires_at 0, and detail ``command <index>: <message>``. An ``enqueue`` tuple may
    leave out the priority (0).
11. Config: ``escalation`` other than ``[]``, ``overflow`` other than null, a strategy other
    than longest-idle, ``aging_ms`` != 0 and voice capacity > 1 are refused (``ConfigError``);
    ``ring_all_max``, ``sl_threshold_ms``, ``short_abandon_ms``, ``group``, ``seed`` are
    checked and unused. Ranges: tier >= 1, times and counts >= 0, offer_timeout_ms >= 1.
"""

from __future__ import annotations

from typing import Any

from acd.reference.batch import dispatch
from acd.reference.config import parse_config
from acd.reference.engine import PRIORITY_WEIGHT_MS, TIMER_CALL, Engine
from acd.reference.errors import (
    AcdError,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
)
from acd.reference.events import ERROR, Event
from acd.reference.state import Agent, AgentState, Call, CallState

MIN_PRIORITY, MAX_PRIORITY = -1_000_000, 1_000_000
_S = AgentState


class Router(Engine):
    """One tenant's router: queues, agents, waiting calls, offers. Deterministic, no clock."""

    def __init__(self, config_json: str) -> None:
        super().__init__(parse_config(config_json))

    # ---- checks ---------------------------------------------------------------------------

    def _advance(self, now_ms: int) -> None:
        if type(now_ms) is not int:
            raise InvalidArgumentError(f"now_ms: expected an int, got {type(now_ms).__name__}")
        if now_ms < self._now:
            raise InvalidArgumentError(f"now_ms {now_ms}: earlier than the last now_ms {self._now}")
        self._now = now_ms
        self._fire_due(now_ms)

    def _agent(self, agent_id: str) -> Agent:
        index = self._agent_index.get(agent_id)
        if index is None:
            raise NotFoundError(f"agent_id {agent_id!r}: unknown agent")
        return self._agents[index]

    def _known_call(self, call_id: str) -> None:
        if call_id not in self._calls and call_id not in self._finished:
            raise NotFoundError(f"call_id {call_id!r}: unknown call")

    def _live_call(self, call_id: str, command: str) -> Call:
        call = self._calls.get(call_id)
        if call is not None:
            return call
        finished = self._finished.get(call_id)
        if finished is None:
            raise NotFoundError(f"call_id {call_id!r}: unknown call")
        raise IllegalTransitionError(
            f"call_id {call_id!r}: {command} not allowed, the call is finished ({finished[1]})"
        )

    @staticmethod
    def _illegal(agent: Agent, command: str) -> IllegalTransitionError:
        return IllegalTransitionError(
            f"agent_id {agent.id!r}: {command} not allowed in state {agent.state.value}"
        )

    def _offered_call(self, agent: Agent, call_id: str) -> Call:
        self._known_call(call_id)
        call = agent.call
        if agent.state is not _S.RESERVED or call is None or call.id != call_id:
            raise IllegalTransitionError(
                f"agent_id {agent.id!r}: no open offer for call_id {call_id!r}"
            )
        return call

    # ---- calls ----------------------------------------------------------------------------

    def enqueue(
        self,
        call_id: str,
        queue_id: str,
        now_ms: int,
        priority: int = 0,
        channel: str = "voice",
        skills: dict[str, int] | None = None,
        caller: str = "",
        dialled: str = "",
        preferred_agent: str | None = None,
        preferred_wait_ms: int = 0,
        attributes: dict[str, str] | None = None,
    ) -> bool:
        self._advance(now_ms)
        if not isinstance(call_id, str) or not call_id:
            raise InvalidArgumentError("call_id: must be a non-empty string")
        queue = self._queue_index.get(queue_id)
        if queue is None:
            raise NotFoundError(f"queue_id {queue_id!r}: unknown queue")
        if type(priority) is not int or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise InvalidArgumentError(
                f"priority {priority!r}: out of range {MIN_PRIORITY}..{MAX_PRIORITY}"
            )
        if channel != "voice":
            raise InvalidArgumentError(
                f"channel {channel!r}: the reference router supports only 'voice'"
            )
        for name, value in (
            ("skills", skills),
            ("preferred_agent", preferred_agent),
            ("attributes", attributes),
        ):
            if value is not None:
                raise InvalidArgumentError(f"{name}: not supported by the reference router")
        if preferred_wait_ms != 0:
            raise InvalidArgumentError("preferred_wait_ms: not supported by the reference router")
        if call_id in self._calls or call_id in self._finished:
            return False
        self._call_seq += 1
        seq = self._call_seq
        key = now_ms - priority * PRIORITY_WEIGHT_MS
        call = Call(call_id, seq, queue, priority, now_ms, key)
        self._calls[call_id] = call
        self._calls_by_seq[seq] = call
        ttl_ms = self._queues[queue].ttl_ms
        if ttl_ms > 0:
            self._push_timer((now_ms + ttl_ms, TIMER_CALL, seq, 0))
        self._match_call(call, now_ms)
        return True

    def abandon(self, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        call = self._live_call(call_id, "abandon")
        if call.state is CallState.CONNECTED:
            raise IllegalTransitionError(
                f"call_id {call_id!r}: abandon not allowed in state connected"
            )
        self._drop(call, "abandoned", now_ms)

    def end_call(self, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        call = self._live_call(call_id, "end_call")
        if call.state is not CallState.CONNECTED:
            raise IllegalTransitionError(
                f"call_id {call_id!r}: end_call not allowed in state {call.state.value}"
            )
        self._end(call, now_ms)

    # ---- agents ---------------------------------------------------------------------------

    def login(self, agent_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        if agent.state is not _S.LOGGED_OUT:
            raise self._illegal(agent, "login")
        agent.misses = 0
        self._set_not_ready(agent, "login")

    def logout(self, agent_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        state = agent.state
        if state is _S.LOGGED_OUT:
            raise self._illegal(agent, "logout")
        if state is _S.BUSY or state is _S.WRAP_UP:
            agent.pending_logout = True
        elif state is _S.RESERVED:
            call = agent.call
            assert call is not None
            self._revoke(call, "logout", now_ms)
            self._log_out(agent)
            self._match_call(call, now_ms)
        else:
            self._log_out(agent)

    def set_ready(self, agent_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        state = agent.state
        if state is _S.READY:
            return
        if state is _S.WRAP_UP:
            agent.pending_logout = False
            agent.pending_reason = None
            agent.call = None
        elif state is not _S.NOT_READY:
            raise self._illegal(agent, "set_ready")
        self._cancel_agent_timer(agent)
        self._become_ready(agent, now_ms, now_ms)

    def set_not_ready(self, agent_id: str, reason: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        if not isinstance(reason, str):
            raise InvalidArgumentError(f"reason: expected a str, got {type(reason).__name__}")
        state = agent.state
        if state is _S.BUSY or state is _S.WRAP_UP:
            agent.pending_reason = reason
        elif state is _S.READY or state is _S.NOT_READY:
            self._set_not_ready(agent, reason)
        else:
            raise self._illegal(agent, "set_not_ready")

    def accept(self, agent_id: str, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        self._connect(agent, self._offered_call(agent, call_id), now_ms)

    def reject(self, agent_id: str, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        self._miss(agent, self._offered_call(agent, call_id), "rejected", now_ms)

    def wrapup_done(self, agent_id: str, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        self._known_call(call_id)
        call = agent.call
        if agent.state is not _S.WRAP_UP or call is None or call.id != call_id:
            raise IllegalTransitionError(
                f"agent_id {agent_id!r}: not in wrap-up for call_id {call_id!r}"
            )
        self._end_wrapup(agent, now_ms)

    # ---- driving --------------------------------------------------------------------------

    def handle_timeout(self, now_ms: int) -> None:
        self._advance(now_ms)

    def poll_timeout(self) -> int | None:
        return self._next_deadline()

    def drain(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def apply_batch(self, commands: list[tuple[Any, ...]]) -> list[Event]:
        for index, command in enumerate(commands):
            try:
                dispatch(self, command)
            except AcdError as exc:
                detail = f"command {index}: {exc}"
                self._events.append(Event(ERROR, "", "", "", self._now, 0, "", detail))
        return self.drain()

    # ---- inspection -----------------------------------------------------------------------

    def queue_ids(self) -> list[str]:
        return [q.id for q in self._queues]

    def agent_ids(self) -> list[str]:
        return [a.id for a in self._agents]

    def waiting_count(self) -> int:
        return self._waiting_total

    def agent_info(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        return {
            "state": agent.state.value,
            "reason": agent.reason,
            "call_id": agent.call.id if agent.call is not None else "",
            "ready_since": agent.ready_since,
            "tier": agent.tier,
            "misses": agent.misses,
            "pending_reason": agent.pending_reason,
            "pending_logout": agent.pending_logout,
        }

    def call_info(self, call_id: str) -> dict[str, Any] | None:
        call = self._calls.get(call_id)
        if call is not None:
            return {
                "state": call.state.value,
                "queue_id": self._queues[call.queue].id,
                "agent_id": call.agent.id if call.agent is not None else "",
                "priority": call.priority,
                "enqueued_at_ms": call.enqueued_at_ms,
            }
        finished = self._finished.get(call_id)
        if finished is None:
            return None
        queue, outcome = finished
        return {"state": "terminal", "queue_id": self._queues[queue].id, "outcome": outcome}
