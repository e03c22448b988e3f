"""Who is calling (bearer tokens -> Identity) and what each role may call (default deny).

Every request carries ``authorization: Bearer <token>``. Tokens are random, high-entropy
strings (``new_token()``), so the config stores only their SHA-256 (``hash = "sha256:<hex>"``);
no key stretching is needed, and a leaked config leaks no usable token. Each token maps to one
``Identity``: a tenant (none for platform-admin), a name, a role and, for role agent, the agent.

Permission matrix, the one place it is written down (``POLICY`` below is this table; method
names are the full gRPC paths ``/acd.v1.<Service>/<Method>``). A method missing here is denied
to everyone. ``own`` = allowed, but only on the caller's own objects:

| service / methods                                                | roles                         |
| ---------------------------------------------------------------- | ----------------------------- |
| RoutingService: EnqueueCall, EnqueueCalls, CancelCall, EndCall,  | adapter                       |
|   TransferCall, RequestCallback, GetCallStatus, AdapterStream    |                               |
| AgentService: Login, Logout, SetState, StreamOffers,             | agent (own)                   |
|   AcceptOffer, RejectOffer, FinishWrapUp                         |                               |
| AgentService: PickCall                                           | agent (own), supervisor       |
| SupervisionService: StreamQueueStats, ListWaitingCalls,          | supervisor, admin             |
|   ListAgents                                                     |                               |
| SupervisionService: ForceAgentState, StreamAlerts,               | supervisor                    |
|   ListMissedCalls                                                |                               |
| ReportService: QueueReport, AgentReport, CampaignReport,         | supervisor, admin             |
|   Heatmap, ExportCdrs, QualityReport                             |                               |
| CrmService: GetScreenPop                                         | crm, supervisor, agent (own)  |
| AdminService: UpsertQueue, ListQueues, UpsertSkill, ListSkills,  | admin                         |
|   UpsertAgent, ListAgents, UpsertGroup, ListGroups, UpsertHours, |                               |
|   ListHours, IssueToken, RevokeTokens                            |                               |
| AdminService: ListAuditRecords                                   | admin                         |
| AdminService: ReloadConfig (platform-admin: every tenant),       | admin, platform-admin         |
|   SeatReport                                                     |                               |
| PlatformService: CreateTenant, DeleteTenant, ListTenants         | platform-admin                |
| OutboundService: UpsertWorkList, AddEntries, PauseWorkList,      | admin, supervisor             |
|   ResumeWorkList, ListWorkLists, GetWorkList                     |                               |
| OutboundService: RecordOutcome                                   | agent (own), supervisor       |
| QualityService: AttachRecording                                  | adapter                       |
| QualityService: ListRecordings, GetRecording, ListEvaluations,   | supervisor, agent (own)       |
|   GetEvaluation                                                  |                               |
| QualityService: ListScorecards                                   | supervisor, agent, admin      |
| QualityService: CreateEvaluation                                 | supervisor                    |
| grpc.health.v1.Health: Check, Watch                              | everyone, no token needed     |
| grpc.reflection ServerReflectionInfo (when reflection is on)     | every authenticated identity  |

What ``authorize`` cannot see, the services check per object:
- tenant: every request acts in the caller's own tenant (taken from the Identity, never from the
  request). Only platform-admin names a tenant in the request (PlatformService, SeatReport).
- own: an agent token acts only as its own agent (``Identity.agent_id``): it logs in, sets state,
  accepts, picks, records outbound outcomes and sees screen-pops for itself and its own calls
  only; anything else is PERMISSION_DENIED, exactly as a method it may not call. It sees the
  recordings of the calls it answered and its own evaluations only: another's is NOT_FOUND
  (acd.server.quality_service). ``OWN_ONLY`` lists these pairs.
- team lead: there is no role of its own. A team lead is a supervisor: it sees every
  recording and evaluation of its tenant and evaluates calls (a tenant per team, where teams
  must not see each other's).
- reflection exposes only the public proto schema; it still needs a token, so an anonymous
  scanner learns nothing (grpcurl sends its ``-H`` headers with reflection requests too).

``python -m acd.server.auth`` prints a fresh token and the ``hash = ...`` line for acd.toml.
Tokens also come from the API (``AdminService.IssueToken``, ``PlatformService.CreateTenant``):
the journal keeps their hashes, and the live ``TokenTable`` is acd.toml's tokens plus those.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.server.config import Config, TenantConfig

HASH_PREFIX = "sha256:"
# gRPC metadata is small anyway; refusing longer strings bounds the hashing work per request.
MAX_TOKEN_CHARS = 4096


class Role(enum.StrEnum):
    ADAPTER = "adapter"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    CRM = "crm"
    ADMIN = "admin"
    PLATFORM_ADMIN = "platform-admin"


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller a token stands for. ``tenant`` is None only for platform-admin."""

    tenant: str | None
    name: str
    role: Role
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One configured token: its hash (``sha256:<64 hex>``) and whom it stands for."""

    hash: str
    identity: Identity


def hash_token(token: str) -> str:
    """The config form of a token's hash: ``sha256:<hex>``."""
    return HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token (256 bits) and the ``hash = "..."`` line for acd.toml."""
    token = "acd_" + secrets.token_urlsafe(32)
    return token, f'hash = "{hash_token(token)}"'


def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``authorization`` header value ``Bearer <token>``, else None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TokenTable:
    """Authenticates bearer tokens against the configured hashes."""

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._entries: dict[str, TokenEntry] = {e.hash: e for e in entries}

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[TokenEntry]:
        return list(self._entries.values())

    def replace(self, entries: Iterable[TokenEntry]) -> None:
        """Swaps in a new set of tokens (a reload, a token issued or revoked, a tenant
        deleted); whoever holds this table sees them from the next request on."""
        self._entries = {e.hash: e for e in entries}

    def authenticate(self, token: str | None) -> Identity | None:
        """The Identity of ``token``, or None for a missing, unknown or malformed one."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        presented = hash_token(token)
        # Looking up by hash reveals nothing about other tokens (the attacker controls only
        # the preimage); the constant-time compare guards the match itself.
        entry = self._entries.get(presented)
        if entry is None or not hmac.compare_digest(entry.hash, presented):
            return None
        return entry.identity


