"""`validate` against the data: each charter that does not fit its table is caught, located at
the charter line of the key, in seconds; a good one passes; the runner refuses it before any run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from support import REPO
from workbench.charter.config import load_charter
from workbench.cli import app
from workbench.errors import ConfigError
from workbench.steps.validate import check_charter

NOTEBOOKS = REPO / "notebooks"


def _table(path: Path, n: int = 400, *, churned: object = None) -> Path:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "id": np.arange(n),
        "day": (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 400, "D")).date,  # to 2025-02-03
        "amount": rng.normal(100, 20, n).round(2),
        "segment": rng.choice(["retail", "smb"], n),
        "grade": rng.choice(list("ABCDE"), n),
    })
    frame["churned"] = churned if churned is not None else (rng.random(n) < 0.3).astype(int)
    frame.to_csv(path, index=False)
    return path


GOOD = """\
name: vd
owner: ana@bank.internal
question: Can we predict churn?
primary_metric: quality.roc_auc
task:
  kind: classification
  target: churned
  positive_label: 1
sources:
  t:
    path: t.csv
    columns: {id: BIGINT, day: DATE, amount: DOUBLE, segment: VARCHAR, grade: VARCHAR, churned: BIGINT}
features:
  table: t
  exclude: [id]
split:
  kind: temporal
  column: day
  train: ["2024-01-01", "2024-09-30"]
  evaluate: ["2024-10-01", "2025-02-03"]
baseline:
  kind: group_rate
  groups: [segment]
candidates:
  - {name: lr, estimator: sklearn.linear_model.LogisticRegression}
steps:
  - {name: baseline, role: baseline, notebook: NB/baseline.ipynb}
  - {name: evaluate, role: evaluate, notebook: NB/evaluate.ipynb}
"""


def _charter(tmp_path: Path, text: str = GOOD) -> Path:
    if not (tmp_path / "t.csv").exists():
        _table(tmp_path / "t.csv")
    path = tmp_path / "pilot.yaml"
    path.write_text(text.replace("NB/", f"{NOTEBOOKS}/"))
    return path


def _line(path: Path, text: str) -> int:
    """1-based line of the first line holding ``text``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def _data_findings(path: Path, level: str = "error") -> list:
    return [f for f in check_charter(load_charter(path), estimators=True) if f.level == level]


def test_a_charter_that_fits_its_data_passes(tmp_path: Path) -> None:
    path = _charter(tmp_path)
    assert [f.line() for f in check_charter(load_charter(path), estimators=True)] == []


# (what is wrong, the edit, the line text of the key it is located at, words of the message)
CASES = [
    ("regression target is text", {"  kind: classification": "  kind: regression", "quality.roc_auc": "quality.mae",
                                    "churned: BIGINT}": "churned: VARCHAR}", "  positive_label: 1\n": ""},
     "  target: churned", "regression target must be a number"),
    ("classification target with five values", {"  target: churned": "  target: grade",
                                                "  positive_label: 1": "  positive_label: A"},
     "  kind: classification", "has 5 distinct values"),
    ("target not in the view", {"  target: churned": "  target: churn"}, "  target: churn",
     "not a column of the feature view"),
    ("positive label never occurs", {"  positive_label: 1": "  positive_label: 'yes'"}, "  positive_label:",
     "never occurs"),
    ("split column is text", {"  column: day": "  column: segment"}, "  column: segment", "needs a DATE, TIMESTAMP"),
    ("split column missing", {"  column: day": "  column: when"}, "  column: when", "not a column"),
    ("split bound of the wrong type", {'train: ["2024-01-01",': 'train: ["Q1",'}, "  train:", "is not a DATE value"),
    ("cluster column missing", {'  evaluate: ["2024-10-01", "2025-02-03"]':
                                '  evaluate: ["2024-10-01", "2025-02-03"]\n  cluster: customer'}, "  cluster: customer",
     "the cluster column 'customer' is not a column of the feature view"),
    ("evaluation window holds no row", {'evaluate: ["2024-10-01", "2025-02-03"]': 'evaluate: ["2030-01-01", "2030-12-31"]'},
     "  evaluate:", "holds no row (the data runs from 2024-01-01"),
    ("baseline group missing", {"groups: [segment]": "groups: [region]"}, "  groups:", "baseline group 'region'"),
    ("baseline expression does not run", {"  kind: group_rate\n  groups: [segment]":
                                          "  kind: sql\n  expression: CASE WHEN balance > 3 THEN 1 ELSE 0 END"},
     "  expression:", "does not run on the feature view"),
    ("feature SQL does not run", {"  table: t\n  exclude: [id]": "  sql: SELECT * FROM tt"}, "  sql:",
     "the feature view does not run"),
    ("nothing left to learn from", {"  exclude: [id]": "  exclude: [id, amount, segment, grade]"}, "features:",
     "no usable feature column"),
    # found in the evaluate step's cell before, after the profile and the baseline had run
    ("candidate parameter misspelled", {"LogisticRegression}": "LogisticRegression, params: {max_iters: 50}}"},
     "  - {name: lr", "takes no parameter(s) max_iters"),
    ("candidate class misspelled", {"LogisticRegression}": "LogisticRegresion}"}, "  - {name: lr",
     "cannot import the estimator sklearn.linear_model.LogisticRegresion"),
]


