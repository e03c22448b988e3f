"""/metrics (Prometheus exposition) of a running service: the gauges follow the live queue,
the counters and histograms follow calls through offer, answer and end, process metrics are
there; and the config's metrics address is checked."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from acd.server.config import ConfigError
from acd.v1 import agent_pb2, routing_pb2
from server_helpers import TEST_CONFIG, make_config, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
WAIT_S = 10.0
CONFIG = TEST_CONFIG.replace(
    "[server.rate_limit]", '[server.metrics]\nlisten = "127.0.0.1:0"\n\n[server.rate_limit]', 1
)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(address: str) -> Samples:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=T) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def until(address: str, check: Callable[[Samples], bool]) -> Samples:
    """Scrapes until ``check(samples)`` holds (the gauges refresh every stats period)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        samples = scrape(address)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, "metrics never showed it"
        time.sleep(0.05)


def test_metrics_follow_the_calls(tmp_path: Path) -> None:
    with running(tmp_path, make_config(CONFIG), stats_period_s=0.05) as (server, s):
        assert server.server is not None and server.server.metrics_address is not None
        address = server.server.metrics_address
        enqueue(s, "m1")
        enqueue(s, "m2")
        waiting = {"tenant": "store", "queue": "sales"}
        samples = until(address, lambda x: value(x, "acd_queue_waiting_calls", **waiting) == 2)
        assert value(samples, "acd_queue_agents", state="logged-out", **waiting) == 2
        assert value(samples, "process_resident_memory_bytes") > 0
        anna = login_ready(s, "anna")
        assert anna.until(offer_of).offer.offer.call_id == "m1"
        accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="m1")
        s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
        end = routing_pb2.EndCallRequest(call_id="m1")
        s.routing.EndCall(end, metadata=md("t-adapter"), timeout=T)
        samples = until(address, lambda x: value(x, "acd_queue_waiting_calls", **waiting) == 1)
        anna.close()
    assert value(samples, "acd_offers_total", **waiting) >= 1
    assert value(samples, "acd_calls_answered_total", **waiting) == 1
    assert value(samples, "acd_calls_finished_total", outcome="completed", **waiting) == 1
    assert value(samples, "acd_offer_publish_seconds_count", tenant="store") >= 1
    assert value(samples, "acd_journal_commit_seconds_count", tenant="store") >= 4
    assert value(samples, "acd_stream_subscribers", tenant="store", stream="agent") == 1


@pytest.mark.parametrize("listen", ["nowhere", "[::1]:9000", "127.0.0.1:70000"])
def test_metrics_address_is_checked(listen: str) -> None:
    text = CONFIG.replace('listen = "127.0.0.1:0"', f'listen = "{listen}"', 1)
    with pytest.raises(ConfigError, match=r"server\.metrics\.listen"):
        make_config(text)


def test_a_taken_metrics_port_costs_the_metrics_not_the_service(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = CONFIG.replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"', 1)
        with running(tmp_path, make_config(text)) as (server, s):
            assert server.server is not None and server.server.metrics is None
            assert enqueue(s, "still-routed").duplicate is False
