"""Start the runtime the way Lambda's managed Python bootstrap starts its own.

``sys.path`` as the managed runtime sets it, the handler loaded from
``module.function`` with the managed runtime's init errors, then the loop:
fetch an invocation, answer it, repeat. Three ways in, one loop:

- the layer's exec wrapper, ``AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdastream``
  on a managed ``python3.x`` runtime: the wrapper ``exec``s the runtime's own
  interpreter on :func:`exec_wrapper_main`;
- a container image's entrypoint, :func:`run`, with the handler as its
  command::

      ENTRYPOINT ["/var/lang/bin/python3.13", "-c",
                  "from lambdastream.runtime.bootstrap import run; run()"]
      CMD ["app.handler"]

- ``python -m lambdastream.runtime [HANDLER]`` (``lambdastream dev``).

Init failures (bad handler name, import or syntax errors, a missing
function, an exception at import) go to ``/init/error`` and the process
exits non-zero, as on the managed runtime. Afterwards the loop never dies
on a handler's exception: each invocation is answered, then the next one
is fetched.

On Lambda Managed Instances (``AWS_LAMBDA_MAX_CONCURRENCY`` above 1), init
and the loop (:func:`serve`) run in that many worker processes
(:mod:`lambdastream.runtime.workers`, docs/managed-instances.md).
"""

import os
import sys

from lambdastream.runtime import logs
from lambdastream.runtime.answer import handle
from lambdastream.runtime.api_client import Response, RuntimeAPIError, RuntimeClient

USAGE = """\
usage: python -m lambdastream.runtime [HANDLER]

Run a Lambda function's HANDLER (module.function, default $_HANDLER) against
the Runtime API at $AWS_LAMBDA_RUNTIME_API, as Lambda starts a runtime:
answering buffered, or streamed when the handler yields or returns a
StreamingResponse. Lambda (or `lambdastream dev` locally) sets the
environment: AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, ...
On Lambda's managed Python runtimes, use the layer and
AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdastream instead (lambdastream build layer).
"""

# What Lambda sets for every runtime; without them there is nothing to serve.
_REQUIRED_ENV = ("AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT")


def run() -> None:
    """``sys.exit(main())``: the one call a container entrypoint makes."""
    sys.exit(main())


