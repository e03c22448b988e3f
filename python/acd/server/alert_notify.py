"""Alerts beyond StreamAlerts: a webhook (HTTP POST of JSON) and e-mail (SMTP), per tenant
(``[tenants.<id>.alert_notify]``, config_alerts.AlertNotify).

The notifier is one more subscriber of the tenant's alerts (``AlertWatch.subscribe``), so it
sees each raise and each clear once, in order, with the stream's hysteresis and minimum
interval already applied (no storms reach a pager either). Deliveries run one at a time in a
worker thread (urllib, smtplib: blocking I/O never runs on the event loop). A webhook that
fails (a network error or a non-2xx answer) is retried with a doubling pause, ``ATTEMPTS`` in
all; then the alert is logged as undelivered and counted, and the next one goes out. A slow
receiver holds back only this tenant's notifications: past ``alerts.MAX_FEED`` waiting, the
oldest are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import TYPE_CHECKING

from acd.server.alerts import SEVERITY, AlertFeed
from acd.server.config_alerts import AlertNotify
from acd.v1 import supervision_pb2

if TYPE_CHECKING:
    from acd.server.alerts import AlertWatch

log = logging.getLogger("acd.server.alerts")
ATTEMPTS = 4
FIRST_PAUSE_S = 0.5
TIMEOUT_S = 5.0


def payload(tenant: str, alert: supervision_pb2.Alert) -> dict[str, object]:
    """The webhook's JSON body and the e-mail's facts."""
    return {
        "tenant": tenant,
        "alert_id": alert.alert_id,
        "state": "cleared" if alert.cleared_at_ms else "raised",
        "kind": supervision_pb2.AlertKind.Name(alert.kind).removeprefix("ALERT_KIND_").lower(),
        "severity": supervision_pb2.AlertSeverity.Name(alert.severity)
        .removeprefix("ALERT_SEVERITY_")
        .lower(),
        "queue_id": alert.queue_id,
        "agent_id": alert.agent_id,
        "message": alert.message,
        "raised_at_ms": alert.raised_at_ms,
        "cleared_at_ms": alert.cleared_at_ms,
    }


def post(url: str, body: dict[str, object]) -> None:
    """One POST; raises on a network error or an answer other than 2xx."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # http(s) only: config
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not 2xx", response.headers, None)


def mail(n: AlertNotify, body: dict[str, object]) -> None:
    message = EmailMessage()
    message["From"] = n.email_from
    message["To"] = ", ".join(n.email_to)
    message["Subject"] = f"[acd {body['tenant']}] {body['state']}: {body['message']}"
    message.set_content(json.dumps(body, indent=2))
    with smtplib.SMTP(n.smtp_host, n.smtp_port, timeout=TIMEOUT_S) as smtp:
        smtp.send_message(message)


class Notifier:
    """Sends one tenant's alerts to its webhook and e-mail addresses."""

    def __init__(self, tenant_id: str, notify: AlertNotify, watch: AlertWatch) -> None:
        self.tenant_id = tenant_id
        self.notify = notify
        self.sent = 0
        self.failed = 0
        floor = SEVERITY[notify.min_severity]
        self._feed: AlertFeed = watch.subscribe(lambda a: a.severity >= floor)
        self._watch = watch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._watch.unsubscribe(self._feed)
        self._feed.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def dropped(self) -> int:
        return self._feed.dropped

    async def _run(self) -> None:
        while alerts := await self._feed.take():
            for alert in alerts:
                await self.deliver(alert)

    async def deliver(self, alert: supervision_pb2.Alert) -> None:
        body = payload(self.tenant_id, alert)
        if self.notify.webhook is not None:
            await self._with_retries("webhook", lambda: post(self.notify.webhook or "", body))
        if self.notify.email_to:
            await self._with_retries("e-mail", lambda: mail(self.notify, body))

    async def _with_retries(self, what: str, send: Callable[[], None]) -> None:
        pause = FIRST_PAUSE_S
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await asyncio.to_thread(send)
                self.sent += 1
                return
            except (OSError, smtplib.SMTPException, urllib.error.URLError) as e:
                if attempt == ATTEMPTS:
                    self.failed += 1
                    log.warning("tenant %s: alert %s not sent: %s", self.tenant_id, what, e)
                    return
                await asyncio.sleep(pause)
                pause *= 2
