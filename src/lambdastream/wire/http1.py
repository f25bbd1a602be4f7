"""What an HTTP/1.x request head must be beyond what a parser checks (RFC 9112), pure.

llhttp (httptools) reads some heads that Go's net/http, which Lambda's
front ends run, refuses: a request line without a version (llhttp reads it
as HTTP/0.9), two ``Host`` fields (a caller joining them would see
``"a,b"``), an HTTP/1.1 request without ``Host``, and HTTP/1.0 with
``Transfer-Encoding``. :func:`head_problem` says which, from the parsed
version and fields, so that the local server is as strict as the real one.

Example::

    >>> head_problem("1.1", [("Host", "a"), ("host", "b")])
    HeadProblem(status=400, reason='too many Host headers')
    >>> head_problem("1.1", [("Host", "h")]) is None
    True
    >>> head_problem("1.0", []) is None  # HTTP/1.0 needs no Host
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["HeadProblem", "head_problem"]


@dataclass(frozen=True)
class HeadProblem:
    """Why a head is refused: the status to answer and a reason for the client and the log."""

    status: int
    reason: str


def head_problem(version: str, headers: Iterable[tuple[str, str]]) -> HeadProblem | None:
    """What is wrong with a request head of HTTP ``version`` ("1.1") and ``headers``, if anything.

    >>> head_problem("0.9", [("Host", "h")])  # "GET /": no version on the request line
    HeadProblem(status=400, reason='malformed HTTP request: no HTTP version')
    >>> head_problem("2.0", [("Host", "h")])
    HeadProblem(status=505, reason='unsupported protocol version HTTP/2.0')
    >>> head_problem("1.1", [])
    HeadProblem(status=400, reason='missing required Host header')
    >>> head_problem("1.0", [("Transfer-Encoding", "chunked")]).status
    400
    """
    if version == "0.9":
        # Go needs "METHOD TARGET VERSION"; HTTP/0.9 (no version) is long gone.
        return HeadProblem(400, "malformed HTTP request: no HTTP version")
    if version not in ("1.0", "1.1"):
        return HeadProblem(505, f"unsupported protocol version HTTP/{version}")
    hosts = 0
    transfer_encoding = False
    for name, _ in headers:
        lowered = name.lower()
        if lowered == "host":
            hosts += 1
        elif lowered == "transfer-encoding":
            transfer_encoding = True
    # RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without
    # Host or with more than one (Go: "missing required Host header",
    # "too many Host headers").
    if hosts > 1:
        return HeadProblem(400, "too many Host headers")
    if hosts == 0 and version == "1.1":
        return HeadProblem(400, "missing required Host header")
    if transfer_encoding and version == "1.0":
        # RFC 9112 6.1: treat the framing as faulty, and close. HTTP/1.0
        # knows no chunked framing, so its body length is unknown.
        return HeadProblem(400, "Transfer-Encoding in an HTTP/1.0 request")
    return None
