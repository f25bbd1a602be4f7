"""SnapStart: run the user's snapshot hooks around ``/restore/next``.

The hooks are registered through AWS's ``snapshot_restore_py`` package; it is
read only in snap-start mode and only when the function ships it, so the
runtime itself stays standard-library only.
"""

from __future__ import annotations

import sys

from lambdastream.runtime.client import RuntimeClient
from lambdastream.runtime.errors import error_from_exception, error_json, log_error


def before_snapshot_and_restore(client: RuntimeClient) -> None:
    """Run before-snapshot hooks, wait for the restore, run after-restore hooks.

    A failing before-snapshot hook is an init error (``Runtime.BeforeSnapshotError``,
    exit 64); a failing after-restore hook goes to ``/restore/error``
    (``Runtime.AfterRestoreError``, exit 65).
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
        client.restore_next()
    except Exception as exc:
        error = error_from_exception(exc)
        log_error(error, logs.LOG_FORMAT)
        client.post_error("init/error", error_json(error), "Runtime.BeforeSnapshotError")
        sys.exit(64)
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
        sys.exit(65)
