"""Open-model load on a running ACD service with locust: callers arrive, agents answer.

Callers (``CallerUser``) arrive as a Poisson process: each user starts an EnqueueCall every
exp(1/rate) seconds in its own greenlet and does not wait for the answer before the next
arrival, so a slow server meets the same arrival rate (an open model) instead of fewer
requests. Agents (``AgentUser``, one per configured agent, spawned first) log in, hold their
StreamOffers stream and answer every offer: accept, talk, the adapter ends the call, finish
wrap-up. gRPC runs on the sync API made gevent-cooperative (``grpc.experimental.gevent``), as
in locust's gRPC example; an interceptor reports each unary call to locust's statistics, and
"offer after enqueue" is the time from sending an enqueue to the offer on the agent's stream.

Loopback only: the users refuse any --host that is not 127.0.0.1, localhost or [::1].

A tenant with many agents and their tokens (written by the service bench)::

    python bench/service_vs_echo.py --write-config bench-load --agents 200
    acd serve --config bench-load/acd.toml &
    ACD_LOCUST_BENCH_AGENTS=200 locust -f bench/locustfile.py --headless \\
        --host 127.0.0.1:50051 --users 250 --spawn-rate 250 --run-time 1m \\
        --csv bench-load/locust --html bench-load/locust.html

(--users counts the 200 agents too: the other 50 are callers, 1 call/s each by default.)
Against ``make run``'s dev config, leave ACD_LOCUST_BENCH_AGENTS unset: the dev tokens of anna
and carla and the sales queue are the defaults. The reports are ``<csv>_stats.csv``,
``<csv>_stats_history.csv``, ``<csv>_failures.csv``, ``<csv>_exceptions.csv`` and the HTML page.

Settings (environment):
- ACD_LOCUST_BENCH_AGENTS=N: agents a0..a<N-1> with the bench's tokens, queue "q"
- ACD_LOCUST_AGENTS="id:token,...": the agents otherwise (default: the dev config's)
- ACD_LOCUST_ADAPTER_TOKEN, ACD_LOCUST_QUEUE: the adapter's token and the queue called
- ACD_LOCUST_CALLS_PER_USER_S (1.0), ACD_LOCUST_TALK_S (mean talk time, 2.0),
  ACD_LOCUST_MAX_IN_FLIGHT (calls one caller user may have open, 100; an arrival beyond it is
  reported as a failure, never delayed)
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent  # type: ignore[import-untyped]
import grpc
import grpc.experimental.gevent as grpc_gevent
from gevent.pool import Pool  # type: ignore[import-untyped]
from gevent.queue import Empty, Queue  # type: ignore[import-untyped]
from locust import User, constant, poisson, task
from locust.env import Environment
from locust.exception import LocustError, StopUser

from acd.v1 import agent_pb2, agent_pb2_grpc, common_pb2, routing_pb2, routing_pb2_grpc

_BENCH_AGENTS = int(os.environ.get("ACD_LOCUST_BENCH_AGENTS", "0"))
if _BENCH_AGENTS:
    AGENTS = [(f"a{i}", f"bench-agent-{i}") for i in range(_BENCH_AGENTS)]
    _DEFAULT_ADAPTER, _DEFAULT_QUEUE = "bench-adapter", "q"
else:
    _pairs = os.environ.get("ACD_LOCUST_AGENTS", "anna:dev-agent-anna,carla:dev-agent-carla")
    AGENTS = [tuple(p.split(":", 1)) for p in _pairs.split(",") if p]  # type: ignore[misc]
    _DEFAULT_ADAPTER, _DEFAULT_QUEUE = "dev-adapter", "sales"
ADAPTER_TOKEN = os.environ.get("ACD_LOCUST_ADAPTER_TOKEN", _DEFAULT_ADAPTER)
QUEUE = os.environ.get("ACD_LOCUST_QUEUE", _DEFAULT_QUEUE)
CALLS_PER_USER_S = float(os.environ.get("ACD_LOCUST_CALLS_PER_USER_S", "1.0"))
TALK_S = float(os.environ.get("ACD_LOCUST_TALK_S", "2.0"))
MAX_IN_FLIGHT = int(os.environ.get("ACD_LOCUST_MAX_IN_FLIGHT", "100"))

# Before any channel exists: grpc's I/O must yield to gevent instead of blocking the hub.
grpc_gevent.init_gevent()
# Blocking grpc work runs on gevent's thread pool (10 threads by default), and a stream read
# that waits for the next message holds one: every agent's offer stream waits all the time.
gevent.get_hub().threadpool.maxsize = len(AGENTS) + 64

# When each call's enqueue was sent, for "offer after enqueue" (same process only). The offer
# often reaches the agent before the enqueue's answer reaches the caller: both follow the same
# journal commit in the service.
_ENQUEUED_AT: dict[str, float] = {}
_next_agent = itertools.count()
_next_agent_lock = threading.Lock()


def _require_loopback(host: str | None) -> str:
    """``host:port`` of a loopback server, else a LocustError: this file loads loopback only."""
    if not host:
        raise LocustError("give --host 127.0.0.1:PORT (the ACD service's gRPC address)")
    name = host.rsplit(":", 1)[0].strip("[]")
    loopback = name == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(name).is_loopback
        except ValueError:
            loopback = False
    if not loopback:
        raise LocustError(f"--host {host!r}: this locustfile only loads a loopback address")
    return host


def report(
    environment: Environment,
    name: str,
    response_time_ms: float,
    request_type: str = "grpc",
    exception: BaseException | None = None,
    *,
    response_length: int = 0,
) -> None:
    """One entry in locust's statistics (its event hook is untyped: the one ignore)."""
    environment.events.request.fire(  # type: ignore[no-untyped-call]
        request_type=request_type,
        name=name,
        response_time=response_time_ms,
        response_length=response_length,
        exception=exception,
        context={},
    )


