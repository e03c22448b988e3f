"""AdminService Upsert* against a live server: each object created and replaced, the version
bumped, every mistake named by its request field, the change live at once (a new queue takes
calls, a new agent logs in and gets offers, a changed queue re-matches its waiting calls) and
the same after a restart, with or without a snapshot in between."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import grpc
import pytest

from acd.server.recovery import recover
from acd.v1 import admin_pb2, agent_pb2, common_pb2, platform_pb2, routing_pb2, supervision_pb2
from server_helpers import (
    TEST_CONFIG,
    ServerThread,
    StreamReader,
    Stubs,
    code_of,
    error_of,
    make_config,
    md,
    running,
)
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
ADMIN = md("t-admin")
SUP = md("t-supervisor")


def upsert(s: Stubs, kind: str, token: str = "t-admin", **fields: Any) -> Any:
    """UpsertQueue / UpsertAgent / ... with the object's fields."""
    message = {
        "queue": admin_pb2.Queue,
        "agent": admin_pb2.Agent,
        "group": admin_pb2.Group,
        "hours": admin_pb2.Hours,
        "skill": admin_pb2.Skill,
    }[kind](**fields)
    request = getattr(admin_pb2, f"Upsert{kind.capitalize()}Request")(**{kind: message})
    return getattr(s.admin, f"Upsert{kind.capitalize()}")(request, metadata=md(token), timeout=T)


def version(s: Stubs, token: str = "t-admin") -> int:
    listed = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=md(token), timeout=T)
    return int(listed.config_version)


def waiting(s: Stubs, queue: str = "sales") -> list[str]:
    listed = s.supervision.ListWaitingCalls(
        supervision_pb2.ListWaitingCallsRequest(queue_ids=[queue]), metadata=SUP, timeout=T
    )
    return [c.call_id for c in listed.calls]


def issue_agent_token(s: Stubs, agent_id: str, admin: str = "t-admin") -> str:
    request = admin_pb2.IssueTokenRequest(
        name=agent_id, role=admin_pb2.ROLE_AGENT, agent_id=agent_id
    )
    token: str = s.admin.IssueToken(request, metadata=md(admin), timeout=T).token
    return token


def test_upsert_queue_creates_then_replaces_and_takes_calls(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        assert version(s) == 1
        made = upsert(s, "queue", queue_id="billing", skills={"support": 2}, display_name="B")
        assert (made.created, made.config_version) == (True, 2)
        assert (made.queue.queue_id, made.queue.display_name) == ("billing", "B")
        assert made.queue.offer_timeout_ms == 15_000  # defaults filled in, as stored
        listed = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=ADMIN)
        assert [q.queue_id for q in listed.queues] == ["sales", "support", "quick", "billing"]
        assert listed.config_version == 2
        assert not enqueue(s, "b1", "billing").duplicate
        assert waiting(s, "billing") == ["b1"]
        again = upsert(s, "queue", queue_id="billing", skills={"sales": 1}, wrapup_ms=1500)
        assert (again.created, again.config_version) == (False, 3)
        assert (again.queue.display_name, again.queue.wrapup_ms) == ("billing", 1500)
        assert dict(again.queue.skills) == {"sales": 1}  # replaced whole
        assert waiting(s, "billing") == ["b1"]  # the waiting call stays


