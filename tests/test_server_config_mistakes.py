"""acd.server.config: every kind of mistake gives one ConfigError that names its key path."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from acd.server.auth import hash_token
from acd.server.config import ConfigError
from test_server_config import BASE, Doc, dev, parse

Q0, Q2, A0 = "tenants.store.queues[0]", "tenants.store.queues[2]", "tenants.store.agents[0]"
H0, T0 = "tenants.store.hours[0]", "tokens[0]"

# (key path set, value, reason): the error names the very key that was set.
AT_THE_KEY: list[tuple[str, object, str]] = [
    ("colour", 1, "unknown key"),
    ("mode", "staging", "'staging' is not one of"),
    ("server.listn", "x", "unknown key"),
    ("server.reflection", "yes", "expected a boolean, got a string"),
    ("server.max_message_bytes", 10, "10 is outside 1024..2147483647"),
    ("server.log_format", "xml", "'xml' is not one of 'text', 'json'"),
    ("server.log_level", 3, "expected a string, got an integer"),
    ("server.rate_limit.burst", 0, "0 is outside 1..100000000"),
    ("server.rate_limit.requests_per_second", -1, "-1 is outside 0..10000000"),
    ("server.keepalive.time_s", 0, "must be at least 1 s"),
    ("server.tls.ca", "x", "unknown key"),
    ("storage.data_dir", 5, "expected a string, got an integer"),
    ("storage.group_commit_max_batch", 0, "0 is outside 1..100000"),
    ("tenants", [], "expected a table, got an array"),
    ("tenants.store.colour", 1, "unknown key"),
    ("tenants.store.seed", -1, "-1 is outside 0..18446744073709551615"),
    ("tenants.store.dedup_window_s", "1h", "expected a number, got a string"),
    ("tenants.store.skills[1]", "", "must be 1..256 characters without control characters"),
    ("tenants.store.groups[0].tier", 0, "0 is outside 1..255"),
    (f"{Q2}.skills.billing", 11, "level 11 is outside 1..10"),
    (f"{Q2}.skills.billing", 2.5, "expected an integer level, got a float"),
    (f"{Q0}.skills.french", 2, "unknown skill 'french'"),
    (f"{Q0}.colour", "red", "unknown key"),
    (f"{Q0}.strategy", "fastest", "'fastest' is not one of 'longest-idle'"),
    (f"{Q0}.ring_all_max", 0, "0 is outside 1..1000"),
    (f"{Q0}.sl_threshold_s", -1, "-1 is outside 0..1000000000"),
    (f"{Q0}.offer_timeout_s", 0, "must be at least 0.001 s"),
    (f"{Q0}.ttl_s", 0, "must be at least 0.001 s"),
    (f"{Q0}.wrapup", "later", "expected seconds or 'until-done'"),
    (f"{Q0}.wrapup", True, "expected a number, got a boolean"),
    (f"{Q0}.no_answer.max_misses", "3", "expected an integer, got a string"),
    (f"{Q0}.no_answer.delay", 1, "unknown key"),
    (f"{Q0}.max_tier", 256, "256 is outside 0..255"),
    (f"{Q0}.escalation", {"after_s": 1}, "expected an array, got a table"),
    (f"{Q0}.escalation[0].tier", 2, "unknown key"),
    (f"{Q0}.escalation[0].lower_levels_by", 11, "11 is outside 0..10"),
    (f"{Q2}.overflow_queue", "nowhere", "unknown queue 'nowhere'"),
    (f"{Q2}.overflow_queue", "billing", "a queue cannot overflow to itself"),
    (f"{Q0}.overflow_queue", "support", "needs max_wait_s"),
    (f"{Q0}.hours", "night", "unknown hours 'night'"),
    (f"{H0}.timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    (f"{H0}.monday", [], "unknown key"),
    (f"{A0}.skills.sales", 0, "level 0 is outside 1..10"),
    (f"{A0}.skills.fishing", 3, "unknown skill 'fishing'"),
    ("tenants.store.agents[1].group", "nobody", "unknown group 'nobody'"),
    (f"{A0}.capacity.fax", 1, "unknown key"),
    (f"{A0}.capacity.chat", 300, "300 is outside 0..255"),
    (f"{A0}.endpoint", "anna at home", "expected a URI such as 'sip:alice@pbx.example'"),
    ("tokens", {}, "expected an array, got a table"),
    (f"{T0}.hash", "md5:abc", "expected 'sha256:' and 64 lower-case hex digits"),
    (f"{T0}.tenant", "shop", "unknown tenant 'shop'"),
    (f"{T0}.role", "root", "'root' is not one of 'adapter'"),
    ("tokens[1].agent", "zoe", "unknown agent 'zoe' in tenant 'store'"),
    (f"{T0}.agent", "anna", "only agent tokens name an agent"),
    ("tokens[2].tenant", "store", "platform-admin tokens belong to no tenant"),
    ("tokens[1].hash", hash_token("t-admin"), "the same token as tokens[0].hash"),
    ("tokens[1].name", "admin", "'admin' is already another identity at tokens[0].hash"),
    (f"{T0}.secret", "x", "unknown key"),
    ("dev", {"demo_tokens": []}, 'allowed only with mode = "dev"'),
]


def _set(path: str, value: object) -> Callable[[Doc], None]:
    """A mutation setting ``a.b[2].c`` in the document (creating tables on the way)."""

    def mutate(d: Doc) -> None:
        node: Any = d
        keys = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        for key in keys[:-1]:
            node = node[int(key[1:-1])] if key.startswith("[") else node.setdefault(key, {})
        last = keys[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value

    return mutate


def _pop(path: str) -> Callable[[Doc], None]:
    def mutate(d: Doc) -> None:
        *table, key = path.split(".")
        node: Any = d
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", ".".join(table)):
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        del node[key]

    return mutate


def _do(*steps: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def mutate(d: Doc) -> None:
        for step in steps:
            step(d)

    return mutate


# (case, mutation, the message's start) where the key named is not simply the one set.
ELSEWHERE: list[tuple[str, Callable[[Doc], None], str]] = [
    ("no port", _set("server.listen", ["localhost"]), "server.listen[0]: 'localhost' is not"),
    ("port", _set("server.listen", ["[::1]:70000"]), "server.listen[0]: '[::1]:70000' is not"),
    ("twice", _set("server.listen", ["h:1", "h:1"]), "server.listen: an address is listed twice"),
    ("tls file", _set("server.tls.cert_file", "no.crt"), "server.tls.cert_file: no such file"),
    ("mtls", _set("server.tls.require_client_cert", True), "server.tls.require_client_cert: needs"),
    (
        "snapshots off",
        _do(_set("storage.snapshot_every_entries", 0), _set("storage.snapshot_every_s", 0)),
        "storage.snapshot_every_entries: snapshots need a trigger",
    ),
    ("tenant id", _set("tenants.Big Store", {}), 'tenants."Big Store": tenant ids are 1..63'),
    ("skill twice", _set("tenants.store.skills[2]", "sales"), "tenants.store.skills[2]: duplicate"),
    ("group twice", _set("tenants.store.groups[1].id", "managers"), "tenants.store.groups[1].id:"),
    ("queue twice", _set("tenants.store.queues[1].id", "sales"), "tenants.store.queues[1].id:"),
    ("agent twice", _set("tenants.store.agents[1].id", "anna"), "tenants.store.agents[1].id:"),
    ("queue id", _pop(f"{Q0}.id"), f"{Q0}.id: missing"),
    ("step missing", _set(f"{Q0}.escalation[0]", {"max_tier": 2}), f"{Q0}.escalation[0].after_s:"),
    (
        "step order",
        _set(f"{Q0}.escalation", [{"after_s": 30}, {"after_s": 10}]),
        f"{Q0}.escalation[1].after_s: steps must come in increasing order",
    ),
    ("two targets", _set(f"{Q2}.overflow_destination", "sip:x"), f"{Q2}.max_wait_s: name exactly"),
    ("no target", _set(f"{Q0}.max_wait_s", 30), f"{Q0}.max_wait_s: name exactly one of"),
    ("hours order", _set(f"{H0}.mon", ["20:00-08:00"]), f"{H0}.mon[0]: '20:00-08:00' closes"),
    ("hours format", _set(f"{H0}.tue", ["9-17"]), f"{H0}.tue[0]: '9-17' is not a range"),
    ("hours 25", _set(f"{H0}.tue", ["09:00-25:00"]), f"{H0}.tue[0]: '09:00-25:00' is not"),
    ("overlap", _set(f"{H0}.mon", ["08:00-12:00", "11:00-13:00"]), f"{H0}.mon[1]: '11:00-13:00'"),
    ("hash missing", _pop(f"{T0}.hash"), f"{T0}.hash: missing"),
    ("no tenant", _pop(f"{T0}.tenant"), f"{T0}.tenant: missing (a admin token belongs"),
    ("no agent", _pop("tokens[1].agent"), "tokens[1].agent: missing (an agent token names"),
    ("dev key", _do(dev, _set("dev.extra", 1)), "dev.extra: unknown key"),
    ("demo hash", _do(dev, _set("dev.demo_tokens[0].hash", "x")), "dev.demo_tokens[0].hash:"),
    ("demo role", _do(dev, _set("dev.demo_tokens[0].role", "agent")), "dev.demo_tokens[0].agent:"),
    ("exposed", lambda d: dev(d, "0.0.0.0:1"), "server.listen[0]: '0.0.0.0:1' is not loopback"),
]


def _expect(mutate: Callable[[Doc], None], message: str) -> None:
    d = copy.deepcopy(BASE)
    mutate(d)
    with pytest.raises(ConfigError) as info:
        parse(d)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize(("path", "value", "reason"), AT_THE_KEY, ids=[c[0] for c in AT_THE_KEY])
def test_a_bad_value_names_its_key(path: str, value: object, reason: str) -> None:
    _expect(_set(path, value), f"{path}: {reason}")


@pytest.mark.parametrize(
    ("mutate", "message"), [c[1:] for c in ELSEWHERE], ids=[c[0] for c in ELSEWHERE]
)
def test_a_mistake_across_keys_names_the_key_at_fault(
    mutate: Callable[[Doc], None], message: str
) -> None:
    _expect(mutate, message)
