"""The driver loop: simulated callers and agents around a router, on a virtual clock.

The router decides; the driver only plays the world around it. A heap holds the simulated
events (agent logins, handle-time ends, patience expiries); arrivals come from the sorted list
of callers. Between them the router's own timers run (`poll_timeout` / `handle_timeout`), timers
first at equal times, as the router itself orders them. Every event `drain()` returns is turned
into the simulated agent's reaction (an offer is accepted at once) and into the call records
the KPIs are computed from.

With a `CallbackPolicy` the simulated callers also take callbacks (see `acd.sim.callbacks`): a
callback attempt is a router call like any other (the same call kept in line, or a new call of
channel ``callback``), and the simulated agent who gets it dials the customer.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from acd.protocol import RouterLike
from acd.sim.arrivals import Caller
from acd.sim.callbacks import CallbackPolicy, callback_id, draw
from acd.sim.kpi import CallRecord

RouterFactory = Callable[[str], RouterLike]


def default_router(config_json: str) -> RouterLike:
    from acd import Router

    router: RouterLike = Router(config_json)
    return router


@dataclass(frozen=True, slots=True)
class Login:
    agent_id: str
    at_ms: int


@dataclass(slots=True)
class SimResult:
    records: list[CallRecord]
    busy: dict[str, list[tuple[int, int]]]  # per agent: [connected, ended + wrap-up) spans
    staffed: dict[str, tuple[int, int]]  # per agent: [login, end of its last work or end_ms)
    end_ms: int  # time of the last event
    other_events: dict[str, int] = field(default_factory=dict)  # by kind: missed, revoke, ...


class SimulationError(RuntimeError):
    """The router produced an event the simulated world cannot explain."""


# Order of simulated events at the same millisecond: logins, then calls ending (freeing an
# agent), then callers hanging up, then callers offered a callback, then callback attempts
# joining the line, then (outside the heap) new arrivals.
_LOGIN, _END, _ABANDON, _CB_OFFER, _CB_ENQUEUE = 0, 1, 2, 3, 4

ProgressCallback = Callable[[int, int], None]


def simulate(
    config: dict[str, Any],
    queue_id: str,
    callers: Sequence[Caller],
    logins: Sequence[Login],
    *,
    wrapup_ms: int = 0,
    close_ms: int = 0,
    router_factory: RouterFactory = default_router,
    progress: ProgressCallback | None = None,
    callbacks: CallbackPolicy | None = None,
    seed: int = 1,
) -> SimResult:
    """Run `callers` (sorted by arrival) into `queue_id` of a router built from `config`.

    Agents stay logged in until `close_ms` or until their last call ends, whichever is later.
    `seed` fixes the callers' callback choices (with `callbacks` only).
    """
    router = router_factory(json.dumps(config, sort_keys=True))
    records = [CallRecord(c.call_id, c.arrival_ms) for c in callers]
    index_of = {c.call_id: i for i, c in enumerate(callers)}
    counts: dict[str, int] = {}
    busy: dict[str, list[tuple[int, int]]] = {}
    connected_at: dict[str, int] = {}
    heap: list[tuple[int, int, int, str]] = []  # (at_ms, kind, index, router call id)
    for i, login in enumerate(logins):
        heapq.heappush(heap, (login.at_ms, _LOGIN, i, ""))
    # Router calls that are callback attempts: id -> (caller index, attempt number).
    attempts: dict[str, tuple[int, int]] = {}
    unresolved = len(callers)  # router calls not yet ended
    now = 0
    last_deadline: int | None = None

    accept, drain, push = router.accept, router.drain, heapq.heappush

    def dial(call_id: str, agent: str, at: int) -> None:
        """An agent got a callback attempt: the customer answers, or it rings out."""
        assert callbacks is not None
        i, attempt = attempts[call_id]
        connected_at[agent] = at
        rec = records[i]
        if draw(seed, "reach", rec.call_id, attempt) < callbacks.reach_rate:
            rec.recovered_ms = at
            push(heap, (at + callers[i].handle_ms, _END, i, call_id))
            return
        push(heap, (at + callbacks.ring_ms, _END, i, call_id))
        if attempt < callbacks.max_attempts:
            again = callback_id(rec.call_id, attempt + 1)
            attempts[again] = (i, attempt + 1)
            push(heap, (at + callbacks.ring_ms + callbacks.retry_gap_ms, _CB_ENQUEUE, i, again))

    def react() -> None:
        nonlocal unresolved
        events = drain()
        while events:
            for ev in events:
                kind = ev.kind
                if kind == "agent-state":
                    continue  # the simulation tracks agent time from the call events
                if kind == "offer":
                    if ev.call_id not in attempts:
                        rec = records[index_of[ev.call_id]]
                        if rec.first_offer_ms is None:
                            rec.first_offer_ms = ev.at_ms
                    accept(ev.agent_id, ev.call_id, now)
                elif kind == "connected":
                    if ev.call_id in attempts:
                        dial(ev.call_id, ev.agent_id, ev.at_ms)
                        continue
                    i = index_of[ev.call_id]
                    rec = records[i]
                    if rec.answered_ms is not None:
                        raise SimulationError(f"{ev.call_id} connected twice")
                    at = ev.at_ms
                    rec.answered_ms = at
                    rec.agent_id = agent = ev.agent_id
                    connected_at[agent] = at
                    push(heap, (at + callers[i].handle_ms, _END, i, ev.call_id))
                elif kind == "ended":
                    at = ev.at_ms
                    if ev.call_id not in attempts:
                        records[index_of[ev.call_id]].ended_ms = at
                    agent = ev.agent_id
                    busy.setdefault(agent, []).append((connected_at.pop(agent), at + wrapup_ms))
                elif kind == "terminal":
                    if ev.call_id in attempts:
                        unresolved -= 1  # the caller's record keeps its inbound outcome
                        continue
                    rec = records[index_of[ev.call_id]]
                    if rec.outcome is not None:
                        raise SimulationError(f"{ev.call_id} ended twice ({rec.outcome})")
                    rec.outcome = ev.detail
                    rec.left_ms = ev.at_ms
                    unresolved -= 1
                elif kind == "error":
                    raise SimulationError(f"router error: {ev.detail}")
                else:
                    counts[kind] = counts.get(kind, 0) + 1
            events = drain()

    poll_timeout, pop = router.poll_timeout, heapq.heappop
    total = len(callers)
    next_arrival = 0
    while True:
        # The next simulated event: the heap's top, or the next arrival; at equal times the
        # heap goes first (arrivals sort last).
        has_arrival = next_arrival < total
        arrival_ms = callers[next_arrival].arrival_ms if has_arrival else 0
        from_heap = bool(heap) and (not has_arrival or heap[0][0] <= arrival_ms)
        idle = not from_heap and not has_arrival
        at = heap[0][0] if from_heap else arrival_ms
        deadline = poll_timeout()
        if deadline is not None and (idle or deadline <= at):
            if idle and unresolved == 0:
                break  # only timers of finished work are left
            if deadline == last_deadline:
                raise SimulationError(f"router timer at {deadline} ms does not go away")
            last_deadline = now = max(now, deadline)
            router.handle_timeout(now)
            react()
            continue
        if idle:
            break
        last_deadline = None
        now = at
        if not from_heap:
            caller = callers[next_arrival]
            next_arrival += 1
            if not router.enqueue(caller.call_id, queue_id, now):
                raise SimulationError(f"{caller.call_id} refused as a duplicate")
            i = next_arrival - 1
            if caller.patience_ms is not None:
                push(heap, (now + caller.patience_ms, _ABANDON, i, caller.call_id))
            offer_after = callbacks.offer_after_ms if callbacks is not None else 0
            if offer_after > 0 and (caller.patience_ms is None or caller.patience_ms > offer_after):
                push(heap, (now + offer_after, _CB_OFFER, i, caller.call_id))
            if progress is not None and next_arrival % 1000 == 0:
                progress(next_arrival, total)
        else:
            _, kind, i, call_id = pop(heap)
            if kind == _LOGIN:
                router.login(logins[i].agent_id, now)
                router.set_ready(logins[i].agent_id, now)
                react()
                continue
            rec = records[i]
            if kind == _END:
                router.end_call(call_id, now)
            elif kind == _ABANDON:
                if rec.answered_ms is None and rec.outcome is None:
                    router.abandon(rec.call_id, now)
                    if callbacks is not None and callbacks.missed:
                        rec.callback_ms = now
                        again = callback_id(rec.call_id, 1)
                        attempts[again] = (i, 1)
                        push(heap, (now + callbacks.missed_delay_ms, _CB_ENQUEUE, i, again))
            elif kind == _CB_OFFER:
                assert callbacks is not None
                waiting = rec.first_offer_ms is None and rec.outcome is None
                if waiting and draw(seed, "take", rec.call_id) < callbacks.take_rate:
                    # The caller hangs up; the call keeps its place in line as attempt 1.
                    rec.outcome, rec.left_ms, rec.callback_ms = "callback", now, now
                    rec.attempts = 1
                    attempts[rec.call_id] = (i, 1)
            elif kind == _CB_ENQUEUE:
                assert callbacks is not None
                rec.attempts = attempts[call_id][1]
                router.enqueue(call_id, queue_id, now, callbacks.priority, "callback")
                unresolved += 1
        react()
    if progress is not None:
        progress(len(callers), len(callers))
    staffed: dict[str, tuple[int, int]] = {}
    for login in logins:
        spans = busy.get(login.agent_id)
        last_work = spans[-1][1] if spans else login.at_ms
        staffed[login.agent_id] = (login.at_ms, max(close_ms, last_work))
    return SimResult(records, busy, staffed, now, counts)
