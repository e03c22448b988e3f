"""Just enough HTTP/1.1 for the wallboard: one request per connection, read with bounds.

The wallboard serves a page, a login and a Server-Sent Events stream to browsers on a trusted
network; a full web framework would be a heavy dependency for that. What a request may be is
small and checked: a head of at most 16 KiB (the StreamReader's limit), a body of at most
8 KiB, sized by Content-Length (no chunked bodies), every response ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 8 * 1024
MAX_HEADERS = 64
REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
}
# Every response: nothing is cached, nothing is sniffed, the page runs only its own files and
# cannot be framed by another site.
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
)


class HttpError(Exception):
    """A request refused with ``status``; ``message`` goes to the client (JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without the query
    query: Mapping[str, str]  # the first value of each name
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""
    cookies: Mapping[str, str] = field(default_factory=dict)


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip()
    return out


def parse_head(head: bytes) -> Request:
    """The request line and headers (``head`` ends with the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line")
    method, target, _ = parts
    if not target.startswith("/"):
        raise HttpError(400, "the request target must be a path")
    url = urlsplit(target)
    headers: dict[str, str] = {}
    fields = [line for line in lines[1:] if line]
    if len(fields) > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header fields")
    for line in fields:
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or not name or name != name.strip() or " " in name:
            raise HttpError(400, "malformed header field")
        value = value.strip()
        if name in headers:
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return Request(method, url.path, query, headers, cookies=_cookies(headers.get("cookie", "")))


async def read_request(reader: asyncio.StreamReader) -> Request:
    """One request from ``reader`` (created with ``limit=MAX_HEAD_BYTES``)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(431, f"the request head is over {MAX_HEAD_BYTES} bytes") from None
    request = parse_head(head)
    if "transfer-encoding" in request.headers:
        raise HttpError(501, "chunked request bodies are not supported")
    length_text = request.headers.get("content-length")
    if length_text is None:  # no body (RFC 9112: neither Content-Length nor Transfer-Encoding)
        return request
    if not length_text.isdigit():
        raise HttpError(400, "malformed Content-Length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"the body is over {MAX_BODY_BYTES} bytes")
    body = await reader.readexactly(length) if length else b""
    return Request(
        request.method, request.path, request.query, request.headers, body, request.cookies
    )


def response(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A whole response; the connection closes after it."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    if body or status != 204:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in (*SECURITY_HEADERS, *headers))
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_response(status: int, value: object, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    body = json.dumps(value, separators=(",", ":")).encode()
    return response(status, body, "application/json", headers)


def error_response(error: HttpError, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    return json_response(error.status, {"error": error.message}, headers)


def event_stream_head() -> bytes:
    """The head of a Server-Sent Events response; events follow until the connection ends.
    ``retry``: a browser that lost the stream tries again after 2 s."""
    lines = [
        "HTTP/1.1 200 OK",
        "Content-Type: text/event-stream; charset=utf-8",
        *(f"{name}: {value}" for name, value in SECURITY_HEADERS),
        "X-Accel-Buffering: no",  # a reverse proxy must pass each event on at once
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + b"retry: 2000\n\n"


def event(name: str, data: object) -> bytes:
    """One SSE event; JSON never holds a raw newline, so ``data`` is one line."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
