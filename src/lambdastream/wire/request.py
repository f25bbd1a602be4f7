"""One HTTP request as a server received it (sans-I/O).

Example::

    >>> request = HttpRequest("POST", "/path?q=1", [("Host", "h"), ("X-A", "1")], b"{}")
    >>> request.header("host"), request.body
    ('h', b'{}')
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HttpRequest"]


@dataclass
class HttpRequest:
    """One parsed HTTP request as the Function URL frontend received it."""

    method: str
    target: str  # the request target as sent: path plus optional ?query
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    http_version: str = "1.1"

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), repeats joined with commas.

        >>> HttpRequest("GET", "/", [("X-A", "1"), ("x-a", "2")]).header("x-a")
        '1,2'
        """
        name = name.lower()
        values = [value for key, value in self.headers if key.lower() == name]
        return ",".join(values) if values else None