class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Reports every unary call (time, size, error) to locust's statistics."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        start = time.perf_counter()
        outcome = continuation(client_call_details, request)
        error = outcome.exception()
        report(
            self.environment,
            client_call_details.method.rsplit("/", 1)[-1],
            (time.perf_counter() - start) * 1000,
            exception=error,
            response_length=0 if error else outcome.result().ByteSize(),
        )
        return outcome


class AcdUser(User):
    """A user holding one gRPC channel to the service; subclasses pick the token."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        target = _require_loopback(self.host)
        self.channel = grpc.intercept_channel(
            grpc.insecure_channel(target), LocustInterceptor(environment)
        )
        self.routing = routing_pb2_grpc.RoutingServiceStub(self.channel)
        self.agents = agent_pb2_grpc.AgentServiceStub(self.channel)
        self.adapter_metadata = (("authorization", f"Bearer {ADAPTER_TOKEN}"),)

    def on_stop(self) -> None:
        self.channel.close()


class CallerUser(AcdUser):
    """Callers arriving as a Poisson process at ACD_LOCUST_CALLS_PER_USER_S per user."""

    wait_time = poisson(CALLS_PER_USER_S)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.in_flight = Pool(MAX_IN_FLIGHT)

    @task
    def call_arrives(self) -> None:
        if self.in_flight.full():
            dropped = LocustError(f"arrival dropped: {MAX_IN_FLIGHT} calls in flight")
            report(self.environment, "EnqueueCall", 0, exception=dropped)
            return
        self.in_flight.spawn(self._enqueue, f"locust-{uuid.uuid4().hex}")

    def _enqueue(self, call_id: str) -> None:
        call = common_pb2.Call(call_id=call_id, queue_id=QUEUE, caller_number="+4930000")
        request = routing_pb2.EnqueueCallRequest(call=call)
        _ENQUEUED_AT[call_id] = time.perf_counter()
        try:
            self.routing.EnqueueCall(request, metadata=self.adapter_metadata, timeout=10)
        except grpc.RpcError:
            _ENQUEUED_AT.pop(call_id, None)  # the failure is reported by the interceptor

    def on_stop(self) -> None:
        self.in_flight.join(timeout=10)
        super().on_stop()


class AgentUser(AcdUser):
    """One configured agent: logged in, ready, answering every offer on its stream."""

    fixed_count = len(AGENTS)
    wait_time = constant(0)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        with _next_agent_lock:
            index = next(_next_agent)
        if index >= len(AGENTS):
            raise StopUser()
        self.agent_id, token = AGENTS[index]
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.offers: Any = None
        self.reader: gevent.Greenlet | None = None
        # The reader only reads: a unary call made inside the stream's iteration waits for
        # the stream (sync grpc under gevent), so offers go to the task through a queue.
        self.offered: Any = Queue()

    def on_start(self) -> None:
        me, md = self.agent_id, self.metadata
        self.agents.Login(agent_pb2.LoginRequest(agent_id=me), metadata=md, timeout=10)
        request = agent_pb2.StreamOffersRequest(agent_id=me)
        self.offers = self.agents.StreamOffers(request, metadata=md)
        self.reader = gevent.spawn(self._read_offers)
        ready = agent_pb2.SetStateRequest(agent_id=me, availability=agent_pb2.AVAILABILITY_READY)
        self.agents.SetState(ready, metadata=md, timeout=10)

    @task
    def answer_offer(self) -> None:
        """Takes the next offer from the stream (waiting up to a second) and handles it."""
        try:
            call_id = self.offered.get(timeout=1)
        except Empty:
            return
        self._answer(call_id)

    def _read_offers(self) -> None:
        try:
            for message in self.offers:
                if message.WhichOneof("event") == "offer":
                    call_id = message.offer.offer.call_id
                    enqueued = _ENQUEUED_AT.pop(call_id, None)
                    if enqueued is not None:
                        waited_ms = (time.perf_counter() - enqueued) * 1000
                        report(self.environment, "offer after enqueue", waited_ms, "stream")
                    self.offered.put(call_id)
        except grpc.RpcError as err:
            if err.code() is not grpc.StatusCode.CANCELLED:
                report(self.environment, "StreamOffers", 0, exception=err)

    def _answer(self, call_id: str) -> None:
        me, md = self.agent_id, self.metadata
        try:
            accept = agent_pb2.AcceptOfferRequest(agent_id=me, call_id=call_id)
            self.agents.AcceptOffer(accept, metadata=md, timeout=10)
            gevent.sleep(random.expovariate(1 / TALK_S) if TALK_S > 0 else 0)
            end = routing_pb2.EndCallRequest(call_id=call_id)
            self.routing.EndCall(end, metadata=self.adapter_metadata, timeout=10)
            done = agent_pb2.FinishWrapUpRequest(
                agent_id=me, call_id=call_id, disposition_code="locust"
            )
            self.agents.FinishWrapUp(done, metadata=md, timeout=10)
        except grpc.RpcError:
            pass  # reported by the interceptor; the next offer starts afresh

    def on_stop(self) -> None:
        if self.offers is not None:
            self.offers.cancel()
        if self.reader is not None:
            self.reader.join(timeout=5)
        try:
            logout = agent_pb2.LogoutRequest(agent_id=self.agent_id)
            self.agents.Logout(logout, metadata=self.metadata, timeout=10)
        except grpc.RpcError:
            pass
        super().on_stop()
