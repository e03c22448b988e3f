"""The command side of a bidirectional stream (AdapterStream, Session): each request handled
by a task of its own, at most ``window`` at once.

Tasks are created in arrival order and each applies its command before its first wait, so
the router sees a stream's commands in the order they were sent, while their commits overlap
(a slow commit does not stall the commands behind it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

Req = TypeVar("Req")


async def serve_commands(
    requests: AsyncIterator[Req], handle: Callable[[Req], Awaitable[None]], window: int
) -> None:
    """Returns once the client has closed its side and every command has been handled;
    cancelled, it cancels the commands still running."""
    slots = asyncio.Semaphore(window)
    pending: set[asyncio.Task[None]] = set()

    def done(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        slots.release()

    async def run(request: Req) -> None:
        await handle(request)

    try:
        async for request in requests:
            await slots.acquire()
            task = asyncio.get_running_loop().create_task(run(request))
            pending.add(task)
            task.add_done_callback(done)
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        for task in pending:
            task.cancel()
