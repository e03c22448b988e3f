"""The live wallboard: a page and a Server-Sent Events stream on ``[server.wallboard] listen``.

Routes (plain HTTP/1.1, acd.server.wallboard_http; who may watch: acd.server.wallboard_sessions):

- ``GET /``, ``/wallboard.js``, ``/wallboard.css``: the page (acd/data/wallboard, no build step);
- ``POST /login`` with ``{"token": "..."}`` (JSON): a session cookie; ``POST /logout`` ends it;
- ``GET /snapshot``: the tenant's wallboard now, as JSON (acd.server.wallboard_snapshot);
- ``GET /events``: a ``snapshot`` event at once and then every ``refresh_s``; an ``end`` event
  when the viewer's token is revoked or the service stops.

``/snapshot`` and ``/events`` take the session cookie or ``Authorization: Bearer <token>``, and
an optional ``?tenant=`` that must be the viewer's own (403 otherwise): no request ever reads
another tenant.

The server runs on the service's event loop, where the routers live; one task computes each
watched tenant's snapshot once per refresh and hands the encoded bytes to every stream of that
tenant. A stream holds only the newest snapshot it has not sent (a slow reader skips to the
latest instead of queueing: ``SnapshotFeed``), so its memory stays bounded: one snapshot waiting,
the transport's write buffer up to its high-water mark and a small kernel send buffer; a reader
that takes nothing for ``WRITE_TIMEOUT_S`` is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import logging
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from acd.server.auth import TokenTable
from acd.server.wallboard_config import WallboardConfig
from acd.server.wallboard_http import (
    MAX_HEAD_BYTES,
    HttpError,
    Request,
    error_response,
    event,
    event_stream_head,
    json_response,
    read_request,
    response,
)
from acd.server.wallboard_sessions import (
    COOKIE,
    Refused,
    Sessions,
    Viewer,
    cookie_header,
    live_tokens,
    login,
    still_valid,
    viewer_of,
)
from acd.server.wallboard_snapshot import snapshot

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

log = logging.getLogger("acd.server.wallboard")

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/wallboard.js": ("wallboard.js", "text/javascript; charset=utf-8"),
    "/wallboard.css": ("wallboard.css", "text/css; charset=utf-8"),
}
HEAD_TIMEOUT_S = 10.0  # to send a request's head and body
WRITE_TIMEOUT_S = 30.0  # for a stream's reader to take the bytes written
MAX_CONNECTIONS = 256
SEND_BUFFER_BYTES = 64 * 1024  # a stream socket's kernel send buffer (Linux doubles it)


class SnapshotFeed:
    """One stream's next snapshot: only the newest is kept (``dropped`` counts the others)."""

    def __init__(
        self, viewer: Viewer, session: str | None, writer: asyncio.StreamWriter | None = None
    ) -> None:
        self.viewer = viewer
        self.session = session
        self._writer = writer
        self._next: bytes | None = None
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    @property
    def pending(self) -> int:
        """Bytes waiting in the feed (0 or one snapshot)."""
        return 0 if self._next is None else len(self._next)

    @property
    def buffered(self) -> int:
        """Bytes written to the socket that its reader has not taken yet."""
        return 0 if self._writer is None else self._writer.transport.get_write_buffer_size()

    def put(self, data: bytes) -> None:
        if self._next is not None:
            self.dropped += 1
        self._next = data
        self._ready.set()

    def close(self, last: bytes | None = None) -> None:
        """Ends the stream after ``last`` (an ``end`` event) if given."""
        self._next = last
        self.closed = True
        self._ready.set()

    async def take(self) -> bytes | None:
        """The next bytes to send (waits for them); None once closed and sent."""
        while self._next is None and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        data, self._next = self._next, None
        return data


def _load_page() -> dict[str, tuple[bytes, str]]:
    folder = importlib.resources.files("acd").joinpath("data", "wallboard")
    return {
        path: (folder.joinpath(name).read_bytes(), content_type)
        for path, (name, content_type) in STATIC.items()
    }


