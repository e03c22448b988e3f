"""The wallboard over HTTP against a running service: who may watch (401 / 403, own tenant
only, sessions, revocation), the page and its files, the Server-Sent Events stream following
calls enqueued and answered through the gRPC API, and a slow reader's bounded memory."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import pytest

from acd.server.auth import Identity, Role
from acd.server.wallboard import SnapshotFeed
from acd.server.wallboard_sessions import Viewer
from acd.v1 import admin_pb2, agent_pb2, routing_pb2
from server_helpers import md, running
from test_server_lifecycle import enqueue, login_ready, offer_of
from wallboard_helpers import (
    EventStream,
    address_of,
    agent_of,
    bearer,
    queue_of,
    request,
    sign_in,
    wallboard_config,
    wallboard_of,
)

T = 5.0
HIGH_WATER_BYTES = 64 * 1024  # asyncio's default for a transport's write buffer


def test_the_page_and_its_files_need_no_token(tmp_path: Path) -> None:
    with running(tmp_path, wallboard_config()) as (server, _):
        address = address_of(server)
        page = request(address, "GET", "/")
        assert page.status == 200
        assert page.headers["content-type"].startswith("text/html")
        assert b'src="wallboard.js"' in page.body
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert request(address, "GET", "/wallboard.js").body.startswith(b"// The ACD wallboard")
        assert request(address, "GET", "/wallboard.css").status == 200
        assert request(address, "GET", "/nothing").status == 404
        assert request(address, "POST", "/snapshot").status == 405


def test_who_may_watch(tmp_path: Path) -> None:
    with running(tmp_path, wallboard_config()) as (server, _):
        address = address_of(server)
        assert request(address, "GET", "/snapshot").status == 401
        assert request(address, "GET", "/snapshot", headers=bearer("nope")).status == 401
        bad_scheme = {"Authorization": "Basic dDp0"}
        assert request(address, "GET", "/snapshot", headers=bad_scheme).status == 401
        for token in ("t-adapter", "t-anna", "t-crm", "t-platform"):
            reply = request(address, "GET", "/snapshot", headers=bearer(token))
            assert reply.status == 403, token
            assert "error" in reply.json()
        assert EventStream(address, bearer("t-anna")).status == 403
        assert EventStream(address, {}).status == 401
        # Supervisor and admin see their own tenant, and only it.
        for token in ("t-supervisor", "t-admin"):
            snap = request(address, "GET", "/snapshot", headers=bearer(token)).json()
            assert snap["tenant"] == "store"
            assert {q["id"] for q in snap["queues"]} == {"sales", "support", "quick"}
        other = request(address, "GET", "/snapshot", headers=bearer("t-other-supervisor"))
        assert other.json()["tenant"] == "other"
        assert [q["id"] for q in other.json()["queues"]] == ["other-sales"]
        assert [a["id"] for a in other.json()["agents"]] == ["olga"]
        asked = request(
            address, "GET", "/snapshot?tenant=store", headers=bearer("t-other-supervisor")
        )
        assert asked.status == 403
        assert asked.json()["error"].startswith("tenant:")
        mine = request(address, "GET", "/snapshot?tenant=store", headers=bearer("t-supervisor"))
        assert mine.status == 200


def test_sign_in_gives_an_http_only_strict_cookie(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="acd")
    with running(tmp_path, wallboard_config()) as (server, _):
        address = address_of(server)
        reply = request(address, "POST", "/login", {"token": "t-supervisor"})
        assert reply.status == 200
        cookie = reply.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "t-supervisor" not in cookie
        session = {"Cookie": cookie.split(";", 1)[0]}
        assert request(address, "GET", "/snapshot", headers=session).status == 200
        # Wrong tokens, wrong roles, malformed bodies, another site's form.
        assert request(address, "POST", "/login", {"token": "nope"}).status == 401
        assert request(address, "POST", "/login", {"token": "t-anna"}).status == 403
        assert request(address, "POST", "/login", {"tok": "x"}).status == 400
        text = {"Content-Type": "text/plain"}
        assert request(address, "POST", "/login", {"token": "x"}, text).status == 415
        cross = {"Origin": "http://elsewhere.test"}
        assert request(address, "POST", "/login", {"token": "t-supervisor"}, cross).status == 403
        assert request(address, "GET", "/login").status == 405
        forged = {"Cookie": "acd_wallboard=forged"}
        assert request(address, "GET", "/snapshot", headers=forged).status == 401
        # Signing out ends the session for good.
        out = request(address, "POST", "/logout", headers=session)
        assert out.status == 204 and "Max-Age=0" in out.headers["set-cookie"]
        assert request(address, "GET", "/snapshot", headers=session).status == 401
    # Sign-ins are logged (who, from where), never a token or a session id.
    assert "wallboard: sup (supervisor, store) signed in from 127.0.0.1" in caplog.text
    assert "sign-in refused from 127.0.0.1" in caplog.text
    for secret in ("t-supervisor", "t-anna", session["Cookie"].split("=", 1)[1]):
        assert secret not in caplog.text


def test_the_stream_follows_calls_enqueued_and_answered(tmp_path: Path) -> None:
    with running(tmp_path, wallboard_config()) as (server, s):
        address = address_of(server)
        stream = EventStream(address, sign_in(address, "t-supervisor"))
        try:
            assert stream.status == 200
            assert stream.response.getheader("content-type", "").startswith("text/event-stream")
            name, first = stream.next()
            assert name == "snapshot"
            sales = queue_of(first, "sales")
            assert (sales["waiting"], sales["offered"], sales["answered"]) == (0, 0, 0)
            assert sales["sl"] is None and sales["asa_ms"] is None
            assert first["agent_counts"]["logged_out"] == 2
            # Snapshots keep coming every refresh, unchanged figures or not.
            times = [stream.snapshot_where(lambda _: True)["at_ms"] for _ in range(3)]
            assert times == sorted(times)
            enqueue(s, "w1")
            enqueue(s, "w2")
            snap = stream.snapshot_where(lambda d: queue_of(d, "sales")["waiting"] == 2)
            assert queue_of(snap, "sales")["offered"] == 2
            anna = login_ready(s, "anna")
            assert anna.until(offer_of).offer.offer.call_id == "w1"
            accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="w1")
            s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
            snap = stream.snapshot_where(lambda d: queue_of(d, "sales")["answered"] == 1)
            sales = queue_of(snap, "sales")
            assert (sales["waiting"], sales["offered"]) == (1, 2)
            assert sales["sl"] == 1.0 and sales["asa_ms"] is not None
            assert agent_of(snap, "anna")["state"] == "on_call"
            assert snap["agent_counts"]["on_call"] == 1
            assert sales["agents"]["on_call"] == 1
            s.routing.EndCall(
                routing_pb2.EndCallRequest(call_id="w1"), metadata=md("t-adapter"), timeout=T
            )
            snap = stream.snapshot_where(lambda d: queue_of(d, "sales")["aht_ms"] is not None)
            assert queue_of(snap, "sales")["answered"] == 1
            anna.close()
        finally:
            stream.close()


def test_a_revoked_token_ends_its_stream(tmp_path: Path) -> None:
    with running(tmp_path, wallboard_config()) as (server, s):
        address = address_of(server)
        issued = s.admin.IssueToken(
            admin_pb2.IssueTokenRequest(name="wall", role=admin_pb2.ROLE_SUPERVISOR),
            metadata=md("t-admin"),
            timeout=T,
        )
        session = sign_in(address, issued.token)
        stream = EventStream(address, session)
        try:
            assert stream.next()[0] == "snapshot"
            s.admin.RevokeTokens(
                admin_pb2.RevokeTokensRequest(name="wall"), metadata=md("t-admin"), timeout=T
            )
            for _ in range(100):
                name, data = stream.next()
                if name == "end":
                    break
            assert name == "end" and "revoked" in data["reason"]
            with pytest.raises(EOFError):
                stream.next()
        finally:
            stream.close()
        assert request(address, "GET", "/snapshot", headers=session).status == 401


def test_a_slow_reader_gets_only_the_newest_snapshot(tmp_path: Path) -> None:
    """A client that never reads: its feed holds one snapshot at most and the rest are dropped,
    so the service's memory for it stays bounded however long it stalls."""
    config = wallboard_config(refresh_ms=20)
    with running(tmp_path, config) as (server, _):
        address = address_of(server)
        wallboard = wallboard_of(server)
        host, port = address.rsplit(":", 1)
        sock = socket.socket()
        try:
            # Before connecting, so the window it offers stays small: the server's side fills up.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(T)
            sock.connect((host, int(port)))
            sock.sendall(
                b"GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t-supervisor\r\n\r\n"
            )
            feed = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                feed = next(iter(wallboard.feeds), None)
                if feed is not None and feed.dropped >= 50:
                    break
                time.sleep(0.05)
            assert feed is not None and feed.dropped >= 50, "the stalled reader never fell behind"
            snapshot_bytes = len(
                request(address, "GET", "/snapshot", headers=bearer("t-supervisor")).body
            )
            assert feed.pending <= snapshot_bytes + 1024

            async def buffered() -> int:
                assert feed is not None
                return feed.buffered

            # The socket's write buffer holds at most its high-water mark plus one snapshot.
            for _ in range(3):
                assert server.call(buffered) <= HIGH_WATER_BYTES + 2 * snapshot_bytes
                time.sleep(0.1)
        finally:
            sock.close()