def exec_wrapper_main(argv: "list[str] | None" = None) -> int:
    """Entry of the layer's exec wrapper: ``argv`` is ``[LAYER_DIR, BOOTSTRAP]``.

    ``LAYER_DIR`` is where the layer is unpacked (``/opt``) and ``BOOTSTRAP``
    the managed runtime's own bootstrap script, which is not run: its
    directory (``/var/runtime``, where the managed runtime keeps boto3) stays
    on ``sys.path`` as it would if it ran. The wrapper put
    ``LAYER_DIR/python`` first on ``sys.path`` to import this module; from
    here the managed order decides.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("lambdastream: expected the layer directory and the bootstrap script\n")
        return 2
    layer_dir, script = args
    missing = [name for name in _REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        sys.stderr.write(
            f"lambdastream: {' and '.join(missing)} not set: this wrapper runs inside Lambda"
            " (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdastream); run functions locally with"
            " `lambdastream dev`\n"
        )
        return 2
    entry = os.path.join(layer_dir, "python")
    if entry in sys.path:
        sys.path.remove(entry)
    return main([], opt_dir=layer_dir, runtime_dir=os.path.dirname(script))


def main(
    argv: "list[str] | None" = None, *, opt_dir: str = "/opt", runtime_dir: "str | None" = None
) -> int:
    """Run the runtime loop; returns only when there is nothing left to serve.

    ``argv`` is ``[HANDLER]``, the handler defaulting to ``$_HANDLER``;
    ``opt_dir`` is where layers are unpacked and ``runtime_dir`` the managed
    runtime's own code (default ``$LAMBDA_RUNTIME_DIR``).
    """
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    spec = args[0] if args else os.environ.get("_HANDLER", "")
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.stderr.write("lambdastream.runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        return 2
    try:
        client = RuntimeClient(address)
    except RuntimeAPIError as exc:
        sys.stderr.write(f"lambdastream.runtime: {exc}\n")
        return 2
    prepare_sys_path(
        os.environ.get("LAMBDA_TASK_ROOT"),
        opt_dir=opt_dir,
        runtime_dir=runtime_dir or os.environ.get("LAMBDA_RUNTIME_DIR"),
    )
    workers = max_concurrency()
    if workers > 1:
        # Lambda Managed Instances: one process per concurrent invocation,
        # each with its own init and loop (runtime/workers.py). Loaded only
        # there: an ordinary function's cold start pays nothing for it.
        from lambdastream.runtime.workers import run_workers

        return run_workers(workers, address, lambda worker, shared: serve(worker, spec, shared))
    logs.install()
    return serve(client, spec, Deliveries())


def max_concurrency() -> int:
    """How many invocations Lambda sends this environment at once (``AWS_LAMBDA_MAX_CONCURRENCY``).

    Lambda Managed Instances set it (``PerExecutionEnvironmentMaxConcurrency``);
    unset, or not a number above 1, it is 1: an ordinary environment, one
    invocation at a time, as the Rust and Go runtimes read it too.
    """
    value = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "")
    if value.isascii() and value.isdigit():
        return int(value)
    if value:
        sys.stderr.write(f"lambdastream.runtime: AWS_LAMBDA_MAX_CONCURRENCY={value!r} ignored\n")
    return 1


class Deliveries:
    """What a runtime process remembers of the invocations ``/next`` delivered to it.

    Lambda's Runtime API hands an unanswered invocation out again on the
    next ``/next`` (the same request id, deadline and invocation id); a
    handler must not run twice for it, whatever went wrong with its answer.
    A retry of an asynchronous event is a new delivery, with a deadline of
    its own. One process remembers the delivery whose handler ran last; the
    workers of a Managed Instances environment remember theirs together
    (:class:`lambdastream.runtime.workers.SharedDeliveries`).

    >>> deliveries, delivery = Deliveries(), ("r1", "1700000000000", "r1-1")
    >>> deliveries.claim(delivery), deliveries.claim(delivery)
    (True, False)
    """

    # An answer that could not get through ends the process: asking /next
    # again would be handed the invocation again. Lambda reports the exit
    # as Runtime.ExitError.
    lost_is_fatal = True

    def __init__(self) -> None:
        self.served: tuple[str | None, ...] | None = None

    def next(self, client: RuntimeClient) -> Response:
        """The next invocation (``/next``); :class:`RuntimeAPIError` when there is none to have."""
        return client.next_invocation()

    def claim(self, delivery: "tuple[str | None, ...]") -> bool:
        """Whether the handler may run for ``delivery``: False if it ran for it already."""
        if delivery == self.served:
            return False
        self.served = delivery
        return True

    def finished(self) -> None:
        """The claimed delivery is over: answered, or its answer given up."""

    def reports_init_error(self) -> bool:
        """Whether this process is the one to post an init failure to ``/init/error``."""
        return True

    def note(self, message: str) -> None:
        """Tell the log what became of the loop (the Runtime API failed)."""
        sys.stderr.write(f"lambdastream.runtime: {message}\n")


def serve(client: RuntimeClient, spec: str, deliveries: Deliveries) -> int:
    """Load the handler ``spec``, then answer invocations until there are none; the exit status."""
    # No automatic cyclic collection while the function loads: importing a
    # framework allocates hundreds of thousands of objects that the
    # collector would walk again and again (~6% of `import fastapi`). The
    # threshold, not gc.disable(), so that gc.disable() stays the function's.
    import gc

    thresholds = gc.get_threshold()
    paused = (0, *thresholds[1:])
    gc.set_threshold(*paused)
    try:
        handler = load_handler(spec)
        if type(handler) is not _FUNCTION or handler.__code__.co_flags & _CO_COROUTINE:
            handler = serve_web_app(handler)
            # A web app's own init (an ASGI lifespan startup) is part of ours.
            init = getattr(handler, "__lambda_init__", None)
            if init is not None:
                init()
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            from lambdastream.runtime.snapstart import before_snapshot_and_restore

            status = before_snapshot_and_restore(client)
            if status:
                return status
    except RuntimeAPIError as exc:
        sys.stderr.write(f"lambdastream.runtime: {exc}\n")
        return 1
    except BaseException as exc:  # init failed: report it, then exit as Lambda expects
        return report_init_error(client, exc, post=deliveries.reports_init_error())
    # What init built lives as long as the environment: frozen, the
    # collector never walks it again (the first invocation pays nothing).
    gc.freeze()
    if gc.get_threshold() == paused:  # unless the function set its own
        gc.set_threshold(*thresholds)

    while True:
        try:
            answer = deliveries.next(client)
        except RuntimeAPIError as exc:
            # Lambda is tearing the environment down, or it is gone: nothing to serve.
            deliveries.note(str(exc))
            return 1
        headers = answer.headers
        delivery = (
            headers.get("lambda-runtime-aws-request-id"),
            headers.get("lambda-runtime-deadline-ms"),
            headers.get("lambda-runtime-invocation-id"),
        )
        try:
            if deliveries.claim(delivery):
                handle(client, handler, answer)
                deliveries.finished()
            else:
                refuse_redelivery(client, answer)
        except RuntimeAPIError as exc:
            # Neither an answer nor an error for the invocation got through.
            deliveries.finished()
            if deliveries.lost_is_fatal:
                deliveries.note(f"{exc}; exiting")
                return 1
            deliveries.note(str(exc))


def refuse_redelivery(client: RuntimeClient, answer) -> None:  # type: ignore[no-untyped-def]
    """Answer an invocation delivered again after its handler ran, without running it.

    Raises :class:`RuntimeAPIError` if the error cannot be posted.
    """
    from lambdastream.runtime.errors import error_json, make_error

    headers = answer.headers
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    message = (
        f"Invocation {request_id} was delivered again after its handler ran; "
        "a handler runs at most once per invocation"
    )
    sys.stderr.write(f"lambdastream.runtime: {message}\n")
    body = error_json(make_error(message, DUPLICATE_INVOCATION, [], request_id))
    reply = client.post_error(
        f"invocation/{request_id}/error",
        body,
        DUPLICATE_INVOCATION,
        headers.get("lambda-runtime-invocation-id"),
    )
    if reply.status >= 300:
        raise RuntimeAPIError(
            f"the Runtime API refused the error for {request_id} ({reply.status})"
        )


DUPLICATE_INVOCATION = "Runtime.DuplicateInvocation"


def prepare_sys_path(
    task_root: "str | None", *, opt_dir: str = "/opt", runtime_dir: "str | None" = None
) -> None:
    """Order ``sys.path`` as the managed Python bootstrap does.

    The task root first, then (unless ``PYTHONPATH`` is set, which then
    decides) the layers' ``python/lib/pythonX.Y/site-packages`` and
    ``python``, the interpreter's own site-packages, then the managed
    runtime's directory, then the standard library. ``.pth`` files in the
    task root and the layer directories are processed, and ``PYTHONPATH``
    is set for child processes, as the managed bootstrap does. Directories
    that do not exist are left out: every import would look in them.
    """
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    front = [task_root]
    site_dirs = [task_root]
    if "PYTHONPATH" not in os.environ:
        layer_dirs = [f"{opt_dir}/python/lib/{version}/site-packages", f"{opt_dir}/python"]
        front += [*layer_dirs, f"{sys.prefix}/lib/{version}/site-packages"]
        site_dirs += layer_dirs
        if runtime_dir:
            os.environ["PYTHONPATH"] = runtime_dir
    front.append(runtime_dir)
    wanted = []
    for path in front:
        if path and path not in wanted and os.path.isdir(path):
            wanted.append(path)
    # '' (the working directory, from `python -c`) is not on the managed path.
    sys.path[:] = wanted + [p for p in sys.path if p and p not in wanted]
    _process_pth_files([d for d in site_dirs if d in wanted])


def _process_pth_files(directories: "list[str]") -> None:
    # site.addsitedir lists each directory and stats every sys.path entry:
    # pay for it only where a .pth file exists.
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        if any(name.endswith(".pth") for name in names):
            import site

            site.addsitedir(directory)


def load_handler(spec: str):  # type: ignore[no-untyped-def]
    """Import ``module.function`` and return the function.

    Raises :class:`~lambdastream.runtime.fault.RuntimeFault` with Lambda's init error types:
    ``Runtime.MalformedHandlerName``, ``Runtime.ImportModuleError``,
    ``Runtime.UserCodeSyntaxError``, ``Runtime.HandlerNotFound``. Any other
    exception raised while the module runs propagates as the user's own.
    """
    if not spec:
        raise _fault(
            "Runtime.MalformedHandlerName", "No handler: pass module.function or set _HANDLER"
        )
    try:
        module_name, attr = spec.rsplit(".", 1)
    except ValueError:
        raise _fault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        ) from None
    if not module_name or not attr:
        raise _fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}'")
    # Messages name the module as the handler spells it ('pkg/sub', as the
    # managed runtime does); the import uses dots.
    spelled, module_name = module_name, module_name.replace("/", ".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        # __import__ rather than importlib.import_module: the same import,
        # without ~0.7 ms of importing importlib and warnings on every cold start.
        __import__(module_name)
        module = sys.modules[module_name]
    except ImportError as exc:
        raise _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{spelled}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{spelled}': {exc}",
            trace,
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise _fault(
            "Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{spelled}'"
        ) from None


def _function() -> None:
    pass


_FUNCTION = type(_function)
_CO_COROUTINE = 0x80


def serve_web_app(obj):  # type: ignore[no-untyped-def]
    """The handler for ``obj``: an adapter if it is an ASGI or WSGI app, else ``obj``.

    ``_HANDLER=main.app`` may name a web app instead of a Lambda handler:
    an ASGI 3 app (``async def app(scope, receive, send)``, or an object
    whose ``__call__`` is one: FastAPI, Starlette) or a Flask or Django
    WSGI app. Any other WSGI callable is indistinguishable from a handler
    (both take two arguments): wrap it with ``lambdastream.wsgi.wsgi``.
    The caller then runs the adapter's ``__lambda_init__`` (an ASGI
    lifespan startup) as part of init.
    """
    call = obj if type(obj) is _FUNCTION else getattr(type(obj), "__call__", None)  # noqa: B004
    code = getattr(call, "__code__", None)
    if code is not None and code.co_flags & _CO_COROUTINE:
        if code.co_argcount == (3 if call is obj else 4):  # (self,) scope, receive, send
            from lambdastream.runtime.asgi_server import asgi

            return asgi(obj)
    elif hasattr(obj, "wsgi_app") or type(obj).__module__.startswith("django.core.handlers"):
        from lambdastream.runtime.wsgi_server import wsgi

        return wsgi(obj)
    return obj


def report_init_error(
    client: RuntimeClient, exc: BaseException, exit_code: int = 1, *, post: bool = True
) -> int:
    """Log an init failure, post it to ``/init/error`` (if ``post``); the exit status.

    A 403 answer is no failure of ours: on Lambda Managed Instances another
    worker reported first, or one already waits in ``/next`` (init is then
    complete, and the environment serves on with its healthy workers).
    """
    from lambdastream.runtime.errors import error_from_exception, error_json, log_error

    error = error_from_exception(exc)
    warning = "The function's initialization failed; see the error below."
    if logs.LOG_FORMAT == "JSON":
        sys.stdout.write(logs.json_record("WARNING", warning, "root"))
    else:
        sys.stdout.write(f"[WARNING] {warning}\n")
    log_error(error, logs.LOG_FORMAT)
    if not post:
        return exit_code
    try:
        reply = client.post_error(
            "init/error", error_json(error), error["errorType"] or "Unhandled"
        )
    except RuntimeAPIError as post_exc:
        sys.stderr.write(f"lambdastream.runtime: could not report the init error: {post_exc}\n")
        return exit_code
    if reply.status >= 300 and reply.status != 403:
        detail = reply.body[:300].decode("utf-8", "replace")
        sys.stderr.write(
            f"lambdastream.runtime: the Runtime API refused the init error ({reply.status}): "
            f"{detail}\n"
        )
    return exit_code


def _fault(error_type: str, message: str, trace: "list[str] | None" = None) -> Exception:
    # errors.py loads only when something fails: not on the cold-start path.
    from lambdastream.runtime.fault import RuntimeFault

    return RuntimeFault(error_type, message, trace)
