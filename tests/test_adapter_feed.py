"""The adapter stream's buffer (acd.server.fanout.AdapterFeed): decisions and acknowledgements
in order, queue positions in a second lane that only goes out when nothing else waits, the
latest per call, and never after a decision that ended the call's wait."""

from __future__ import annotations

import asyncio

from acd.server.fanout import AdapterFeed
from acd.v1 import common_pb2, routing_pb2


def position(call_id: str, place: int) -> common_pb2.QueuePositionChanged:
    return common_pb2.QueuePositionChanged(call_id=call_id, queue_id="sales", position=place)


def drain(feed: AdapterFeed) -> list[str]:
    """What a reader gets, as short strings, until the feed ends."""

    async def read() -> list[str]:
        out = []
        feed.finish()
        while (m := await feed.get()) is not None:
            kind = m.WhichOneof("message")
            if kind == "position":
                out.append(f"position {m.position.call_id} {m.position.position}")
            elif kind == "ack":
                out.append(f"ack {m.ack.correlation_id}")
            else:
                out.append(f"{kind} {getattr(m, str(kind)).call_id}")
        return out

    return asyncio.run(read())


def test_positions_wait_behind_decisions_and_keep_only_the_latest() -> None:
    feed = AdapterFeed()
    feed.put_position(position("c2", 3))
    feed.put_position(position("c3", 4))
    feed.put(routing_pb2.AdapterStreamResponse(ack=routing_pb2.CommandAck(correlation_id="e1")))
    feed.put_position(position("c2", 2))  # c2 moved again before its first was sent
    offer = common_pb2.Offer(call_id="c1", agent_id="anna")
    feed.put(routing_pb2.AdapterStreamResponse(offer=offer))
    assert feed.coalesced == 1
    assert drain(feed) == ["ack e1", "offer c1", "position c3 4", "position c2 2"]


def test_a_decision_about_a_call_drops_its_unsent_position() -> None:
    feed = AdapterFeed()
    feed.put_position(position("c1", 1))
    feed.put_position(position("c2", 2))
    offer = common_pb2.Offer(call_id="c1", agent_id="anna")
    feed.put(routing_pb2.AdapterStreamResponse(offer=offer))
    finished = common_pb2.CallFinished(call_id="c2", outcome=common_pb2.CALL_OUTCOME_ABANDONED)
    feed.put(routing_pb2.AdapterStreamResponse(finished=finished))
    revoked = common_pb2.OfferRevoked(call_id="c1", agent_id="anna")
    feed.put(routing_pb2.AdapterStreamResponse(revoked=revoked))
    feed.put_position(position("c1", 1))  # back in line after the revoke: announced again
    assert drain(feed) == ["offer c1", "finished c2", "revoked c1", "position c1 1"]


def test_an_overflowed_feed_takes_nothing_more() -> None:
    feed = AdapterFeed(limit=1)
    ack = routing_pb2.AdapterStreamResponse(ack=routing_pb2.CommandAck(correlation_id="a"))
    feed.put(ack)
    feed.put(ack)
    assert feed.overflowed
    feed.put_position(position("c1", 1))
    assert drain(feed) == []
