"""Chunk framing the runtime writes (pure), and how its buffers reach the socket."""

from __future__ import annotations

import base64
import errno
import socket
import threading
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from lambdastream.runtime import api_client
from lambdastream.runtime.chunked import (
    LAST_CHUNK,
    SCATTER_MIN,
    frame_chunk,
    frame_chunks,
    last_chunk_with_error,
)


@given(st.binary(min_size=1))
def test_a_chunk_is_size_line_data_and_crlf(data):
    framed = frame_chunk(data)
    size, _, rest = framed.partition(b"\r\n")
    assert int(size, 16) == len(data)
    assert rest == data + b"\r\n"


def test_error_trailers_end_the_body():
    body = base64.b64encode(b'{"errorType": "E"}').decode()
    tail = last_chunk_with_error("MyError", body)
    assert tail == (
        b"0\r\nLambda-Runtime-Function-Error-Type: MyError\r\n"
        b"Lambda-Runtime-Function-Error-Body: " + body.encode() + b"\r\n\r\n"
    )


@given(st.text())
def test_error_type_can_never_break_out_of_its_trailer(error_type):
    tail = last_chunk_with_error(error_type, "e30=")
    assert tail.count(b"\r\n") == 4
    assert tail.startswith(b"0\r\nLambda-Runtime-Function-Error-Type: ")


# -- many chunks in one write (frame_chunks) ---------------------------------------


@given(st.lists(st.binary(min_size=1, max_size=3 * SCATTER_MIN), max_size=40), st.binary())
def test_many_chunks_keep_each_its_own_framing_in_few_buffers(pieces, head):
    buffers = frame_chunks(pieces, head=head, tail=LAST_CHUNK)
    assert b"".join(buffers) == head + b"".join(map(frame_chunk, pieces)) + LAST_CHUNK
    big = [p for p in pieces if len(p) >= SCATTER_MIN]
    assert len(buffers) <= 2 * len(big) + 1
    # a big chunk is handed over as it is, never copied
    assert all(any(b is p for b in buffers) for p in big)


def test_a_hundred_thousand_small_chunks_are_one_buffer():
    pieces = [b"0123456789abcdef"] * 100_000
    (buffer,) = frame_chunks(pieces)
    assert buffer == b"10\r\n0123456789abcdef\r\n" * 100_000


# -- the buffers on the wire (send_buffers) ----------------------------------------


class Kernel:
    """A socket as the kernel treats ``sendmsg``: at most IOV_MAX buffers, maybe partly sent."""

    def __init__(self, iov_max: int, takes: list[int]) -> None:
        self.iov_max = iov_max
        self.takes = takes  # how many bytes each call accepts at most, in turn
        self.wire = bytearray()
        self.calls = 0

    def sendmsg(self, buffers):
        if len(buffers) > self.iov_max:
            raise OSError(errno.EMSGSIZE, "Message too long")
        data = b"".join(bytes(b) for b in buffers)
        take = self.takes[self.calls % len(self.takes)] if self.takes else len(data)
        self.calls += 1
        sent = data[: max(1, take)] if data else b""
        self.wire += sent
        return len(sent)


@given(
    st.lists(st.binary(max_size=50), max_size=300),
    st.integers(min_value=1, max_value=64),
    st.lists(st.integers(min_value=1, max_value=400), max_size=5),
)
def test_any_number_of_buffers_arrives_whole_and_in_order(buffers, iov_max, takes):
    kernel = Kernel(iov_max, takes)
    with mock.patch.object(api_client, "_IOV_MAX", iov_max):
        api_client.send_buffers(kernel, buffers)
    assert bytes(kernel.wire) == b"".join(buffers)


def test_more_buffers_than_the_kernel_takes_at_once_leave_in_groups():
    # What broke a burst of async chunks: 12,288 buffers in one sendmsg.
    left, right = socket.socketpair()
    buffers = [b"%d," % i for i in range(100_000)]
    expected = b"".join(buffers)
    got = bytearray()

    def read() -> None:
        while len(got) < len(expected):
            got.extend(right.recv(1 << 20))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        api_client.send_buffers(left, buffers)
        reader.join(10)
    finally:
        left.close()
        right.close()
    assert bytes(got) == expected
