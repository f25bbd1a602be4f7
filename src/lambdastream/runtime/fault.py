"""The runtime's own failures, reported under a ``Runtime.*`` error type.

Its own module, so that what raises one (the codec, the loader) does not
need the error formatting (``errors.py``), which itself needs the codec.

Example::

    >>> fault = RuntimeFault("Runtime.MarshalError", "Unable to marshal response")
    >>> fault.error_type, str(fault)
    ('Runtime.MarshalError', 'Unable to marshal response')
"""


class RuntimeFault(Exception):
    """A failure the runtime reports under a ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []
