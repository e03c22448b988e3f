"""The gRPC contract (proto/acd/v1) as the generated Python code sees it.

buf lint checks the .proto sources; these tests check what the rest of the service builds on:
the committed modules import with the pinned protobuf/grpcio, every service and method the
other parts are written against exists, every enum has its UNSPECIFIED zero value, and every
server stream numbers its messages. The checkers are also run against deliberately broken
descriptors, so a checker that could never fail would be caught too.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
    ServiceDescriptor,
)

import acd.v1
from acd.v1 import common_pb2, crm_pb2, crm_pb2_grpc

PACKAGE = "acd.v1"

# The services and methods other parts of the service (server, adapters, desktops, CLI) are
# written against. Coverage may grow; nothing listed here may disappear or be renamed.
EXPECTED_METHODS: dict[str, set[str]] = {
    "RoutingService": {
        "EnqueueCall",
        "EnqueueCalls",
        "CancelCall",
        "EndCall",
        "TransferCall",
        "RequestCallback",
        "AdapterStream",
    },
    "AgentService": {
        "Login",
        "Logout",
        "SetState",
        "StreamOffers",
        "Session",
        "AcceptOffer",
        "RejectOffer",
        "FinishWrapUp",
        "PickCall",
    },
    "SupervisionService": {
        "StreamQueueStats",
        "ListWaitingCalls",
        "ListAgents",
        "ForceAgentState",
        "StreamAlerts",
    },
    "CrmService": {"GetScreenPop"},
    "AdminService": {
        "UpsertQueue",
        "ListQueues",
        "UpsertSkill",
        "ListSkills",
        "UpsertAgent",
        "ListAgents",
        "UpsertGroup",
        "ListGroups",
        "UpsertHours",
        "ListHours",
        "ReloadConfig",
        "SeatReport",
    },
    "PlatformService": {"CreateTenant", "DeleteTenant", "ListTenants"},
    "ReportService": {
        *("QueueReport", "AgentReport", "CampaignReport", "Heatmap", "ExportCdrs"),
        "QualityReport",
    },
    "QualityService": {
        *("AttachRecording", "ListRecordings", "GetRecording", "ListScorecards"),
        *("CreateEvaluation", "ListEvaluations", "GetEvaluation"),
    },
}

# (service, method): (client streams, server streams). Every other method is unary.
EXPECTED_STREAMING: dict[tuple[str, str], tuple[bool, bool]] = {
    ("RoutingService", "AdapterStream"): (True, True),
    ("AgentService", "StreamOffers"): (False, True),
    ("AgentService", "Session"): (True, True),
    ("SupervisionService", "StreamQueueStats"): (False, True),
    ("SupervisionService", "StreamAlerts"): (False, True),
    ("ReportService", "ExportCdrs"): (False, True),
}

# Every .proto of the contract, by file stem.
PROTO_FILES = (
    *("admin", "agent", "common", "crm", "outbound"),
    *("platform", "quality", "reports", "routing", "supervision"),
)


# --- descriptor walking and the checks themselves -------------------------------------------


def generated_modules() -> list[ModuleType]:
    """Every *_pb2 module in acd.v1 (found on disk, so a new .proto is covered automatically)."""
    names = sorted(m.name for m in pkgutil.iter_modules(acd.v1.__path__) if m.name.endswith("_pb2"))
    return [importlib.import_module(f"acd.v1.{name}") for name in names]


def file_descriptors() -> list[FileDescriptor]:
    files: list[FileDescriptor] = [module.DESCRIPTOR for module in generated_modules()]
    return files


def all_messages(files: list[FileDescriptor]) -> Iterator[Descriptor]:
    def walk(message: Descriptor) -> Iterator[Descriptor]:
        yield message
        for nested in message.nested_types:
            yield from walk(nested)

    for f in files:
        for message in f.message_types_by_name.values():
            yield from walk(message)


def all_enums(files: list[FileDescriptor]) -> Iterator[EnumDescriptor]:
    for f in files:
        yield from f.enum_types_by_name.values()
    for message in all_messages(files):
        yield from message.enum_types


def all_services(files: list[FileDescriptor]) -> dict[str, ServiceDescriptor]:
    return {s.name: s for f in files for s in f.services_by_name.values()}


def enum_problems(enums: Iterator[EnumDescriptor]) -> list[str]:
    """Enums whose zero value is missing or not named <ENUM_NAME>_UNSPECIFIED."""
    problems = []
    for enum in enums:
        zero = enum.values_by_number.get(0)
        if zero is None or not zero.name.endswith("_UNSPECIFIED"):
            problems.append(f"{enum.full_name}: zero value is {zero.name if zero else None}")
    return problems


def stream_sequence_problems(services: dict[str, ServiceDescriptor]) -> list[str]:
    """Server-streaming methods whose response message has no uint64 `sequence` field."""
    problems = []
    for service in services.values():
        for method in service.methods:
            if not method.server_streaming:
                continue
            field = method.output_type.fields_by_name.get("sequence")
            if field is None or field.type != FieldDescriptor.TYPE_UINT64:
                problems.append(f"{method.full_name}: {method.output_type.name} has no sequence")
    return problems


# --- the contract --------------------------------------------------------------------------


def test_generated_modules_import_in_package_acd_v1() -> None:
    modules = generated_modules()
    stems = {m.__name__.rsplit(".", 1)[1].removesuffix("_pb2") for m in modules}
    assert stems == set(PROTO_FILES)
    for module in modules:
        assert module.DESCRIPTOR.package == PACKAGE, module.__name__
        importlib.import_module(f"{module.__name__}_grpc")


def test_every_expected_service_and_method_exists() -> None:
    services = all_services(file_descriptors())
    missing = {
        name: sorted(methods - {m.name for m in services[name].methods})
        if name in services
        else ["<service missing>"]
        for name, methods in EXPECTED_METHODS.items()
    }
    assert {k: v for k, v in missing.items() if v} == {}


def test_streaming_shape_of_every_method() -> None:
    services = all_services(file_descriptors())
    for name in EXPECTED_METHODS:
        for method in services[name].methods:
            expected = EXPECTED_STREAMING.get((name, method.name), (False, False))
            actual = (method.client_streaming, method.server_streaming)
            assert actual == expected, method.full_name


def test_one_request_and_one_response_message_per_method() -> None:
    seen: dict[str, str] = {}
    for service in all_services(file_descriptors()).values():
        for method in service.methods:
            for message in (method.input_type, method.output_type):
                assert message.full_name not in seen, f"{message.full_name} reused"
                seen[message.full_name] = method.full_name
                assert message.name.endswith(("Request", "Response")), message.full_name


def test_every_enum_has_an_unspecified_zero_value() -> None:
    files = file_descriptors()
    assert len(list(all_enums(files))) >= 5
    assert enum_problems(all_enums(files)) == []


def test_every_server_stream_message_has_a_sequence() -> None:
    services = all_services(file_descriptors())
    streams = [m for s in services.values() for m in s.methods if m.server_streaming]
    assert len(streams) == sum(1 for (_, server) in EXPECTED_STREAMING.values() if server)
    assert stream_sequence_problems(services) == []


def test_resumable_streams_take_the_last_sequence_seen() -> None:
    services = all_services(file_descriptors())
    for service, method in [
        ("AgentService", "StreamOffers"),
        ("SupervisionService", "StreamQueueStats"),
        ("SupervisionService", "StreamAlerts"),
    ]:
        request = services[service].methods_by_name[method].input_type
        assert "last_sequence" in request.fields_by_name, request.full_name
    stats = services["SupervisionService"].methods_by_name["StreamQueueStats"].output_type
    assert "dropped_updates" in stats.fields_by_name


def test_tenant_is_named_only_by_platform_requests() -> None:
    files = file_descriptors()
    for message in all_messages(files):
        if "tenant_id" in message.fields_by_name and message.name.endswith("Request"):
            assert message.file.name == "acd/v1/platform.proto", message.full_name


# --- the checkers can fail -----------------------------------------------------------------


def broken_file() -> FileDescriptor:
    """A file breaking both rules: an enum without UNSPECIFIED, a stream without sequence."""
    proto = descriptor_pb2.FileDescriptorProto(name="broken/v1/broken.proto", package="broken.v1")
    proto.syntax = "proto3"
    enum = proto.enum_type.add(name="Colour")
    enum.value.add(name="COLOUR_RED", number=0)
    request = proto.message_type.add(name="WatchRequest")
    request.field.add(name="id", number=1, type=FieldDescriptor.TYPE_STRING, label=1)
    response = proto.message_type.add(name="WatchResponse")
    response.field.add(name="sequence", number=1, type=FieldDescriptor.TYPE_INT32, label=1)
    service = proto.service.add(name="WatchService")
    service.method.add(
        name="Watch",
        input_type=".broken.v1.WatchRequest",
        output_type=".broken.v1.WatchResponse",
        server_streaming=True,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return pool.FindFileByName(proto.name)


def test_checkers_report_a_broken_contract() -> None:
    broken = broken_file()
    assert enum_problems(all_enums([broken])) == ["broken.v1.Colour: zero value is COLOUR_RED"]
    # An int32 `sequence` does not count: sequences are uint64 everywhere.
    assert stream_sequence_problems(all_services([broken])) == [
        "broken.v1.WatchService.Watch: WatchResponse has no sequence"
    ]


# --- the generated gRPC code works with the pinned grpcio ----------------------------------


class _ScreenPops(crm_pb2_grpc.CrmServiceServicer):
    async def GetScreenPop(
        self, request: crm_pb2.GetScreenPopRequest, context: object
    ) -> crm_pb2.GetScreenPopResponse:
        pop = common_pb2.ScreenPop(caller_number=request.caller_number, calls_today=2)
        return crm_pb2.GetScreenPopResponse(screen_pop=pop)


async def _round_trip() -> crm_pb2.GetScreenPopResponse:
    server = grpc.aio.server()
    crm_pb2_grpc.add_CrmServiceServicer_to_server(_ScreenPops(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = crm_pb2_grpc.CrmServiceStub(channel)
            request = crm_pb2.GetScreenPopRequest(caller_number="+4930123")
            return await stub.GetScreenPop(request, timeout=10)
    finally:
        await server.stop(None)


def test_generated_service_round_trip_over_loopback() -> None:
    response = asyncio.run(_round_trip())
    assert response.screen_pop.caller_number == "+4930123"
    assert response.screen_pop.calls_today == 2


def test_channel_and_agent_state_values_come_from_the_glossary() -> None:
    assert list(common_pb2.Channel.keys()) == [
        "CHANNEL_UNSPECIFIED",
        "CHANNEL_VOICE",
        "CHANNEL_CHAT",
        "CHANNEL_EMAIL",
        "CHANNEL_MESSENGER",
        "CHANNEL_CALLBACK",
    ]
    assert list(common_pb2.AgentState.keys()) == [
        "AGENT_STATE_UNSPECIFIED",
        "AGENT_STATE_LOGGED_OUT",
        "AGENT_STATE_NOT_READY",
        "AGENT_STATE_READY",
        "AGENT_STATE_RESERVED",
        "AGENT_STATE_BUSY",
        "AGENT_STATE_WRAP_UP",
    ]
