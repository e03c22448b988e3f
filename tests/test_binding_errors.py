"""The native router (``acd._core``) through Python: the exception hierarchy and refused
commands (unknown ids, the agent and call state tables).

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

from collections.abc import Callable

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
from binding_helpers import Row, decisions, make, ready, refuses

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
