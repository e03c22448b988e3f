"""``packing.pack``: numbers the first message and the ones packed after it in order, stops
at what is not ready, at the byte budget (handing back the message that did not fit) and at
``MAX_MESSAGES``; the packed message never outgrows the budget."""

from __future__ import annotations

from collections.abc import Callable

from acd.server.packing import MAX_MESSAGES, pack
from acd.v1 import common_pb2, routing_pb2


def position(call_id: str) -> routing_pb2.AdapterStreamResponse:
    change = common_pb2.QueuePositionChanged(call_id=call_id, queue_id="sales", position=3)
    return routing_pb2.AdapterStreamResponse(position=change)


def source(
    messages: list[routing_pb2.AdapterStreamResponse],
) -> Callable[[], routing_pb2.AdapterStreamResponse | None]:
    return lambda: messages.pop(0) if messages else None


def test_packs_what_is_ready_in_order_with_its_own_sequences() -> None:
    first, ready = position("c0"), [position(f"c{i}") for i in range(1, 4)]
    last, carry = pack(first, source(ready), 10, budget=10_000)
    assert (last, carry) == (14, None)
    assert [m.sequence for m in (first, *first.more)] == [11, 12, 13, 14]
    assert [m.position.call_id for m in first.more] == ["c1", "c2", "c3"]


def test_the_budget_holds_and_the_message_that_did_not_fit_is_handed_back() -> None:
    one = position("c0").ByteSize()
    for budget in (one, 3 * one, 10 * one):  # one: the first alone, nothing packed
        first, ready = position("c0"), [position(f"c{i}") for i in range(1, 20)]
        last, carry = pack(first, source(ready), 0, budget)
        # The first goes out whatever its size; packing never takes it past the budget.
        assert not first.more or first.ByteSize() <= budget
        assert carry is not None and carry.sequence == 0  # not numbered: it starts the next
        assert last == 1 + len(first.more)
        assert carry.position.call_id == f"c{last}"


def test_at_most_max_messages_in_one() -> None:
    first = position("c0")
    ready = [position(f"c{i}") for i in range(1, 2 * MAX_MESSAGES)]
    last, carry = pack(first, source(ready), 0, budget=10**9)
    assert (last, carry, len(first.more)) == (MAX_MESSAGES, None, MAX_MESSAGES - 1)
    assert len(ready) == 2 * MAX_MESSAGES - MAX_MESSAGES  # the rest stay for the next message
