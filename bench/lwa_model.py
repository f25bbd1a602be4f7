"""A model of the AWS Lambda Web Adapter: a web server behind one proxy hop.

The Lambda Web Adapter (awslabs/aws-lambda-web-adapter, Rust) runs a web
app unchanged on Lambda: the app's own server (uvicorn) listens on
127.0.0.1:8080, and the adapter polls the Runtime API and forwards each
invocation to it over HTTP/1.1. Its real binary cannot be built here (its
crates come from crates.io, which this machine cannot reach), so this is a
faithful model in Python, standard library only, doing what the adapter does
(its ``src/lib.rs``, with ``AWS_LWA_INVOKE_MODE=response_stream``):

- readiness: an HTTP ``GET /`` to the app every 10 ms until it answers with a
  status in 100-499 (the default check; the app serves that one extra request
  at cold start), then the Runtime API loop;
- per invocation: the Function URL event becomes an HTTP/1.1 request on one
  kept-alive connection to the app, with the headers the adapter adds
  (``x-amzn-request-context`` and ``x-amzn-lambda-context``, JSON) and the
  whole body;
- the response streams back to the Runtime API as lambda_runtime sends it:
  one chunked POST carrying the HTTP integration prelude (``statusCode``,
  ``headers``, ``cookies``; ``set-cookie`` moved into ``cookies``,
  ``transfer-encoding`` dropped) and the 8-NUL delimiter as two chunks, then
  each read from the app as one chunk, unbuffered.

Run as the runtime of an environment, with the app's server command after
``--`` (it is started first, as this process's child), or with the pid of a
server this process's shell started before ``exec``-ing it (so both start
at once, as Lambda starts the adapter, an extension, alongside the app)::

    python -I -S bench/lwa_model.py --port 8080 -- python -m uvicorn app:app --port 8080
    sh -c '"$@" & exec python -I -S bench/lwa_model.py --server-pid $!' sh python -m uvicorn ...

It prints nothing; errors go to stderr and exit 1. A Python proxy costs more
CPU per request than the Rust adapter: ``bench.asgi`` reports the proxy's CPU
apart from the app server's.
"""

import base64
import json
import os
import socket
import sys
import time

READINESS_INTERVAL = 0.010  # the adapter's: 10 ms between checks
_API = "/2018-06-01/runtime/invocation/"


