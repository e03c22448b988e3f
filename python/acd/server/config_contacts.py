"""The contact-history options of a tenant and its queues: campaigns, the repeat-caller window,
knowledge-base links, disposition catalogues and automatic callbacks of missed calls. The
router knows none of them; the service applies them around its commands
(``acd.server.history_events``, ``acd.server.missed``, ``acd.server.screen_pop``).

```toml
[tenants.store]
repeat_caller_window_days = 30      # a caller seen within this many days is a repeat caller

[[tenants.store.campaigns]]
id = "spring-radio"                 # what reports and screen pops name
name = "Spring radio spot"
numbers = ["+49 800 100 200"]       # dialled numbers (DNIS); spaces, dashes, dots ignored

[[tenants.store.knowledge_base]]
queue = "sales"                     # optional: only for calls of this queue
topic = "returns"                   # optional: only for calls whose attribute "topic" is this
campaign = "spring-radio"           # optional: only for calls of this campaign
title = "Returns policy"
url = "https://wiki.example/returns"

[[tenants.store.queues]]
id = "sales"
dispositions = ["sold", "no-interest", "callback"]   # the catalogue (empty: any code)
disposition_required = true         # FinishWrapUp needs a code
missed_callback_within_s = 180      # every missed call becomes a callback (0: off)
callback_max_attempts = 3           # a callback whose customer was not reached: tries in all
callback_retry_gap_s = 300          # at least this long between two tries
callback_offer_after_s = 60         # suggest a callback to a caller waiting this long (0: off)
callback_offer_ewt_above_s = 180    # ... or whose estimated wait is above this (0: off)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from acd.server.config_fields import ConfigError, Table, check_id, unique

CONTACT_TENANT_KEYS = ("repeat_caller_window_days", "campaigns", "knowledge_base")
CONTACT_QUEUE_KEYS = (
    "dispositions",
    "disposition_required",
    "missed_callback_within_s",
    "callback_max_attempts",
    "callback_retry_gap_s",
    "callback_offer_after_s",
    "callback_offer_ewt_above_s",
)
MAX_CALLBACK_ATTEMPTS = 10
DEFAULT_RETRY_GAP_MS = 300_000
_CAMPAIGN_KEYS = ("id", "name", "numbers")
_LINK_KEYS = ("queue", "topic", "campaign", "title", "url")
DEFAULT_REPEAT_DAYS = 30
MAX_DISPOSITION_CHARS = 64
# Only what people write inside a phone number to make it readable.
_NUMBER_NOISE = re.compile(r"[\s\-./()]")


def normalize_number(number: str) -> str:
    """A dialled number as campaigns match it: without spaces, dashes, dots, slashes and
    parentheses, so "+49 800 100-200" and "+49800100200" are the same number."""
    return _NUMBER_NOISE.sub("", number)


@dataclass(frozen=True, slots=True)
class Campaign:
    """An advertised number set: calls to any of ``numbers`` belong to the campaign ``id``."""

    id: str
    name: str
    numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KnowledgeLink:
    """A knowledge-base article shown with calls of ``queue`` / ``topic`` / ``campaign``
    (each None: any)."""

    title: str
    url: str
    queue: str | None = None
    topic: str | None = None
    campaign: str | None = None


@dataclass(frozen=True, slots=True)
class TenantContacts:
    repeat_caller_window_days: int = DEFAULT_REPEAT_DAYS
    campaigns: tuple[Campaign, ...] = ()
    knowledge_base: tuple[KnowledgeLink, ...] = ()

    def campaign_of(self, dialled: str) -> str:
        """The campaign id of a dialled number; "" when no campaign advertises it."""
        if not dialled:
            return ""
        wanted = normalize_number(dialled)
        for campaign in self.campaigns:
            if any(normalize_number(n) == wanted for n in campaign.numbers):
                return campaign.id
        return ""


@dataclass(frozen=True, slots=True)
class QueueContacts:
    dispositions: tuple[str, ...] = ()  # empty: any code (up to 64 characters)
    disposition_required: bool = False
    missed_callback_within_ms: int = 0  # 0: missed calls are listed, not called back
    # Callbacks (acd.server.callbacks): tries in all for a customer not reached, the least
    # time between two, and when to suggest a callback to a waiting caller (0: never).
    callback_max_attempts: int = 1
    callback_retry_gap_ms: int = DEFAULT_RETRY_GAP_MS
    callback_offer_after_ms: int = 0
    callback_offer_ewt_above_ms: int = 0


def parse_queue_contacts(t: Table) -> QueueContacts:
    """The contact options of the queue table ``t`` (its other keys are config_tenant's)."""
    path = t.key("dispositions")
    codes = [check_id(f"{path}[{i}]", c) for i, c in enumerate(t.array("dispositions"))]
    unique(((f"{path}[{i}]", c) for i, c in enumerate(codes)), "disposition")
    for i, code in enumerate(codes):
        if len(code) > MAX_DISPOSITION_CHARS:
            raise ConfigError(f"{path}[{i}]", f"at most {MAX_DISPOSITION_CHARS} characters")
    return QueueContacts(
        dispositions=tuple(codes),
        disposition_required=t.boolean("disposition_required", False),
        missed_callback_within_ms=t.millis("missed_callback_within_s", 0),
        callback_max_attempts=t.integer("callback_max_attempts", 1, 1, MAX_CALLBACK_ATTEMPTS),
        callback_retry_gap_ms=t.millis("callback_retry_gap_s", DEFAULT_RETRY_GAP_MS, 1),
        callback_offer_after_ms=t.millis("callback_offer_after_s", 0),
        callback_offer_ewt_above_ms=t.millis("callback_offer_ewt_above_s", 0),
    )


def parse_tenant_contacts(t: Table, queue_ids: set[str]) -> TenantContacts:
    """The contact options of the tenant table ``t``; links may name only known queues and
    campaigns, and a number belongs to one campaign at most."""
    campaign_tables = t.tables("campaigns", _CAMPAIGN_KEYS)
    campaigns = []
    owner: dict[str, str] = {}
    for ct in campaign_tables:
        campaign_id = ct.ident("id")
        numbers = []
        for i, raw in enumerate(ct.array("numbers")):
            where = f"{ct.key('numbers')}[{i}]"
            number = check_id(where, raw)
            key = normalize_number(number)
            if key in owner:
                raise ConfigError(where, f"number {number!r} already belongs to {owner[key]!r}")
            owner[key] = campaign_id
            numbers.append(number)
        campaigns.append(Campaign(campaign_id, ct.string("name", campaign_id), tuple(numbers)))
    ids = unique(
        ((ct.key("id"), c.id) for ct, c in zip(campaign_tables, campaigns, strict=True)), "campaign"
    )
    links = []
    for lt in t.tables("knowledge_base", _LINK_KEYS):
        queue = lt.optional_string("queue")
        if queue is not None and queue not in queue_ids:
            raise ConfigError(lt.key("queue"), f"unknown queue {queue!r}")
        campaign = lt.optional_string("campaign")
        if campaign is not None and campaign not in ids:
            raise ConfigError(lt.key("campaign"), f"unknown campaign {campaign!r}")
        topic = lt.optional_string("topic")
        if topic is not None:
            check_id(lt.key("topic"), topic)
        url = lt.string("url")
        if "://" not in url or any(c.isspace() for c in url):
            raise ConfigError(lt.key("url"), "expected a URL such as 'https://wiki.example/a'")
        links.append(KnowledgeLink(lt.string("title"), url, queue, topic, campaign))
    return TenantContacts(
        repeat_caller_window_days=t.integer(
            "repeat_caller_window_days", DEFAULT_REPEAT_DAYS, 1, 3660
        ),
        campaigns=tuple(campaigns),
        knowledge_base=tuple(links),
    )


def queue_contacts_raw(c: QueueContacts) -> dict[str, object]:
    """The file's keys for ``c`` (the inverse of ``parse_queue_contacts``)."""
    out: dict[str, object] = {}
    if c.dispositions:
        out["dispositions"] = list(c.dispositions)
    if c.disposition_required:
        out["disposition_required"] = True
    if c.callback_max_attempts != 1:
        out["callback_max_attempts"] = c.callback_max_attempts
    millis = {
        "missed_callback_within_s": (c.missed_callback_within_ms, 0),
        "callback_retry_gap_s": (c.callback_retry_gap_ms, DEFAULT_RETRY_GAP_MS),
        "callback_offer_after_s": (c.callback_offer_after_ms, 0),
        "callback_offer_ewt_above_s": (c.callback_offer_ewt_above_ms, 0),
    }
    for key, (ms, default) in millis.items():
        if ms != default:
            out[key] = ms // 1000 if ms % 1000 == 0 else ms / 1000
    return out


def tenant_contacts_raw(c: TenantContacts) -> dict[str, object]:
    """The file's keys for ``c`` (the inverse of ``parse_tenant_contacts``)."""
    out: dict[str, object] = {}
    if c.repeat_caller_window_days != DEFAULT_REPEAT_DAYS:
        out["repeat_caller_window_days"] = c.repeat_caller_window_days
    if c.campaigns:
        out["campaigns"] = [
            {"id": k.id, "name": k.name, "numbers": list(k.numbers)} for k in c.campaigns
        ]
    if c.knowledge_base:
        links = []
        for link in c.knowledge_base:
            item: dict[str, object] = {"title": link.title, "url": link.url}
            for key in ("queue", "topic", "campaign"):
                if getattr(link, key) is not None:
                    item[key] = getattr(link, key)
            links.append(item)
        out["knowledge_base"] = links
    return out
