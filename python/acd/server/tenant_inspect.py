"""What publishing a batch needs, read right after the router applied it (``Tenant._apply``):
which enqueues were repeats, and the router's view of the calls, agents and queues the events
name. Kept apart from ``tenant`` only for its length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from acd.server.commands import Applied
from acd.server.journal_format import Command

if TYPE_CHECKING:
    from acd.server.tenant import Tenant


def inspect_applied(
    tenant: Tenant,
    commands: Sequence[Command],
    applied: Applied,
    live_before: set[str],
    waiting_delta: int,
) -> tuple[frozenset[int], dict[str, Any]]:
    """Right after ``commands`` were applied: which enqueues changed nothing (repeats), and
    what publishing needs from the router as it is now. ``live_calls`` follows the router
    here, at apply time, so the next request sees it as the router does.

    An enqueue that changed nothing produces no event, and neither does a new call that
    only waits: ``waiting_delta`` (how much the line grew) or the call's presence in the
    router tells them apart."""
    mentioned: set[str] = set()
    ended: set[str] = set()
    calls: dict[str, Any] = {}
    agents: dict[str, Any] = {}
    router = tenant.router
    quiet = True  # no event but refusals
    for e in applied.events:
        kind = e.kind
        if kind == "error":
            continue
        quiet = False
        mentioned.add(e.call_id)
        if kind == "offer":
            if e.call_id not in calls:
                calls[e.call_id] = router.call_info(e.call_id)
        elif kind == "agent-state":
            if e.agent_id not in agents:
                agents[e.agent_id] = router.agent_info(e.agent_id)
        elif kind == "transferred":
            tenant.live_calls.add(e.call_id)
        elif kind == "terminal":
            ended.add(e.call_id)
    refused = applied.refused
    queues: set[str] = set()
    duplicates: set[int] = set()
    seen: set[str] = set()
    unmentioned: list[tuple[int, str, str]] = []  # new calls, or repeats: no event says
    for i, command in enumerate(commands):
        if i in refused:
            continue
        name = command[0]
        if name == "enqueue":
            call_id = command[1]
            if call_id in seen or call_id in live_before:
                duplicates.add(i)
            elif call_id in mentioned:
                queues.add(command[2])
                tenant.live_calls.add(call_id)
            else:
                unmentioned.append((i, call_id, command[2]))
            seen.add(call_id)
        elif name == "transfer" and command[2] == "destination":
            tenant.destinations[command[1]] = command[3]
        elif name == "request_callback":  # the callback takes the call's place
            tenant.live_calls.add(command[2])
    # With no event but refusals nothing else entered or left the line, so if it grew by
    # exactly these calls they are all new; otherwise ask the router about each.
    all_new = quiet and waiting_delta == len(unmentioned)
    for i, call_id, queue_id in unmentioned:
        if all_new or router.call_info(call_id) is not None:
            queues.add(queue_id)  # a call that only waits makes no event
            tenant.live_calls.add(call_id)
        else:
            duplicates.add(i)  # a repeat of a call that finished within the dedup window
    tenant.live_calls -= ended
    return frozenset(duplicates), {"calls": calls, "agents": agents, "queues": queues}
