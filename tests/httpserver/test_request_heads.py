"""Request heads read as RFC 9112 and Go's net/http (what Lambda runs) read
them: what llhttp lets through and the reader must refuse, on bytes alone,
then checked against h11 as a peer parser."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdastream.httpserver import UploadBudget
from lambdastream.httpserver.reader import Failed, Received, RequestReader


def _read(raw: bytes) -> list:
    return RequestReader(max_body=100, budget=UploadBudget(1000)).feed(raw)


@pytest.mark.parametrize(
    ("raw", "status", "detail"),
    [
        # llhttp gives both; HttpRequest.header would join them as "a,b".
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "too many Host headers"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "too many Host headers"),
        (b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "too many Host headers"),
        (b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, "missing required Host header"),
        # llhttp reads a line without a version as HTTP/0.9; Go: "malformed HTTP request".
        (b"GET /\r\nHost: x\r\n\r\n", 400, "no HTTP version"),
        (b"GET /\r\n\r\n", 400, "no HTTP version"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0"),
        # RFC 9112 6.1: the framing of an HTTP/1.0 message with Transfer-Encoding is faulty.
        (
            b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "Transfer-Encoding in an HTTP/1.0 request",
        ),
    ],
    ids=["two-hosts", "same-host-twice", "two-hosts-1.0", "no-host", "no-version",
         "no-version-no-host", "http-2.0", "1.0-chunked"],
)  # fmt: skip
def test_heads_go_refuses_are_refused(raw, status, detail):
    reader = RequestReader(max_body=100, budget=UploadBudget(1000))
    [failed] = reader.feed(raw)
    assert isinstance(failed, Failed), failed
    assert failed.status == status and detail in failed.detail, failed
    assert reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []  # and nothing more is read


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.0\r\n\r\n",  # HTTP/1.0 needs no Host
        b"GET / HTTP/1.1\r\nHost:\r\n\r\n",  # RFC 9112 3.2: empty when there is no authority
        b"GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ],
    ids=["1.0-no-host", "empty-host", "absolute-form", "1.1-chunked"],
)
def test_heads_go_accepts_are_read(raw):
    [received] = _read(raw)
    assert isinstance(received, Received), received


@pytest.mark.parametrize(
    ("raw", "keep_alive"),
    [
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive, x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
    ],
    ids=["1.0", "1.0-keep-alive", "1.0-keep-alive-token", "1.1", "1.1-close"],
)
def test_http10_is_kept_alive_only_when_it_asks(raw, keep_alive):
    """RFC 9112 9.3: an HTTP/1.0 connection persists only with "Connection: keep-alive"."""
    [received] = _read(raw)
    assert received.keep_alive is keep_alive


# ------------------------------------------------------------------ against h11


def _h11_verdict(raw: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """What h11 reads from ``raw``: (target, headers), or None if it refuses the head."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError as exc:
        assert exc.error_status_hint == 400
        return None
    assert isinstance(event, h11.Request), event
    return event.target.decode(), [(k.decode(), v.decode()) for k, v in event.headers.raw_items()]


@st.composite
def _heads(draw) -> tuple[bytes, str, bool]:
    """A request head varying in what the checks look at: version, Host, framing."""
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", None]))
    target = draw(st.sampled_from(["/", "/a/b?q=1", "*", "http://h/x"]))
    headers: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 3))):
        headers.append(("Host", draw(st.sampled_from(["h", "h:9000", ""]))))
    chunked = draw(st.booleans())
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
    connection = draw(st.sampled_from([None, "keep-alive", "close"]))
    if connection:
        headers.append(("Connection", connection))
    headers.append(("X-Other", draw(st.sampled_from(["1", "a b"]))))
    order = draw(st.permutations(range(len(headers))))
    headers = [headers[i] for i in order]
    method = "POST" if chunked else "GET"
    line = f"{method} {target} {version}" if version else f"{method} {target}"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    body = "0\r\n\r\n" if chunked else ""
    return f"{line}\r\n{head}\r\n{body}".encode(), version or "", chunked


@settings(max_examples=300, deadline=None)
@given(_heads())
def test_the_reader_refuses_what_h11_refuses(case):
    """h11 refuses two Hosts, a missing Host and a missing version, as Go does.
    We refuse those too, and one more thing Go (tip) and RFC 9112 6.1 refuse
    and h11 reads: Transfer-Encoding in an HTTP/1.0 request."""
    raw, version, chunked = case
    peer = _h11_verdict(raw)
    [ours] = _read(raw)
    stricter = version == "HTTP/1.0" and chunked
    if peer is None or stricter:
        assert isinstance(ours, Failed) and ours.status == 400, (raw, ours)
    else:
        assert isinstance(ours, Received), (raw, ours)
        assert (ours.request.target, ours.request.headers) == peer
