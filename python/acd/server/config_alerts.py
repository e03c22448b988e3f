"""A queue's alert thresholds: the ``alerts`` table of a queue in acd.toml.

    alerts = { sl_below = 0.8, waiting_above = 5, longest_wait_above_s = 60,
               abandon_rate_above = 0.1, asa_above_s = 30, ready_below = 1,
               occupancy_above = 0.95, min_calls = 5, hysteresis = 0.1, min_interval_s = 60,
               severity = "warning" }

Every threshold is optional (absent: not watched). The service level (``sl_offered``), abandon
rate and ASA are those of the current 15-minute interval, judged only once ``min_calls`` calls
were offered in it, so the first call of an interval cannot raise an alert. ``hysteresis``: a
raised alert clears only when the figure is back past the threshold by that share (or by one,
for counts); ``min_interval_s``: an alert that cleared is not raised again before that long.
The engine is ``acd.server.alerts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.server.config_fields import ConfigError, Table

ALERT_QUEUE_KEYS = ("alerts",)
_KEYS = (
    *("sl_below", "waiting_above", "longest_wait_above_s", "abandon_rate_above", "asa_above_s"),
    *("ready_below", "occupancy_above", "min_calls", "hysteresis", "min_interval_s", "severity"),
)
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class QueueAlerts:
    sl_below: float | None = None
    waiting_above: int | None = None
    longest_wait_above_ms: int | None = None
    abandon_rate_above: float | None = None
    asa_above_ms: int | None = None
    ready_below: int | None = None
    occupancy_above: float | None = None
    min_calls: int = 5
    hysteresis: float = 0.1
    min_interval_ms: int = 60_000
    severity: str = "warning"

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                *(self.sl_below, self.waiting_above, self.longest_wait_above_ms),
                *(self.abandon_rate_above, self.asa_above_ms, self.ready_below),
                self.occupancy_above,
            )
        )


def _share(t: Table, name: str) -> float | None:
    return t.number(name, None, 0.0, 1.0) if t.has(name) else None


def _count(t: Table, name: str) -> int | None:
    return t.integer(name, None, 0, 1_000_000) if t.has(name) else None


def _millis(t: Table, name: str) -> int | None:
    return t.millis(name, None) if t.has(name) else None


def parse_queue_alerts(queue: Table) -> QueueAlerts:
    """The ``alerts`` table of the queue table ``queue`` (empty: nothing watched)."""
    t = queue.table("alerts", _KEYS)
    alerts = QueueAlerts(
        sl_below=_share(t, "sl_below"),
        waiting_above=_count(t, "waiting_above"),
        longest_wait_above_ms=_millis(t, "longest_wait_above_s"),
        abandon_rate_above=_share(t, "abandon_rate_above"),
        asa_above_ms=_millis(t, "asa_above_s"),
        ready_below=_count(t, "ready_below"),
        occupancy_above=_share(t, "occupancy_above"),
        min_calls=t.integer("min_calls", 5, 1, 1_000_000),
        hysteresis=t.number("hysteresis", 0.1, 0.0, 0.9),
        min_interval_ms=t.millis("min_interval_s", 60_000),
        severity=t.choice("severity", "warning", SEVERITIES),
    )
    if t.raw and not alerts.any:
        raise ConfigError(t.key("sl_below"), "an alerts table needs at least one threshold")
    return alerts


def queue_alerts_raw(a: QueueAlerts) -> dict[str, object]:
    """The file's keys for ``a`` (the inverse of ``parse_queue_alerts``)."""
    if not a.any:
        return {}

    def seconds(ms: int) -> float | int:
        return ms // 1000 if ms % 1000 == 0 else ms / 1000

    out: dict[str, object] = {}
    for name in ("sl_below", "waiting_above", "abandon_rate_above", "ready_below"):
        value = getattr(a, name)
        if value is not None:
            out[name] = value
    if a.occupancy_above is not None:
        out["occupancy_above"] = a.occupancy_above
    if a.longest_wait_above_ms is not None:
        out["longest_wait_above_s"] = seconds(a.longest_wait_above_ms)
    if a.asa_above_ms is not None:
        out["asa_above_s"] = seconds(a.asa_above_ms)
    out["min_calls"] = a.min_calls
    out["hysteresis"] = a.hysteresis
    out["min_interval_s"] = seconds(a.min_interval_ms)
    out["severity"] = a.severity
    return {"alerts": out}


ALERT_TENANT_KEYS = ("alert_notify",)
_NOTIFY_KEYS = ("webhook", "email_to", "email_from", "smtp_host", "smtp_port", "min_severity")


@dataclass(frozen=True, slots=True)
class AlertNotify:
    """Where a tenant's alerts go besides StreamAlerts (``[tenants.<id>.alert_notify]``):
    ``webhook`` (an http(s) URL: each raise and clear is POSTed as JSON, retried) and
    ``email_to`` (through the SMTP relay ``smtp_host``:``smtp_port``, from ``email_from``), for
    alerts of at least ``min_severity``."""

    webhook: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str = "acd@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    min_severity: str = "warning"

    @property
    def any(self) -> bool:
        return self.webhook is not None or bool(self.email_to)


def parse_alert_notify(tenant: Table) -> AlertNotify:
    t = tenant.table("alert_notify", _NOTIFY_KEYS)
    webhook = t.optional_string("webhook")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise ConfigError(t.key("webhook"), "expected an http:// or https:// URL")
    path = t.key("email_to")
    email_to = tuple(t.array("email_to"))
    for i, address in enumerate(email_to):
        if not isinstance(address, str) or "@" not in address or any(c.isspace() for c in address):
            raise ConfigError(f"{path}[{i}]", "expected an e-mail address")
    return AlertNotify(
        webhook=webhook,
        email_to=tuple(str(a) for a in email_to),
        email_from=t.string("email_from", "acd@localhost"),
        smtp_host=t.string("smtp_host", "127.0.0.1"),
        smtp_port=t.integer("smtp_port", 25, 1, 65535),
        min_severity=t.choice("min_severity", "warning", SEVERITIES),
    )


def alert_notify_raw(n: AlertNotify) -> dict[str, object]:
    """The file's keys for ``n`` (the inverse of ``parse_alert_notify``)."""
    if not n.any:
        return {}
    out: dict[str, object] = {
        "email_from": n.email_from,
        "smtp_host": n.smtp_host,
        "smtp_port": n.smtp_port,
        "min_severity": n.min_severity,
    }
    if n.webhook is not None:
        out["webhook"] = n.webhook
    if n.email_to:
        out["email_to"] = list(n.email_to)
    return {"alert_notify": out}
