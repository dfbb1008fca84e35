"""The scorecard, rendered from a real MLflow sqlite store holding a hand-built pilot layout."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from support import build_pilot, candidate_metrics, make_charter
from workbench.errors import TrackingError
from workbench.decide.promotion import promote
from workbench.show.scorecard import SCORECARD_ARTIFACT, _interval_text, _thin_note, render_scorecard, write_scorecard
from workbench.store.tracking import FINISHED, TAG, Store

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("mlstore"))


def _add_profile_and_artifacts(store: Store, exp: str, ids: dict, tmp: Path) -> None:
    profile = store.start_run(exp, "profile", parent=ids["pilot"],
                              tags={TAG["kind"]: "step", TAG["step"]: "profile", TAG["role"]: "profile"})
    store.log_dict(profile.run_id, {"table": "flights", "row_count": 1234, "columns": [
        {"name": "dep_delay", "dtype": "DOUBLE", "null_rate": 0.25, "distinct_count": 40, "min": -5, "max": 300,
         "mean": 12.5},
        {"name": "carrier<x>", "dtype": "VARCHAR", "null_rate": 0.0, "distinct_count": 16}]}, "profile/flights.json")
    store.log_dict(profile.run_id, {"reference_run": "ref123", "threshold": 0.2, "previous_rows": 1000,
                                    "current_rows": 1234, "flagged": ["dep_delay"],
                                    "columns": [{"name": "dep_delay", "psi": 0.31, "flagged": True}]},
                   "drift/flights.json")
    store.log_metrics(profile.run_id, {"drift.flights.flagged_count": 1.0, "drift.flights.schema_changes": 0.0})
    png = tmp / "hist.png"
    png.write_bytes(PNG)
    store.log_artifact(profile.run_id, png, "figures")
    store.end_run(profile.run_id, FINISHED)
    store.log_text(ids["contracts"], "<html><body><b>flights</b> 12/13 rules pass</body></html>",
                   "contracts/summary.html")
    store.set_tags(ids["pilot"], {TAG["charter_sha256"]: "a" * 64})


@pytest.fixture(scope="module")
def pilot(store: Store, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    charter = make_charter("card")
    ids = build_pilot(store, charter, {"hgb": candidate_metrics(0.80), "lr": candidate_metrics(0.75, crashed=1.0)},
                      extra_artifacts=True)
    _add_profile_and_artifacts(store, charter.name, ids, tmp_path_factory.mktemp("art"))
    return charter, ids


def test_scorecard_has_every_section_and_escapes_text(store: Store, pilot: tuple) -> None:
    charter, ids = pilot
    page = render_scorecard(charter, store, ids["pilot"])
    for section in ("charter", "decision", "data", "profile", "comparison", "slices", "probes", "figures"):
        assert f'id="{section}"' in page
    # charter and escaping
    assert "Better than the &lt;desk&gt; rule?" in page and "<desk>" not in page
    assert "ops &lt;ops@pilot-team.internal&gt;" in page and "quality.roc_auc" in page
    assert "&lt;script&gt;boom&lt;/script&gt;" in page and page.count("<script") == 1  # only the links' own
    assert "carrier&lt;x&gt;" in page
    # fingerprints, contracts (the summary sandboxed in an iframe), profile and drift
    assert "fp-1" in page and "abc123def456" in page
    assert '<iframe sandbox="" srcdoc="&lt;html&gt;&lt;body&gt;&lt;b&gt;flights' in page
    assert "1234 rows" in page and "0.31" in page and "ref123" in page
    # baseline vs both candidates, the primary metric's row, slices, probes
    assert re.search(r"<th>baseline</th><th>hgb ★</th><th>lr</th>", page)
    assert "<td>quality.roc_auc</td><td class=\"num\">0.66</td><td class=\"num\">0.8</td>" in page
    assert "origin.JFK" in page and "worst slice" in page
    assert "null.&lt;x&gt;" in page  # the crashed probe's detail, from the candidate's probes.json
    # no decision yet: the gates are previewed as a dry run, and nothing was recorded
    assert "preview (dry run" in page and "vs_champion quality.roc_auc" in page.replace("<wbr>", "")
    assert "workbench.decision" not in store.get_run(ids["pilot"]).data.tags
    # self-contained: the figure is embedded, nothing is fetched from elsewhere
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in page
    assert not re.search(r"""src=["']?(https?:)?//""", page)
    assert "<link" not in page
    # the only outside links are to the MLflow UI that `make ui` serves on loopback
    assert all(u.startswith("http://127.0.0.1:") for u in re.findall(r'href="(https?://[^"]+)"', page))