@pytest.mark.parametrize(("what", "edits", "key_line", "words"), CASES, ids=[c[0] for c in CASES])
def test_each_wrong_charter_is_caught_at_its_line(tmp_path: Path, what: str, edits: dict, key_line: str,
                                                  words: str) -> None:
    text = GOOD
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    path = _charter(tmp_path, text)
    errors = _data_findings(path)
    assert len(errors) == 1, [f.line() for f in errors]
    (error,) = errors
    assert words in error.message, error.line()
    assert error.where.startswith(f"{path}:{_line(path, key_line)}:"), (error.where, key_line)


def test_a_csv_whose_texts_hold_line_breaks_is_checked_before_its_first_load(tmp_path: Path) -> None:
    """Tickets, reviews, docstrings: quoted values over several lines. DuckDB's parallel CSV
    scanner refuses them with padding, and the checks before a first run were skipped (a pilot
    with no feature left failed in its baseline notebook instead, after ingest and profile)."""
    frame = pd.read_csv(_table(tmp_path / "t.csv"))
    frame["segment"] = [f"line one\nline two of {s}" for s in frame["segment"]]
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert '"line one\nline two' in (tmp_path / "t.csv").read_text()
    assert _data_findings(_charter(tmp_path)) == []
    text = GOOD.replace("  exclude: [id]", "  exclude: [id, amount, segment, grade]")
    (error,) = _data_findings(_charter(tmp_path, text))
    assert "no usable feature column" in error.message


