"""Zips Lambda unpacks as meant, the same bytes for the same files.

Entries are sorted by name and dated 1980-01-01 (the zip format's first
day) unless ``SOURCE_DATE_EPOCH`` says otherwise, with the Unix modes Lambda
keeps: 0755 for what must run, 0644 for the rest. A date or a mode that
changed with the machine would change the zip, and with it the code hash
every deployment tool compares.

Example::

    >>> import io, zipfile
    >>> entries = [("run.sh", b"#!/bin/sh\\n", True), ("app.py", b"x = 1\\n", False)]
    >>> archive = zipfile.ZipFile(io.BytesIO(zip_bytes(entries)))
    >>> [(i.filename, oct(i.external_attr >> 16), i.date_time[0]) for i in archive.infolist()]
    [('app.py', '0o100644', 1980), ('run.sh', '0o100755', 1980)]
    >>> zip_bytes(entries) == zip_bytes(entries[::-1])
    True
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["Entry", "tree_entries", "write_zip", "zip_bytes"]

# (name in the zip, its bytes or the file holding them, whether it is executable)
Entry = tuple[str, "bytes | Path", bool]
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_zip(out: BinaryIO, entries: Iterable[Entry]) -> None:
    """Write ``entries`` to ``out`` as a zip, sorted by name; a file's bytes are read as written."""
    date = _zip_date()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data, executable in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=date)
            info.create_system = 3  # Unix: Lambda keeps the modes below
            info.external_attr = (0o100000 | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            content = data.read_bytes() if isinstance(data, Path) else data
            archive.writestr(info, content, compresslevel=9)


def zip_bytes(entries: Iterable[Entry]) -> bytes:
    """The zip of ``entries``, in memory."""
    buffer = io.BytesIO()
    write_zip(buffer, entries)
    return buffer.getvalue()


def tree_entries(root: Path) -> Iterator[Entry]:
    """Every file under ``root`` (symbolic links followed), executable if any x bit is set."""
    for folder, _, files in os.walk(root, followlinks=True):
        for name in files:
            path = Path(folder, name)
            executable = bool(path.stat().st_mode & 0o111)
            yield path.relative_to(root).as_posix(), path, executable


def _zip_date() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return _ZIP_EPOCH
    stamp = time.gmtime(max(int(epoch), 315532800))  # the zip format starts in 1980
    return (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)
