"""Run a runtime behind a proxy that cuts its connection to the Runtime API.

``lambdastream dev --bootstrap "python cutting_proxy.py MARKER -- COMMAND..."``
starts COMMAND (the real runtime) with ``AWS_LAMBDA_RUNTIME_API`` pointing at
this proxy, which passes every byte on to the real Runtime API, both ways,
until the runtime sends ``MARKER``: then it closes both sides of that
connection at once, as a network fault or Lambda's Runtime API closing the
stream would. Standard library only; it stands in for the wire, nothing of
ours.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading


def _pipe(src: socket.socket, dst: socket.socket, marker: bytes | None, both: list) -> None:
    seen = b""
    try:
        while data := src.recv(65536):
            if marker is not None:
                seen = (seen + data)[-(len(marker) + 65536) :]
                if marker in seen:
                    # Pass on what came before the marker, then cut.
                    dst.sendall(data[: max(0, data.find(marker))])
                    break
            dst.sendall(data)
    except OSError:
        pass
    for sock in both:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def main() -> int:
    marker = sys.argv[1].encode()
    command = sys.argv[sys.argv.index("--") + 1 :]
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    server = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                runtime, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection((host, int(port)))
            for sock in (runtime, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            both = [runtime, upstream]
            threading.Thread(
                target=_pipe, args=(runtime, upstream, marker, both), daemon=True
            ).start()
            threading.Thread(
                target=_pipe, args=(upstream, runtime, None, both), daemon=True
            ).start()

    threading.Thread(target=accept, daemon=True).start()
    env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.getsockname()[1]}"}
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