def test_a_file_the_checks_could_not_read_is_checked_on_its_load_before_any_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the pre-run checks cannot read (ingest names what is wrong with a file) but
    ingest loads: the checks run again on the load, so a charter with nothing to learn from
    stops there, before any notebook, its pilot run FAILED, not RUNNING."""
    from workbench.steps import validate_data
    from workbench.steps.runner import run_pilot
    from workbench.store.tracking import Store

    path = _charter(tmp_path, GOOD.replace("  exclude: [id]", "  exclude: [id, amount, segment, grade]"))
    monkeypatch.setattr(validate_data, "_scan", lambda *_a, **_k: "read_csv('/nonexistent/unreadable.csv')")
    unread: list[str] = []
    assert [f for f in check_charter(load_charter(path), unread=unread) if f.level == "error"] == []
    assert unread == ["t"]  # skipped, and said
    said: list[str] = []
    with pytest.raises(ConfigError, match="no usable feature column"):
        run_pilot(load_charter(path), progress=said.append)
    assert (tmp_path / "data" / "warehouse.duckdb").exists() and not any("running" in line for line in said), said
    runs = Store.for_project(tmp_path, scope="vd").find_runs("vd", "tags.`workbench.kind` = 'pilot'")
    assert [r.info.status for r in runs] == ["FAILED"]


def test_a_single_valued_target_is_refused(tmp_path: Path) -> None:
    _table(tmp_path / "t.csv", churned=1)
    path = _charter(tmp_path)
    (error,) = _data_findings(path)
    assert "a single value (1)" in error.message and f":{_line(path, '  target: churned')}:" in error.where


def test_a_random_split_of_dated_rows_is_warned_at_the_split_line(tmp_path: Path) -> None:
    text = GOOD.replace('  column: day\n  train: ["2024-01-01", "2024-09-30"]\n  evaluate: ["2024-10-01", "2025-02-03"]\n',
                        "")
    path = _charter(tmp_path, text.replace("  kind: temporal", "  kind: random"))
    assert _data_findings(path) == []
    (warning,) = _data_findings(path, "warning")
    assert "random split of time-indexed rows (day is a date)" in warning.message
    assert warning.where.startswith(f"{path}:{_line(path, '  kind: random')}:")
    assert "kind: temporal, column: day" in warning.hint
    # the CLI says it, located, and still passes
    result = CliRunner().invoke(app, ["validate", "--pilot", str(path)])
    assert result.exit_code == 0 and "1 warning" in result.output


def test_the_cli_and_the_runner_refuse_it_in_seconds_before_any_run(tmp_path: Path) -> None:
    _table(tmp_path / "t.csv", n=200_000)
    path = _charter(tmp_path, GOOD.replace("  kind: classification", "  kind: regression")
                    .replace("quality.roc_auc", "quality.mae")
                    .replace("churned: BIGINT}", "churned: VARCHAR}").replace("  positive_label: 1\n", ""))
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["validate", "--pilot", str(path)])
    seconds = time.perf_counter() - start
    assert result.exit_code == 1
    assert f"{path}:{_line(path, '  target: churned')}" in result.output and "must be a number" in result.output
    assert seconds < 10, f"validate took {seconds:.1f}s on 200,000 rows"

    from workbench.steps.runner import run_pilot

    with pytest.raises(ConfigError, match="must be a number"):
        run_pilot(load_charter(path))
    # refused before any MLflow run or ingest
    assert not (tmp_path / "mlruns" / "mlflow.db").exists() and not (tmp_path / "data" / "warehouse.duckdb").exists()
    # a first run refuses a misspelled candidate parameter too, at its line (it failed in the evaluate cell)
    path = _charter(tmp_path, GOOD.replace("LogisticRegression}", "LogisticRegression, params: {max_iters: 50}}"))
    with pytest.raises(ConfigError, match="takes no parameter\\(s\\) max_iters") as refused:
        run_pilot(load_charter(path))
    assert f"{path}:{_line(path, '  - {name: lr')}:" in str(refused.value)
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_an_unchanged_ingested_file_is_checked_from_the_warehouse_a_changed_one_from_the_file(tmp_path: Path) -> None:
    from workbench.data.warehouse import ingest_all, writer
    from workbench.steps.validate_data import _Data

    path = _charter(tmp_path)
    charter = load_charter(path)

    def read_from() -> dict[str, str]:
        data = _Data(charter)
        try:
            return dict(data.read_from)
        finally:
            data.close()

    assert read_from() == {"t": "file"}  # nothing ingested yet
    with writer(charter.warehouse_path) as con:
        ingest_all(con, charter)
    # ingest will skip this file: the checks read the rows it loaded instead of parsing the file again
    assert read_from() == {"t": "warehouse"}
    assert [f.line() for f in check_charter(charter)] == []
    with writer(charter.warehouse_path) as con:
        con.execute("UPDATE t SET churned = 1")
    assert read_from() == {"t": "file"}  # edited since ingest: ingest reloads the file, the checks read it
    with writer(charter.warehouse_path) as con:
        ingest_all(con, charter, force=True)
    assert read_from() == {"t": "warehouse"}
    _table(tmp_path / "t.csv", churned=1)  # the file changed: its rows, not the stale load, are checked
    assert read_from() == {"t": "file"}
    (error,) = _data_findings(path)
    assert "a single value (1)" in error.message


def test_a_bad_file_after_an_ingest_still_fails_at_its_file_and_line(tmp_path: Path) -> None:
    from workbench.data.warehouse import ingest_all, writer
    from workbench.errors import IngestError
    from workbench.steps.runner import run_pilot

    path = _charter(tmp_path)
    charter = load_charter(path)
    with writer(charter.warehouse_path) as con:
        ingest_all(con, charter)
    lines = (tmp_path / "t.csv").read_text().splitlines()
    bad_line = 7
    cells = lines[bad_line - 1].split(",")
    cells[2] = "12.5x"  # amount: not a DOUBLE
    lines[bad_line - 1] = ",".join(cells)
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    # the data checks leave a value that does not parse to ingest, which names its file and line
    assert _data_findings(path) == []
    with pytest.raises(IngestError) as info:
        run_pilot(load_charter(path))
    assert f"t.csv:{bad_line}: column 3 ('amount'): value '12.5x'" in str(info.value)