class Wallboard:
    """``tenants`` and ``tokens`` are the service's live ones (tenants and tokens created,
    revoked or reloaded later count at once)."""

    def __init__(
        self, settings: WallboardConfig, tenants: Mapping[str, Tenant], tokens: TokenTable
    ) -> None:
        self.settings = settings
        self._tenants = tenants
        self._tokens = tokens
        self.sessions = Sessions()
        self.feeds: set[SnapshotFeed] = set()
        self._page = _load_page()
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, listen: str) -> int:
        """Serves on ``listen`` (host:port); gives the port bound."""
        host, port = listen.rsplit(":", 1)
        self._server = await asyncio.start_server(
            self._accept, host, int(port), limit=MAX_HEAD_BYTES
        )
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for feed in list(self.feeds):
            feed.close(event("end", {"reason": "the service is stopping"}))
        if self._handlers:
            _, pending = await asyncio.wait(list(self._handlers), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # ---- the refresh ----------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_ms / 1000)
            try:
                await self.refresh()
            except Exception:  # one bad update must not freeze every wallboard for good
                log.exception("wallboard: update failed")

    async def refresh(self) -> None:
        """Ends what is no longer allowed, then sends every watched tenant its snapshot."""
        live = live_tokens(self._tokens)

        def valid(viewer: Viewer) -> bool:
            return still_valid(viewer, live, self._tenants)

        in_use = {f.session for f in self.feeds if f.session is not None}
        self.sessions.prune(valid, in_use)
        watched: dict[str, list[SnapshotFeed]] = {}
        for feed in list(self.feeds):
            if feed.closed:
                continue
            if not valid(feed.viewer):
                reason = "the token was revoked or the tenant removed; sign in again"
                feed.close(event("end", {"reason": reason}))
                continue
            watched.setdefault(feed.viewer.tenant, []).append(feed)
        for tenant_id, feeds in watched.items():
            data = await self._snapshot_event(tenant_id)
            if data is not None:
                for feed in feeds:
                    feed.put(data)

    async def _snapshot(self, tenant_id: str) -> dict[str, object] | None:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            return None
        await tenant.committed_view()
        return snapshot(tenant, self.settings)

    async def _snapshot_event(self, tenant_id: str) -> bytes | None:
        found = await self._snapshot(tenant_id)
        return None if found is None else event("snapshot", found)

    # ---- requests -------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if len(self._handlers) > MAX_CONNECTIONS:
                writer.write(error_response(HttpError(503, "too many connections")))
            else:
                await self._serve(reader, writer)
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled; nothing to tell it
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(read_request(reader), HEAD_TIMEOUT_S)
            if request.path == "/events" and request.method == "GET":
                viewer, session = self._viewer(request)
                await self._stream(writer, viewer, session)
                return
            writer.write(await self._route(request, writer))
        except HttpError as e:
            writer.write(error_response(e))
        except Refused as e:
            # A session that no longer counts is cleared from the browser too.
            headers = [cookie_header(None)] if e.status == 401 else []
            writer.write(error_response(HttpError(e.status, e.message), headers))

    def _viewer(self, request: Request) -> tuple[Viewer, str | None]:
        viewer, session = viewer_of(
            request.headers, request.cookies, self._tokens, self.sessions, self._tenants
        )
        wanted = request.query.get("tenant")
        if wanted is not None and wanted != viewer.tenant:
            raise Refused(403, "tenant: a viewer watches only its own tenant")
        return viewer, session

    async def _route(self, request: Request, writer: asyncio.StreamWriter) -> bytes:
        path, method = request.path, request.method
        if path in STATIC:
            if method != "GET":
                raise HttpError(405, f"{path} takes GET")
            body, content_type = self._page[path]
            return response(200, body, content_type)
        if path == "/snapshot":
            if method != "GET":
                raise HttpError(405, "/snapshot takes GET")
            viewer, _ = self._viewer(request)
            found = await self._snapshot(viewer.tenant)
            if found is None:
                raise Refused(403, "this tenant is not running")
            return json_response(200, found)
        if path in ("/login", "/logout"):
            if method != "POST":
                raise HttpError(405, f"{path} takes POST")
            _same_origin(request)
            if path == "/logout":
                sid = request.cookies.get(COOKIE)
                if sid:
                    self.sessions.drop(sid)
                return response(204, headers=[cookie_header(None)])
            return self._login(request, writer)
        if path == "/events":
            raise HttpError(405, "/events takes GET")
        raise HttpError(404, f"no {path}")

    def _login(self, request: Request, writer: asyncio.StreamWriter) -> bytes:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HttpError(415, 'send {"token": "..."} as application/json')
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "token: the body is not JSON") from None
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise HttpError(400, "token: required")
        peer = writer.get_extra_info("peername")
        try:
            viewer = login(self._tokens, token, self._tenants)
        except Refused:
            log.warning("wallboard: sign-in refused from %s", _host(peer))
            raise
        sid = self.sessions.create(viewer)
        who = viewer.identity
        log.info("wallboard: %s (%s, %s) signed in from %s", who.name, who.role, who.tenant,
                 _host(peer))  # fmt: skip
        return json_response(200, {"tenant": viewer.tenant}, [cookie_header(sid)])

    async def _stream(
        self, writer: asyncio.StreamWriter, viewer: Viewer, session: str | None
    ) -> None:
        feed = SnapshotFeed(viewer, session, writer)
        first = await self._snapshot_event(viewer.tenant)
        if first is None:
            raise Refused(403, "this tenant is not running")
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # The kernel would otherwise let a stalled viewer's send buffer grow to megabytes
            # of old snapshots; kept small, the stall reaches the feed soon and the viewer gets
            # the newest figures when it reads again.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        writer.write(event_stream_head())
        feed.put(first)
        self.feeds.add(feed)
        try:
            while (data := await feed.take()) is not None:
                if writer.is_closing():  # the viewer went away (uvloop refuses the write)
                    break
                writer.write(data)
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        finally:
            self.feeds.discard(feed)


def _same_origin(request: Request) -> None:
    """A browser's POST from another site is refused (SameSite=Strict already keeps the
    cookie from it; this also keeps another site from signing a browser in)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise HttpError(403, "origin: cross-site requests are refused")


def _host(peer: object) -> str:
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"
