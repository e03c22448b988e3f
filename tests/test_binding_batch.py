"""The native router (``acd._core``) through Python: batches.

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from binding_helpers import make

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
        (("enqueue", "c1", "q", 3, 0, []), "commands[1][5]: expected a dict of options"),
        (
            ("enqueue", "c1", "q", 3, 0, {"colour": "red"}),
            "commands[1][5]: unknown option 'colour' (channel, skills, caller, dialled,"
            " preferred_agent, preferred_wait_ms, attributes)",
        ),
        (("enqueue", "c1", "q", 3, 0, {"caller": 5}), "commands[1][5].caller: "),
        (
            ("enqueue", "c1", "q", 3, 0, {"channel": "fax"}),
            "commands[1]: channel: unknown channel 'fax' (voice, chat, email, messenger, callback)",
        ),
        (
            ("transfer", "c1", "planet", "x", 3),
            "commands[1][2]: unknown transfer target kind 'planet' (queue, agent, destination)",
        ),
        (("withdraw", "a1", "c1", 3), "commands[1]: 'withdraw' takes 4 arguments, got 3"),
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
        # the rule of an error event is the error's kind (what the service maps to a status)
        ("error", "", "", "", 2, 0, "not-found", "command 2: call_id 'nope': unknown call"),
        ("offer", "c1", "a1", "q", 3, 1003, "longest-idle", "step=0 tier=1 level=0"),
        # refused before the clock moves (no state makes an unknown queue valid): still 3
        ("error", "", "", "", 3, 0, "not-found", "command 4: queue_id 'nowhere': unknown queue"),
        (
            "error", "", "", "", 5, 0, "illegal-transition",
            "command 5: agent 'a1' is reserved: cannot log in",
        ),
        ("connected", "c1", "a1", "q", 6, 0, "", ""),
        (
            "error", "", "", "", 6, 0, "invalid-argument",
            "command 7: now_ms: time went backwards (5 < 6)",
        ),
        (
            "error", "", "", "", 6, 0, "invalid-argument",
            "command 8: priority: 1000001 out of range -1000000..1000000",
        ),
    ]  # fmt: skip
    assert len(r.drain()) == 0
    assert r.agent_info("a1")["state"] == "busy"


def test_apply_batch_returns_earlier_undrained_events_first() -> None:
    r = make()
    r.login("a1", 0)
    events = r.apply_batch([("ready", "a1", 1)])
    assert [(e.kind, e.at_ms, e.detail) for e in events] == [
        ("agent-state", 0, "not-ready"),
        ("agent-state", 1, "ready"),
    ]


def test_a_batch_s_events_are_a_read_only_sequence() -> None:
    """apply_batch keeps the events native until read; every way of reading gives the same."""
    r = make([{"id": "q", "offer_timeout_ms": 1000}], [{"id": "a1"}])
    events = r.apply_batch([("login", "a1", 0), ("ready", "a1", 1), ("enqueue", "c1", "q", 2, 0)])
    assert isinstance(events, Sequence)
    rows = [
        ("agent-state", "", "a1", "", 0, 0, "login", "not-ready"),
        ("agent-state", "", "a1", "", 1, 0, "", "ready"),
        ("offer", "c1", "a1", "q", 2, 1002, "longest-idle", "step=0 tier=1 level=0"),
        ("agent-state", "", "a1", "", 2, 0, "", "reserved"),
    ]
    assert len(events) == 4
    assert [e.as_tuple() for e in events] == rows
    assert events.as_tuples() == rows
    assert [events[i].as_tuple() for i in range(-4, 4)] == rows + rows
    assert [e.as_tuple() for e in events[1::2]] == rows[1::2]
    assert events[4:] == []
    for bad in (4, -5):
        with pytest.raises(IndexError):
            events[bad]
    assert [e.kind for e in r.apply_batch([])] == []


def test_the_batch_speaks_every_command_of_a_call_s_life() -> None:
    """Options on enqueue, pick, withdraw and transfer: the forms the service journals."""
    r = make(
        [{"id": "q", "offer_timeout_ms": 1000}, {"id": "vip"}],
        [
            {"id": "a1", "capacity": {"voice": 1, "chat": 3}},
            {"id": "a2", "capacity": {"voice": 1, "chat": 1}},
        ],
    )
    options = {"caller": "+4930123", "attributes": {"order": "A-17"}, "channel": "chat"}
    events = r.apply_batch(
        [
            ("login", "a1", 0),
            ("login", "a2", 0),
            ("enqueue", "c1", "q", 1, 0, options),
            ("ready", "a1", 2),
            ("withdraw", "a1", "c1", "disconnected", 3),
            ("ready", "a2", 4),
            ("enqueue", "c2", "q", 5, 0),
            ("pick", "a1", "c2", 6),
            ("accept", "a2", "c1", 7),
            ("transfer", "c1", "queue", "vip", 8),
        ]
    )
    shown = [
        (e.kind, e.call_id, e.agent_id, e.rule, e.detail)
        for e in events
        if e.kind in ("offer", "revoke", "connected", "transferred", "error")
    ]
    assert shown == [
        ("offer", "c1", "a1", "longest-idle", "step=0 tier=1 level=0"),
        ("revoke", "c1", "a1", "", "withdrawn"),
        ("offer", "c1", "a2", "longest-idle", "step=0 tier=1 level=0"),
        # a1 is Not Ready (disconnected): pick is refused, nothing is offered to it
        ("error", "", "", "illegal-transition", shown[3][4]),
        ("connected", "c1", "a2", "", ""),
        ("transferred", "c1", "", "", "q"),
    ]
    assert shown[3][4].startswith("command 7: ")
    info = r.call_info("c1")
    assert info is not None
    assert (info["queue_id"], info["caller"], info["channel"]) == ("vip", "+4930123", "chat")
    assert r.agent_info("a1")["reason"] == "disconnected"
