"""The events the reference router produces (the same fields as ``acd._core.Event``)."""

from typing import NamedTuple

OFFER = "offer"
REVOKE = "revoke"
CONNECTED = "connected"
MISSED = "missed"
ENDED = "ended"
TERMINAL = "terminal"
ERROR = "error"


class Event(NamedTuple):
    """One decision or notification (see ROUTING.md, Events).

    A named tuple: immutable and cheap to build, which keeps the benchmark baseline fair.
    """

    kind: str
    call_id: str
    agent_id: str
    queue_id: str
    at_ms: int
    expires_at_ms: int
    rule: str
    detail: str

    def as_tuple(self) -> tuple[str, str, str, str, int, int, str, str]:
        """The eight fields in order, as a plain tuple (what differential tests compare)."""
        return (
            self.kind,
            self.call_id,
            self.agent_id,
            self.queue_id,
            self.at_ms,
            self.expires_at_ms,
            self.rule,
            self.detail,
        )