_A, _G, _S, _C, _D, _P = (
    Role.ADAPTER,
    Role.AGENT,
    Role.SUPERVISOR,
    Role.CRM,
    Role.ADMIN,
    Role.PLATFORM_ADMIN,
)


def _methods(service: str, names: str, *roles: Role) -> dict[str, frozenset[Role]]:
    return {f"/acd.v1.{service}/{name}": frozenset(roles) for name in names.split()}


POLICY: Mapping[str, frozenset[Role]] = {
    **_methods(
        "RoutingService",
        "EnqueueCall EnqueueCalls CancelCall EndCall TransferCall RequestCallback AdapterStream"
        " GetCallStatus",
        _A,
    ),
    **_methods(
        "AgentService",
        "Login Logout SetState StreamOffers Session AcceptOffer RejectOffer FinishWrapUp",
        _G,
    ),
    **_methods("AgentService", "PickCall", _G, _S),
    **_methods("SupervisionService", "StreamQueueStats ListWaitingCalls ListAgents", _S, _D),
    **_methods("SupervisionService", "ForceAgentState StreamAlerts ListMissedCalls", _S),
    **_methods("CrmService", "GetScreenPop", _C, _S, _G),
    **_methods(
        "ReportService",
        "QueueReport AgentReport CampaignReport Heatmap ExportCdrs QualityReport",
        _S,
        _D,
    ),
    **_methods(
        "AdminService",
        "UpsertQueue ListQueues UpsertSkill ListSkills UpsertAgent ListAgents UpsertGroup"
        " ListGroups UpsertHours ListHours IssueToken RevokeTokens ListAuditRecords",
        _D,
    ),
    **_methods("AdminService", "ReloadConfig SeatReport", _D, _P),
    **_methods("PlatformService", "CreateTenant DeleteTenant ListTenants", _P),
    **_methods(
        "OutboundService",
        "UpsertWorkList AddEntries PauseWorkList ResumeWorkList ListWorkLists GetWorkList",
        _D,
        _S,
    ),
    **_methods("OutboundService", "RecordOutcome", _G, _S),
    **_methods("QualityService", "AttachRecording", _A),
    **_methods(
        "QualityService", "ListRecordings GetRecording ListEvaluations GetEvaluation", _S, _G
    ),
    **_methods("QualityService", "ListScorecards", _S, _G, _D),
    **_methods("QualityService", "CreateEvaluation", _S),
}

