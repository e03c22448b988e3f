"""The gRPC service around the router: config, auth, journal, streams and the clock.

One process owns one router per tenant. Requests are validated and authorised here, turned into
the core's commands, journaled (acknowledged only once committed) and applied; the router's
events go out on the agents', adapters' and dashboards' streams.
"""
