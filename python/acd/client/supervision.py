"""SupervisionService (supervisor; admin may list) and CrmService (crm, supervisor, agent)."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from acd.client.connection import Connection
from acd.client.streams import ResumableStream
from acd.v1 import common_pb2, crm_pb2, supervision_pb2

QueueStatsCall = grpc.aio.UnaryStreamCall[
    supervision_pb2.StreamQueueStatsRequest, supervision_pb2.StreamQueueStatsResponse
]
AlertsCall = grpc.aio.UnaryStreamCall[
    supervision_pb2.StreamAlertsRequest, supervision_pb2.StreamAlertsResponse
]


class SupervisionMethods(Connection):
    async def list_waiting_calls(
        self, queue_ids: Iterable[str] = (), *, limit: int = 0
    ) -> list[common_pb2.WaitingCall]:
        """Calls not yet connected, by queue then position; ``limit`` 0 = all."""
        request = supervision_pb2.ListWaitingCallsRequest(queue_ids=queue_ids, limit=limit)
        return list((await self._unary(self._supervision.ListWaitingCalls, request)).calls)

    async def list_agents(
        self,
        queue_ids: Iterable[str] = (),
        *,
        states: Iterable[common_pb2.AgentState.ValueType] = (),
        group_id: str = "",
    ) -> list[common_pb2.AgentStatus]:
        """Agents with state, reason and time in state, in configuration order."""
        request = supervision_pb2.ListAgentsRequest(
            queue_ids=queue_ids, states=states, group_id=group_id
        )
        return list((await self._unary(self._supervision.ListAgents, request)).agents)

    async def force_agent_state(
        self, agent_id: str, state: common_pb2.AgentState.ValueType, reason_code: str = ""
    ) -> common_pb2.AgentStatus:
        """Puts an agent in ready, not ready (with a reason) or logged out."""
        request = supervision_pb2.ForceAgentStateRequest(
            agent_id=agent_id, state=state, reason_code=reason_code
        )
        return (await self._unary(self._supervision.ForceAgentState, request)).agent

    def stream_queue_stats(
        self,
        queue_ids: Iterable[str] = (),
        *,
        last_sequence: int = 0,
        min_interval_ms: int = 0,
        reconnect: bool = False,
    ) -> ResumableStream[supervision_pb2.StreamQueueStatsResponse]:
        """Complete figures of each watched queue as they change (empty = every queue)."""
        queues = list(queue_ids)

        def open_stream(after: int) -> QueueStatsCall:
            request = supervision_pb2.StreamQueueStatsRequest(
                queue_ids=queues, last_sequence=after, min_interval_ms=min_interval_ms
            )
            return self._supervision.StreamQueueStats(request, metadata=self.metadata)

        return ResumableStream(open_stream, last_sequence=last_sequence, reconnect=reconnect)

    def stream_alerts(
        self,
        queue_ids: Iterable[str] = (),
        *,
        min_severity: supervision_pb2.AlertSeverity.ValueType = (
            supervision_pb2.ALERT_SEVERITY_UNSPECIFIED
        ),
        last_sequence: int = 0,
        reconnect: bool = False,
    ) -> ResumableStream[supervision_pb2.StreamAlertsResponse]:
        """Alerts raised and cleared; starts with every alert still raised."""
        queues = list(queue_ids)

        def open_stream(after: int) -> AlertsCall:
            request = supervision_pb2.StreamAlertsRequest(
                queue_ids=queues, min_severity=min_severity, last_sequence=after
            )
            return self._supervision.StreamAlerts(request, metadata=self.metadata)

        return ResumableStream(open_stream, last_sequence=last_sequence, reconnect=reconnect)

    async def get_screen_pop(
        self, *, call_id: str | None = None, caller_number: str | None = None
    ) -> common_pb2.ScreenPop:
        """The screen pop for a live or recent call, or for a caller number alone."""
        if (call_id is None) == (caller_number is None):
            raise ValueError("get_screen_pop: give exactly one of call_id, caller_number")
        if call_id is not None:
            request = crm_pb2.GetScreenPopRequest(call_id=call_id)
        else:
            assert caller_number is not None
            request = crm_pb2.GetScreenPopRequest(caller_number=caller_number)
        return (await self._unary(self._crm.GetScreenPop, request)).screen_pop
