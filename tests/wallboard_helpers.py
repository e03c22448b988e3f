"""A running service with its wallboard, and plain-socket HTTP / Server-Sent Events clients.

The clients are http.client over loopback; an event stream is read by a thread into a queue,
and every wait is bounded (nothing here asserts on timing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import queue
import socket
import threading
from typing import Any

from acd.server.config import Config
from acd.server.wallboard import Wallboard
from acd.server.wallboard_config import WallboardConfig
from server_helpers import TEST_CONFIG, ServerThread, make_config

WAIT_S = 10.0


def wallboard_config(
    text: str = TEST_CONFIG, refresh_ms: int = 100, reset_minute: int = 0, timezone: str = "UTC"
) -> Config:
    """The test config with a wallboard on a free loopback port. ``refresh_ms`` may be below
    what acd.toml allows (1..2 s), so tests wait for snapshots in tenths of a second."""
    config = make_config(text)
    wallboard = WallboardConfig("127.0.0.1:0", refresh_ms, reset_minute, timezone)
    return dataclasses.replace(
        config, server=dataclasses.replace(config.server, wallboard=wallboard)
    )


def wallboard_of(server: ServerThread) -> Wallboard:
    assert server.server is not None and server.server.wallboard is not None
    return server.server.wallboard


def address_of(server: ServerThread) -> str:
    """host:port of the running service's wallboard."""
    assert server.server is not None and server.server.wallboard_address is not None
    return server.server.wallboard_address


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    address: str,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=WAIT_S)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=sent)
        reply = conn.getresponse()
        return Reply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(address: str, token: str) -> dict[str, str]:
    """Logs in like the page does; gives the Cookie header of the session."""
    reply = request(address, "POST", "/login", {"token": token})
    assert reply.status == 200, reply.body
    cookie = reply.headers["set-cookie"]
    return {"Cookie": cookie.split(";", 1)[0]}


class EventStream:
    """``GET /events`` read by a thread: ``next`` gives (event name, parsed data)."""

    def __init__(self, address: str, headers: dict[str, str], path: str = "/events") -> None:
        host, port = address.rsplit(":", 1)
        self._conn = http.client.HTTPConnection(host, int(port), timeout=WAIT_S)
        self._conn.request("GET", path, headers=headers)
        self._sock = self._conn.sock  # getresponse hands it to the response
        self.response = self._conn.getresponse()
        self.status = self.response.status
        self.events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self._thread.start()

    def _read(self) -> None:
        name, data = "message", ""
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    data = line[len("data: ") :]
                elif line == "" and data:
                    self.events.put((name, json.loads(data)))
                    name, data = "message", ""
        except (OSError, ValueError):
            pass
        self.events.put(None)

    def next(self, timeout: float = WAIT_S) -> tuple[str, Any]:
        item = self.events.get(timeout=timeout)
        if item is None:
            self.events.put(None)
            raise EOFError("the event stream ended")
        return item

    def snapshot_where(self, check: Any, limit: int = 200) -> Any:
        """Skips snapshots until one passes ``check`` (each wait bounded)."""
        for _ in range(limit):
            name, data = self.next()
            if name == "snapshot" and check(data):
                return data
        raise AssertionError(f"no matching snapshot in {limit}")

    def close(self) -> None:
        if self._sock is not None:  # wakes the reading thread: a close alone may not
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(WAIT_S)
        self.response.close()
        self._conn.close()


def queue_of(snapshot: Any, queue_id: str) -> Any:
    return next(q for q in snapshot["queues"] if q["id"] == queue_id)


def agent_of(snapshot: Any, agent_id: str) -> Any:
    return next(a for a in snapshot["agents"] if a["id"] == agent_id)
