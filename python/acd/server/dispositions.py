"""Dispositions: the code an agent records for a call when it finishes wrap-up.

The queue of the call (the one it ended in) decides what is valid (config_contacts):
``dispositions`` is its catalogue (empty: any code up to 64 characters) and
``disposition_required`` makes a code mandatory. The check runs before the ``wrapup_done``
command reaches the router, so a refused wrap-up changes nothing: the agent stays in wrap-up
and can try again. The code and notes are stored on the contact's history row in the same
transaction as the journaled ``wrapup_done`` (``ContactLog.expect_disposition``).

A queue with a timed wrap-up (``wrapup = 30``) ends it by itself when no FinishWrapUp comes,
without a code: a queue that must have one for every call uses ``wrapup = "until-done"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.server.config_contacts import MAX_DISPOSITION_CHARS
from acd.server.service_base import invalid, valid_id

if TYPE_CHECKING:
    from acd.server.tenant import Outcome, Tenant

__all__ = ["MAX_NOTES_CHARS", "check_disposition", "finish_wrap_up"]

MAX_NOTES_CHARS = 4000


def check_disposition(tenant: Tenant, call_id: str, code: str, notes: str) -> None:
    """Refuses (INVALID_ARGUMENT, naming the field) a code the call's queue does not accept."""
    if len(notes) > MAX_NOTES_CHARS:
        raise invalid("notes", f"at most {MAX_NOTES_CHARS} characters")
    if code and (len(code) > MAX_DISPOSITION_CHARS or not valid_id(code)):
        raise invalid(
            "disposition_code",
            f"at most {MAX_DISPOSITION_CHARS} characters without control characters",
        )
    contact = tenant.contacts.contact(call_id)
    queue = tenant.queues.get(contact.queue_id) if contact is not None else None
    if queue is None:
        return  # an unknown call: the router refuses the wrap-up itself
    rules = queue.contacts
    if not code:
        if rules.disposition_required:
            raise invalid("disposition_code", f"required by queue {queue.id!r}")
        return
    if rules.dispositions and code not in rules.dispositions:
        known = ", ".join(rules.dispositions)
        raise invalid(
            "disposition_code", f"unknown code {code!r} for queue {queue.id!r} (known: {known})"
        )


async def finish_wrap_up(
    tenant: Tenant, agent_id: str, call_id: str, code: str, notes: str
) -> Outcome:
    """Checks the code, then ends the wrap-up; the code and notes are stored with it."""
    check_disposition(tenant, call_id, code, notes)
    tenant.contacts.expect_disposition(agent_id, call_id, code, notes)
    try:
        return await tenant.run(("wrapup_done", agent_id, call_id, tenant.clock.now()))
    finally:
        tenant.contacts.forget_disposition(agent_id, call_id)  # taken, or refused early
