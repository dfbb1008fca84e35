"""After the GO: `workbench monitor` on batches of a pilot promoted for real.

One small pilot (a synthetic table, `workbench new`, a real run to GO) is shared by the
tests; each test then sends batches built to break one thing, and checks what the
monitor recorded in MLflow and in `monitor.duckdb`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from support import cli_here
from workbench.cli import app
from workbench.charter.config import load_charter
from workbench.errors import EXIT_BREACH, ConfigError, IngestError, MonitorError
from workbench.decide.monitor import monitor_batch, timeline
from workbench.steps.runner import project_store, run_pilot
from workbench.charter.drafted import confirm
from workbench.new import new_pilot

pytestmark = pytest.mark.slow


def table(n: int, seed: int, *, shift: float = 0.0, flip: float = 0.0, labels: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(0, 1, n).round(4) + shift, "x2": rng.normal(0, 1, n).round(4),
                          "region": rng.choice(["north", "south", "east", "west"], n)})
    logit = 1.5 * (frame["x1"] - shift) - frame["x2"] + (frame["region"] == "north") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    if flip:
        swap = rng.random(n) < flip
        y = np.where(swap, 1 - y, y)
    frame["bought"] = y if labels else pd.array([pd.NA] * n, dtype="Int64")
    return frame


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor")
    table(3000, 0).to_csv(root / "sales.csv", index=False)
    made = new_pilot("shop", root / "sales.csv", "bought", pilots_dir=root, owner="oncall@pilot-team.internal")
    text = made.charter.read_text()
    start, end = text.index("candidates:"), text.index("steps:")
    text = (text[:start] + "candidates:\n  - name: hgb\n    estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
            "    params: {max_iter: 60}\n    fallback_on_null: [x2]\n\n" + text[end:])
    text = text.replace("min_quality: baseline", "min_quality: 0.7")
    made.charter.write_text(text)
    # production batches may hold a few nulls in x2 (served by today's rule); the contract allows it
    contract = made.contract.read_text()
    start = contract.index("  x2:\n")
    end = contract.index("  region:\n")
    made.contract.write_text(contract[:start] + "  x2: {type: DOUBLE, max_null_fraction: 0.5}\n" + contract[end:])
    confirm(load_charter(made.charter), all_values=True, by="tester")  # drafted values hold a GO back (DRAFT)
    charter = load_charter(made.charter)
    result = run_pilot(charter)
    assert result.decision.outcome == "go", result.decision.summary()
    return made.charter


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _predictions(charter, batch_id: str) -> int:
    db = charter.warehouse_path.parent / "monitor.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM predictions WHERE batch_id = ?", [batch_id]).fetchone()[0]
    finally:
        con.close()


def test_a_normal_batch_is_scored_and_recorded(pilot: Path, tmp_path: Path) -> None:
    charter = load_charter(pilot)
    store = project_store(charter)
    report = monitor_batch(charter, store, _write(table(800, 11), tmp_path / "normal.csv"), batch_id="normal")
    assert report.status == "scored" and report.scored == 800 and not report.breaches, report.summary()
    assert report.quality["quality.roc_auc"] > 0.7 and report.prediction_psi < 0.2
    assert _predictions(charter, "normal") == 800
    run = store.get_run(report.run_id)
    assert run.data.tags["workbench.kind"] == "monitor" and run.data.tags["workbench.decide.monitor.champion_version"] == "1"
    assert run.data.tags["workbench.decide.monitor.decision_run"]  # linked to the decision that promoted the champion
    assert len(run.data.metrics) <= 40


def test_a_batch_that_breaks_the_contract_is_refused_and_nothing_is_scored(pilot: Path, tmp_path: Path) -> None:
    charter = load_charter(pilot)
    frame = table(500, 12)
    frame.loc[:10, "region"] = "moon"  # not one of the contract's allowed values
    report = monitor_batch(charter, project_store(charter), _write(frame, tmp_path / "bad.csv"), batch_id="bad")
    assert report.status == "refused" and report.breached
    assert any("region" in b for b in report.breaches), report.breaches
    assert _predictions(charter, "bad") == 0


def test_a_batch_without_its_labels_is_scored_and_one_without_a_feature_is_refused_by_name(
        pilot: Path, tmp_path: Path) -> None:
    # production rows carry no label yet: the target column may be left out of the file
    charter = load_charter(pilot)
    store = project_store(charter)
    unlabelled = table(600, 16).drop(columns=["bought"])
    report = monitor_batch(charter, store, _write(unlabelled, tmp_path / "nolabels.csv"), batch_id="nolabels")
    assert report.status == "scored" and report.scored == 600 and not report.breaches, report.summary()
    assert not report.quality  # nothing to judge quality on yet
    assert _predictions(charter, "nolabels") == 600
    # any other declared column missing: refused before anything runs, naming it and the file
    with pytest.raises(MonitorError, match=r"the batch lacks column\(s\) x2 of source") as refused:
        monitor_batch(charter, store, _write(table(600, 17).drop(columns=["x2"]), tmp_path / "nox2.csv"),
                      batch_id="nox2")
    assert refused.value.where.endswith("nox2.csv") and "may be left out" in refused.value.hint
    assert _predictions(charter, "nox2") == 0
    # a value that does not parse is located and quoted: no column of this contract is personal data
    typo = table(600, 18).astype({"x1": object})
    typo.loc[4, "x1"] = "1,5"
    with pytest.raises(IngestError, match=r"bad_x1\.csv:6: column 1 \('x1'\): value '1,5'") as refused:
        monitor_batch(charter, store, _write(typo, tmp_path / "bad_x1.csv"), batch_id="bad_x1")
    assert "masked" not in str(refused.value)


def test_drift_above_the_threshold_is_reported_with_its_columns(pilot: Path, tmp_path: Path) -> None:
    charter = load_charter(pilot)
    report = monitor_batch(charter, project_store(charter), _write(table(800, 13, shift=2.5), tmp_path / "d.csv"),
                           batch_id="drift")
    assert "x1" in report.drifted and "x2" not in report.drifted
    assert report.input_psi["x1"] > 0.2
    assert any("x1" in w for w in report.warnings)


def test_a_quality_drop_breaches_and_proposes_a_rollback(pilot: Path, tmp_path: Path) -> None:
    charter = load_charter(pilot)
    store = project_store(charter)
    first = _write(table(800, 14, flip=0.45), tmp_path / "noisy1.csv")
    second = _write(table(800, 15, flip=0.45), tmp_path / "noisy2.csv")
    result = CliRunner().invoke(app, ["monitor", "--pilot", str(pilot), "--batch", str(first), "--batch", str(second)])
    assert result.exit_code == EXIT_BREACH, result.output
    assert "BREACH  quality: quality.roc_auc" in result.output
    assert "PROPOSED: workbench rollback" in result.output
    runs = [t for t in timeline(charter, store) if t["batch"] and t["batch"].startswith("noisy2")]
    assert runs and runs[-1]["rollback_proposed"] and "quality" in runs[-1]["breaches"]
    proposal = store.download_text(runs[-1]["run_id"], "monitor/rollback_proposal.json")
    assert json.loads(proposal)["kind"] == "quality"
    # it only proposes: the alias did not move
    version = store.client.get_model_version_by_alias("shop", "champion")
    assert str(version.version) == "1"


def test_rows_the_champion_cannot_score_are_served_by_the_fallback_and_counted(pilot: Path, tmp_path: Path) -> None:
    charter = load_charter(pilot)
    frame = table(600, 16)
    frame.loc[frame.index[:60], "x2"] = np.nan  # 10 %: the candidate's fallback_on_null column
    report = monitor_batch(charter, project_store(charter), _write(frame, tmp_path / "nulls.csv"), batch_id="nulls")
    assert report.status == "scored" and report.degraded == 60 and report.fallback_share == pytest.approx(0.1)
    assert any(b.startswith("fallback") for b in report.breaches)  # the plan allows 5 %
    con = duckdb.connect(str(charter.warehouse_path.parent / "monitor.duckdb"), read_only=True)
    served = dict(con.execute("SELECT served_by, count(*) FROM predictions WHERE batch_id = 'nulls' GROUP BY 1").fetchall())
    con.close()
    assert served == {"fallback": 60, "model": 540}


def _peak_kb(args: list[str], log: Path) -> tuple[int, int]:
    """(exit code, peak RSS in KB) of one child process, measured by the kernel (wait4)."""
    import os

    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss


def test_scoring_memory_stays_flat_over_a_batch_ten_times_larger(pilot: Path, tmp_path: Path) -> None:
    # labelled: scoring, drift, and quality and slices on every row (computed in DuckDB)
    small = _write(table(30_000, 17), tmp_path / "small.csv")
    large = _write(table(300_000, 18), tmp_path / "large.csv")
    cmd = [sys.executable, "-m", "workbench.cli", "monitor", "--pilot", str(pilot), "--batch"]
    warm = cli_here("monitor", "--pilot", str(pilot), "--batch", str(small))  # the references exist after this
    assert warm.returncode in (0, EXIT_BREACH), warm.stdout + warm.stderr
    code, small_kb = _peak_kb([*cmd, str(small)], tmp_path / "small.log")
    assert code in (0, EXIT_BREACH), (tmp_path / "small.log").read_text()
    code, large_kb = _peak_kb([*cmd, str(large)], tmp_path / "large.log")
    assert code in (0, EXIT_BREACH), (tmp_path / "large.log").read_text()
    assert "scored 300,000" in (tmp_path / "large.log").read_text()
    assert large_kb <= small_kb * 1.25, (small_kb, large_kb)


def test_the_scorecard_and_the_panel_show_the_monitoring_timeline(pilot: Path, tmp_path: Path) -> None:
    from workbench import widgets
    from workbench.decide.promotion import find_pilot_run
    from workbench.show.scorecard import render_scorecard

    charter = load_charter(pilot)
    store = project_store(charter)
    monitor_batch(charter, store, _write(table(400, 21), tmp_path / "t1.csv"), batch_id="timeline-ok")
    frame = table(400, 22)
    frame.loc[:5, "region"] = "moon"
    monitor_batch(charter, store, _write(frame, tmp_path / "t2.csv"), batch_id="timeline-refused")
    html = render_scorecard(charter, store, find_pilot_run(charter, store).info.run_id)
    section = html[html.index('id="monitoring"'):]
    assert "timeline-ok" in section and "timeline-refused" in section and "REFUSED" in section
    panel = widgets.panel(charter)
    panel.monitor.refresh().join()
    assert panel.monitor.error.value == ""
    assert "timeline-refused" in panel.monitor.body.value and "REFUSED" in panel.monitor.body.value


def test_the_monitor_run_charts_each_metric_and_drifted_column_across_batches(pilot: Path, tmp_path: Path) -> None:
    from workbench.show.monitoring import TIMELINE_ARTIFACT

    charter = load_charter(pilot)
    store = project_store(charter)
    calm = _write(table(600, 31), tmp_path / "calm.csv")
    moved = _write(table(600, 32, shift=2.5), tmp_path / "moved.csv")
    result = CliRunner().invoke(app, ["monitor", "--pilot", str(pilot), "--batch", str(calm), "--batch", str(moved)])
    assert result.exit_code in (0, EXIT_BREACH), result.output
    rows = timeline(charter, store)
    assert rows[-1]["input_psi"]["x1"] > 0.2 and rows[-1]["min_quality"] == 0.7
    page = store.download_text(rows[-1]["run_id"], TIMELINE_ARTIFACT)
    for title in ("max input PSI", "prediction PSI", "quality.roc_auc", "p95 latency (ms)", "input PSI of x1"):
        assert f"<h4>{title}" in page, title
    # a chart for each column that drifted in some batch of the timeline (earlier tests of this
    # module add batches too), none for a column that never did
    psi = [r.get("input_psi") or {} for r in rows if r.get("input_psi")]
    seen = {c for p in psi for c in p}
    drifted = {c for p in psi for c, v in p.items() if v is not None and v > 0.2}
    for column in seen:
        assert (f"<h4>input PSI of {column} " in page) == (column in drifted), column


def test_a_batch_for_an_eval_set_pilot_is_refused_naming_what_to_do(tmp_path: Path) -> None:
    # it asked "production.batch_source: which source does a batch replace?" and named the eval
    # and training sources, as if either could take a production batch
    from workbench.new import new_text_pilot

    rng = np.random.default_rng(2)
    pd.DataFrame({"text": [f"note {i} " + rng.choice(["late", "early"]) for i in range(200)],
                  "label": rng.choice(["a", "b"], 200)}).to_csv(tmp_path / "notes.csv", index=False)
    made = new_text_pilot("notes", tmp_path / "notes.csv", "label", ["text"], pilots_dir=tmp_path / "pilots")
    notes = load_charter(made.charter)
    refused = "monitoring batches of a text-classification pilot is not built yet"
    with pytest.raises(ConfigError, match=refused) as caught:
        monitor_batch(notes, None, _write(table(10, 1), tmp_path / "batch.csv"))  # type: ignore[arg-type]
    assert caught.value.where.endswith("pilot.yaml: eval_set") and "--canary" in caught.value.hint
