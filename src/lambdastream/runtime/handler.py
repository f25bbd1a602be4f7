"""Find the user's handler from ``module.function``, as the managed runtime does."""

import os
import sys


def prepare_sys_path(task_root: str | None) -> None:
    """Put the task root and the layers' Python dirs first on ``sys.path``.

    The managed Python bootstrap searches ``$LAMBDA_TASK_ROOT``, then
    ``/opt/python/lib/pythonX.Y/site-packages`` and ``/opt/python`` (layers);
    a replacement runtime must find the same modules.
    """
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    wanted = [task_root, f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    for path in reversed([p for p in wanted if p and os.path.isdir(p)]):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def load_handler(spec: str):  # type: ignore[no-untyped-def]
    """Import ``module.function`` and return the function.

    Raises :class:`~lambdastream.runtime.errors.RuntimeFault` with Lambda's init error types:
    ``Runtime.MalformedHandlerName``, ``Runtime.ImportModuleError``,
    ``Runtime.UserCodeSyntaxError``, ``Runtime.HandlerNotFound``. Any other
    exception raised while the module runs propagates as the user's own.
    """
    try:
        module_name, attr = spec.rsplit(".", 1)
    except ValueError:
        raise _fault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        ) from None
    if not module_name or not attr:
        raise _fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}'")
    module_name = module_name.replace("/", ".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            trace,
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise _fault(
            "Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'"
        ) from None


def _fault(error_type: str, message: str, trace: "list[str] | None" = None) -> Exception:
    # errors.py loads only when something fails: not on the cold-start path.
    from lambdastream.runtime.errors import RuntimeFault

    return RuntimeFault(error_type, message, trace)
