"""The native router (``acd._core``) through Python: invalid arguments and configuration errors.

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from acd._core import ConfigError, InvalidArgumentError, Router
from binding_helpers import make, ready, refuses

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
