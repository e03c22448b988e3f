"""Where committed events go: agents' outboxes, adapter streams and queue-stats subscribers.

Every buffer here is bounded, and publishing never waits for a reader, so a slow or stuck
client can neither grow the service's memory nor delay anyone's offers:

- ``AgentOutbox``: one per agent, a ring of its last ``RING`` messages, numbered 1, 2, 3...
  A stream reads the ring from its own cursor; one that resumes from a sequence still in the
  ring gets exactly what it missed, otherwise it starts again with a snapshot.
- ``AdapterFeed``: one per adapter stream, a bounded queue. Routing decisions cannot be
  coalesced, so an adapter that falls ``ADAPTER_BUFFER`` messages behind is disconnected
  (RESOURCE_EXHAUSTED) and resynchronises by reconnecting. Queue positions are advice for
  announcements: they wait in a second lane, the latest per call, and go out only when no
  decision or acknowledgement is waiting (one answered call moves every call behind it, so
  with a long line they would otherwise hold every acknowledgement back).
- ``StatsFeed``: one per StreamQueueStats subscriber, holding at most the latest figures per
  queue; newer figures replace unsent ones and count as dropped updates. ``StatsHub`` counts
  what it handed out (``published``) and what slow readers lost (``dropped``, closed feeds
  included) and logs both when it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection

from acd.v1 import agent_pb2, common_pb2, routing_pb2

log = logging.getLogger("acd.server")
# Adapter messages that close or change a call's wait (a pending position of it is stale).
_ABOUT_A_CALL = frozenset({"offer", "connected", "finished"})

RING = 256
ADAPTER_BUFFER = 10_000


class AgentOutbox:
    """One agent's numbered messages (StreamOffersResponse without the snapshot)."""

    def __init__(self, ring: int = RING) -> None:
        self._ring: deque[agent_pb2.StreamOffersResponse] = deque(maxlen=ring)
        self._last = 0  # the last sequence handed out
        self.streams = 0  # open StreamOffers streams of this agent
        self.closed = False
        # Called on every push and on close, in the pushing turn: how a stream reading the
        # ring (``follow``, a Session's output) learns there is more.
        self.listeners: set[Callable[[], None]] = set()

    def close(self) -> None:
        """Ends every ``follow`` (the service is shutting down)."""
        self.closed = True
        for listener in list(self.listeners):
            listener()

    @property
    def last_sequence(self) -> int:
        return self._last

    def next_sequence(self) -> int:
        self._last += 1
        return self._last

    def push(self, message: agent_pb2.StreamOffersResponse) -> None:
        message.sequence = self.next_sequence()
        self._ring.append(message)
        for listener in self.listeners:
            listener()

    def can_resume(self, last_sequence: int) -> bool:
        """Whether every message after ``last_sequence`` is still in the ring."""
        if last_sequence <= 0 or last_sequence > self._last:
            return False
        first = self._ring[0].sequence if self._ring else self._last + 1
        return last_sequence >= first - 1

    async def follow(self, cursor: int) -> AsyncIterator[agent_pb2.StreamOffersResponse]:
        """Messages after ``cursor``, then live ones, forever. Falling out of the ring ends
        the iteration (the caller starts again with a snapshot)."""
        wake = asyncio.Event()
        self.listeners.add(wake.set)
        try:
            while not self.closed:
                if not self.can_resume(cursor) and cursor != self._last:
                    return
                wake.clear()  # before reading: a push while the reader holds a message wakes it
                fresh = self.after(cursor)
                for message in fresh:
                    cursor = message.sequence
                    yield message
                if not fresh:
                    # Nothing newer in the ring. Not ``cursor == last``: a snapshot takes a
                    # sequence of its own (``agent_events``), so another stream of the agent
                    # opening leaves a gap that no message fills, and this loop used to spin on
                    # it forever.
                    await wake.wait()
        finally:
            self.listeners.discard(wake.set)

    def after(self, cursor: int) -> list[agent_pb2.StreamOffersResponse]:
        """The ring's messages after ``cursor``, oldest first. They are the ring's newest: read
        back to the cursor, not the whole ring (a wake-up used to copy and look at all RING
        messages of the agent)."""
        fresh: list[agent_pb2.StreamOffersResponse] = []
        for message in reversed(self._ring):
            if message.sequence <= cursor:
                break
            fresh.append(message)
        fresh.reverse()
        return fresh