def test_upsert_agent_then_log_in_and_get_an_offer(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        upsert(s, "skill", skill_id="vip", display_name="VIP", description="big spenders")
        upsert(s, "queue", queue_id="vip", skills={"vip": 1})
        enqueue(s, "v1", "vip")  # nobody can take it yet
        made = upsert(
            s,
            "agent",
            agent_id="zoe",
            skills={"vip": 5},
            endpoint="sip:zoe@pbx.test",
            capacity=[admin_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_VOICE, max_items=1)],
        )
        assert (made.created, made.config_version) == (True, 4)
        assert made.agent.tier == 1 and made.agent.group_id == ""
        token = issue_agent_token(s, "zoe")
        s.agent.Login(agent_pb2.LoginRequest(agent_id="zoe"), metadata=md(token), timeout=T)
        stream = StreamReader(
            s.agent.StreamOffers(agent_pb2.StreamOffersRequest(agent_id="zoe"), metadata=md(token))
        )
        assert stream.next().HasField("snapshot")
        ready = agent_pb2.SetStateRequest(agent_id="zoe", availability=agent_pb2.AVAILABILITY_READY)
        s.agent.SetState(ready, metadata=md(token), timeout=T)
        offer = stream.until(offer_of).offer.offer
        assert (offer.call_id, offer.agent_id, offer.endpoint) == ("v1", "zoe", "sip:zoe@pbx.test")
        stream.close()
        skills = s.admin.ListSkills(admin_pb2.ListSkillsRequest(), metadata=ADMIN)
        vip = next(k for k in skills.skills if k.skill_id == "vip")
        assert (vip.display_name, vip.description, skills.config_version) == (
            "VIP",
            "big spenders",
            4,
        )


def test_a_changed_skill_offers_a_waiting_call_at_once(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        ben = login_ready(s, "ben")  # sales only
        enqueue(s, "s1", "support")
        assert waiting(s, "support") == ["s1"]
        upsert(
            s,
            "agent",
            agent_id="ben",
            group_id="managers",
            skills={"sales": 6, "support": 4},
            endpoint="sip:ben@desk2.test",
        )
        offer = ben.until(offer_of).offer.offer
        assert (offer.call_id, offer.agent_id) == ("s1", "ben")
        assert offer.endpoint == "sip:ben@desk2.test"  # the new configured endpoint
        ben.close()


def test_a_queue_changed_while_it_holds_calls_keeps_them_in_order(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        for i in range(3):
            enqueue(s, f"w{i}")
        upsert(s, "queue", queue_id="sales", skills={"support": 5}, offer_timeout_ms=60_000)
        assert waiting(s) == ["w0", "w1", "w2"]
        ben = login_ready(s, "ben")  # has sales, no longer what the queue needs
        anna = login_ready(s, "anna")  # support 6
        assert anna.until(offer_of).offer.offer.call_id == "w0"
        assert waiting(s) == ["w0", "w1", "w2"]  # w0 offered, still listed in its place
        anna.close()
        ben.close()


def test_a_change_the_router_refuses_changes_nothing(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        anna = login_ready(s, "anna")
        enqueue(s, "c1")
        assert anna.until(offer_of).offer.offer.call_id == "c1"
        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="c1")
        s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
        chat_only = [admin_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_CHAT, max_items=2)]
        e = error_of(
            lambda: upsert(s, "agent", agent_id="anna", skills={"sales": 8}, capacity=chat_only)
        )
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION  # she holds a voice call
        assert (e.details() or "").startswith("agent: ")
        agents = s.admin.ListAgents(admin_pb2.AdminServiceListAgentsRequest(), metadata=ADMIN)
        assert agents.config_version == 1
        assert len(agents.agents[0].capacity) == 2 and agents.agents[0].skills["support"] == 6
        end = routing_pb2.EndCallRequest(call_id="c1")
        s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T)
        assert upsert(s, "queue", queue_id="quick", skills={"quick": 2}).config_version == 2
        anna.close()


