"""The context object handed to a handler, as awslambdaric builds it."""

import os
import sys
import time

from lambdastream.runtime.marshal import loads


class CognitoIdentity:
    """The caller's Amazon Cognito identity, when the caller had one."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data: dict | None = None) -> None:
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """The mobile client in a client context (AWS Mobile SDK fields)."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )
    app_package_name: object
    app_title: object
    app_version_code: object
    app_version_name: object
    installation_id: object

    def __init__(self, data: dict) -> None:
        # Not an object: AttributeError, as in ClientContext below.
        for name in self.__slots__:
            setattr(self, name, data.get(name))

    def __repr__(self) -> str:
        # awslambdaric's, field for field, so logs of a context read the same.
        return (
            f"Client([installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    """The client context an Invoke call passed (``X-Amz-Client-Context``).

    >>> ClientContext({"custom": {"k": "v"}, "env": {"locale": "fr_FR"}})
    ClientContext([custom={'k': 'v'},env={'locale': 'fr_FR'},client=None])
    """

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict) -> None:
        # A client context that is JSON but not an object (a list, a string,
        # a number) fails here with AttributeError ("'list' object has no
        # attribute 'get'"), and so does a "client" that is not one: the
        # invocation is refused before the handler runs, as awslambdaric,
        # which reads them with .get too, refuses it.
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = None if client is None else Client(client)

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """What Lambda tells a handler about its invocation and function.

    It has every attribute awslambdaric's context has, so handlers written
    for the managed runtime run unchanged, plus ``tenant_id`` and
    ``xray_trace_id``: the invocation's own X-Ray trace header
    (``Lambda-Runtime-Trace-Id``), or None when Lambda sent none. The
    runtime also sets ``_X_AMZN_TRACE_ID`` for the X-Ray SDK, as the managed
    runtime does; that variable is the process's, while the context is the
    invocation's (see docs/managed-instances.md).

    Example::

        def handler(event, context):
            budget_ms = context.get_remaining_time_in_millis()
            return {"request": context.aws_request_id, "budget_ms": budget_ms}
    """

    __slots__ = (
        "_deadline_ms",
        "_w3c",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
        "tenant_id",
        "xray_trace_id",
    )

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        invoked_function_arn: str | None = None,
        client_context_json: str | None = None,
        cognito_identity_json: str | None = None,
        tenant_id: str | None = None,
        xray_trace_id: str | None = None,
    ) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.xray_trace_id = xray_trace_id
        self._deadline_ms = deadline_ms
        self._w3c: dict = {}
        self.client_context = None
        if client_context_json:
            data = _parse_json_header(client_context_json, "Client Context")
            if isinstance(data, dict):
                w3c = data.pop("w3c", None)
                if isinstance(w3c, dict):
                    self._w3c = {
                        k: v
                        for k in ("traceparent", "tracestate", "baggage")
                        if isinstance(v := w3c.get(k), str)
                    }
            # JSON null is no client context, as on awslambdaric; any other
            # value that is not an object, ClientContext refuses.
            if data is not None:
                self.client_context = ClientContext(data)  # type: ignore[arg-type]
        cognito = None
        if cognito_identity_json:
            cognito = _parse_json_header(cognito_identity_json, "Cognito Identity")
        self.identity = CognitoIdentity(cognito if isinstance(cognito, dict) else None)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops this invocation (never negative)."""
        left = self._deadline_ms - int(time.time() * 1000)
        return left if left > 0 else 0

    def w3c(self) -> dict:
        """The W3C trace context (traceparent, tracestate, baggage) of the invoke."""
        return dict(self._w3c)

    def log(self, msg: object) -> None:
        """Write ``msg`` to the function's log, as ``context.log`` does on Lambda."""
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


def _parse_json_header(value: str, name: str) -> object:
    try:
        return loads(value)
    except ValueError as exc:
        from lambdastream.runtime.fault import RuntimeFault

        raise RuntimeFault(
            "Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {exc}"
        ) from None