class AdapterFeed:
    """One adapter stream's pending messages (routing decisions, acks, errors)."""

    def __init__(self, limit: int = ADAPTER_BUFFER) -> None:
        self._queue: asyncio.Queue[routing_pb2.AdapterStreamResponse] = asyncio.Queue(limit)
        # call -> its latest unsent position (insertion order: the oldest change first)
        self._positions: dict[str, common_pb2.QueuePositionChanged] = {}
        self.coalesced = 0  # positions replaced by a newer one before they were sent
        self.overflowed = False
        self.closed = False
        self.finishing = False
        self.packed = False  # the adapter asked for packed responses (AdapterStreamRequest)
        self._wake = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    def finish(self) -> None:
        """Ends the feed once what it holds has been taken (the adapter sent its last command
        and every one of them has been answered)."""
        self.finishing = True
        self._wake.set()

    def put(self, message: routing_pb2.AdapterStreamResponse) -> None:
        if self.overflowed:
            return
        if self._positions:  # a decision about a call makes its unsent position moot
            kind = message.WhichOneof("message")
            if kind in _ABOUT_A_CALL:
                self._positions.pop(getattr(message, kind).call_id, None)
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
        self._wake.set()

    def put_position(self, change: common_pb2.QueuePositionChanged) -> None:
        """A call's new place in line, after what is queued; replaces its unsent one."""
        if self.overflowed:
            return
        if self._positions.pop(change.call_id, None) is not None:
            self.coalesced += 1
        self._positions[change.call_id] = change
        self._wake.set()

    async def get(self) -> routing_pb2.AdapterStreamResponse | None:
        """The next message, or None once the feed overflowed or was closed."""
        while not self.overflowed and not self.closed:
            message = self.get_ready()
            if message is not None:
                return message
            if self.finishing:
                break
            self._wake.clear()
            await self._wake.wait()
        return None

    def get_ready(self) -> routing_pb2.AdapterStreamResponse | None:
        """The next message if one is waiting (decisions and acknowledgements first, then
        positions), else None."""
        if self.overflowed or self.closed:
            return None
        if not self._queue.empty():
            return self._queue.get_nowait()
        if self._positions:
            call_id = next(iter(self._positions))
            change = self._positions.pop(call_id)
            return routing_pb2.AdapterStreamResponse(position=change)
        return None


class StatsFeed:
    """One StreamQueueStats subscriber: the latest unsent figures per queue."""

    def __init__(self, queues: Collection[str]) -> None:
        self.queues = frozenset(queues)
        self._pending: dict[str, common_pb2.QueueStats] = {}
        self.dropped = 0
        self.closed = False
        self._wake = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    @property
    def pending(self) -> int:
        """Updates waiting for the subscriber: at most one per queue."""
        return len(self._pending)

    def put(self, stats: common_pb2.QueueStats) -> None:
        if stats.queue_id not in self.queues:
            return
        if stats.queue_id in self._pending:
            self.dropped += 1
        self._pending[stats.queue_id] = stats
        self._wake.set()

    async def take(self) -> list[common_pb2.QueueStats]:
        """Every pending update (waits for at least one); empty once closed."""
        while not self._pending and not self.closed:
            self._wake.clear()
            await self._wake.wait()
        out = list(self._pending.values())
        self._pending.clear()
        return out


class StatsHub:
    """Tells subscribers the figures of the queues that changed, at most every ``period_s``."""

    def __init__(
        self, compute: Callable[[str], common_pb2.QueueStats], period_s: float = 0.5
    ) -> None:
        self._compute = compute
        self._period_s = period_s
        self._dirty: set[str] = set()
        self._feeds: set[StatsFeed] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # updates handed to feeds (one queue's figures to one subscriber)
        self._dropped_closed = 0  # updates coalesced in feeds since unsubscribed

    @property
    def dropped(self) -> int:
        """Updates replaced by newer figures before their subscriber read them, all feeds."""
        return self._dropped_closed + sum(f.dropped for f in self._feeds)

    def subscribe(self, queues: Collection[str]) -> StatsFeed:
        feed = StatsFeed(queues)
        for queue in sorted(feed.queues):  # every stream starts with the current figures
            feed.put(self._compute(queue))
        self._feeds.add(feed)
        return feed

    def unsubscribe(self, feed: StatsFeed) -> None:
        if feed in self._feeds:
            self._feeds.discard(feed)
            self._dropped_closed += feed.dropped

    def feeds(self) -> list[StatsFeed]:
        """The open subscriptions (metrics)."""
        return list(self._feeds)

    def touch(self, queues: Collection[str]) -> None:
        if self._feeds and queues:
            self._dirty.update(queues)
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def close_feeds(self) -> None:
        for feed in self._feeds:
            feed.close()

    async def stop(self) -> None:
        if self.published:
            log.info(
                "queue stats: %d updates to subscribers, %d coalesced for slow readers",
                self.published,
                self.dropped,
            )
        self.close_feeds()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            if self._feeds:
                for queue in sorted(dirty):
                    stats = self._compute(queue)
                    for feed in list(self._feeds):
                        feed.put(stats)
                    self.published += len(self._feeds)
            await asyncio.sleep(self._period_s)