def test_upsert_group_moves_its_agents_and_an_own_tier_stays(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        upsert(s, "agent", agent_id="ben", group_id="managers", tier=3, skills={"sales": 6})
        made = upsert(s, "group", group_id="managers", display_name="Managers", tier=2)
        assert (made.created, made.group.tier, made.config_version) == (False, 2, 3)
        agents = s.admin.ListAgents(admin_pb2.AdminServiceListAgentsRequest(), metadata=ADMIN)
        assert [(a.agent_id, a.tier) for a in agents.agents] == [("anna", 2), ("ben", 3)]
        groups = s.admin.ListGroups(admin_pb2.ListGroupsRequest(), metadata=ADMIN).groups
        assert [(g.group_id, g.display_name) for g in groups] == [("managers", "Managers")]
        assert upsert(s, "group", group_id="outsourced").created


def test_upsert_hours_round_trips_windows_and_exceptions(tmp_path: Path) -> None:
    w = admin_pb2.OpeningWindow
    with running(tmp_path) as (_, s):
        made = upsert(
            s,
            "hours",
            hours_id="store",
            display_name="Store",
            time_zone="Europe/Berlin",
            windows=[
                w(weekday=admin_pb2.WEEKDAY_MONDAY, open_minute=780, close_minute=1200),
                w(weekday=admin_pb2.WEEKDAY_MONDAY, open_minute=480, close_minute=720),
                w(weekday=admin_pb2.WEEKDAY_SATURDAY, open_minute=600, close_minute=1440),
            ],
            exceptions=[
                admin_pb2.HoursException(date="2025-12-25"),
                admin_pb2.HoursException(
                    date="2025-12-24", windows=[w(open_minute=480, close_minute=720)]
                ),
            ],
        )
        assert made.created and made.config_version == 2
        listed = s.admin.ListHours(admin_pb2.ListHoursRequest(), metadata=ADMIN).hours
        assert list(listed) == [made.hours]
        h = made.hours
        assert [(x.weekday, x.open_minute) for x in h.windows] == [
            (admin_pb2.WEEKDAY_MONDAY, 480),
            (admin_pb2.WEEKDAY_MONDAY, 780),
            (admin_pb2.WEEKDAY_SATURDAY, 600),
        ]
        assert [(e.date, len(e.windows)) for e in h.exceptions] == [
            ("2025-12-24", 1),
            ("2025-12-25", 0),
        ]
        queue = upsert(s, "queue", queue_id="sales", skills={"sales": 3}, hours_id="store")
        assert queue.queue.hours_id == "store"


W = admin_pb2.OpeningWindow
CAP = admin_pb2.ChannelCapacity
MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("queue", {"queue_id": ""}, "queue.queue_id: required"),
    ("queue", {"queue_id": "q", "skills": {"billing": 1}}, "queue.skills.billing: unknown skill"),
    ("queue", {"queue_id": "q", "skills": {"sales": 11}}, "queue.skills.sales: level 11 is"),
    ("queue", {"queue_id": "q", "strategy": 99}, "queue.strategy: unknown strategy"),
    ("queue", {"queue_id": "q", "sl_threshold_ms": -1}, "queue.sl_threshold_ms: -1 is negative"),
    ("queue", {"queue_id": "q", "offer_timeout_ms": 0}, "queue.offer_timeout_ms: must be at"),
    ("queue", {"queue_id": "q", "ring_all_max": 0}, "queue.ring_all_max: 0 is outside"),
    ("queue", {"queue_id": "q", "hours_id": "nope"}, "queue.hours_id: unknown hours 'nope'"),
    ("queue", {"queue_id": "q", "max_tier": 300}, "queue.max_tier: 300 is outside 0..255"),
    (
        "queue",
        {"queue_id": "q", "wrapup_until_done": True, "wrapup_ms": 5},
        "queue.wrapup_ms: not with wrapup_until_done",
    ),
    (
        "queue",
        {"queue_id": "q", "no_answer": admin_pb2.NoAnswerPolicy(max_misses=5000)},
        "queue.no_answer.max_misses: 5000 is outside",
    ),
    (
        "queue",
        {"queue_id": "q", "no_answer": admin_pb2.NoAnswerPolicy(reject_delay_ms=-5)},
        "queue.no_answer.reject_delay_ms: -5 is negative",
    ),
    (
        "queue",
        {
            "queue_id": "q",
            "escalation": [
                admin_pb2.EscalationStep(after_ms=5000),
                admin_pb2.EscalationStep(after_ms=1000),
            ],
        },
        "queue.escalation[1].after_ms: steps must come in increasing order",
    ),
    (
        "queue",
        {"queue_id": "q", "overflow": admin_pb2.Overflow(after_ms=1000)},
        "queue.overflow: name queue_id or destination",
    ),
    (
        "queue",
        {"queue_id": "q", "overflow": admin_pb2.Overflow(after_ms=1000, queue_id="nope")},
        "queue.overflow.queue_id: unknown queue 'nope'",
    ),
    (
        "queue",
        {"queue_id": "q", "overflow": admin_pb2.Overflow(after_ms=0, destination="sip:x")},
        "queue.overflow.after_ms: must be at least",
    ),
    ("agent", {"agent_id": "z", "group_id": "nope"}, "agent.group_id: unknown group 'nope'"),
    ("agent", {"agent_id": "z", "skills": {"sales": 0}}, "agent.skills.sales: level 0 is"),
    ("agent", {"agent_id": "z", "tier": 0}, "agent.tier: 0 is outside 1..255"),
    ("agent", {"agent_id": "z", "endpoint": "nope"}, "agent.endpoint: expected a URI"),
    ("agent", {"agent_id": "z", "capacity": [CAP(max_items=1)]}, "agent.capacity[0].channel:"),
    (
        "agent",
        {"agent_id": "z", "capacity": [CAP(channel=common_pb2.CHANNEL_CHAT, max_items=300)]},
        "agent.capacity[0].max_items: 300 is outside 0..255",
    ),
    (
        "agent",
        {
            "agent_id": "z",
            "capacity": [
                CAP(channel=common_pb2.CHANNEL_CHAT, max_items=2),
                CAP(channel=common_pb2.CHANNEL_CHAT, max_items=3),
            ],
        },
        "agent.capacity[1].channel: chat is listed twice",
    ),
    ("group", {"group_id": "g", "tier": 0}, "group.tier: 0 is outside 1..255"),
    ("group", {"group_id": "bad\tid"}, "group.group_id: must be"),
    ("skill", {"skill_id": ""}, "skill.skill_id: required"),
    ("hours", {"hours_id": "h", "time_zone": "Mars/Base"}, "hours.time_zone: unknown time zone"),
    (
        "hours",
        {
            "hours_id": "h",
            "time_zone": "UTC",
            "windows": [
                W(weekday=admin_pb2.WEEKDAY_FRIDAY, open_minute=600, close_minute=700),
                W(weekday=admin_pb2.WEEKDAY_FRIDAY, open_minute=800, close_minute=700),
            ],
        },
        "hours.windows[1]: '13:20-11:40' closes before it opens",
    ),
    (
        "hours",
        {"hours_id": "h", "time_zone": "UTC", "windows": [W(open_minute=1, close_minute=2)]},
        "hours.windows[0].weekday: required",
    ),
    (
        "hours",
        {
            "hours_id": "h",
            "time_zone": "UTC",
            "windows": [W(weekday=admin_pb2.WEEKDAY_SUNDAY, open_minute=0, close_minute=1500)],
        },
        "hours.windows[0]: '00:00-25:00' is not a range",
    ),
    (
        "hours",
        {"hours_id": "h", "time_zone": "UTC", "exceptions": [admin_pb2.HoursException(date="x")]},
        "hours.exceptions[0].date: 'x' is not a date",
    ),
    (
        "hours",
        {
            "hours_id": "h",
            "time_zone": "UTC",
            "exceptions": [
                admin_pb2.HoursException(
                    date="2025-01-01", windows=[W(open_minute=9, close_minute=5)]
                )
            ],
        },
        "hours.exceptions[0].windows[0]: '00:09-00:05' closes before it opens",
    ),
]


