"""Alerts by webhook and e-mail: a local HTTP receiver (which fails once, so the retry shows)
and a local SMTP server (aiosmtpd), both on loopback, get each raise and clear of a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from acd.v1 import routing_pb2
from crash_driver import free_port
from server_helpers import TEST_CONFIG, make_config, md, running
from test_server_lifecycle import enqueue

T = 5.0
WAIT_S = 20.0


@contextmanager
def http_receiver(fail_first: int) -> Iterator[tuple[str, queue.Queue[dict[str, Any]]]]:
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    failures = [fail_first]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if failures[0] > 0:
                failures[0] -= 1
                self.send_response(500)
            else:
                received.put(json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/acd-alerts", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT_S)


class Mailbox:
    def __init__(self) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.put((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def test_raises_and_clears_reach_the_webhook_and_the_mailbox(tmp_path: Path) -> None:
    with http_receiver(fail_first=1) as (url, posts), smtp_server() as (port, mailbox):
        text = TEST_CONFIG.replace(
            "offer_timeout_s = 60\nwrapup = 0.2\n",
            "offer_timeout_s = 60\nwrapup = 0.2\n"
            'alerts = { waiting_above = 1, min_interval_s = 0, severity = "critical" }\n',
            1,
        )
        text += (
            f'\n[tenants.store.alert_notify]\nwebhook = "{url}"\nemail_to = ["duty@store.test"]\n'
            f'smtp_port = {port}\nemail_from = "acd@store.test"\nmin_severity = "critical"\n'
        )
        with running(tmp_path, make_config(text), stats_period_s=0.05) as (server, s):
            enqueue(s, "n1")
            enqueue(s, "n2")  # two waiting with nobody logged in: two alerts
            raised = [posts.get(timeout=WAIT_S) for _ in range(2)]
            for call in ("n1", "n2"):
                request = routing_pb2.CancelCallRequest(call_id=call)
                s.routing.CancelCall(request, metadata=md("t-adapter"), timeout=T)
            cleared = [posts.get(timeout=WAIT_S) for _ in range(2)]
            mails = [mailbox.messages.get(timeout=WAIT_S) for _ in range(4)]
            assert server.server is not None
            notifier = server.server.tenants["store"].alerts.notifier
            assert notifier is not None
            # The last mail arrives before its sender has counted it: wait for the count.
            deadline = time.monotonic() + WAIT_S
            while notifier.sent < 8 and time.monotonic() < deadline:
                time.sleep(0.01)
    by_kind = {p["kind"]: p for p in raised}
    assert sorted(by_kind) == ["no_agents", "waiting_calls"]
    waiting = by_kind["waiting_calls"]
    assert (waiting["tenant"], waiting["state"], waiting["severity"]) == (
        "store",
        "raised",
        "critical",
    )
    assert (waiting["queue_id"], waiting["message"]) == (
        "sales",
        "sales: 2 calls waiting (limit 1)",
    )
    assert waiting["alert_id"].startswith("sales:waiting_calls:")
    assert {p["alert_id"] for p in cleared} == {p["alert_id"] for p in raised}
    assert all(p["state"] == "cleared" and p["cleared_at_ms"] >= p["raised_at_ms"] for p in cleared)
    assert posts.empty()  # nothing else: the first POST failed and was sent again once
    assert all(rcpt == ["duty@store.test"] for rcpt, _ in mails)
    subjects = sorted(m["Subject"] for _, m in mails)
    assert "[acd store] raised: sales: 2 calls waiting (limit 1)" in subjects
    assert sum(s.startswith("[acd store] cleared: ") for s in subjects) == 2
    assert all(m["From"] == "acd@store.test" for _, m in mails)
    assert (notifier.sent, notifier.failed) == (8, 0)  # 4 POSTs (one retried) and 4 mails
