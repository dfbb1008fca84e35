"""Files written whole: a reader sees the old text or the new one, never half of either; and
source files read as DuckDB reads them, a gzip-compressed one (``orders.csv.gz``) decompressed."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import IO, Any

__all__ = ["write_whole", "open_source", "inner_suffix"]


def inner_suffix(path: Path) -> str:
    """A source file's format suffix, lower-cased, under a ``.gz`` (``orders.csv.gz``: ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def open_source(path: Path | str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """``open`` for a source file that DuckDB reads decompressed when it ends in ``.gz``: its
    bytes (``mode="rb"``) or text (``"r"``, with ``encoding``, ``newline``, ``errors``) as the
    reader sees them, so the header, encoding and line checks read the table, not gzip's bytes."""
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, mode if "b" in mode else mode.replace("r", "rt"), **kwargs)
    return open(path, mode, **kwargs)


def write_whole(path: Path, text: str, *, private: bool = False, keep_mode: bool = False) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it, renamed over ``path``
    (atomic on one file system). ``private``: the file is readable by its owner only (0600)
    from its first byte; ``keep_mode``: an existing ``path``'s permissions carry over. On any
    failure (a full disk, an interrupt) the temporary file is removed and ``path`` is untouched."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private:  # never readable by others, not even for the moment before a chmod
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
                out.write(text)
        else:
            tmp.write_text(text, encoding="utf-8")
        if keep_mode and path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
