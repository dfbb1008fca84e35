"""What an error that is not the workbench's own means: the operating system's, DuckDB's
storage, or the MLflow store's database — told as what failed, where, and the fix.

The CLI and the JupyterLab panel both use it, so neither calls a full disk "a bug".
"""

from __future__ import annotations

import sys

__all__ = ["storage_message"]


def storage_message(exc: BaseException) -> str | None:
    """What an error from the operating system, DuckDB's storage or the MLflow store's
    database means and what to do; None for anything else."""
    import errno as _errno

    text = str(exc)
    low = text.lower()
    if "duckdb" in sys.modules:
        import duckdb

        if isinstance(exc, duckdb.Error):
            from ..data.warehouse import storage_error

            found = storage_error(exc, "the warehouse (the charter's `warehouse:`)", doing="a warehouse operation")
            return found.message if found is not None else None
    if isinstance(exc, OSError):
        where = exc.filename or "a file"
        cause = exc.strerror or text
        fixes = {
            _errno.ENOSPC: "free space on that disk (`df -h`), then run again",
            _errno.EDQUOT: "free space within your disk quota, then run again",
            _errno.EACCES: "make it readable/writable by this user (`ls -l`), then run again",
            _errno.EPERM: "make it readable/writable by this user (`ls -l`), then run again",
            _errno.EROFS: "the file system is read-only: point the pilot at a writable folder, then run again",
            _errno.ENOENT: "check the path exists (the charter's paths are relative to the charter file)",
        }
        fix = fixes.get(exc.errno or -1, "check the disk and the file's permissions, then run again")
        return f"{where}: {cause} (operating system error {exc.errno})\nFix: {fix}"
    if any(k in low for k in ("database or disk is full", "disk i/o error", "database disk image is malformed",
                              "file is not a database", "readonly database", "unable to open database file")):
        return (f"the MLflow store's database failed: {text.splitlines()[0][:300]}\n"
                "Fix: if the disk is full, free space (`df -h mlruns`) and run again; if mlruns/mlflow.db is "
                "damaged, move it aside and run again (the runs recorded in it are lost; the warehouse and "
                "the raw data are not)")
    return None
