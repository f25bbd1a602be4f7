"""A runtime's side of the Runtime API on raw sockets, for hostile-runtime tests.

Tests copy this file next to a script that ``lambdastream dev --bootstrap``
runs, so a runtime can misbehave exactly as the test needs (call ``/next``
twice, answer on a second connection, stream forever) while the dev server
is the real one. Standard library only.
"""

from __future__ import annotations

import os
import socket

PREFIX = "/2018-06-01/runtime"


class Connection:
    """One keep-alive connection to ``$AWS_LAMBDA_RUNTIME_API``."""

    def __init__(self) -> None:
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self._rest = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> None:
        """Send a request (``path`` under /2018-06-01/runtime); read nothing."""
        self.send(
            f"{method} {PREFIX}{path} HTTP/1.1\r\nHost: x\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        """Read one response: status, lower-cased headers, body."""
        data = self._rest
        while b"\r\n\r\n" not in data:
            more = self.sock.recv(65536)
            if not more:
                raise ConnectionError("the Runtime API closed the connection")
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        size = int(headers.get("content-length", "0"))
        while len(body) < size:
            body += self.sock.recv(65536)
        self._rest = body[size:]
        return int(lines[0].split(" ")[1]), headers, body[:size]

    def next_invocation(self) -> tuple[str, bytes]:
        """``GET /next``: the request id and the event."""
        self.request("GET", "/invocation/next")
        status, headers, body = self.answer()
        assert status == 200, (status, body)
        return headers["lambda-runtime-aws-request-id"], body

    def respond(self, request_id: str, body: bytes) -> int:
        """A buffered response; returns the Runtime API's status."""
        self.request("POST", f"/invocation/{request_id}/response", body)
        return self.answer()[0]
