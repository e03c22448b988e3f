"""The native router (``acd._core``) through Python: errors, events, views, snapshots, batches.

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import acd
from acd import _core
from acd._core import (
    AcdError,
    ConfigError,
    Event,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
    Router,
)

Row = tuple[str, str, str, str, int, int, str, str]


def make(
    queues: list[dict[str, Any]] | None = None,
    agents: list[dict[str, Any]] | None = None,
    **top: Any,
) -> Router:
    queues = [{"id": "q"}] if queues is None else queues
    agents = [{"id": "a1"}] if agents is None else agents
    return Router(json.dumps({"seed": 1, "queues": queues, "agents": agents, **top}))


def ready(r: Router, *agent_ids: str, at: int = 0) -> None:
    for agent_id in agent_ids:
        r.login(agent_id, at)
        r.set_ready(agent_id, at)


def rows(r: Router, *skip: str) -> list[Row]:
    """Drained events as tuples, leaving out the kinds in ``skip``."""
    return [e.as_tuple() for e in r.drain() if e.kind not in skip]


def decisions(r: Router) -> list[Row]:
    return rows(r, "agent-state")


# ---- the exception hierarchy ------------------------------------------------------------


def test_every_error_class_is_an_acd_error_and_re_exported() -> None:
    for cls in (ConfigError, NotFoundError, InvalidArgumentError, IllegalTransitionError):
        assert issubclass(cls, AcdError)
        assert cls is not AcdError
        assert getattr(acd, cls.__name__) is cls
    assert issubclass(AcdError, Exception)
    assert acd.Router is Router
    assert acd.Event is Event
    assert {ConfigError, NotFoundError, InvalidArgumentError, IllegalTransitionError} == {
        c for c in vars(_core).values() if isinstance(c, type) and issubclass(c, AcdError)
    } - {AcdError}


# ---- refused commands: class, exact message, and nothing changes ------------------------


def refuses(
    r: Router, now: int, command: Callable[[], object], cls: type[AcdError], message: str
) -> None:
    """``command`` raises ``cls(message)`` and leaves the router byte for byte as it was."""
    r.handle_timeout(now)  # timers due by now fire first, so only the refusal could change state
    r.drain()
    before = r.snapshot()
    with pytest.raises(cls) as info:
        command()
    assert type(info.value) is cls
    assert str(info.value) == message
    assert r.snapshot() == before
    assert r.drain() == []


def test_unknown_ids_are_not_found() -> None:
    r = make()
    ready(r, "a1")
    r.enqueue("c1", "q", 5)
    r.accept("a1", "c1", 6)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: r.login("zed", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.logout("zed", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.set_ready("zed", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.set_not_ready("zed", "break", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.accept("zed", "c1", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.wrapup_done("zed", "c1", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.pick("zed", "c1", 10), "agent_id 'zed': unknown agent"),
        (lambda: r.accept("a1", "c404", 10), "call_id 'c404': unknown call"),
        (lambda: r.reject("a1", "c404", 10), "call_id 'c404': unknown call"),
        (lambda: r.abandon("c404", 10), "call_id 'c404': unknown call"),
        (lambda: r.end_call("c404", 10), "call_id 'c404': unknown call"),
        (lambda: r.transfer("c404", 10, queue="q"), "call_id 'c404': unknown call"),
        (lambda: r.enqueue("c2", "nope", 10), "queue_id 'nope': unknown queue"),
        (lambda: r.transfer("c1", 10, queue="nope"), "queue 'nope': unknown queue"),
        (lambda: r.transfer("c1", 10, agent="zed"), "agent_id 'zed': unknown agent"),
        (
            lambda: r.enqueue("c2", "q", 10, preferred_agent="zed", preferred_wait_ms=5),
            "agent_id 'zed': unknown agent",
        ),
        (lambda: r.queue_stats("nope", 10), "queue_id 'nope': unknown queue"),
        (lambda: r.interval_stats("nope"), "queue_id 'nope': unknown queue"),
        (lambda: r.agent_info("zed"), "agent_id 'zed': unknown agent"),
    ]
    for command, message in cases:
        refuses(r, 10, command, NotFoundError, message)
    assert r.call_info("c404") is None


def test_a_finished_call_is_unknown() -> None:
    r = make()
    r.enqueue("c1", "q", 0)
    r.abandon("c1", 1)
    refuses(r, 2, lambda: r.abandon("c1", 2), NotFoundError, "call_id 'c1': unknown call")
    assert r.call_info("c1") is None


# The agent state machine of ROUTING.md, every cell: the command's verb in the error message
# ("agent 'a1' is <state>: cannot <verb>"), then per state in STATES order either ERROR or
# (state, reason, pending_logout, pending_not_ready) after the command.
STATES = ("logged-out", "not-ready", "ready", "reserved", "busy", "wrap-up")
ERROR = None
Cell = tuple[str, str, bool, bool] | None
AGENT_TABLE: dict[str, tuple[str, tuple[Cell, ...]]] = {
    "login": ("log in", (("not-ready", "login", False, False), ERROR, ERROR, ERROR, ERROR, ERROR)),
    "logout": ("log out", (
        ERROR,
        ("logged-out", "logout", False, False),
        ("logged-out", "logout", False, False),
        ("logged-out", "logout", False, False),  # the offer is revoked
        ("busy", "", True, False),
        ("wrap-up", "", True, False),
    )),
    "set_ready": ("set ready", (
        ERROR,
        ("ready", "", False, False),
        ("ready", "", False, False),  # a no-op
        ERROR,
        ERROR,
        ("ready", "", False, False),  # wrap-up ends
    )),
    "set_not_ready": ("set not ready", (
        ERROR,
        ("not-ready", "lunch", False, False),
        ("not-ready", "lunch", False, False),
        ERROR,
        ("busy", "lunch", False, True),
        ("wrap-up", "lunch", False, True),
    )),
}  # fmt: skip


def agent_in(state: str) -> Router:
    """Agent a1 in ``state`` at time 10 (its call, if any, is c1 of queue q)."""
    r = make([{"id": "q", "wrapup_ms": 60_000}], [{"id": "a1"}])
    steps = STATES.index(state)
    if steps >= 1:
        r.login("a1", 1)
    if steps >= 2:
        r.set_ready("a1", 2)
    if steps >= 3:
        r.enqueue("c1", "q", 3)
    if steps >= 4:
        r.accept("a1", "c1", 4)
    if steps >= 5:
        r.end_call("c1", 5)
    r.handle_timeout(10)
    r.drain()
    assert r.agent_info("a1")["state"] == state
    return r


def do(r: Router, command: str, now: int) -> None:
    if command == "set_not_ready":
        r.set_not_ready("a1", "lunch", now)
    else:
        getattr(r, command)("a1", now)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("command", list(AGENT_TABLE))
def test_agent_state_table(command: str, state: str) -> None:
    r = agent_in(state)
    verb, cells = AGENT_TABLE[command]
    cell = cells[STATES.index(state)]
    if cell is ERROR:
        message = f"agent 'a1' is {state}: cannot {verb}"
        refuses(r, 10, lambda: do(r, command, 10), IllegalTransitionError, message)
        return
    do(r, command, 10)
    info = r.agent_info("a1")
    got = (info["state"], info["reason"], info["pending_logout"], info["pending_not_ready"])
    assert got == cell


def test_logout_of_a_reserved_agent_revokes_the_offer_and_requeues_the_call() -> None:
    r = agent_in("reserved")
    r.logout("a1", 10)
    assert decisions(r) == [("revoke", "c1", "a1", "q", 10, 0, "", "logout")]
    assert r.call_info("c1") is not None
    assert r.waiting_count() == 1


def test_pending_states_apply_when_wrap_up_ends() -> None:
    r = agent_in("busy")
    r.set_not_ready("a1", "lunch", 10)
    r.end_call("c1", 20)  # wrap-up until 60_020
    assert r.poll_timeout() == 60_020
    r.handle_timeout(60_020)
    info = r.agent_info("a1")
    assert (info["state"], info["reason"], info["pending_not_ready"]) == (
        "not-ready",
        "lunch",
        False,
    )
    r2 = agent_in("busy")
    r2.logout("a1", 10)
    r2.end_call("c1", 20)
    r2.wrapup_done("a1", "c1", 30)
    info = r2.agent_info("a1")
    assert (info["state"], info["reason"], info["pending_logout"]) == (
        "logged-out",
        "logout",
        False,
    )


def call_in(state: str) -> Router:
    """Call c1 in ``state`` (waiting, offered, connected) at time 10; agent a1 serves q."""
    r = make([{"id": "q"}], [{"id": "a1"}])
    r.login("a1", 0)
    r.enqueue("c1", "q", 1)
    if state != "waiting":
        r.set_ready("a1", 2)
    if state == "connected":
        r.accept("a1", "c1", 3)
    r.handle_timeout(10)
    r.drain()
    info = r.call_info("c1")
    assert info is not None and info["state"] == state
    return r


CALL_ERRORS = [
    ("connected", "abandon", "call 'c1' is connected: end it with end_call"),
    ("waiting", "accept", "agent 'a1' has no open offer for call 'c1'"),
    ("connected", "accept", "agent 'a1' has no open offer for call 'c1'"),
    ("waiting", "reject", "agent 'a1' has no open offer for call 'c1'"),
    ("waiting", "end_call", "call 'c1' is not connected"),
    ("offered", "end_call", "call 'c1' is not connected"),
    ("waiting", "transfer", "call 'c1' is not connected"),
    ("offered", "transfer", "call 'c1' is not connected"),
    ("offered", "wrapup_done", "agent 'a1' is not in wrap-up for call 'c1'"),
    ("connected", "wrapup_done", "agent 'a1' is not in wrap-up for call 'c1'"),
    ("offered", "pick", "call 'c1' is not waiting"),
]


@pytest.mark.parametrize(("state", "command", "message"), CALL_ERRORS)
def test_call_state_table_errors(state: str, command: str, message: str) -> None:
    r = call_in(state)
    run: dict[str, Callable[[], object]] = {
        "abandon": lambda: r.abandon("c1", 10),
        "accept": lambda: r.accept("a1", "c1", 10),
        "reject": lambda: r.reject("a1", "c1", 10),
        "end_call": lambda: r.end_call("c1", 10),
        "transfer": lambda: r.transfer("c1", 10, queue="q"),
        "wrapup_done": lambda: r.wrapup_done("a1", "c1", 10),
        "pick": lambda: r.pick("a1", "c1", 10),
    }
    refuses(r, 10, run[command], IllegalTransitionError, message)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("waiting", [("terminal", "c1", "", "q", 10, 0, "", "abandoned")]),
        (
            "offered",
            [
                ("revoke", "c1", "a1", "q", 10, 0, "", "abandoned"),
                ("terminal", "c1", "", "q", 10, 0, "", "abandoned"),
            ],
        ),
    ],
)
def test_abandon_of_a_waiting_or_offered_call(state: str, expected: list[Row]) -> None:
    r = call_in(state)
    r.abandon("c1", 10)
    assert decisions(r) == expected
    assert r.waiting_count() == 0


def test_a_late_accept_sees_the_offer_expire_first() -> None:
    r = make([{"id": "q", "offer_timeout_ms": 100, "no_answer": {"max_misses": 1}}])
    ready(r, "a1")
    r.enqueue("c1", "q", 0)
    r.drain()
    with pytest.raises(IllegalTransitionError) as info:
        r.accept("a1", "c1", 250)  # never polled at 100: the offer expires first anyway
    assert str(info.value) == "agent 'a1' has no open offer for call 'c1'"
    assert decisions(r) == [("missed", "c1", "a1", "q", 100, 0, "timed-out", "")]
    info_a1 = r.agent_info("a1")
    assert (info_a1["state"], info_a1["reason"]) == ("not-ready", "missed")


# ---- invalid arguments ------------------------------------------------------------------


def test_time_going_backwards_is_refused() -> None:
    r = make()
    r.login("a1", 100)
    message = "now_ms: time went backwards (99 < 100)"
    refuses(r, 100, lambda: r.set_ready("a1", 99), InvalidArgumentError, message)
    refuses(r, 100, lambda: r.handle_timeout(99), InvalidArgumentError, message)
    refuses(r, 100, lambda: r.enqueue("c1", "q", 99), InvalidArgumentError, message)
    r.set_ready("a1", 100)  # the same time again is fine


@pytest.mark.parametrize("priority", [1_000_001, -1_000_001, 2**31, -(2**40)])
def test_priority_out_of_range(priority: int) -> None:
    r = make()
    message = f"priority: {priority} out of range -1000000..1000000"
    refuses(r, 0, lambda: r.enqueue("c1", "q", 0, priority), InvalidArgumentError, message)


def test_priority_bounds_are_accepted() -> None:
    r = make()
    assert r.enqueue("hi", "q", 0, 1_000_000)
    assert r.enqueue("lo", "q", 0, -1_000_000)
    assert [r.call_info(c)["priority"] for c in ("hi", "lo")] == [1_000_000, -1_000_000]  # type: ignore[index]


@pytest.mark.parametrize("level", [0, 11, -1, 300])
def test_skill_level_out_of_range_on_enqueue(level: int) -> None:
    r = make()
    message = f"skills: sales: level {level} out of range 1..10"
    command = lambda: r.enqueue("c1", "q", 0, skills={"sales": level})  # noqa: E731
    refuses(r, 0, command, InvalidArgumentError, message)


@pytest.mark.parametrize("level", [0, 11])
@pytest.mark.parametrize("where", ["queues", "agents"])
def test_skill_level_out_of_range_in_config(where: str, level: int) -> None:
    item = {"id": "x", "skills": {"sales": level}}
    with pytest.raises(ConfigError) as info:
        make(**{where: [item]})
    assert str(info.value) == f"{where}[0].skills.sales: level {level} out of range 1..10"


def test_negative_skill_level_in_config_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        make([{"id": "q", "skills": {"sales": -1}}])
    assert str(info.value).startswith("queues[0].skills.sales: ")
    assert "-1" in str(info.value)


def test_other_invalid_arguments() -> None:
    r = make()
    ready(r, "a1")
    r.enqueue("c1", "q", 1)
    r.accept("a1", "c1", 2)
    cases: list[tuple[Callable[[], object], str]] = [
        (
            lambda: r.enqueue("c2", "q", 5, channel="fax"),
            "channel: unknown channel 'fax' (voice, chat, email, messenger, callback)",
        ),
        (
            lambda: r.enqueue("", "q", 5),
            "call_id: must be 1..256 characters without control characters",
        ),
        (
            lambda: r.enqueue("c\n2", "q", 5),
            "call_id: must be 1..256 characters without control characters",
        ),
        (
            lambda: r.set_not_ready("a1", "x" * 65, 5),
            "reason: must be at most 64 characters without control characters",
        ),
        (
            lambda: r.transfer("c1", 5, queue="q", agent="a1"),
            "queue: name exactly one of queue, agent or destination",
        ),
        (
            lambda: r.transfer("c1", 5, queue="q", destination="+4930"),
            "queue: name exactly one of queue, agent or destination",
        ),
        (lambda: r.transfer("c1", 5), "queue: name exactly one of queue, agent or destination"),
        (
            lambda: r.transfer("c1", 5, agent="a1"),
            "agent: cannot transfer a call to the agent who has it",
        ),
    ]
    for command, message in cases:
        refuses(r, 5, command, InvalidArgumentError, message)


def test_negative_time_is_an_invalid_argument() -> None:
    r = make()
    with pytest.raises(InvalidArgumentError, match=r"^now_ms: "):
        r.login("a1", -1)


# ---- configuration errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"queues": [{"id": "q"}, {"id": "q"}]},
            "queues[1].id: duplicate queue 'q'",
        ),
        (
            {"agents": [{"id": "a"}, {"id": "b"}, {"id": "a"}]},
            "agents[2].id: duplicate agent 'a'",
        ),
        (
            {"queues": [{"id": "q", "overflow": {"after_ms": 5, "queue": "x"}}]},
            "queues[0].overflow.queue: unknown queue 'x'",
        ),
        (
            {"queues": [{"id": "q", "overflow": {"after_ms": 5, "queue": "q"}}]},
            "queues[0].overflow.queue: a queue cannot overflow to itself",
        ),
        (
            {
                "queues": [
                    {"id": "q", "overflow": {"after_ms": 5, "queue": "x", "destination": "d"}}
                ]
            },
            "queues[0].overflow: name exactly one of queue or destination",
        ),
        (
            {"queues": [{"id": "q", "escalation": [{"after_ms": 50}, {"after_ms": 10}]}]},
            "queues[0].escalation[1].after_ms: "
            "steps must come in increasing order of after_ms, above 0",
        ),
        (
            {"queues": [{"id": "q", "offer_timeout_ms": 0}]},
            "queues[0].offer_timeout_ms: must be above 0",
        ),
        ({"queues": [{"id": "q", "ttl_ms": 0}]}, "queues[0].ttl_ms: must be above 0"),
        ({"agents": [{"id": "a", "tier": 0}]}, "agents[0].tier: tiers start at 1"),
        (
            {"queues": [{"id": ""}]},
            "queues[0].id: must be 1..256 characters without control characters",
        ),
    ],
)
def test_config_errors_exact(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Router(json.dumps(config))
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('{"queues": [{"id": "q", "colour": 1}]}', "queues[0].colour: unknown field `colour`"),
        ('{"tenant": 1}', "tenant: unknown field `tenant`"),
        (
            '{"queues": [{"id": "q", "no_answer": {"max_missed": 1}}]}',
            "queues[0].no_answer.max_missed: unknown field `max_missed`",
        ),
        (
            '{"queues": [{"id": "q", "strategy": "fastest"}]}',
            "queues[0].strategy: unknown variant `fastest`",
        ),
        ('{"queues": [{"id": "q", "wrapup_ms": "5s"}]}', "queues[0].wrapup_ms: invalid type"),
        ('{"queues": [{"skills": {}}]}', "queues[0]: missing field `id`"),
    ],
)
def test_config_errors_from_the_json_decoder_name_the_field(text: str, start: str) -> None:
    with pytest.raises(ConfigError) as info:
        Router(text)
    assert str(info.value).startswith(start)


@pytest.mark.parametrize("text", ["{", "", "not json", '{"queues": [}'])
def test_bad_config_json(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Router(text)
    assert "line 1 column" in str(info.value)


def test_a_config_must_be_an_object() -> None:
    with pytest.raises(ConfigError):
        Router("[]")


def test_unknown_capacity_channel_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        make(agents=[{"id": "a", "capacity": {"fax": 1}}])
    assert str(info.value).startswith("agents[0].capacity.fax: ")


# ---- batches ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("frobnicate", 4), "commands[1]: unknown command 'frobnicate'"),
        (("enqueue", "c1", "q", 3), "commands[1]: 'enqueue' takes 4 arguments, got 3"),
        (("timeout",), "commands[1]: 'timeout' takes 1 arguments, got 0"),
        (["login", "a1", 0], "commands[1]: expected a tuple"),
        (("login", "a1", "0"), "commands[1][2]: "),
        ((5, "a1", 0), "commands[1][0]: "),
        (("login", "a1", -1), "commands[1][2]: "),
    ],
)
def test_a_malformed_batch_raises_value_error_and_applies_nothing(
    command: Any, message: str
) -> None:
    r = make()
    r.handle_timeout(0)
    before = r.snapshot()
    with pytest.raises(ValueError) as info:
        r.apply_batch([("login", "a1", 0), command, ("ready", "a1", 1)])
    assert str(info.value).startswith(message)
    if message.endswith(": "):
        assert len(str(info.value)) > len(message)  # the decoder's reason follows
    else:
        assert str(info.value) == message
    assert r.snapshot() == before
    assert r.agent_info("a1")["state"] == "logged-out"


def test_an_empty_batch_tuple_is_a_value_error() -> None:
    r = make()
    with pytest.raises(ValueError):
        r.apply_batch([()])


def test_a_failing_batch_command_becomes_an_error_event_and_the_rest_apply() -> None:
    r = make([{"id": "q", "offer_timeout_ms": 1000}], [{"id": "a1"}])
    events = r.apply_batch(
        [
            ("login", "a1", 0),
            ("ready", "a1", 1),
            ("accept", "a1", "nope", 2),
            ("enqueue", "c1", "q", 3, 0),
            ("enqueue", "c2", "nowhere", 4, 0),
            ("login", "a1", 5),
            ("accept", "a1", "c1", 6),
            ("timeout", 5),
            ("enqueue", "c3", "q", 7, 1_000_001),
        ]
    )
    assert [e.as_tuple() for e in events if e.kind != "agent-state"] == [
        ("error", "", "", "", 2, 0, "", "command 2: call_id 'nope': unknown call"),
        ("offer", "c1", "a1", "q", 3, 1003, "longest-idle", "step=0 tier=1 level=0"),
        # refused before the clock moves (no state makes an unknown queue valid): still 3
        ("error", "", "", "", 3, 0, "", "command 4: queue_id 'nowhere': unknown queue"),
        ("error", "", "", "", 5, 0, "", "command 5: agent 'a1' is reserved: cannot log in"),
        ("connected", "c1", "a1", "q", 6, 0, "", ""),
        ("error", "", "", "", 6, 0, "", "command 7: now_ms: time went backwards (5 < 6)"),
        (
            "error", "", "", "", 6, 0, "",
            "command 8: priority: 1000001 out of range -1000000..1000000",
        ),
    ]  # fmt: skip
    assert r.drain() == []
    assert r.agent_info("a1")["state"] == "busy"


def test_apply_batch_returns_earlier_undrained_events_first() -> None:
    r = make()
    r.login("a1", 0)
    events = r.apply_batch([("ready", "a1", 1)])
    assert [(e.kind, e.at_ms, e.detail) for e in events] == [
        ("agent-state", 0, "not-ready"),
        ("agent-state", 1, "ready"),
    ]


# ---- events -----------------------------------------------------------------------------


def test_offer_events_name_the_rule_step_tier_and_level() -> None:
    r = make(
        [
            {
                "id": "sales",
                "skills": {"sales": 5, "fr": 2},
                "offer_timeout_ms": 7000,
                "max_tier": 1,
                "escalation": [{"after_ms": 1000, "lower_levels_by": 2, "max_tier": 2}],
            }
        ],
        [
            {"id": "t1", "skills": {"sales": 5, "fr": 3, "de": 9}},
            {"id": "t2", "skills": {"sales": 3, "fr": 1}, "tier": 2},
        ],
    )
    ready(r, "t1", "t2")
    r.enqueue("c1", "sales", 10)
    r.accept("t1", "c1", 15)
    # level: t1's levels over the required skills only, 5 + 3 (de does not count).
    assert decisions(r) == [
        ("offer", "c1", "t1", "sales", 10, 7010, "longest-idle", "step=0 tier=1 level=8"),
        ("connected", "c1", "t1", "sales", 15, 0, "", ""),
    ]
    r.enqueue("c2", "sales", 20)  # t2: sales 3 < 5, and tier 2 above max_tier 1
    assert decisions(r) == []
    assert r.poll_timeout() == 1020
    r.handle_timeout(1500)  # step 1 at 1020: sales >= 3, fr >= 1 (never below 1), tiers <= 2
    assert decisions(r) == [
        ("escalated", "c2", "", "sales", 1020, 0, "", "1"),
        ("offer", "c2", "t2", "sales", 1020, 8020, "longest-idle", "step=1 tier=2 level=4"),
    ]
    info = r.call_info("c2")
    assert info is not None
    assert (info["step"], info["agents"]) == (1, ["t2"])


def test_event_kinds_and_their_fields() -> None:
    r = make(
        [
            {"id": "sales", "wrapup_ms": 0, "overflow": {"after_ms": 500, "queue": "ring"}},
            {"id": "ring", "strategy": "ring-all", "ring_all_max": 2, "ttl_ms": 3000},
        ],
        [{"id": "a1"}, {"id": "b2"}],
    )
    r.login("a1", 0)
    assert rows(r) == [("agent-state", "", "a1", "", 0, 0, "login", "not-ready")]
    r.set_ready("a1", 5)
    r.enqueue("c1", "sales", 10)
    r.reject("a1", "c1", 20)  # a miss, with no delay: a1 is Ready at once and rung again
    assert decisions(r) == [
        ("offer", "c1", "a1", "sales", 10, 15010, "longest-idle", "step=0 tier=1 level=0"),
        ("missed", "c1", "a1", "sales", 20, 0, "rejected", ""),
        ("offer", "c1", "a1", "sales", 20, 15020, "longest-idle", "step=0 tier=1 level=0"),
    ]
    ready(r, "b2", at=40)
    r.handle_timeout(510)  # 500 ms in sales: the offer is revoked, the call moves to ring
    assert decisions(r) == [
        ("revoke", "c1", "a1", "sales", 510, 0, "", "overflow"),
        ("overflow", "c1", "", "ring", 510, 0, "", "sales"),
        ("offer", "c1", "a1", "ring", 510, 15510, "ring-all", "step=0 tier=1 level=0"),
        ("offer", "c1", "b2", "ring", 510, 15510, "ring-all", "step=0 tier=1 level=0"),
    ]
    r.accept("b2", "c1", 600)
    assert decisions(r) == [
        ("revoke", "c1", "a1", "ring", 600, 0, "", "answered-elsewhere"),
        ("connected", "c1", "b2", "ring", 600, 0, "", ""),
    ]
    r.transfer("c1", 700, destination="+4930123")
    assert decisions(r) == [
        ("ended", "c1", "b2", "ring", 700, 0, "", "transfer"),
        ("terminal", "c1", "", "ring", 700, 0, "", "transferred-out"),
    ]
    r.logout("a1", 800)
    r.logout("b2", 800)  # in wrap-up (5000 ms by default): the logout waits for its end
    r.enqueue("c2", "ring", 900)
    r.handle_timeout(3900)  # nobody can take it: its time-to-live (3000 ms) ends it
    assert decisions(r) == [("terminal", "c2", "", "ring", 3900, 0, "", "expired")]
    r.handle_timeout(5700)
    assert rows(r) == [("agent-state", "", "b2", "", 5700, 0, "logout", "logged-out")]


def test_agent_state_events_carry_state_and_reason() -> None:
    r = make()
    r.login("a1", 0)
    r.set_ready("a1", 1)
    r.set_not_ready("a1", "lunch", 2)
    r.set_not_ready("a1", "training", 3)  # same state, new reason: still told
    r.logout("a1", 4)
    assert [(e.kind, e.agent_id, e.at_ms, e.detail, e.rule) for e in r.drain()] == [
        ("agent-state", "a1", 0, "not-ready", "login"),
        ("agent-state", "a1", 1, "ready", ""),
        ("agent-state", "a1", 2, "not-ready", "lunch"),
        ("agent-state", "a1", 3, "not-ready", "training"),
        ("agent-state", "a1", 4, "logged-out", "logout"),
    ]


def test_preferred_agent_and_pick_rules() -> None:
    r = make(
        [{"id": "q", "wrapup_ms": 0}, {"id": "fr", "skills": {"fr": 1}}],
        [{"id": "a1"}, {"id": "a2"}],
    )
    ready(r, "a1", "a2")
    r.set_not_ready("a2", "coaching", 1)
    r.enqueue("c1", "q", 10, preferred_agent="a2", preferred_wait_ms=1000)
    assert decisions(r) == []  # held for a2, although a1 is Ready
    r.set_ready("a2", 20)
    assert decisions(r) == [
        ("offer", "c1", "a2", "q", 20, 15020, "preferred-agent", "step=0 tier=1 level=0")
    ]
    r.enqueue("c2", "fr", 30)  # nobody speaks French: it waits
    assert decisions(r) == []
    r.pick("a1", "c2", 40)  # a1 takes it from the line by hand
    assert decisions(r) == [("offer", "c2", "a1", "fr", 40, 15040, "pick", "step=0 tier=1 level=0")]
    r.enqueue("c3", "fr", 50)
    message = "agent 'a1' cannot take a voice call now"
    refuses(r, 50, lambda: r.pick("a1", "c3", 50), IllegalTransitionError, message)


def test_transfer_to_a_queue_or_an_agent() -> None:
    r = make(
        [{"id": "sales", "wrapup_ms": 0}, {"id": "billing", "transfer_agent_wait_ms": 1000}],
        [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
    )
    ready(r, "a1", "a2")
    r.enqueue("c1", "sales", 10, priority=2)
    r.accept("a1", "c1", 20)
    r.drain()
    r.transfer("c1", 30, queue="billing")  # a2 is Ready and longest idle after a1
    assert decisions(r) == [
        ("ended", "c1", "a1", "sales", 30, 0, "", "transfer"),
        ("transferred", "c1", "", "billing", 30, 0, "", "sales"),
        ("offer", "c1", "a2", "billing", 30, 15030, "longest-idle", "step=0 tier=1 level=0"),
    ]
    info = r.call_info("c1")
    assert info is not None
    assert (info["queue_id"], info["priority"], info["seq"], info["entered_queue_at_ms"]) == (
        "billing",
        2,
        0,
        30,
    )
    r.accept("a2", "c1", 40)
    r.transfer("c1", 50, agent="a3")  # a3 is logged out: held for it up to 1000 ms
    assert decisions(r) == [
        ("connected", "c1", "a2", "billing", 40, 0, "", ""),
        ("ended", "c1", "a2", "billing", 50, 0, "", "transfer"),
        ("transferred", "c1", "a3", "billing", 50, 0, "", "billing"),
    ]
    ready(r, "a3", at=60)
    assert decisions(r) == [
        ("offer", "c1", "a3", "billing", 60, 15060, "preferred-agent", "step=0 tier=1 level=0")
    ]


def test_event_is_immutable() -> None:
    r = make()
    r.login("a1", 0)
    (event,) = r.drain()
    fields = (event.kind, event.call_id, event.agent_id, event.queue_id, event.at_ms)
    assert (*fields, event.expires_at_ms, event.rule, event.detail) == event.as_tuple()
    for name in ("kind", "call_id", "agent_id", "queue_id", "at_ms", "expires_at_ms", "rule"):
        with pytest.raises(AttributeError):
            setattr(event, name, "x")
    with pytest.raises(AttributeError):
        event.colour = "red"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Event()
    assert event.as_tuple() == ("agent-state", "", "a1", "", 0, 0, "login", "not-ready")
    assert isinstance(event.as_tuple(), tuple)


# ---- views: queue, interval, agent time, agent and call info ----------------------------

STATS_CONFIG = {
    "seed": 1,
    "queues": [
        {
            "id": "sales",
            "skills": {"sales": 3},
            "sl_threshold_ms": 20_000,
            "short_abandon_ms": 5_000,
            "wrapup_ms": 5_000,
        }
    ],
    "agents": [
        {"id": "a1", "skills": {"sales": 5}, "group": "store"},
        {"id": "a2", "skills": {"sales": 4}, "group": "store"},
        {"id": "a3", "group": "other"},  # no sales skill: not one of the queue's team
    ],
}
INTERVAL = 15 * 60 * 1000

# (method, args, kwargs): a small day in one queue, split where the views are checked.
Step = tuple[str, tuple[Any, ...], dict[str, Any]]
MORNING: list[Step] = [
    ("login", ("a1", 0), {}),
    ("login", ("a2", 0), {}),
    ("login", ("a3", 0), {}),
    ("logout", ("a3", 100), {}),
    ("set_ready", ("a1", 1_000), {}),
    ("enqueue", ("c1", "sales", 2_000), {}),  # offered to a1 at once
    (
        "enqueue",
        ("c2", "sales", 3_000),
        {"caller": "+4930123", "dialled": "800", "attributes": {"order": "42"}},
    ),
    ("accept", ("a1", "c1", 4_000), {}),  # c1 waited 2 s
    ("enqueue", ("c3", "sales", 5_000), {}),
    ("abandon", ("c3", 6_000), {}),  # after 1 s: a short abandon, within the SL threshold
]
AFTERNOON: list[Step] = [
    ("end_call", ("c1", 34_000), {}),  # 30 s talk, wrap-up to 39 s, then c2 goes to a1
    ("handle_timeout", (40_000,), {}),
    ("accept", ("a1", "c2", 41_000), {}),  # c2 waited 38 s: outside the SL threshold
    ("end_call", ("c2", 50_000), {}),  # 9 s talk
    ("wrapup_done", ("a1", "c2", 52_000), {}),  # 2 s wrap-up
    ("logout", ("a2", 60_000), {}),
    ("enqueue", ("c4", "sales", 1_000_000), {}),  # the next interval; offered to a1
    ("abandon", ("c4", 1_000_500), {}),
]


def play(r: Router, steps: list[Step]) -> None:
    for method, args, kwargs in steps:
        getattr(r, method)(*args, **kwargs)


def test_views_during_the_morning() -> None:
    r = Router(json.dumps(STATS_CONFIG))
    play(r, MORNING)
    assert r.queue_stats("sales", 7_000) == {
        "waiting": 1,
        "offered": 0,
        "connected": 1,
        "longest_wait_ms": 4_000,  # c2, since 3 s
        "agents_logged_out": 0,
        "agents_not_ready": 1,
        "agents_ready": 0,
        "agents_reserved": 0,
        "agents_busy": 1,
        "agents_wrap_up": 0,
    }
    assert r.waiting_count() == 1
    assert r.call_info("c2") == {
        "id": "c2",
        "state": "waiting",
        "queue_id": "sales",
        "channel": "voice",
        "priority": 0,
        "seq": 1,
        "enqueued_at_ms": 3_000,
        "entered_queue_at_ms": 3_000,
        "step": 0,
        "agents": [],
        "caller": "+4930123",
        "dialled": "800",
        "attributes": {"order": "42"},
    }
    c1 = r.call_info("c1")
    assert c1 is not None
    assert (c1["state"], c1["agents"], c1["seq"]) == ("connected", ["a1"], 0)
    assert r.agent_info("a1") == {
        "id": "a1",
        "state": "busy",
        "reason": "",
        "state_since_ms": 4_000,
        "ready_since_ms": 1_000,
        "tier": 1,
        "group": "store",
        "calls_answered": 1,
        "talk_ms": 0,
        "misses": 0,
        "calls": ["c1"],
        "pending_logout": False,
        "pending_not_ready": False,
    }
    assert r.call_info("c3") is None  # abandoned: gone
    assert (r.queue_ids(), r.agent_ids()) == (["sales"], ["a1", "a2", "a3"])


def test_views_at_the_end_of_the_day() -> None:
    r = Router(json.dumps(STATS_CONFIG))
    play(r, MORNING + AFTERNOON)
    zero = dict.fromkeys(
        [
            "offered", "answered", "abandoned", "short_abandoned", "answered_within_sl",
            "abandoned_within_sl", "wait_answered_ms", "left", "wait_left_ms", "max_wait_ms",
            "overflowed", "expired", "transferred_out", "completed", "talk_ms", "wrapup_ms",
        ],
        0,
    )  # fmt: skip
    first = {
        **zero,
        "interval_start_ms": 0,
        "offered": 3,  # c1, c2, c3
        "answered": 2,
        "abandoned": 1,
        "short_abandoned": 1,
        "answered_within_sl": 1,  # c1 (2 s); c2 waited 38 s
        "abandoned_within_sl": 1,
        "wait_answered_ms": 2_000 + 38_000,
        "left": 3,
        "wait_left_ms": 2_000 + 38_000 + 1_000,
        "max_wait_ms": 38_000,
        "completed": 2,
        "talk_ms": 30_000 + 9_000,
        "wrapup_ms": 5_000 + 2_000,
    }
    second = {
        **zero,
        "interval_start_ms": INTERVAL,
        "offered": 1,
        "abandoned": 1,
        "short_abandoned": 1,
        "abandoned_within_sl": 1,
        "left": 1,
        "wait_left_ms": 500,
        "max_wait_ms": 500,
    }
    assert r.interval_stats("sales") == [first, second]
    # Per group and interval, up to each agent's last change of state. a1: not ready 1 s,
    # ready 1 s, then reserved/busy/wrap-up 2 + 30 + 5 s, reserved at once at 39 s (0 ms
    # ready), 2 + 9 + 2 s more, ready from 52 s to 1000 s (across the border at 900 s), then
    # reserved 0.5 s. a2: not ready for 60 s. a3 (other): not ready for 0.1 s.
    assert r.agent_time_stats() == [
        {
            "group": "other",
            "interval_start_ms": 0,
            "ready_ms": 0,
            "busy_ms": 0,
            "not_ready_ms": 100,
        },
        {
            "group": "store",
            "interval_start_ms": 0,
            "ready_ms": 1_000 + (INTERVAL - 52_000),
            "busy_ms": 2_000 + 30_000 + 5_000 + 2_000 + 9_000 + 2_000,
            "not_ready_ms": 1_000 + 60_000,
        },
        {
            "group": "store",
            "interval_start_ms": INTERVAL,
            "ready_ms": 1_000_000 - INTERVAL,
            "busy_ms": 500,
            "not_ready_ms": 0,
        },
    ]
    info = r.agent_info("a1")
    assert (info["state"], info["state_since_ms"], info["ready_since_ms"]) == (
        "ready",
        1_000_500,
        52_000,  # the revoked offer of c4 gave back its idle time
    )
    assert (info["calls_answered"], info["talk_ms"], info["calls"]) == (2, 39_000, [])
    stats = r.queue_stats("sales", 1_000_600)
    assert (stats["waiting"], stats["longest_wait_ms"], stats["agents_ready"]) == (0, 0, 1)
    assert stats["agents_logged_out"] == 1


# ---- snapshots --------------------------------------------------------------------------


def test_a_restored_snapshot_continues_identically() -> None:
    original = Router(json.dumps(STATS_CONFIG))
    play(original, MORNING)
    data = original.snapshot()
    restored = Router.from_snapshot(data)
    assert restored.snapshot() == data
    assert [e.as_tuple() for e in restored.drain()] == [e.as_tuple() for e in original.drain()]
    assert restored.poll_timeout() == original.poll_timeout()
    for r in (original, restored):
        play(r, AFTERNOON)
        r.enqueue("c1", "sales", 1_000_600)  # finished ids are remembered across the restore
    assert original.enqueue("c1", "sales", 1_000_600) is False
    assert restored.enqueue("c1", "sales", 1_000_600) is False
    assert [e.as_tuple() for e in restored.drain()] == [e.as_tuple() for e in original.drain()]
    assert restored.interval_stats("sales") == original.interval_stats("sales")
    assert restored.agent_time_stats() == original.agent_time_stats()
    assert restored.snapshot() == original.snapshot()


def test_a_restored_snapshot_keeps_the_clock() -> None:
    r = make()
    r.login("a1", 500)
    restored = Router.from_snapshot(r.snapshot())
    with pytest.raises(InvalidArgumentError) as info:
        restored.set_ready("a1", 499)
    assert str(info.value) == "now_ms: time went backwards (499 < 500)"


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\x01\x00\x00", b"\x02\x00\x00\x00" + b"\x00" * 64],
)
def test_from_snapshot_refuses_what_is_not_a_snapshot(data: bytes) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        Router.from_snapshot(data)
    assert str(info.value) == "snapshot: not a version 1 router snapshot"


def test_from_snapshot_refuses_a_truncated_snapshot() -> None:
    r = Router(json.dumps(STATS_CONFIG))
    play(r, MORNING)
    data = r.snapshot()
    for cut in (4, 5, len(data) // 2, len(data) - 1):
        with pytest.raises(InvalidArgumentError) as info:
            Router.from_snapshot(data[:cut])
        assert str(info.value).startswith("snapshot: ")


# ---- memory and threads -----------------------------------------------------------------


def test_heap_bytes_grows_with_calls_and_shrinks_when_they_finish() -> None:
    # dedup_window_ms 0: finished ids are not remembered, so finishing frees everything.
    r = make(dedup_window_ms=0)
    gc.collect()  # no other router may be freed while this one is measured
    base = _core.heap_bytes()
    for i in range(2_000):
        r.enqueue(f"call-{i:06d}", "q", i)
    r.drain()
    grown = _core.heap_bytes()
    assert grown > base + 2_000 * 100  # each waiting call: its id, record and place in line
    for i in range(2_000):
        r.abandon(f"call-{i:06d}", 3_000)
    r.drain()
    shrunk = _core.heap_bytes()
    assert shrunk < grown - 2_000 * 16
    assert r.waiting_count() == 0


def ran_beside(batch: list[tuple[Any, ...]]) -> bool:
    """Whether another thread ran Python code while ``apply_batch(batch)`` was running.

    The caller sets a switch interval far longer than the test: the main thread then gives
    the GIL away only when it blocks or releases it itself. The other thread is let go just
    before the batch; it has finished its Python step when the batch returns only if the
    batch released the GIL.
    """
    r = make([{"id": "q", "wrapup_ms": 0}], dedup_window_ms=0)
    waiting, go = threading.Event(), threading.Event()
    done: list[int] = []

    def other() -> None:
        waiting.set()
        go.wait()
        done.append(sum(range(100)))  # Python work: needs the GIL

    thread = threading.Thread(target=other)
    thread.start()
    waiting.wait()
    go.set()
    r.apply_batch(batch)
    ran = bool(done)
    thread.join()
    assert done == [4950]
    return ran


def test_apply_batch_releases_the_gil() -> None:
    """No timing involved: a batch too short for the other thread to be scheduled in is
    retried with a longer one (a batch that kept the GIL would fail every time)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        for attempt in range(6):
            batch: list[tuple[Any, ...]] = [("login", "a1", 0), ("ready", "a1", 0)]
            for i in range(20_000 * 2**attempt):
                batch += [("enqueue", f"c{i}", "q", i, 0), ("abandon", f"c{i}", i)]
            if ran_beside(batch):
                return
    finally:
        sys.setswitchinterval(old)
    pytest.fail("no other thread ran while apply_batch was running")
