"""acd.server.config: the bundled configs load, every mistake names its key path, env overrides."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import acd
from acd.server.auth import hash_token
from acd.server.config import (
    BUNDLED_CONFIGS,
    ConfigError,
    core_config_json,
    load_bundled_config,
    load_config,
    parse_config,
)

Doc = dict[str, Any]


def toml_value(value: object) -> str:
    """Just enough of a TOML writer for test documents (inline tables throughout)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(doc: Doc) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items()) + "\n"


BASE: Doc = {
    "server": {"listen": ["127.0.0.1:50051"]},
    "storage": {"data_dir": "data"},
    "tenants": {
        "store": {
            "skills": ["sales", "support", "billing"],
            "groups": [{"id": "managers", "tier": 1}, {"id": "outsourced", "tier": 2}],
            "hours": [{"id": "store", "timezone": "UTC", "mon": ["08:00-20:00"]}],
            "queues": [
                {"id": "sales", "skills": {"sales": 3}, "escalation": [{"after_s": 30}]},
                {"id": "support", "skills": {"support": 2}},
                {
                    "id": "billing",
                    "skills": {"billing": 2},
                    "max_wait_s": 60,
                    "overflow_queue": "support",
                },
            ],
            "agents": [
                {"id": "anna", "group": "managers", "skills": {"sales": 5, "billing": 3}},
                {"id": "carla", "group": "outsourced", "skills": {"support": 4}},
            ],
        }
    },
    "tokens": [
        {"hash": hash_token("t-admin"), "tenant": "store", "name": "admin", "role": "admin"},
        {
            "hash": hash_token("t-anna"),
            "tenant": "store",
            "name": "anna",
            "role": "agent",
            "agent": "anna",
        },
        {"hash": hash_token("t-ops"), "name": "ops", "role": "platform-admin"},
    ],
}


def parse(doc: Doc, environ: dict[str, str] | None = None) -> acd.server.config.Config:
    return parse_config(to_toml(doc), environ=environ or {})


def store(d: Doc) -> Doc:
    tenant: Doc = d["tenants"]["store"]
    return tenant


def dev(d: Doc, listen: str = "127.0.0.1:50051") -> None:
    d["mode"] = "dev"
    d["server"]["listen"] = [listen]
    d["dev"] = {"demo_tokens": [{"token": "demo", "tenant": "store", "name": "x", "role": "crm"}]}


def test_base_document_is_valid() -> None:
    config = parse(BASE)
    assert config.mode == "production"
    assert [q.id for q in config.tenants["store"].queues] == ["sales", "support", "billing"]
    assert config.tenants["store"].agents[1].tier == 2
    assert len(config.tokens) == 3


@pytest.mark.parametrize("name", BUNDLED_CONFIGS)
def test_bundled_config_loads_and_the_router_accepts_it(name: str) -> None:
    config = load_bundled_config(name, environ={})
    assert config.tenants, "a sample config without a tenant shows nothing"
    for tenant in config.tenants.values():
        router = acd.Router(core_config_json(tenant))
        assert router.queue_ids() == [q.id for q in tenant.queues]
        assert router.agent_ids() == [a.id for a in tenant.agents]


def test_production_sample_is_production() -> None:
    config = load_bundled_config("acd.toml", environ={})
    assert config.mode == "production"
    assert not config.server.reflection
    assert not config.demo_tokens
    assert {e.identity.role.value for e in config.tokens} >= {"adapter", "agent", "admin"}


def test_dev_sample_is_what_make_run_needs() -> None:
    config = load_bundled_config("acd-dev.toml", environ={})
    assert config.mode == "dev"
    assert config.server.reflection
    assert config.server.listen == ("127.0.0.1:50051",)
    assert config.storage.data_dir == Path("data")
    store = config.tenants["store"]
    assert {q.id for q in store.queues} == {"sales", "support", "returns"}
    assert {g.tier for g in store.groups} == {1, 2}
    roles = {t.identity.role.value for t in config.demo_tokens}
    assert roles == {"adapter", "agent", "supervisor", "crm", "admin", "platform-admin"}
    table = config.token_table()
    for demo in config.demo_tokens:
        assert table.authenticate(demo.token) == demo.identity
    assert "dev-admin" not in repr(config), "plaintext tokens stay out of logs of the config"


