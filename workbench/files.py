"""Files written whole: a reader sees the old text or the new one, never half of either."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["write_whole"]


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
