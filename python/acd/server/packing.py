"""Packed stream responses (AdapterStreamRequest.packed, SessionRequest.packed): the messages
that are ready when one is about to be written go in its ``more``, each numbered in turn.

A stream message costs the service about as much as a small command (grpc.aio's own work per
message), so a burst (an acknowledgement and the decisions it caused, a desktop's result and
its state changes) goes out as one. Nothing waits to be packed: only what is already there.
A packed message stays within half the server's send limit, so packing never makes a
message the limit refuses; a message that would not fit starts the next one. ``numbered`` is
the writing side of both streams; ``pack`` is one message's packing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from acd.v1 import agent_pb2, routing_pb2

# Bytes a message adds as an element of ``more`` beyond its own size (tag, length, and the
# sequence's varint growing once numbered).
_ELEMENT_OVERHEAD = 16
MAX_MESSAGES = 64  # in one stream message: the first and its ``more``

M = TypeVar("M", agent_pb2.SessionResponse, routing_pb2.AdapterStreamResponse)


def pack(
    first: M, take: Callable[[], M | None], sequence: int, budget: int
) -> tuple[int, M | None]:
    """Numbers ``first`` after ``sequence`` and appends to its ``more`` what ``take`` gives
    (None: nothing more is ready) while it fits in ``budget`` bytes. Returns the last sequence
    used and the message taken that did not fit (to be sent next), if any."""
    sequence += 1
    first.sequence = sequence
    size = first.ByteSize()
    while len(first.more) + 1 < MAX_MESSAGES:
        follower = take()
        if follower is None:
            break
        grown = size + follower.ByteSize() + _ELEMENT_OVERHEAD
        if grown > budget:
            return sequence, follower
        sequence += 1
        follower.sequence = sequence
        first.more.append(follower)
        size = grown
    return sequence, None


async def numbered(
    get: Callable[[], Awaitable[M | None]],
    ready: Callable[[], M | None],
    packed: Callable[[], bool],
    send_limit: int,
) -> AsyncIterator[M]:
    """A stream's output: the messages ``get`` gives (None: the end), numbered 1, 2, 3...;
    while ``packed()``, each also carries in its ``more`` what ``ready`` has at hand."""
    sequence, carry, budget = 0, None, send_limit // 2
    while True:
        message = carry if carry is not None else await get()
        if message is None:
            return
        if packed():
            sequence, carry = pack(message, ready, sequence, budget)
        else:
            sequence, carry = sequence + 1, None
            message.sequence = sequence
        yield message
