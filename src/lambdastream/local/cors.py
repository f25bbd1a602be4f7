"""``--cors-*``: answer CORS the way a Function URL with a CORS config does.

Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered
without invoking the function; other responses get the CORS headers, which
replace any the function set itself.

Example::

    >>> cors = CorsConfig(origins=["https://app.example"], methods="GET,POST")
    >>> pre, extra = cors(HttpRequest("OPTIONS", "/", [("Origin", "https://app.example"),
    ...                              ("Access-Control-Request-Method", "POST")]))
    >>> dict(pre)["Access-Control-Allow-Methods"]
    'GET,POST'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdastream.wire.request import HttpRequest

__all__ = ["CorsConfig"]


@dataclass
class CorsConfig:
    """A Function URL's CORS settings."""

    origins: list[str] = field(default_factory=list)
    methods: str = "*"
    headers: str = ""
    expose_headers: str = ""
    max_age: int = 0
    allow_credentials: bool = False

    def _allowed_origin(self, origin: str) -> str | None:
        if origin in self.origins:
            return origin
        if "*" in self.origins:
            return origin if self.allow_credentials else "*"
        return None

    def __call__(
        self, request: HttpRequest
    ) -> tuple[list[tuple[str, str]] | None, list[tuple[str, str]]]:
        """Return (preflight response headers or None, headers to add to a response)."""
        values = {k.lower(): v for k, v in request.headers}
        origin = values.get("origin")
        preflight = request.method == "OPTIONS" and "access-control-request-method" in values
        allowed = self._allowed_origin(origin) if origin else None
        if allowed is None:
            return ([("Vary", "Origin")] if preflight else None), []
        common = [("Access-Control-Allow-Origin", allowed), ("Vary", "Origin")]
        if self.allow_credentials:
            common.append(("Access-Control-Allow-Credentials", "true"))
        if preflight:
            headers = [*common, ("Access-Control-Allow-Methods", self.methods)]
            if self.headers:
                headers.append(("Access-Control-Allow-Headers", self.headers))
            if self.max_age:
                headers.append(("Access-Control-Max-Age", str(self.max_age)))
            return headers, []
        if self.expose_headers:
            common.append(("Access-Control-Expose-Headers", self.expose_headers))
        return None, common
