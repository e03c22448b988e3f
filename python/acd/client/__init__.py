"""An asyncio client for the ACD service (grpc.aio), for adapters, CRMs, desktops and tests.

```python
from acd.client import ServiceError, connect

async with connect("127.0.0.1:50051", "dev-adapter") as adapter:
    await adapter.enqueue_call("pbx-1", "sales", caller="+4930123", dialled="800-1")
    async with adapter.adapter_stream() as stream:        # high-volume adapters
        await stream.enqueue_call("pbx-2", "sales", channel="chat")
        async for decision in stream.decisions(): ...
    anna = adapter.with_token("dev-agent-anna")           # same channel, another identity
    await anna.login("anna"); await anna.set_ready("anna")
    async with anna.agent_session("anna") as desktop:     # commands and events, one stream
        async for event in desktop.events(): ...          # desktop.accept_offer(call_id)
    async with anna.stream_offers("anna", reconnect=True) as offers:
        async for message in offers:                      # resumable: offers.last_sequence
            if message.WhichOneof("event") == "offer":
                await anna.accept_offer("anna", message.offer.offer.call_id)
```

One channel per ``connect``; the token rides on every call as ``authorization: Bearer ...``.
Results are the generated ``acd.v1`` messages (typed by their ``.pyi`` stubs) or the one field
of them that is the answer. Every failure is a ``ServiceError`` carrying the gRPC status code.
"""

from acd.client.adapter_stream import AdapterStream
from acd.client.agent_session import AgentSession
from acd.client.calls import CallFields, ChannelArg, make_call
from acd.client.client import AcdClient, TlsOptions, connect
from acd.client.errors import ServiceError
from acd.client.streams import ResumableStream

__all__ = [
    "AcdClient",
    "AdapterStream",
    "AgentSession",
    "CallFields",
    "ChannelArg",
    "ResumableStream",
    "ServiceError",
    "TlsOptions",
    "connect",
    "make_call",
]
