"""Building ``acd.v1.Call`` messages from keyword arguments.

``make_call`` is what ``enqueue_call``, ``AdapterStream.enqueue_call`` and ``request_callback``
use; build a list with it for ``enqueue_calls``. Channels may be named (``"chat"``) or given as
the generated enum value (``common_pb2.CHANNEL_CHAT``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeAlias, TypedDict, Unpack

from acd.v1 import common_pb2, routing_pb2

ChannelName: TypeAlias = Literal["voice", "chat", "email", "messenger", "callback"]
ChannelArg: TypeAlias = ChannelName | common_pb2.Channel.ValueType

CHANNELS: Mapping[str, common_pb2.Channel.ValueType] = {
    "voice": common_pb2.CHANNEL_VOICE,
    "chat": common_pb2.CHANNEL_CHAT,
    "email": common_pb2.CHANNEL_EMAIL,
    "messenger": common_pb2.CHANNEL_MESSENGER,
    "callback": common_pb2.CHANNEL_CALLBACK,
}


def channel_value(channel: ChannelArg) -> common_pb2.Channel.ValueType:
    """The enum value of a channel name or value; an unknown name is a ``ValueError``."""
    if isinstance(channel, str):
        try:
            return CHANNELS[channel]
        except KeyError:
            raise ValueError(
                f"channel {channel!r}: expected one of {', '.join(CHANNELS)}"
            ) from None
    return channel


class CallFields(TypedDict, total=False):
    """The optional keyword arguments of ``make_call`` (and of every ``enqueue_call``)."""

    channel: ChannelArg  # default voice
    priority: int  # higher is more urgent; 0 normal
    skills: Mapping[str, int]  # replaces the queue's skill requirement for this call
    caller: str  # the caller's number (ANI)
    dialled: str  # the number dialled (DNIS): the campaign
    preferred_agent: str  # offered to this agent first ...
    preferred_wait_ms: int  # ... for this long
    attributes: Mapping[str, str]  # carried to the screen pop and the reports


def make_call(call_id: str, queue_id: str, **fields: Unpack[CallFields]) -> common_pb2.Call:
    """A ``Call`` message with the given ``CallFields``."""
    return common_pb2.Call(
        call_id=call_id,
        queue_id=queue_id,
        channel=channel_value(fields.get("channel", "voice")),
        priority=fields.get("priority", 0),
        skills=fields.get("skills"),
        caller_number=fields.get("caller", ""),
        dialled_number=fields.get("dialled", ""),
        preferred_agent_id=fields.get("preferred_agent", ""),
        preferred_wait_ms=fields.get("preferred_wait_ms", 0),
        attributes=fields.get("attributes"),
    )


def transfer_request(
    call_id: str, queue: str | None, agent: str | None, destination: str | None
) -> routing_pb2.TransferCallRequest:
    """A ``TransferCallRequest`` to exactly one target (a ``ValueError`` otherwise)."""
    if [queue, agent, destination].count(None) != 2:
        raise ValueError("transfer_call: give exactly one of queue, agent, destination")
    if queue is not None:
        return routing_pb2.TransferCallRequest(call_id=call_id, queue_id=queue)
    if agent is not None:
        return routing_pb2.TransferCallRequest(call_id=call_id, agent_id=agent)
    assert destination is not None
    return routing_pb2.TransferCallRequest(call_id=call_id, destination=destination)
