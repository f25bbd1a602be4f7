"""The function as ``lambdastream dev`` runs it: what its flags set, and how a runtime starts.

Example::

    >>> config = FunctionConfig(handler="app.handler", root=Path("."))
    >>> config.name, config.arn
    ('app', 'arn:aws:lambda:us-east-1:123456789012:function:app')
    >>> config.command()[-3:]
    ['-m', 'lambdastream.runtime', 'app.handler']
    >>> FunctionConfig("app.handler", Path("."), max_concurrency=4).environ(
    ...     "127.0.0.1:9001", "stream")["AWS_LAMBDA_MAX_CONCURRENCY"]
    '4'
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdastream.local.iam import ACCOUNT_ID
from lambdastream.local.runtime_api import MAX_STREAMED_RESPONSE

__all__ = ["DEFAULT_TIMEOUT", "FunctionConfig", "default_name"]

# What `lambdastream init`'s template and the chat's deploy (FunctionTimeout):
# a stream that runs there runs here, rather than being cut at Lambda's own 3 s.
DEFAULT_TIMEOUT = 120.0

# The directory holding the lambdastream package: the runtime's code.
_RUNTIME_DIR = str(Path(__file__).resolve().parents[2])
# Where a layer's Python code is on Lambda, on the runtime's path before site-packages.
_LAYER_DIRS = (
    f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages",
    "/opt/python",
)
_PASSED_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "NODE_PATH",
)


@dataclass
class FunctionConfig:
    """How the function runs: what ``lambdastream dev``'s flags set."""

    handler: str
    root: Path
    name: str = ""
    bootstrap: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    memory: int = 128
    concurrency: int = 10
    # Invocations one environment takes at once (Lambda Managed Instances);
    # 1 is Lambda's usual one at a time.
    max_concurrency: int = 1
    region: str = "us-east-1"
    log_format: str = "Text"
    max_stream: int = MAX_STREAMED_RESPONSE
    emulate_bandwidth: bool = False
    snap_start: bool = False
    # Asynchronous invokes: Lambda retries a failed event twice, about a
    # minute and then two minutes later, and drops events older than the
    # maximum age (6 hours by default). Locally the delay is short.
    async_retries: int = 2
    async_retry_delay: float = 1.0
    max_event_age: float = 6 * 3600

    def __post_init__(self) -> None:
        if not self.name:
            self.name = default_name(self.handler)

    @property
    def arn(self) -> str:
        """The function's ARN as Lambda would give it."""
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"

    def command(self) -> list[str]:
        """The runtime process's command line."""
        if self.bootstrap:
            return shlex.split(self.bootstrap)
        return [sys.executable, "-m", "lambdastream.runtime", self.handler]

    def unresolved(self) -> str | None:
        """The init error the runtime will report for a handler module found nowhere, else None.

        Looked up on the file system alone, where the runtime's import will
        look (the task root first, ``PYTHONPATH``, this Python's path): no
        code of the function runs. None also when it cannot be told without
        running code (another runtime's ``bootstrap``, a ``.pth`` file in
        the root, a package that shapes its own ``__path__``): the runtime
        reports those at init, as on Lambda.

        >>> FunctionConfig("nosuch.handler", Path(".")).unresolved()
        "Runtime.ImportModuleError: Unable to import module 'nosuch': No module named 'nosuch'"
        >>> FunctionConfig("json.dumps", Path(".")).unresolved() is None
        True
        """
        from importlib.machinery import PathFinder

        spelled = self.handler.rpartition(".")[0]
        parts = spelled.replace("/", ".").split(".")
        if self.bootstrap or not all(part.isidentifier() for part in parts):
            return None  # another runtime, or a malformed name: the runtime's to report
        if parts[0] in sys.builtin_module_names:
            return None
        root = self.root.resolve()
        if any(path.suffix == ".pth" for path in root.iterdir()):
            return None  # the runtime processes these: they may add any directory
        python_path = self.env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        search = [str(root), *python_path.split(os.pathsep), *_LAYER_DIRS, *sys.path]
        search = [entry for entry in search if entry]
        name = ""
        for index, part in enumerate(parts):
            name = f"{name}.{part}" if name else part
            spec = PathFinder.find_spec(name, search)
            if spec is None:
                return (
                    f"Runtime.ImportModuleError: Unable to import module '{spelled}':"
                    f" No module named '{name}'"
                )
            last = index == len(parts) - 1
            if not last and not _plain_package(spec.origin, spec.submodule_search_locations):
                return None
            search = list(spec.submodule_search_locations or ())
        return None

    def environ(
        self, runtime_api: str, log_stream: str, *, provisioned: bool = False
    ) -> dict[str, str]:
        """The environment a runtime starts with (lambda-facts: "Execution environment")."""
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL")})
        # Lambda sets no PYTHONPATH (the runtime puts the task root on
        # sys.path itself); one the developer set is theirs to pass on.
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": runtime_api,
                "_HANDLER": self.handler,
                "LAMBDA_TASK_ROOT": str(self.root.resolve()),
                # Where the runtime's own code lives, as /var/runtime on Lambda.
                "LAMBDA_RUNTIME_DIR": _RUNTIME_DIR,
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": (
                    "provisioned-concurrency"
                    if provisioned
                    else "snap-start"
                    if self.snap_start
                    else "on-demand"
                ),
                "AWS_LAMBDA_LOG_FORMAT": self.log_format,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
                "TZ": ":UTC",
                # Lines reach the log as printed, in order with START/END.
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.max_concurrency > 1:
            # How a Managed Instances runtime learns how many workers to run.
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(self.max_concurrency)
        env.update(self.env)
        return env


def _plain_package(origin: str | None, locations: Any) -> bool:
    """Whether a package's submodules can only be where its directories say.

    Not for a module (``os`` makes ``os.path`` importable), nor for a
    package whose ``__init__`` rewrites ``__path__`` or ``sys.modules``.
    """
    if locations is None:
        return False
    if origin is None or not origin.endswith("__init__.py"):
        return origin is None  # a namespace package: its directories alone
    try:
        source = Path(origin).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "__path__" not in source and "sys.modules" not in source


def default_name(handler: str) -> str:
    """A function name from a handler: ``app.handler`` -> ``app``.

    >>> default_name("pkg.mod.handler")
    'pkg-mod'
    """
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in module)
    return name[:64] or "function"
