"""How far a long run of eval items got: a line every few seconds while the items are asked.

A local LLM on two cores answers an item in seconds, so an evaluate step can run for minutes
with nothing to show. :class:`Progress` prints ``<model>: <done> of <total> items answered
(<seconds> s)`` at most every ``WORKBENCH_PROGRESS_SECONDS`` (default 10) and never for a
run shorter than that: a person running the notebook sees it under the cell, and the runner
relays each such line (:data:`LINE`) to the terminal as it arrives.
"""

from __future__ import annotations

import os
import re
import time

__all__ = ["LINE", "Progress"]

LINE = re.compile(r"^(?P<name>[^\s:]+): (?P<done>[\d,]+) of (?P<total>[\d,]+) items answered \((?P<seconds>\d+) s\)$")


class Progress:
    """Counts answered items of one model and prints a line when the period has passed."""

    def __init__(self, name: str, total: int, period: float | None = None) -> None:
        if period is None:
            try:
                period = float(os.environ.get("WORKBENCH_PROGRESS_SECONDS", "10"))
            except ValueError:
                period = 10.0
        self.name, self.total, self.period = name, total, period
        self.started = self.last = time.monotonic()

    def step(self, done: int) -> None:
        now = time.monotonic()
        if done < self.total and now - self.last >= self.period:
            self.last = now
            print(f"{self.name}: {done:,} of {self.total:,} items answered ({now - self.started:.0f} s)", flush=True)
