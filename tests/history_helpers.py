"""A store tenant with campaigns, dispositions, business hours and automatic callbacks, a clock
the test sets, and blocking helpers for the contact-history tests (screen pops, dispositions,
campaigns, missed calls). Every wait is bounded (server_helpers)."""

from __future__ import annotations

import datetime
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from acd.server.app import JOURNAL_FILE
from acd.server.config import Config
from acd.v1 import agent_pb2, common_pb2, crm_pb2, routing_pb2, supervision_pb2
from server_helpers import STORE_TOKENS, StreamReader, Stubs, make_config, md

T = 5.0
ADAPTER, SUP, CRM = md("t-adapter"), md("t-supervisor"), md("t-crm")
# Monday 3 March 2025, 10:00 in Berlin (09:00 UTC): the office is open.
MONDAY_10 = int(datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC).timestamp() * 1000)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

CONFIG = (
    """
mode = "dev"

[server]
listen = ["127.0.0.1:50051"]

[server.rate_limit]
requests_per_second = 0

[storage]
snapshot_every_entries = 50
snapshot_every_s = 0

[tenants.store]
skills = ["sales", "support"]
repeat_caller_window_days = 7

[[tenants.store.campaigns]]
id = "radio"
name = "Spring radio spot"
numbers = ["+49 800 100 200"]

[[tenants.store.campaigns]]
id = "flyer"
numbers = ["0800-555"]

[[tenants.store.knowledge_base]]
queue = "sales"
title = "Sales script"
url = "https://wiki.test/sales"

[[tenants.store.knowledge_base]]
topic = "returns"
title = "Returns policy"
url = "https://wiki.test/returns"

[[tenants.store.knowledge_base]]
campaign = "radio"
title = "Radio offer"
url = "https://wiki.test/radio"

[[tenants.store.hours]]
id = "office"
timezone = "Europe/Berlin"
mon = ["08:00-18:00"]
tue = ["08:00-18:00"]
wed = ["08:00-18:00"]
thu = ["08:00-18:00"]
fri = ["08:00-18:00"]

[[tenants.store.queues]]
id = "sales"
skills = { sales = 1 }
offer_timeout_s = 60
wrapup = "until-done"
hours = "office"
dispositions = ["sold", "no-interest"]
disposition_required = true
missed_callback_within_s = 180

[[tenants.store.queues]]
id = "support"
skills = { support = 1 }
offer_timeout_s = 60
wrapup = "until-done"
ttl_s = 60

[[tenants.store.agents]]
id = "anna"
skills = { sales = 5, support = 5 }

[[tenants.store.agents]]
id = "ben"
skills = { sales = 5 }

"""
    + STORE_TOKENS
)


def config() -> Config:
    return make_config(CONFIG)


class FakeWall:
    """The service's wall clock, set by the test (ms since the epoch)."""

    def __init__(self, ms: int = MONDAY_10) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def enqueue(s: Stubs, call_id: str, queue: str = "sales", **fields: Any) -> Any:
    call = common_pb2.Call(call_id=call_id, queue_id=queue, **fields)
    return s.routing.EnqueueCall(routing_pb2.EnqueueCallRequest(call=call), metadata=ADAPTER)


def login_ready(s: Stubs, agent: str) -> StreamReader:
    token = md(f"t-{agent}")
    s.agent.Login(agent_pb2.LoginRequest(agent_id=agent), metadata=token, timeout=T)
    stream = StreamReader(
        s.agent.StreamOffers(agent_pb2.StreamOffersRequest(agent_id=agent), metadata=token)
    )
    assert stream.next().HasField("snapshot")
    set_ready(s, agent)
    return stream


def set_ready(s: Stubs, agent: str) -> None:
    ready = agent_pb2.SetStateRequest(agent_id=agent, availability=agent_pb2.AVAILABILITY_READY)
    s.agent.SetState(ready, metadata=md(f"t-{agent}"), timeout=T)


def next_offer(stream: StreamReader) -> agent_pb2.AgentOffer:
    message = stream.until(lambda m: m.HasField("offer"))
    offer: agent_pb2.AgentOffer = message.offer
    return offer


def accept(s: Stubs, agent: str, call_id: str) -> None:
    request = agent_pb2.AcceptOfferRequest(agent_id=agent, call_id=call_id)
    s.agent.AcceptOffer(request, metadata=md(f"t-{agent}"), timeout=T)


def end(s: Stubs, call_id: str) -> None:
    s.routing.EndCall(routing_pb2.EndCallRequest(call_id=call_id), metadata=ADAPTER, timeout=T)


def cancel(s: Stubs, call_id: str) -> None:
    request = routing_pb2.CancelCallRequest(call_id=call_id)
    s.routing.CancelCall(request, metadata=ADAPTER, timeout=T)


def wrap_up(s: Stubs, agent: str, call_id: str, code: str = "", notes: str = "") -> Any:
    request = agent_pb2.FinishWrapUpRequest(
        agent_id=agent, call_id=call_id, disposition_code=code, notes=notes
    )
    return s.agent.FinishWrapUp(request, metadata=md(f"t-{agent}"), timeout=T)


def handle(
    s: Stubs, stream: StreamReader, agent: str, call_id: str, code: str, wall: FakeWall
) -> None:
    """The agent takes ``call_id`` (offered now), talks a minute, wraps up with ``code``."""
    assert next_offer(stream).offer.call_id == call_id
    finish(s, agent, call_id, code, wall)


def finish(s: Stubs, agent: str, call_id: str, code: str, wall: FakeWall) -> None:
    """The agent accepts ``call_id`` (its offer already seen), talks a minute, wraps up."""
    accept(s, agent, call_id)
    wall.ms += 60_000
    end(s, call_id)
    wrap_up(s, agent, call_id, code)


def pop_of_call(s: Stubs, call_id: str) -> common_pb2.ScreenPop:
    request = crm_pb2.GetScreenPopRequest(call_id=call_id)
    pop: common_pb2.ScreenPop = s.crm.GetScreenPop(request, metadata=CRM, timeout=T).screen_pop
    return pop


def pop_of_number(s: Stubs, number: str) -> common_pb2.ScreenPop:
    request = crm_pb2.GetScreenPopRequest(caller_number=number)
    pop: common_pb2.ScreenPop = s.crm.GetScreenPop(request, metadata=CRM, timeout=T).screen_pop
    return pop


def missed(s: Stubs, **fields: Any) -> list[supervision_pb2.MissedCall]:
    request = supervision_pb2.ListMissedCallsRequest(**fields)
    response = s.supervision.ListMissedCalls(request, metadata=SUP, timeout=T)
    return list(response.calls)


def contacts(data_dir: Path) -> list[dict[str, Any]]:
    """Every contact row of the service's journal file, oldest first."""
    with closing(sqlite3.connect(data_dir / JOURNAL_FILE)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM contacts ORDER BY enqueued_at, call_id").fetchall()
        return [dict(r) for r in rows]
