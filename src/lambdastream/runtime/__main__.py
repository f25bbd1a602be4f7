"""``python -m lambdastream.runtime [module.function]``: load the handler, serve.

Init failures (bad handler name, import or syntax errors, a missing
function, an exception at import) go to ``/init/error`` and the process
exits non-zero, as on the managed runtime. Afterwards the loop never dies
on a handler's exception: each invocation is answered, then the next one
is fetched.
"""

import os
import sys

from lambdastream.runtime import logs
from lambdastream.runtime.client import RuntimeAPIError, RuntimeClient
from lambdastream.runtime.handler import load_handler, prepare_sys_path
from lambdastream.runtime.invoke import handle


def main(argv: list[str] | None = None) -> int:
    """Run the runtime loop; returns only on an init failure."""
    args = sys.argv[1:] if argv is None else argv
    spec = args[0] if args else os.environ.get("_HANDLER", "")
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.stderr.write("lambdastream.runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        return 2
    client = RuntimeClient(address)
    logs.install()
    prepare_sys_path(os.environ.get("LAMBDA_TASK_ROOT"))

    try:
        if not spec:
            from lambdastream.runtime.errors import RuntimeFault

            raise RuntimeFault(
                "Runtime.MalformedHandlerName", "No handler: pass module.function or set _HANDLER"
            )
        handler = load_handler(spec)
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            from lambdastream.runtime.snapstart import before_snapshot_and_restore

            before_snapshot_and_restore(client)
    except RuntimeAPIError as exc:
        sys.stderr.write(f"lambdastream.runtime: {exc}\n")
        return 1
    except BaseException as exc:  # init failed: report it, then exit as Lambda expects
        return report_init_error(client, exc)

    while True:
        try:
            answer = client.next_invocation()
        except RuntimeAPIError as exc:
            # Lambda is tearing the environment down, or it is gone: nothing to serve.
            sys.stderr.write(f"lambdastream.runtime: {exc}\n")
            return 1
        try:
            handle(client, handler, answer)
        except RuntimeAPIError as exc:
            # The connection broke mid-answer; the invocation's fate is now the
            # Runtime API's to report. Carry on with a fresh connection.
            sys.stderr.write(f"lambdastream.runtime: {exc}\n")
            client.reset()


def report_init_error(client: RuntimeClient, exc: BaseException, exit_code: int = 1) -> int:
    """Post an init failure to ``/init/error`` and return the exit status."""
    from lambdastream.runtime.errors import error_from_exception, error_json, log_error

    error = error_from_exception(exc)
    sys.stdout.write("[WARNING] The function's initialization failed; see the error below.\n")
    log_error(error, logs.LOG_FORMAT)
    try:
        client.post_error("init/error", error_json(error), error["errorType"] or "Unhandled")
    except RuntimeAPIError as post_exc:
        sys.stderr.write(f"lambdastream.runtime: could not report the init error: {post_exc}\n")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
