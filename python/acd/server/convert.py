"""Router values (events, ``agent_info`` / ``call_info`` / ``queue_stats`` dicts) to acd.v1
messages, and acd.v1 enums to the router's words. No routing logic: only the mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from acd.server.commands import RouterEvent
from acd.server.config import AgentConfig, QueueConfig
from acd.v1 import common_pb2 as c

if TYPE_CHECKING:
    from acd.server.history import Contact

CHANNELS: Mapping[int, str] = {
    c.CHANNEL_UNSPECIFIED: "voice",
    c.CHANNEL_VOICE: "voice",
    c.CHANNEL_CHAT: "chat",
    c.CHANNEL_EMAIL: "email",
    c.CHANNEL_MESSENGER: "messenger",
    c.CHANNEL_CALLBACK: "callback",
}
CHANNEL_ENUM: Mapping[str, c.Channel.ValueType] = {
    "voice": c.CHANNEL_VOICE,
    "chat": c.CHANNEL_CHAT,
    "email": c.CHANNEL_EMAIL,
    "messenger": c.CHANNEL_MESSENGER,
    "callback": c.CHANNEL_CALLBACK,
}
AGENT_STATES: Mapping[str, c.AgentState.ValueType] = {
    "logged-out": c.AGENT_STATE_LOGGED_OUT,
    "not-ready": c.AGENT_STATE_NOT_READY,
    "ready": c.AGENT_STATE_READY,
    "reserved": c.AGENT_STATE_RESERVED,
    "busy": c.AGENT_STATE_BUSY,
    "wrap-up": c.AGENT_STATE_WRAP_UP,
}
CALL_STATES: Mapping[str, c.CallState.ValueType] = {
    "waiting": c.CALL_STATE_WAITING,
    "held": c.CALL_STATE_HELD,
    "offered": c.CALL_STATE_OFFERED,
    "connected": c.CALL_STATE_CONNECTED,
}
OUTCOMES: Mapping[str, c.CallOutcome.ValueType] = {
    "completed": c.CALL_OUTCOME_COMPLETED,
    "abandoned": c.CALL_OUTCOME_ABANDONED,
    "overflowed-out": c.CALL_OUTCOME_OVERFLOWED_OUT,
    "expired": c.CALL_OUTCOME_EXPIRED,
    "transferred-out": c.CALL_OUTCOME_TRANSFERRED_OUT,
    "callback-requested": c.CALL_OUTCOME_CALLBACK_REQUESTED,
}
# "withdrawn" (the service took the offer back: desktop gone, or a restart) has no value of
# its own in acd.v1 yet; it is reported as unspecified.
REVOKE_REASONS: Mapping[str, c.RevokeReason.ValueType] = {
    "abandoned": c.REVOKE_REASON_ABANDONED,
    "answered-elsewhere": c.REVOKE_REASON_ANSWERED_ELSEWHERE,
    "logout": c.REVOKE_REASON_LOGOUT,
    "expired": c.REVOKE_REASON_EXPIRED,
    "overflow": c.REVOKE_REASON_OVERFLOW,
    "paused": c.REVOKE_REASON_PAUSED,
    "rejected": c.REVOKE_REASON_REJECTED,
    "timed-out": c.REVOKE_REASON_TIMED_OUT,
    "withdrawn": c.REVOKE_REASON_WITHDRAWN,
    "callback": c.REVOKE_REASON_CALLBACK_REQUESTED,
}
ERROR_CODES = {
    "INVALID_ARGUMENT": c.ERROR_CODE_INVALID_ARGUMENT,
    "NOT_FOUND": c.ERROR_CODE_NOT_FOUND,
    "FAILED_PRECONDITION": c.ERROR_CODE_FAILED_PRECONDITION,
    "PERMISSION_DENIED": c.ERROR_CODE_PERMISSION_DENIED,
    "RESOURCE_EXHAUSTED": c.ERROR_CODE_RESOURCE_EXHAUSTED,
    "UNAVAILABLE": c.ERROR_CODE_UNAVAILABLE,
    "UNIMPLEMENTED": c.ERROR_CODE_UNIMPLEMENTED,
}


def command_error(code: Any, message: str, field: str) -> c.CommandError:
    """A refusal (``grpc.StatusCode``, message, field) as reported inside a message."""
    return c.CommandError(
        code=ERROR_CODES.get(code.name, c.ERROR_CODE_UNKNOWN), message=message, field=field
    )


def agent_status(
    info: Mapping[str, Any], agent: AgentConfig | None, endpoint: str, now_ms: int
) -> c.AgentStatus:
    since = int(info["state_since_ms"])
    return c.AgentStatus(
        agent_id=info["id"],
        display_name=agent.name if agent else info["id"],
        state=AGENT_STATES.get(info["state"], c.AGENT_STATE_UNSPECIFIED),
        reason=info["reason"] if info["state"] == "not-ready" else "",
        state_since_ms=since,
        time_in_state_ms=max(0, now_ms - since),
        group_id=info["group"],
        tier=int(info["tier"]),
        endpoint=endpoint,
        call_ids=list(info["calls"]),
        calls_answered=int(info["calls_answered"]),
        talk_ms=int(info["talk_ms"]),
        consecutive_misses=int(info["misses"]),
        pending_logout=bool(info["pending_logout"]),
        pending_not_ready=bool(info["pending_not_ready"]),
    )


def offer(event: RouterEvent, call: Mapping[str, Any] | None, endpoint: str) -> c.Offer:
    call = call or {}
    enqueued = int(call.get("entered_queue_at_ms", event.at_ms))
    return c.Offer(
        call_id=event.call_id,
        agent_id=event.agent_id,
        queue_id=event.queue_id,
        endpoint=endpoint,
        channel=CHANNEL_ENUM.get(call.get("channel", "voice"), c.CHANNEL_VOICE),
        priority=int(call.get("priority", 0)),
        offered_at_ms=event.at_ms,
        expires_at_ms=event.expires_at_ms,
        wait_ms=max(0, event.at_ms - enqueued),
        rule=event.rule,
        detail=event.detail,
        caller_number=call.get("caller", ""),
        dialled_number=call.get("dialled", ""),
    )


def screen_pop(call_id: str, call: Mapping[str, Any] | None) -> c.ScreenPop:
    """The live part of a screen pop. The caller's history (calls today / in 30 days, last
    agent and disposition, campaigns, open callbacks, knowledge links) needs the report store
    and stays empty until it exists."""
    call = call or {}
    return c.ScreenPop(
        call_id=call_id,
        caller_number=call.get("caller", ""),
        dialled_number=call.get("dialled", ""),
        attributes=dict(call.get("attributes", {})),
    )


def revoked(event: RouterEvent) -> c.OfferRevoked:
    why = event.rule if event.kind == "missed" else event.detail
    return c.OfferRevoked(
        call_id=event.call_id,
        agent_id=event.agent_id,
        queue_id=event.queue_id,
        reason=REVOKE_REASONS.get(why, c.REVOKE_REASON_UNSPECIFIED),
        at_ms=event.at_ms,
    )


def waiting_call(info: Mapping[str, Any], position: int, now_ms: int) -> c.WaitingCall:
    enqueued = int(info["enqueued_at_ms"])
    return c.WaitingCall(
        call_id=info["id"],
        queue_id=info["queue_id"],
        channel=CHANNEL_ENUM.get(info["channel"], c.CHANNEL_VOICE),
        priority=int(info["priority"]),
        state=CALL_STATES.get(info["state"], c.CALL_STATE_UNSPECIFIED),
        position=position,
        caller_number=info.get("caller", ""),
        dialled_number=info.get("dialled", ""),
        enqueued_at_ms=enqueued,
        wait_ms=max(0, now_ms - enqueued),
        escalation_step=int(info.get("step", 0)),
        offered_agent_ids=list(info.get("agents", [])),
        preferred_agent_id=info.get("preferred_agent") or "",
        attributes=dict(info.get("attributes", {})),
    )


def queue_kpis(intervals: Sequence[Mapping[str, int]], start_ms: int, end_ms: int) -> c.QueueKpis:
    """The KPIs (../shared/DESIGN.md) of the router's 15-minute counters whose interval starts
    in [start_ms, end_ms). A ratio or mean with nothing to divide by is 0."""
    total: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
    longest = 0
    for interval in intervals:
        if start_ms <= interval["interval_start_ms"] < end_ms:
            for key in _COUNTERS:
                total[key] += interval[key]
            longest = max(longest, interval["max_wait_ms"])
    answered, abandoned = total["answered"], total["abandoned"]
    short, offered = total["short_abandoned"], total["offered"]
    within = total["answered_within_sl"]
    return c.QueueKpis(
        period_start_at_ms=start_ms,
        period_end_at_ms=end_ms,
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        overflowed=total["overflowed"],
        expired=total["expired"],
        sl_answered=_ratio(within, answered),
        sl_offered=_ratio(within, answered + abandoned - short),
        sl_with_abandons=_ratio(within + total["abandoned_within_sl"], answered + abandoned),
        asa_ms=int(_ratio(total["wait_answered_ms"], answered)),
        awt_ms=int(_ratio(total["wait_left_ms"], total["left"])),
        aht_ms=int(_ratio(total["talk_ms"] + total["wrapup_ms"], total["completed"])),
        abandon_rate=_ratio(abandoned - short, offered - short),
        max_wait_ms=longest,
    )


_COUNTERS = (
    *("offered", "answered", "abandoned", "short_abandoned", "answered_within_sl"),
    *("abandoned_within_sl", "wait_answered_ms", "left", "wait_left_ms", "overflowed"),
    *("expired", "completed", "talk_ms", "wrapup_ms"),
)


def _ratio(num: int, den: int) -> float:
    return num / den if den > 0 else 0.0


def queue_stats(
    queue: QueueConfig,
    stats: Mapping[str, int],
    now_ms: int,
    interval: c.QueueKpis | None = None,
    today: c.QueueKpis | None = None,
) -> c.QueueStats:
    """Live figures of one queue, with the current interval's and today's KPIs."""
    agents = [
        c.AgentStateCount(state=state, count=int(stats.get(f"agents_{name}", 0)))
        for name, state in (
            ("logged_out", c.AGENT_STATE_LOGGED_OUT),
            ("not_ready", c.AGENT_STATE_NOT_READY),
            ("ready", c.AGENT_STATE_READY),
            ("reserved", c.AGENT_STATE_RESERVED),
            ("busy", c.AGENT_STATE_BUSY),
            ("wrap_up", c.AGENT_STATE_WRAP_UP),
        )
    ]
    return c.QueueStats(
        queue_id=queue.id,
        at_ms=now_ms,
        waiting=int(stats.get("waiting", 0)),
        offered_now=int(stats.get("offered", 0)),
        connected_now=int(stats.get("connected", 0)),
        longest_wait_ms=int(stats.get("longest_wait_ms", 0)),
        agents=agents,
        sl_threshold_ms=queue.sl_threshold_ms,
        interval=interval,
        today=today,
    )


# A callback's attempt (1 for the first), in its attributes (acd.server.callbacks).
ATTEMPT = "callback_attempt"


def attempt_of(attributes: Mapping[str, str]) -> int:
    """Which try a callback is (1 for the first), from its attributes."""
    raw = str(attributes.get(ATTEMPT, "1"))
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def connected(e: RouterEvent, endpoint: str, callback: Contact | None) -> c.CallConnected:
    """The adapter's CallConnected; for a callback (``callback``: its open contact) also the
    number the PBX dials from the agent's endpoint, and which attempt it is."""
    message = c.CallConnected(
        call_id=e.call_id,
        agent_id=e.agent_id,
        queue_id=e.queue_id,
        endpoint=endpoint,
        at_ms=e.at_ms,
    )
    if callback is not None:
        message.dial_number = callback.caller_number
        message.callback_attempt = attempt_of(callback.attributes)
    return message