@pytest.mark.parametrize(("kind", "fields", "message"), MISTAKES)
def test_upsert_mistakes_name_the_request_field(
    tmp_path: Path, kind: str, fields: dict[str, Any], message: str
) -> None:
    with running(tmp_path) as (_, s):
        e = error_of(lambda: upsert(s, kind, **fields))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (e.details() or "").startswith(message), e.details()
        assert version(s) == 1  # nothing changed


def test_upserts_stay_in_their_tenant(tmp_path: Path) -> None:
    with running(tmp_path) as (_, s):
        created = s.platform.CreateTenant(
            platform_pb2.CreateTenantRequest(tenant_id="kiosk"), metadata=md("t-platform")
        )
        kiosk = created.admin_token
        upsert(s, "skill", kiosk, skill_id="sales")
        made = upsert(s, "queue", kiosk, queue_id="sales", skills={"sales": 1})
        assert (made.created, made.config_version) == (True, 3)  # its own versions
        assert version(s) == 1  # the store's did not move
        # The kiosk's queue is not the store's: the store's adapter enqueues to its own sales.
        assert not enqueue(s, "k1", "sales").duplicate
        pbx = s.admin.IssueToken(
            admin_pb2.IssueTokenRequest(name="pbx", role=admin_pb2.ROLE_ADAPTER),
            metadata=md(kiosk),
        ).token
        cancel = routing_pb2.CancelCallRequest(call_id="k1")
        e = error_of(lambda: s.routing.CancelCall(cancel, metadata=md(pbx), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        e = error_of(lambda: upsert(s, "agent", kiosk, agent_id="z", group_id="managers"))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT  # the store's group is unknown here
        for token in ("t-supervisor", "t-platform"):
            assert code_of(lambda t=token: upsert(s, "skill", t, skill_id="x")) == (  # type: ignore[misc]
                grpc.StatusCode.PERMISSION_DENIED
            )


def _router_snapshot(server: ServerThread) -> bytes:
    async def take() -> bytes:
        assert server.server is not None
        tenant = server.server.tenants["store"]
        await tenant.committed_view()
        return tenant.router.snapshot()

    data: bytes = server.call(take)
    return data


def _views(s: Stubs) -> tuple[Any, ...]:
    queues = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=ADMIN)
    agents = s.admin.ListAgents(admin_pb2.AdminServiceListAgentsRequest(), metadata=ADMIN)
    skills = s.admin.ListSkills(admin_pb2.ListSkillsRequest(), metadata=ADMIN)
    live = s.supervision.ListAgents(supervision_pb2.ListAgentsRequest(), metadata=SUP)
    return (
        queues,
        agents,
        skills,
        [(a.agent_id, a.state, a.reason) for a in live.agents],
        waiting(s),
        waiting(s, "billing"),
    )


def _several_upserts(s: Stubs) -> None:
    enqueue(s, "c1")
    upsert(s, "skill", skill_id="billing")
    upsert(s, "queue", queue_id="billing", skills={"billing": 2})
    enqueue(s, "c2", "billing")
    upsert(s, "agent", agent_id="carl", skills={"billing": 3}, endpoint="sip:carl@pbx.test")
    s.agent.Login(agent_pb2.LoginRequest(agent_id="ben"), metadata=md("t-ben"), timeout=T)
    upsert(s, "queue", queue_id="sales", skills={"sales": 2}, offer_timeout_ms=60_000)
    enqueue(s, "c3")


@pytest.mark.parametrize("snapshots", ["none", "between"])
def test_a_restart_replays_the_upserts(tmp_path: Path, snapshots: str) -> None:
    every = 2 if snapshots == "between" else 100_000
    config = make_config(
        TEST_CONFIG.replace("snapshot_every_entries = 50", f"snapshot_every_entries = {every}")
    )
    with running(tmp_path, config) as (server, s):
        _several_upserts(s)
        before = _views(s)
        assert before[0].config_version == 5
        state = _router_snapshot(server)
    journal = tmp_path / "data" / "journal.sqlite3"
    with closing(sqlite3.connect(journal)) as conn:
        seqs = [s for (s,) in conn.execute("SELECT seq FROM snapshots WHERE tenant = 'store'")]
        if snapshots == "none":  # the final snapshot too: replay from seq 0
            with conn:
                conn.execute("DELETE FROM snapshots")
        else:
            assert len(seqs) > 1
    with running(tmp_path, config) as (server, s):
        assert _views(s) == before
        assert _router_snapshot(server) == state
        assert server.server is not None
        full = recover(server.server.journal, "store", use_snapshot=False)
        assert full.router.snapshot() == state
        made = upsert(s, "queue", queue_id="billing", skills={"billing": 1})
        assert (made.created, made.config_version) == (False, 6)