def test_core_config_json_carries_every_setting() -> None:
    d = copy.deepcopy(BASE)
    q = store(d)["queues"][0]
    q.update(
        {
            "strategy": "ring-all",
            "ring_all_max": 2,
            "sl_threshold_s": 15,
            "short_abandon_s": 2.5,
            "offer_timeout_s": 10,
            "wrapup": "until-done",
            "no_answer": {"reject_delay_s": 1, "timeout_delay_s": 2, "max_misses": 0},
            "max_tier": 1,
            "prefer_lower_tier": False,
            "escalation": [{"after_s": 5, "max_tier": 2}, {"after_s": 9, "lower_levels_by": 1}],
            "max_wait_s": 90,
            "overflow_destination": "sip:vm@pbx.example",
            "ttl_s": 600,
            "aging_s": 60,
        }
    )
    store(d)["agents"][1]["capacity"] = {"voice": 1, "chat": 3}
    core = json.loads(core_config_json(parse(d).tenants["store"]))
    assert core["seed"] == 1 and core["dedup_window_ms"] == 3_600_000
    assert core["queues"][0] == {
        "id": "sales",
        "skills": {"sales": 3},
        "strategy": "ring-all",
        "ring_all_max": 2,
        "sl_threshold_ms": 15_000,
        "short_abandon_ms": 2_500,
        "offer_timeout_ms": 10_000,
        "wrapup_ms": 0,
        "wrapup_until_done": True,
        "no_answer": {"reject_delay_ms": 1000, "timeout_delay_ms": 2000, "max_misses": 0},
        "max_tier": 1,
        "prefer_lower_tier": False,
        "escalation": [{"after_ms": 5000, "max_tier": 2}, {"after_ms": 9000, "lower_levels_by": 1}],
        "overflow": {"after_ms": 90_000, "destination": "sip:vm@pbx.example"},
        "ttl_ms": 600_000,
        "aging_ms": 60_000,
    }
    assert core["queues"][2]["overflow"] == {"after_ms": 60_000, "queue": "support"}
    assert core["agents"][1] == {
        "id": "carla",
        "skills": {"support": 4},
        "tier": 2,
        "group": "outsourced",
        "capacity": {"voice": 1, "chat": 3},
    }


@pytest.mark.parametrize("listen", ["127.0.0.1:1", "[::1]:2", "localhost:3", "unix:/run/acd.sock"])
def test_dev_demo_tokens_allow_loopback_addresses(listen: str) -> None:
    d = copy.deepcopy(BASE)
    dev(d, listen)
    config = parse(d)
    assert config.server.listen == (listen,)
    assert [t.token for t in config.demo_tokens] == ["demo"]
    assert config.token_table().authenticate("demo") == config.demo_tokens[0].identity


def test_the_router_refusing_a_config_names_the_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    # Everything the router checks is checked before it; this guards the mapping itself.
    import acd.server.config_tenant as tenant_module

    monkeypatch.setattr(tenant_module, "core_config_json", lambda _t: '{"queues": [{"id": ""}]}')
    with pytest.raises(ConfigError, match=r"^tenants\.store: the router refused .*queues\[0\]\.id"):
        parse(BASE)


def test_invalid_toml_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config: acd\.toml is not valid TOML"):
        parse_config("server = [", environ={})
    with pytest.raises(ConfigError, match=r"^config: cannot read"):
        load_config(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="no bundled config"):
        load_bundled_config("other.toml", environ={})


