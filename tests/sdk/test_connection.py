"""Below the SDKs: HTTP/1.1 keep-alive as the SDKs' connection pools use it.

The official SDKs (httpx underneath) keep connections open and send the next request on
the same one. A server that closes a connection after an answer must say so with
`Connection: close`; otherwise a client that has already written its next request gets
"Server disconnected without sending a response". The request line and headers are sent
before the body here, a few milliseconds apart, as a client's stack may, so a server that
answers before reading the body is caught every time, not by chance.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from conftest import MASTER_KEY

BODY = json.dumps(
    {"model": "on-openai", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
).encode()

ENDPOINTS = {
    "chat-completions": ("/v1/chat/completions", "authorization", "Bearer {key}"),
    "messages": ("/v1/messages", "x-api-key", "{key}"),
    "count-tokens": ("/v1/messages/count_tokens", "x-api-key", "{key}"),
}


def head(path: str, header: str, value: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: modelmux\r\ncontent-type: application/json\r\n"
        f"{header}: {value}\r\ncontent-length: {len(BODY)}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str]] | None:
    """One response (Content-Length framed): its status and headers; None if the server
    closed the connection before sending one."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    raw_head, rest = data.split(b"\r\n\r\n", 1)
    lines = raw_head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers


def exchange(sock: socket.socket, path: str, header: str, value: str):
    sock.sendall(head(path, header, value))
    time.sleep(0.05)
    sock.sendall(BODY)
    return read_response(sock)


@pytest.mark.parametrize("key", ["good", "wrong"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_connection_is_reusable_or_closed_with_notice(stack, endpoint, key):
    path, header, template = ENDPOINTS[endpoint]
    first_key = MASTER_KEY if key == "good" else "not-" + MASTER_KEY
    url = urlsplit(stack.gateway.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        first = exchange(sock, path, header, template.format(key=first_key))
        assert first is not None, "no answer to the first request"
        status, headers = first
        assert status == (200 if key == "good" else 401), first
        if headers.get("connection", "").lower() == "close":
            return  # announced: the client opens a new connection
        time.sleep(0.05)
        try:
            second = exchange(sock, path, header, template.format(key=MASTER_KEY))
        except OSError as e:  # e.g. BrokenPipeError: closed under the client's feet
            second = e
        assert isinstance(second, tuple) and second[0] == 200, (
            f"after a {status} without `Connection: close` the next request on the same "
            f"connection got {second!r} instead of 200"
        )