class Conn:
    """One HTTP/1.1 keep-alive connection with a read buffer."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def recv(self) -> bytes:
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("connection closed")
        return data

    def read_head(self) -> tuple[int, list[tuple[str, str]]]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self.buf += self.recv()
        head, self.buf = self.buf[:end], self.buf[end + 4 :]
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return int(lines[0].split(" ", 2)[1]), headers

    def read_exact(self, length: int) -> bytes:
        while len(self.buf) < length:
            self.buf += self.recv()
        data, self.buf = self.buf[:length], self.buf[length:]
        return data


def wait_ready(port: int, server: int) -> Conn:
    """GET / every 10 ms until the app answers 100-499; keep that connection."""
    while True:
        try:
            conn = Conn("127.0.0.1", port)
        except ConnectionRefusedError:
            pid, status = os.waitpid(server, os.WNOHANG)
            if pid:
                sys.exit(f"lwa_model: the app server exited ({status}) before it was ready")
            time.sleep(READINESS_INTERVAL)
            continue
        conn.sock.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        status, headers = conn.read_head()
        fields = dict(headers)
        if "chunked" in fields.get("transfer-encoding", "").lower():
            relay_chunked(conn, lambda data: None)
        else:
            conn.read_exact(int(fields.get("content-length", "0")))
        if 100 <= status <= 499:
            return conn
        conn.sock.close()
        time.sleep(READINESS_INTERVAL)


def to_request(event: dict, context: dict) -> bytes:
    """The HTTP/1.1 request the adapter sends the app for a payload 2.0 event."""
    http = event["requestContext"]["http"]
    target = event.get("rawPath") or "/"
    if event.get("rawQueryString"):
        target += "?" + event["rawQueryString"]
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = dict(event.get("headers") or {})
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    headers["x-amzn-request-context"] = json.dumps(event["requestContext"])
    headers["x-amzn-lambda-context"] = json.dumps(context)
    headers["content-length"] = str(len(data))
    lines = [f"{http['method']} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def relay(api: Conn, app: Conn, rid: str) -> None:
    """The app's response, streamed to the Runtime API as it arrives."""
    status, headers = app.read_head()
    prelude: dict = {"statusCode": status, "headers": {}, "cookies": []}
    chunked = False
    length = 0
    for name, value in headers:
        if name == "set-cookie":
            prelude["cookies"].append(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        else:
            if name == "content-length":
                length = int(value)
            merged = prelude["headers"].get(name)
            prelude["headers"][name] = value if merged is None else f"{merged},{value}"
    prelude["headers"].setdefault("content-type", "application/octet-stream")
    head = (
        f"POST {_API}{rid}/response HTTP/1.1\r\nhost: localhost\r\n"
        "lambda-runtime-function-response-mode: streaming\r\n"
        "content-type: application/vnd.awslambda.http-integration-response\r\n"
        "transfer-encoding: chunked\r\n"
        "trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    ).encode()
    meta = json.dumps(prelude).encode()
    api.sock.sendall(head + b"%x\r\n%s\r\n8\r\n%s\r\n" % (len(meta), meta, bytes(8)))
    send = api.sock.sendall
    if chunked:
        relay_chunked(app, send)
    else:
        left = length
        data, app.buf = app.buf[:left], app.buf[left:]
        while True:
            if data:
                send(b"%x\r\n%s\r\n" % (len(data), data))
                left -= len(data)
            if not left:
                break
            data = app.recv()
            data, app.buf = data[:left], data[left:]
    send(b"0\r\n\r\n")
    _, headers = api.read_head()
    api.read_exact(int(dict(headers).get("content-length", "0")))


def relay_chunked(app: Conn, send) -> None:  # type: ignore[no-untyped-def]
    """Each read of the app's chunked body, its framing removed, as one chunk."""
    buf, pos = app.buf, 0
    left = 0  # payload bytes of the current chunk still to come
    crlf = 0  # bytes of the CRLF after a payload still to skip
    while True:
        out = []
        end = len(buf)
        while True:
            if left:
                take = min(left, end - pos)
                if take:
                    out.append(buf[pos : pos + take])
                    pos += take
                    left -= take
                if left:
                    break
                crlf = 2
            if crlf:
                skip = min(crlf, end - pos)
                pos += skip
                crlf -= skip
                if crlf:
                    break
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(buf[pos:eol].split(b";")[0], 16)
            if size == 0:
                last = buf.find(b"\r\n\r\n", eol)  # the last chunk, then trailers
                if last < 0:
                    break
                if out:
                    data = b"".join(out)
                    send(b"%x\r\n%s\r\n" % (len(data), data))
                app.buf = buf[last + 4 :]
                return
            pos, left = eol + 2, size
        if out:
            data = b"".join(out)
            send(b"%x\r\n%s\r\n" % (len(data), data))
        buf, pos = buf[pos:] + app.recv(), 0


def main() -> int:
    args = sys.argv[1:]
    port = 8080
    if args[:1] == ["--port"]:
        port, args = int(args[1]), args[2:]
    if args[:1] == ["--server-pid"]:  # started by our parent shell, as Lambda starts both
        server = int(args[1])
    elif args[:1] == ["--"] and len(args) >= 2:
        server = os.posix_spawn(args[1], args[1:], os.environ)
    else:
        sys.exit("usage: lwa_model.py [--port N] (--server-pid PID | -- SERVER COMMAND...)")
    app = wait_ready(port, server)
    host, api_port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    api = Conn(host, int(api_port))
    function_arn = ""
    while True:
        api.sock.sendall(f"GET {_API}next HTTP/1.1\r\nhost: localhost\r\n\r\n".encode())
        _, headers = api.read_head()
        fields = dict(headers)
        event = json.loads(api.read_exact(int(fields.get("content-length", "0"))))
        rid = fields["lambda-runtime-aws-request-id"]
        function_arn = fields.get("lambda-runtime-invoked-function-arn", function_arn)
        context = {
            "request_id": rid,
            "deadline": int(fields.get("lambda-runtime-deadline-ms", "0")),
            "invoked_function_arn": function_arn,
            "xray_trace_id": fields.get("lambda-runtime-trace-id"),
            "env_config": {
                "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                "memory": int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
                "version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            },
        }
        app.sock.sendall(to_request(event, context))
        relay(api, app, rid)


if __name__ == "__main__":
    sys.exit(main())
