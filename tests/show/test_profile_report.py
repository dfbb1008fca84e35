"""The profile report opens with its alerts summary and survives extreme numbers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_profile_alerts import alerting_frame  # noqa: E402

from workbench.data.profile_alerts import KINDS  # noqa: E402
from workbench.data.profiling import profile_table  # noqa: E402
from workbench.show.profile_report import render_profile_report  # noqa: E402


def test_the_report_lists_every_alert_first_linked_to_its_column(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    frame = alerting_frame()  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    try:
        page = render_profile_report(profile_table(con, "t", pii=["email"]))
    finally:
        con.close()
    section = page[page.index('<section id="alerts">'):page.index("</section>", page.index('id="alerts"'))]
    assert page.index('id="alerts"') < page.index("<h2>Columns</h2>")  # the report opens with them
    assert {m for m in re.findall(r'data-kind="([^"]+)"', section)} == set(KINDS)
    for column in ("const", "sparse", "city", "wait", "id", "email", "amount"):
        assert f'href="#col-{column}"' in section
    assert "user1@example.org" not in page  # personal: counts only
    # every column has its card, and the extreme value is a power of ten, not 301 digits
    assert page.count('class="card col') == len(frame.columns)
    assert "10³⁰⁰" in page and not re.search(r"\d{30}", page)
