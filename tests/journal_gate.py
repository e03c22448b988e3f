"""Holds state-changing RPCs in flight on purpose: the journal commit they wait for is gated.

``JournalGate`` wraps the running server's ``Journal.append`` and ``append_many``: the entries
are written and committed as usual, but the future the tenant awaits and the continuation it
passes (``then``) settle only after ``release()``. So an ``EnqueueCall`` sent meanwhile stays
in flight (applied, journaled, not acknowledged) for as long as a test needs, without
sleeping, e.g. to fill the cap on RPCs in flight or to stop the server while one is running.
``wait_applied`` tells when the router has the calls (whatever the journal's entry format).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

import pytest

from server_helpers import WAIT_S, ServerThread


class JournalGate:
    def __init__(self, server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
        assert server.server is not None
        self._server = server
        journal = server.server.journal
        self.loop: asyncio.AbstractEventLoop = server.call(_running_loop)  # the server's
        self._open: asyncio.Event = server.call(_new_event)
        self._tasks: set[asyncio.Task[None]] = set()
        for name in ("append", "append_many"):
            real = getattr(journal, name)
            monkeypatch.setattr(journal, name, functools.partial(self._gated, real))

    def _gated(self, real: Callable[..., asyncio.Future[Any]], *args: Any) -> asyncio.Future[Any]:
        if len(args) > 3 and args[3] is not None:  # append's continuation (tenant: _landed)
            args = (*args[:3], functools.partial(self._gated_then, args[3]))
        committed = real(*args)
        if self._open.is_set():
            return committed
        out: asyncio.Future[Any] = self.loop.create_future()

        async def settle() -> None:
            await self._open.wait()
            try:
                out.set_result(await committed)
            except Exception as e:
                out.set_exception(e)

        task = self.loop.create_task(settle())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return out

    def _gated_then(self, then: Callable[[Any, Any], None], value: Any, error: Any) -> None:
        if self._open.is_set():
            then(value, error)
            return

        async def later() -> None:
            await self._open.wait()
            then(value, error)

        task = self.loop.create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def wait_applied(self, tenant: str, call_ids: list[str]) -> None:
        """Waits (bounded) until the tenant's router holds every one of ``call_ids``."""
        assert self._server.server is not None
        router = self._server.server.tenants[tenant].router

        async def missing() -> list[str]:
            return [c for c in call_ids if router.call_info(c) is None]

        deadline = time.monotonic() + WAIT_S
        while left := self._server.call(missing):
            assert time.monotonic() < deadline, f"never applied: {left}"
            time.sleep(0.01)

    def release(self) -> None:
        """Lets every held commit through, and every later one at once."""
        self.loop.call_soon_threadsafe(self._open.set)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


async def _new_event() -> asyncio.Event:
    return asyncio.Event()