def test_scorecard_status_links_numbers_and_outcome_names(store: Store, pilot: tuple, monkeypatch) -> None:
    charter, ids = pilot
    monkeypatch.setenv("UI_PORT", "5123")
    exp = store.get_run(ids["pilot"]).info.experiment_id
    store.client.set_terminated(ids["pilot"], status="RUNNING")  # as while the pilot writes its own scorecard
    try:
        closing = render_scorecard(charter, store, ids["pilot"], closing=True)
        reread = render_scorecard(charter, store, ids["pilot"])
    finally:
        store.end_run(ids["pilot"], FINISHED)
    assert "in progress" not in closing and f"{ids['pilot']} (FINISHED, started" in closing
    assert "RUNNING: not finished" in reread
    # links follow the UI port, and open the runs table in the model-training view
    assert f'href="http://127.0.0.1:5123/#/experiments/{exp}/runs?workflowType=machine_learning"' in closing
    # readable numbers: integers without ".0", rates as percentages
    assert "1234 rows" in closing and "25.0%" in closing and "1234.0" not in closing
    from workbench.formatting import outcome_label

    assert outcome_label("already-champion") == "ALREADY CHAMPION"


def test_scorecard_shows_a_given_no_go_decision(store: Store, pilot: tuple) -> None:
    charter = make_charter("card", candidate="lr")
    _, ids = pilot
    decision = promote(charter, store, ids["pilot"], dry_run=True)
    assert decision.outcome == "no-go"
    page = render_scorecard(charter, store, ids["pilot"], decision)
    assert "NO-GO" in page and 'class="fail">FAIL' in page and "1 of 12 probe(s) crashed" in page
    assert "lr ★" in page


def test_write_scorecard_files_and_artifact(store: Store, pilot: tuple, tmp_path: Path) -> None:
    charter, ids = pilot
    path = write_scorecard(charter, store, ids["pilot"], reports_dir=tmp_path / "reports")
    assert path == tmp_path / "reports" / "card" / f"{ids['pilot']}.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert (path.parent / "latest.html").read_text(encoding="utf-8") == page
    assert store.download_text(ids["pilot"], SCORECARD_ARTIFACT) == page


def test_scorecard_of_an_unknown_run(store: Store, pilot: tuple) -> None:
    charter, _ = pilot
    with pytest.raises(TrackingError, match="no run"):
        render_scorecard(charter, store, "0" * 32)


def test_scorecard_shows_the_environment_the_pilot_ran_in(store: Store, pilot: tuple) -> None:
    from workbench.store import environment

    charter = make_charter("env-card")
    ids = build_pilot(store, charter, {"hgb": candidate_metrics(0.80)}, finish=False)
    before = render_scorecard(charter, store, ids["pilot"])
    assert '<section id="environment"><h2>Environment</h2>' in before and "recorded no versions" in before
    env = environment.current()
    store.set_tags(ids["pilot"], env.tags())
    page = render_scorecard(charter, store, ids["pilot"])
    section = page[page.index('<section id="environment">'):]
    section = section[:section.index("</section>")]
    assert env.python in section and env.lock_sha256[:16] in section
    for name in ("scikit-learn", "numpy", "pandas", "duckdb", "mlflow", "great-expectations", "papermill"):
        assert f"<td>{name}</td><td>{env.packages[name]}</td>" in section, name


def test_scorecard_shows_intervals_and_the_worst_slices_first_as_numbers(store: Store, pilot: tuple) -> None:
    charter, ids = pilot
    run = ids["candidates"]["hgb"]

    def entry(key: str, rows: int, lo: float) -> dict:
        return {"column": "hour", "value": key.split(".")[1], "key": key, "rows": rows, "metric": "roc_auc",
                "diff": lo + 0.02, "ci_low": lo, "ci_high": lo + 0.04, "reason": ""}

    # text order would put 10 before 9 and -0.1 after -0.02; as numbers the worst end comes first
    slices = [entry("hour.9", 900, 0.05), entry("hour.10", 1000, -0.1), entry("hour.100", 250, -0.02)]
    store.log_dict(run, {"reference_label": "today's rule", "metrics": {"quality.roc_auc": {
        "candidate": 0.8, "reference": 0.66, "diff": 0.14, "ci_low": 0.11, "ci_high": 0.17, "n": 900,
        "method": "delong"}}, "slices": slices}, "compare/baseline.json")
    page = render_scorecard(charter, store, ids["pilot"])
    assert 'id="intervals"' in page and "+0.14 [+0.11, +0.17]" in page and "delong" in page
    section = page[page.index('id="intervals"'):page.index('id="slices"')]
    assert section.index("hour.10") < section.index("hour.100") < section.index("hour.9")


# the slice table: numbers a reader can compare (never an exponent), and a thin slice (fewer than
# 30 rows of a class) named with what the slices gate asked of it
def test_interval_numbers_are_written_without_an_exponent() -> None:
    text = _interval_text({"diff": -5.64e-05, "ci_low": -0.01114, "ci_high": 0.03448})
    assert text == "-0.0000564 [-0.01114, +0.03448]"
    assert _interval_text({"diff": 0.5, "ci_low": None}) == "—"


def test_a_thin_slice_says_how_it_was_judged() -> None:
    assert _thin_note({"smallest_class": 13}) == "13 rows of its rarest class (under 30): judged only for clear harm"
    assert _thin_note({"smallest_class": 30}) == "" and _thin_note({}) == ""  # enough of each class; regression
    assert _thin_note({"smallest_class": 4}, "items").startswith("4 items of its rarest class")  # an eval set
