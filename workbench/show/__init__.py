"""The show layer: what a reviewer reads — the scorecard and the HTML reports.

Imports decide and everything below it; nothing below imports it.

- :mod:`.scorecard` — one self-contained HTML page per pilot run;
- :mod:`.evaluation_report` — one page per candidate, against the baseline;
- :mod:`.profile_report` — one page per profiled table;
- :mod:`.monitoring` — the monitoring timeline;
- :mod:`.html` — the small HTML building blocks they share.
"""

__all__ = ["evaluation_report", "html", "monitoring", "profile_report", "scorecard"]
