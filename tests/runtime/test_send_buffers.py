"""How the runtime's buffers reach its socket: any number, in groups the kernel takes."""

from __future__ import annotations

import errno
import socket
import threading
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from lambdastream.runtime import api_client

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
