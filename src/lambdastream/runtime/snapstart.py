"""SnapStart: run the user's snapshot hooks around ``/restore/next``.

The hooks are registered through AWS's ``snapshot_restore_py`` package; it is
read only in snap-start mode and only when the function ships it, so the
runtime itself stays standard-library only.
"""

from __future__ import annotations

from lambdastream.runtime.api_client import RuntimeAPIError, RuntimeClient
from lambdastream.runtime.errors import error_from_exception, error_json, log_error


def before_snapshot_and_restore(client: RuntimeClient) -> int:
    """Run before-snapshot hooks, wait for the restore, run after-restore hooks.

    Returns 0 when the environment is restored and ready; otherwise the exit
    status the process must end with, the failure already reported: a
    failing before-snapshot hook is an init error
    (``Runtime.BeforeSnapshotError``, 64), a failing after-restore hook goes
    to ``/restore/error`` (``Runtime.AfterRestoreError``, 65).
    """
    from lambdastream.runtime import logs

    try:
        registry = __import__("snapshot_restore_py")
    except ImportError:
        registry = None
    try:
        if registry is not None:
            hooks = registry.get_before_snapshot()
            while hooks:  # last registered runs first, as awslambdaric does
                func, args, kwargs = hooks.pop()
                func(*args, **kwargs)
    except Exception as exc:
        error = error_from_exception(exc)
        log_error(error, logs.LOG_FORMAT)
        client.post_error("init/error", error_json(error), "Runtime.BeforeSnapshotError")
        return 64
    answer = client.restore_next()
    if answer.status != 200:
        detail = answer.body[:300].decode("utf-8", "replace")
        raise RuntimeAPIError(f"/restore/next answered {answer.status}: {detail}")
    # The connection made before the snapshot points at a host that no
    # longer exists after restore.
    client.reset()
    try:
        if registry is not None:
            for func, args, kwargs in registry.get_after_restore():
                func(*args, **kwargs)
    except Exception as exc:
        error = error_from_exception(exc)
        log_error(error, logs.LOG_FORMAT)
        client.post_error("restore/error", error_json(error), "Runtime.AfterRestoreError")
        return 65
    return 0
