"""``--watch``: restart environments when files under the root change.

Polls modification times (no dependency, works on every filesystem);
caches, VCS and dependency folders are skipped. Idle environments stop at
once; busy ones finish their invocation first, so no response is cut.

Example::

    task = asyncio.ensure_future(watch(Path("."), pool, printer))
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lambdastream.local.logs import LogPrinter
from lambdastream.local.pool import Pool

__all__ = ["snapshot", "watch"]

_SKIP = {"__pycache__", ".git", ".hg", ".venv", "venv", "node_modules", ".mypy_cache",
         ".pytest_cache", ".ruff_cache", ".hypothesis"}  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Map each file under ``root`` to its (mtime_ns, size)."""
    files: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP and not d.startswith(".")]
        for name in filenames:
            if name.endswith((".pyc", ".swp", "~")):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            files[path] = (st.st_mtime_ns, st.st_size)
    return files


async def watch(root: Path, pool: Pool, printer: LogPrinter, interval: float = 0.3) -> None:
    """Poll ``root`` forever; on a change, reload the pool's environments."""
    before = await asyncio.to_thread(snapshot, root)
    printer.info(f"  watching {root.resolve()} for changes")
    while True:
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(snapshot, root)
        if now != before:
            changed = sorted(set(now.items()) ^ set(before.items()))
            first = os.path.relpath(changed[0][0], root) if changed else "?"
            printer.info(f"change detected ({first}): restarting environments")
            pool.reload()
            before = now
