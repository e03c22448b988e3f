"""Recording references: the PBX adapter attaches where a call's recording is (the media stays
in the PBX, DESIGN.md); supervisors and the call's agent read it, and every read is audited.

A reference is a URL with a scheme and a host (``https://rec.example/c1.wav``,
``s3://bucket/c1.wav``) or an absolute path (``/var/spool/rec/c1.wav``). It is refused when
it has spaces or control characters, a ``..`` path segment, or more than 2048 characters, so
whoever follows it later is not walked out of the recordings' place.

Attaching changes the call's contact row (``recording``, ``recording_at``): the row goes into
the transaction of the journal entry of a ``("svc:recording", call_id, reference, now)``
command (acd.server.service_state), so it is committed when the adapter is told, exactly
once. It targets the call's latest contact, live or finished; the open contact in memory
carries it too, so the row written when the call finishes keeps it.

Access: an agent sees only the recordings of calls it answered (last); another's is
NOT_FOUND. Each recording handed out (GetRecording, each one of a ListRecordings page, each
CDR of an export that has one) is an audit row: who, when, the method and ``call_id=...``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import grpc

from acd.server.audit import AuditLog
from acd.server.auth import Identity, Role
from acd.server.commands import Refusal
from acd.server.history import Contact, recording
from acd.server.service_base import invalid, not_found, require_id
from acd.server.tenant import Tenant
from acd.v1 import quality_pb2

MAX_REFERENCE_CHARS = 2048
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


def check_reference(reference: str, field: str = "reference") -> str:
    """The reference, or INVALID_ARGUMENT naming ``field``."""
    if not reference:
        raise invalid(field, "required")
    if len(reference) > MAX_REFERENCE_CHARS:
        raise invalid(field, f"at most {MAX_REFERENCE_CHARS} characters")
    if _FORBIDDEN.search(reference):
        raise invalid(field, "no spaces, backslashes or control characters")
    if reference.startswith("/"):
        path = reference
    else:
        scheme, _, _ = reference.partition("://")
        parts = urlsplit(reference)
        if "://" not in reference or not _SCHEME.fullmatch(scheme) or not parts.netloc:
            raise invalid(
                field,
                "expected a URL with a scheme and a host ('https://rec.example/c1.wav') or an"
                " absolute path ('/recordings/c1.wav')",
            )
        path = parts.path
    if ".." in path.split("/"):
        raise invalid(field, "no '..' path segment")
    return reference


def message(c: Contact) -> quality_pb2.Recording:
    return quality_pb2.Recording(
        call_id=c.call_id,
        reference=c.recording,
        attached_at_ms=c.recording_at or 0,
        agent_id=c.agent_id,
        queue_id=c.queue_id,
        enqueued_at_ms=c.enqueued_at,
        ended_at_ms=c.ended_at or 0,
    )


def sees(who: Identity, contact: Contact) -> bool:
    """Whether ``who`` may see this contact's recording (or evaluations): an agent only its
    own calls; every other role the methods allow sees the whole tenant."""
    return who.role is not Role.AGENT or contact.agent_id == who.agent_id


async def attach(tenant: Tenant, call_id: str, reference: str) -> tuple[Contact, bool]:
    """Attaches ``reference`` to the latest contact of ``call_id``; gives it and whether
    anything changed."""
    require_id(call_id, "call_id")
    check_reference(reference)
    contact = tenant.contacts.contact(call_id)
    if contact is None:
        raise not_found("call_id", call_id, "call")
    if contact.recording == reference:
        # Maybe a repeat of a request whose commit is still on its way: answer once it landed.
        await tenant.committed_view()
        if tenant.failed is not None:
            raise Refusal(grpc.StatusCode.UNAVAILABLE, f"tenant {tenant.id!r}: {tenant.failed}")
        return contact, False
    now = tenant.clock.now()
    contact.recording, contact.recording_at = reference, now
    tenant.contacts.add_statement(recording(tenant.id, contact))
    await tenant.execute([], [("svc:recording", call_id, reference, now)])
    return contact, True


def record_access(
    audit: AuditLog | None, who: Identity, method: str, call_ids: Iterable[str]
) -> None:
    """One audit row per recording handed out to ``who``."""
    if audit is None:
        return
    for call_id in call_ids:
        audit.record(
            who.tenant or "", who.name, str(who.role), method, f"call_id={call_id}", "allowed", "OK"
        )