# (method, role) pairs allowed only on the caller's own objects; the service checks them.
OWN_ONLY: frozenset[tuple[str, Role]] = frozenset(
    (method, Role.AGENT)
    for method in POLICY
    if method.startswith("/acd.v1.AgentService/")
    or method in ("/acd.v1.CrmService/GetScreenPop", "/acd.v1.OutboundService/RecordOutcome")
    or method
    in (
        "/acd.v1.QualityService/ListRecordings",
        "/acd.v1.QualityService/GetRecording",
        "/acd.v1.QualityService/ListEvaluations",
        "/acd.v1.QualityService/GetEvaluation",
    )
)

PUBLIC_METHODS: frozenset[str] = frozenset(
    {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}
)
ANY_IDENTITY_METHODS: frozenset[str] = frozenset(
    {
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    }
)


def authorize(identity: Identity | None, method: str) -> bool:
    """Whether ``identity`` (None = no valid token) may call ``method``; unknown -> False."""
    if method in PUBLIC_METHODS:
        return True
    if identity is None:
        return False
    if method in ANY_IDENTITY_METHODS:
        return True
    return identity.role in POLICY.get(method, frozenset())


@dataclass(frozen=True, slots=True)
class TenantSeats:
    """Accounts of one tenant (None = the platform's own): distinct identities per role."""

    tenant: str | None
    accounts: Mapping[Role, int]
    tokens: int
    agents: int


def seat_report(
    config: Config,
    issued: Iterable[TokenEntry] = (),
    tenants: Mapping[str, TenantConfig] | None = None,
) -> tuple[TenantSeats, ...]:
    """Accounts per role per tenant (platform first, then tenants by id): acd.toml's tokens
    plus the ``issued`` ones, over ``tenants`` (default: acd.toml's) as they run now.

    An identity with several tokens (a rotation in progress) counts once in ``accounts``;
    ``agents`` counts the agents the tenant configures, with a token or not.
    """
    tenants = config.tenants if tenants is None else tenants
    identities: dict[str | None, set[Identity]] = {None: set()}
    identities.update({t: set() for t in tenants})
    tokens: Counter[str | None] = Counter()
    for entry in (*config.tokens, *issued):
        if entry.identity.tenant not in identities:
            continue  # a tenant that is not running
        identities[entry.identity.tenant].add(entry.identity)
        tokens[entry.identity.tenant] += 1
    report = []
    for tenant in sorted(identities, key=lambda t: (t is not None, t or "")):
        per_role = Counter(i.role for i in identities[tenant])
        report.append(
            TenantSeats(
                tenant=tenant,
                accounts={role: per_role[role] for role in Role},
                tokens=tokens[tenant],
                agents=len(tenants[tenant].agents) if tenant is not None else 0,
            )
        )
    return tuple(report)


if __name__ == "__main__":
    token, line = new_token()
    print(f"token (give to the client, store nowhere else): {token}")
    print(f"config line for its [[tokens]] entry:           {line}")