def test_tls_files_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("s.crt", "s.key", "ca.crt"):
        (tmp_path / name).write_text("pem")
    monkeypatch.chdir(tmp_path)
    d = copy.deepcopy(BASE)
    d["server"]["tls"] = {
        "cert_file": "s.crt",
        "key_file": "s.key",
        "client_ca_file": "ca.crt",
        "require_client_cert": True,
    }
    (tmp_path / "acd.toml").write_text(to_toml(d))
    tls = load_config(tmp_path / "acd.toml", environ={}).server.tls
    assert tls is not None and tls.require_client_cert
    assert (tls.cert_file, tls.key_file, tls.client_ca_file) == tuple(
        map(Path, ("s.crt", "s.key", "ca.crt"))
    )


def test_env_overrides_set_server_and_storage_keys() -> None:
    env = {
        "ACD_SERVER__LISTEN": "127.0.0.1:6000,[::1]:6001",
        "ACD_SERVER__REFLECTION": "true",
        "ACD_SERVER__MAX_MESSAGE_BYTES": "65536",
        "ACD_SERVER__RATE_LIMIT__REQUESTS_PER_SECOND": "2.5",
        "ACD_SERVER__KEEPALIVE__TIMEOUT_S": "5",
        "ACD_STORAGE__DATA_DIR": "/srv/acd",
        "ACD_CONFIG": "ignored: not an override (no __)",
        "PATH": "ignored",
    }
    d = copy.deepcopy(BASE)
    config = parse(d, env)
    assert config.server.listen == ("127.0.0.1:6000", "[::1]:6001")
    assert config.server.reflection is True
    assert config.server.max_message_bytes == 65536
    assert config.server.rate_limit.requests_per_second == 2.5
    assert config.server.keepalive.timeout_ms == 5000, "a table missing in the file is created"
    assert config.storage.data_dir == Path("/srv/acd")
    toml_list = parse(d, {"ACD_SERVER__LISTEN": '["127.0.0.1:1", "unix:/s"]'}).server.listen
    assert toml_list == ("127.0.0.1:1", "unix:/s")


BAD_ENV = [
    (
        "ACD_SERVER__MAX_MESSAGE_BYTES",
        "lots",
        "server.max_message_bytes (from ACD_SERVER__MAX_MESSAGE_BYTES): expected an integer",
    ),
    ("ACD_SERVER__LISTN", "x", "server.listn (from ACD_SERVER__LISTN): unknown key"),
    (
        "ACD_SERVER__LISTEN",
        "nowhere",
        "server.listen[0] (from ACD_SERVER__LISTEN): 'nowhere' is not",
    ),
    (
        "ACD_STORAGE__GROUP_COMMIT_MAX_BATCH",
        "0",
        "storage.group_commit_max_batch (from ACD_STORAGE__GROUP_COMMIT_MAX_BATCH): 0 is outside",
    ),
    (
        "ACD_SERVER__TLS__CERT_FILE",
        "missing.crt",
        "server.tls.cert_file (from ACD_SERVER__TLS__CERT_FILE): no such file",
    ),
    (
        "ACD_TENANTS__STORE__SEED",
        "2",
        "tenants.store.seed (from ACD_TENANTS__STORE__SEED): only server.* and storage.*",
    ),
    (
        "ACD_SERVER__LISTEN__PORT",
        "1",
        "server.listen (from ACD_SERVER__LISTEN__PORT): is not a table",
    ),
    ("ACD_SERVER____X", "1", "config (from ACD_SERVER____X): expected ACD_<SECTION>__<KEY>"),
]


@pytest.mark.parametrize(("variable", "value", "message"), BAD_ENV, ids=[b[0] for b in BAD_ENV])
def test_bad_env_overrides_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(BASE, {variable: value})
    assert str(info.value).startswith(message), str(info.value)
    assert info.value.variable == variable


def test_env_cannot_expose_a_dev_config() -> None:
    with pytest.raises(ConfigError) as info:
        load_bundled_config("acd-dev.toml", environ={"ACD_SERVER__LISTEN": "0.0.0.0:50051"})
    assert str(info.value).startswith("server.listen[0] (from ACD_SERVER__LISTEN): '0.0.0.0:50051'")
