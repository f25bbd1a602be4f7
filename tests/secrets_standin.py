"""AWS Secrets Manager's GetSecretValue, at the wire, for the chat function's API-key mode.

Secrets Manager cannot run here. This serves the one call the function
makes, the way the service answers it (AWS JSON 1.1: ``POST /`` with
``X-Amz-Target: secretsmanager.GetSecretValue``; errors as ``{"__type",
"message"}`` with status 400), so the function runs its real boto3 code
against it through ``AWS_ENDPOINT_URL_SECRETS_MANAGER``. Loopback only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "secretsmanager.GetSecretValue"


@contextmanager
def secrets_manager(secrets: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """Serve ``secrets`` (ARN or name -> SecretString); yield (URL, the SecretIds asked for)."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/x-amz-json-1.1")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.headers.get("x-amz-target") != TARGET:
                self._answer(400, {"__type": "UnknownOperationException", "message": ""})
                return
            if not self.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
                self._answer(400, {"__type": "MissingAuthenticationTokenException",
                                   "message": "Missing Authentication Token"})  # fmt: skip
                return
            secret_id = str(request.get("SecretId", ""))
            asked.append(secret_id)
            if secret_id not in secrets:
                message = "Secrets Manager can't find the specified secret."
                self._answer(400, {"__type": "ResourceNotFoundException", "message": message})
                return
            self._answer(200, {
                "ARN": secret_id, "Name": secret_id.rsplit(":", 1)[-1],
                "SecretString": secrets[secret_id], "VersionId": "v1",
                "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9,
            })  # fmt: skip

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
