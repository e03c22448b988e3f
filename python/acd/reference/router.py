"""Pure-Python reference router: the **[ref]** subset of acd_core/ROUTING.md.

The oracle of the differential tests and the baseline of the benchmarks. Mechanics and indexes
are in ``engine.py``; this module checks arguments and states, then calls them.

Choices where ROUTING.md leaves the subset open. They were checked against the Rust core
(``acd._core``) with random command sequences: events, error events (messages included),
agent states/reasons and waiting counts agree. Both must keep them.

1. Order of checks: arguments no state can make valid are refused first, without moving the
   clock (enqueue: channel, call_id, priority, skills, queue_id, preferred_agent, attributes;
   set_not_ready: reason). Then ``now_ms`` (smaller than the last one seen, the clock starting
   at 0: ``InvalidArgumentError``); then the clock advances and due timers fire; then ids and
   state are checked. So a command refused for those reasons has still fired the timers (a
   late accept sees its offer's expiry first).
2. Every timer is due strictly after the moment it is set (offer_timeout_ms and ttl_ms >= 1;
   a wrap-up or miss delay of 0 means "at once"); timers set while timers fire are due in the
   same ``handle_timeout`` when their deadline is ``<= now_ms``.
3. Enqueue: ids are remembered forever (``dedup_window_ms`` ignored: use a window longer than
   the test, the core forgets ids after it, and with 0 at once). ``caller`` and ``dialled`` are
   unused; ``preferred_wait_ms`` must be 0; the channel must be voice.
4. Score: exactly ``key = enqueued_at - priority * 10**10`` (lower = more urgent), then seq.
5. Best agent: per queue ``(tier if prefer_lower_tier else 0, ready_since, agent index)``;
   ``max_tier`` (static, no escalation) filters eligibility; voice capacity 0 = never eligible.
   An offer's level is the sum of the agent's levels over the queue's skills (0 for none).
6. Miss: max_misses is checked first (reaching it gives NotReady("missed") whatever the
   delay). With delay 0 the agent is Ready (``ready_since`` = the event time) *before* the call
   is re-matched, so the call may go straight back to it when it is the best (e.g. only) Ready
   eligible agent; then, if still Ready, the agent is matched. A miss delay shows as state
   "ready", reason "" (``miss_delay`` True in agent_info) but gets no offers; set_ready in it
   is a no-op (the delay is served in full); set_not_ready and logout end it. The miss counter
   is reset by accept, by reaching max_misses and by login; the call's queue's policy applies.
7. Wrap-up: ``wrapup_until_done`` wins over ``wrapup_ms`` (no timer). ``wrapup_done`` ends
   wrap-up (timed or not) and applies the pending state; ``set_ready`` in wrap-up drops a
   pending not-ready but not a pending logout (the agent is logged out). Pending logout beats
   pending not-ready. agent_info's reason shows a pending not-ready reason while busy;
   a logged-out agent's reason is "logout".
8. end_call: ``ended`` (with agent), then ``terminal`` completed (agent ""), then wrap-up.
   Abandon / time-to-live of an offered call: ``revoke`` (detail "abandoned" / "expired"),
   ``terminal``, then the agent is Ready again with its previous ``ready_since`` and matched.
   Logout of a reserved agent: ``revoke`` "logout", agent logged out, the call re-matched.
9. A finished call is unknown (``NotFoundError``; ``call_info`` None), except to enqueue.
   wrapup_done does not look the call id up: no matching wrap-up is ``IllegalTransitionError``.
10. ``waiting_count`` counts live calls not connected (waiting or offered). ``apply_batch``
    decodes every tuple first (a malformed one raises ``ValueError``, nothing applied), then
    returns ``drain()`` (events left undrained before it come first). A refused command's
    ``error`` event: at_ms = the router's clock after the attempt, empty ids and rule,
    expires_at 0, detail ``command <index>: <message>``.
11. Config: escalation other than ``[]``, overflow other than null, another strategy, aging_ms
    != 0 and voice capacity > 1 are refused (``ConfigError``); ring_all_max, sl_threshold_ms,
    short_abandon_ms, group are checked and unused; seed only has to stay the same (12). Tier
    1..255; ids and skill names 1..256 UTF-8 bytes without control characters.
12. ``reconfigure`` (``reconfigure.py``): the config is parsed first (``ConfigError``), then the
    seed must be the one the router was built with (``InvalidArgumentError``), then ``now_ms``
    as for every command, then ``IllegalTransitionError`` for a removed queue with a live call
    or an agent in wrap-up for one, a removed agent not logged out, a kept agent holding a call
    (reserved, busy, wrap-up) whose new voice capacity is 0, in that order (queues, then agents,
    in the old order). Accepted: queues and agents take the new config order (agent index =
    the new position), time-to-live deadlines follow the new ``ttl_ms`` from the enqueue (those
    already past fire at once, stamped now), offers and agent timers keep theirs; then every
    waiting call whose queue has a Ready agent, most urgent first, is offered to the best one.
    ``call_ids`` lists live calls in arrival order. ``dedup_window_ms`` stays ignored (3).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from acd.reference.batch import parse_batch
from acd.reference.config import CHANNELS, parse_config
from acd.reference.engine import PRIORITY_WEIGHT_MS, TIMER_CALL
from acd.reference.errors import (
    AcdError,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
)
from acd.reference.events import ERROR, Event
from acd.reference.reconfigure import Reconfigurable
from acd.reference.state import Agent, AgentState, Call, CallState

MIN_PRIORITY, MAX_PRIORITY = -1_000_000, 1_000_000
_S = AgentState


def _check_text(field: str, value: object, longest: int, empty_ok: bool = False) -> None:
    """Ids and reasons: bounded UTF-8 length, no control characters (like the core)."""
    if (
        isinstance(value, str)
        and (value or empty_ok)
        and len(value.encode()) <= longest
        and not any(unicodedata.category(ch) == "Cc" for ch in value)
    ):
        return
    bound = f"at most {longest}" if empty_ok else f"1..{longest}"
    raise InvalidArgumentError(f"{field}: must be {bound} characters without control characters")


def _state_name(agent: Agent) -> str:
    # A miss delay shows as Ready, like the core: only offers wait for it to end.
    return "ready" if agent.in_delay else agent.state.value


class Router(Reconfigurable):
    """One tenant's router: queues, agents, waiting calls, offers. Deterministic, no clock."""

    def __init__(self, config_json: str) -> None:
        super().__init__(parse_config(config_json))

    # ---- checks ---------------------------------------------------------------------------

    def _advance(self, now_ms: int) -> None:
        if type(now_ms) is not int:
            raise InvalidArgumentError(f"now_ms: expected an int, got {type(now_ms).__name__}")
        if now_ms < self._now:
            raise InvalidArgumentError(f"now_ms: time went backwards ({now_ms} < {self._now})")
        self._now = now_ms
        self._fire_due(now_ms)

    def _agent(self, agent_id: str) -> Agent:
        index = self._agent_index.get(agent_id)
        if index is None:
            raise NotFoundError(f"agent_id '{agent_id}': unknown agent")
        return self._agents[index]

    def _call(self, call_id: str) -> Call:
        """A live call; a finished one is unknown too (only enqueue remembers its id)."""
        call = self._calls.get(call_id)
        if call is None:
            raise NotFoundError(f"call_id '{call_id}': unknown call")
        return call

    @staticmethod
    def _illegal(agent: Agent, command: str) -> IllegalTransitionError:
        return IllegalTransitionError(
            f"agent '{agent.id}' is {_state_name(agent)}: cannot {command}"
        )

    def _offered_call(self, agent: Agent, call_id: str) -> Call:
        self._call(call_id)
        call = agent.call
        if agent.state is not _S.RESERVED or call is None or call.id != call_id:
            raise IllegalTransitionError(
                f"agent '{agent.id}' has no open offer for call '{call_id}'"
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
        # Arguments that no state can make valid are refused before the clock moves.
        if channel not in CHANNELS:
            raise InvalidArgumentError(
                f"channel: unknown channel '{channel}' (voice, chat, email, messenger, callback)"
            )
        if channel != "voice":
            raise InvalidArgumentError(
                f"channel: '{channel}' is not supported by the reference router (only voice)"
            )
        _check_text("call_id", call_id, 256)
        if type(priority) is not int or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise InvalidArgumentError(
                f"priority: {priority} out of range {MIN_PRIORITY}..{MAX_PRIORITY}"
            )
        if skills is not None:
            raise InvalidArgumentError("skills: not supported by the reference router")
        queue = self._queue_index.get(queue_id)
        if queue is None:
            raise NotFoundError(f"queue_id '{queue_id}': unknown queue")
        for name, value in (("preferred_agent", preferred_agent), ("attributes", attributes)):
            if value is not None:
                raise InvalidArgumentError(f"{name}: not supported by the reference router")
        if preferred_wait_ms != 0:
            raise InvalidArgumentError("preferred_wait_ms: not supported by the reference router")
        self._advance(now_ms)
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
        call = self._call(call_id)
        if call.state is CallState.CONNECTED:
            raise IllegalTransitionError(f"call '{call_id}' is connected: end it with end_call")
        self._drop(call, "abandoned", now_ms)

    def end_call(self, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        call = self._call(call_id)
        if call.state is not CallState.CONNECTED:
            raise IllegalTransitionError(f"call '{call_id}' is not connected")
        self._end(call, now_ms)

    # ---- agents ---------------------------------------------------------------------------

    def login(self, agent_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        if agent.state is not _S.LOGGED_OUT:
            raise self._illegal(agent, "log in")
        agent.misses = 0
        self._set_not_ready(agent, "login")

    def logout(self, agent_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        state = agent.state
        if state is _S.LOGGED_OUT:
            raise self._illegal(agent, "log out")
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
        if state is _S.READY or agent.in_delay:
            return  # a miss delay is served in full
        if state is _S.WRAP_UP:
            agent.pending_reason = None
            if agent.pending_logout:
                self._end_wrapup(agent, now_ms)
                return
            agent.call = None
        elif state is not _S.NOT_READY:
            raise self._illegal(agent, "set ready")
        self._cancel_agent_timer(agent)
        self._become_ready(agent, now_ms, now_ms)

    def set_not_ready(self, agent_id: str, reason: str, now_ms: int) -> None:
        _check_text("reason", reason, 64, empty_ok=True)
        self._advance(now_ms)
        agent = self._agent(agent_id)
        state = agent.state
        if state is _S.BUSY or state is _S.WRAP_UP:
            agent.pending_reason = reason
        elif state is _S.READY or state is _S.NOT_READY:
            self._set_not_ready(agent, reason)
        else:
            raise self._illegal(agent, "set not ready")

    def accept(self, agent_id: str, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        self._connect(agent, self._offered_call(agent, call_id), now_ms)

    def reject(self, agent_id: str, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        self._miss(agent, self._offered_call(agent, call_id), "rejected", now_ms)

    def withdraw(self, agent_id: str, call_id: str, reason: str, now_ms: int) -> None:
        """The service withdraws an open offer: no miss, the agent is paused NotReady(reason),
        the call goes back to its place in line."""
        _check_text("reason", reason, 64, empty_ok=True)
        self._advance(now_ms)
        agent = self._agent(agent_id)
        call = self._offered_call(agent, call_id)
        self._revoke(call, "withdrawn", now_ms)
        self._set_not_ready(agent, reason)
        self._match_call(call, now_ms)

    def wrapup_done(self, agent_id: str, call_id: str, now_ms: int) -> None:
        self._advance(now_ms)
        agent = self._agent(agent_id)
        call = agent.call  # already finished: its id is not checked on its own
        if agent.state is not _S.WRAP_UP or call is None or call.id != call_id:
            raise IllegalTransitionError(
                f"agent '{agent_id}' is not in wrap-up for call '{call_id}'"
            )
        self._end_wrapup(agent, now_ms)

    # ---- configuration --------------------------------------------------------------------

    def reconfigure(self, config_json: str, now_ms: int) -> None:
        """A new configuration for the running router (ROUTING.md, Reconfiguration)."""
        config = parse_config(config_json)
        if config.seed != self._config.seed:
            raise InvalidArgumentError(
                f"seed: a running router keeps its seed ({self._config.seed}), got {config.seed}"
            )
        self._advance(now_ms)
        self._check_config(config)
        self._apply_config(config, now_ms)

    # ---- driving --------------------------------------------------------------------------

    def handle_timeout(self, now_ms: int) -> None:
        self._advance(now_ms)

    def poll_timeout(self) -> int | None:
        return self._next_deadline()

    def drain(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def apply_batch(self, commands: list[tuple[Any, ...]]) -> list[Event]:
        parsed = parse_batch(commands)  # a malformed tuple refuses the whole batch
        for index, (apply, args) in enumerate(parsed):
            try:
                apply(self, *args)
            except AcdError as exc:
                detail = f"command {index}: {exc}"
                self._events.append(Event(ERROR, "", "", "", self._now, 0, exc.kind, detail))
        return self.drain()

    # ---- inspection -----------------------------------------------------------------------

    def queue_ids(self) -> list[str]:
        return [q.id for q in self._queues]

    def agent_ids(self) -> list[str]:
        return [a.id for a in self._agents]

    def call_ids(self) -> list[str]:
        """Every live call id, in arrival order."""
        return list(self._calls)

    def waiting_count(self) -> int:
        return len(self._calls) - self._connected

    def agent_info(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        reason = agent.reason
        if agent.in_delay:
            reason = ""
        elif agent.pending_reason is not None:
            reason = agent.pending_reason  # the reason it will have when its work ends
        return {
            "id": agent.id,
            "state": _state_name(agent),
            "reason": reason,
            "ready_since_ms": agent.ready_since,
            "tier": agent.tier,
            "misses": agent.misses,
            "calls": [agent.call.id] if agent.call is not None else [],
            "pending_logout": agent.pending_logout,
            "pending_not_ready": agent.pending_reason is not None,
            "miss_delay": agent.in_delay,
        }

    def call_info(self, call_id: str) -> dict[str, Any] | None:
        call = self._calls.get(call_id)
        if call is not None:
            return {
                "id": call.id,
                "state": call.state.value,
                "queue_id": self._queues[call.queue].id,
                "channel": "voice",
                "priority": call.priority,
                "seq": call.seq,
                "enqueued_at_ms": call.enqueued_at_ms,
                "agents": [call.agent.id] if call.agent is not None else [],
            }
        return None