def test_a_feed_keeps_only_the_newest_snapshot() -> None:
    viewer = Viewer(Identity("store", "sup", Role.SUPERVISOR), "sha256:00")
    feed = SnapshotFeed(viewer, None)
    sent = [b"x" * (i % 7 + 1) + str(i).encode() for i in range(1000)]
    for data in sent:
        feed.put(data)
    assert feed.dropped == 999
    assert feed.pending == len(sent[-1])
    assert asyncio.run(feed.take()) == sent[-1]
    assert feed.pending == 0
    feed.close(b"end")
    assert asyncio.run(feed.take()) == b"end"
    assert asyncio.run(feed.take()) is None


def test_stopping_the_service_ends_the_streams(tmp_path: Path) -> None:
    with running(tmp_path, wallboard_config()) as (server, _):
        stream = EventStream(address_of(server), bearer("t-supervisor"))
        assert stream.next()[0] == "snapshot"
    try:
        name, data = "snapshot", None
        for _ in range(100):
            name, data = stream.next()
            if name != "snapshot":
                break
        assert name == "end" and data == {"reason": "the service is stopping"}
        with pytest.raises(EOFError):
            stream.next()
    finally:
        stream.close()


def raw_status(address: str, data: bytes) -> int:
    """Sends ``data`` as it is; gives the status of the answer."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=T) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_malformed_and_oversized_requests_are_refused(tmp_path: Path) -> None:
    with running(tmp_path, wallboard_config()) as (server, _):
        address = address_of(server)
        assert raw_status(address, b"GARBAGE\r\n\r\n") == 400
        assert raw_status(address, b"GET http://x/ HTTP/1.1\r\n\r\n") == 400
        assert raw_status(address, b"GET / HTTP/1.1\r\nbad header\r\n\r\n") == 400
        huge = b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
        assert raw_status(address, huge) == 431
        many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(65)) + b"\r\n"
        assert raw_status(address, many) == 431
        big_body = b"POST /login HTTP/1.1\r\nContent-Length: 9000\r\n\r\n"
        assert raw_status(address, big_body) == 413
        chunked = b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        assert raw_status(address, chunked) == 501
        not_json = b"POST /login HTTP/1.1\r\nContent-Type: application/json\r\n"
        assert raw_status(address, not_json + b"Content-Length: 3\r\n\r\n{{{") == 400
        # The service still answers after all of that.
        assert request(address, "GET", "/").status == 200
