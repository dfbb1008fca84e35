"""Personal data never leaves DuckDB: a column a contract marks `pii: true` shows up only as
counts (nulls, distinct values, lengths) in profiles, drift, figures, logged text, error
messages and executed notebooks.

The canary test plants unique strings in the personal columns of a small table, runs a
whole pilot made by `workbench new` (with a candidate that crashes quoting one of them),
then searches every artifact, report, executed notebook, the terminal output, the bytes
of mlflow.db and the text of every figure saved for them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from support import REPO, kernel_server
from workbench.charter.config import Source
from workbench.data.warehouse import ingest_source, pii_columns, redact, writer

PEOPLE = "id,email,full_name,age,plan\n" + "".join(
    f"{i},person{i}@example.org,Person Number{i},{20 + i % 50},{'basic' if i % 3 else 'pro'}\n" for i in range(1, 61))
PEOPLE_COLUMNS = {"id": "INTEGER", "email": "VARCHAR", "full_name": "VARCHAR", "age": "INTEGER", "plan": "VARCHAR"}


@pytest.fixture
def people(tmp_path: Path) -> Path:
    csv = tmp_path / "people.csv"
    csv.write_text(PEOPLE)
    db = tmp_path / "wh.duckdb"
    with writer(db) as con:
        ingest_source(con, "people", Source(path=csv, columns=PEOPLE_COLUMNS), csv, pii={"email", "full_name"})
    return db


def _values() -> list[str]:
    return [v for line in PEOPLE.splitlines()[1:] for v in line.split(",")[1:3]]


def test_ingest_records_the_personal_columns_in_the_warehouse(people: Path) -> None:
    con = duckdb.connect(str(people), read_only=True)
    assert pii_columns(con) == {"people": frozenset({"email", "full_name"})}
    con.close()


def test_a_profile_of_a_pii_column_holds_counts_and_lengths_only(people: Path) -> None:
    from workbench.data.profiling import drift, plot_drift, plot_histograms, profile_table

    con = duckdb.connect(str(people), read_only=True)
    first = profile_table(con, "people")  # the marks come from the warehouse
    email = first["email"]
    assert email.pii and email.null_count == 0 and email.distinct_count and email.length_max == len("person60@example.org")
    assert email.top_values == () and email.histogram is None and email.min is None and email.quantiles == {}
    assert set(email.stats()) == {"row_count", "null_count", "null_rate", "distinct_count", "length_min",
                                  "length_max", "length_mean"}
    assert first["plan"].top_values  # other columns keep their values
    second = profile_table(con, "people", reference=first)
    report = drift(first, second)
    assert report["email"].buckets == ("null", "values") and "personal data" in report["email"].method
    text = json.dumps([first.to_dict(), second.to_dict(), report.to_dict()])
    from matplotlib.text import Text

    figures = [plot_histograms(first), plot_drift(report)]
    for fig in figures:
        fig.draw_without_rendering()
        text += json.dumps([t.get_text() for t in fig.findobj(Text)])
    assert not [v for v in _values() if v in text]
    con.close()


def test_drift_against_an_older_profile_that_still_held_values_shows_none(people: Path) -> None:
    from workbench.data.profiling import drift, profile_table

    con = duckdb.connect(str(people), read_only=True)
    # as written before the column was marked, or by a workbench that did not mask values by their look
    unmarked = profile_table(con, "people", pii=())
    shown = tuple(con.execute("SELECT email, count(*) FROM people GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10").fetchall())
    older = dataclasses.replace(unmarked, columns=tuple(
        dataclasses.replace(c, pii=False, pii_look=None, top_values=shown) if c.name == "email" else c
        for c in unmarked.columns))
    assert older["email"].top_values
    report = drift(older, profile_table(con, "people"))
    assert not [v for v in _values() if v in json.dumps(report.to_dict())]
    con.close()


def test_redact_replaces_personal_values_in_any_text(people: Path) -> None:
    con = duckdb.connect(str(people), read_only=True)
    texts = ["\x1b[0;31mValueError\x1b[0m: bad row for person7@example.org\x1b[0m",
             "customer='Person Number12' (age 32)", "plan basic, nothing personal", ""]
    assert redact(con, texts) == ["\x1b[0;31mValueError\x1b[0m: bad row for [personal data]\x1b[0m",
                                  "customer='[personal data]' (age 32)", "plan basic, nothing personal", ""]
    con.close()


def test_the_modeling_data_never_loads_personal_columns(people: Path) -> None:
    from workbench.charter.config import Candidate, FeatureView, ModelSpec, Split, Task
    from workbench.errors import ConfigError
    from workbench.measure.modeling import load_data

    spec = ModelSpec(features=FeatureView(table="people"), split=Split(kind="random", test_size=0.25, seed=0),
                     candidates=[Candidate(name="lr", estimator="sklearn.linear_model.LogisticRegression")])
    con = duckdb.connect(str(people), read_only=True)
    task = Task(kind="classification", target="plan", positive_label="pro")
    data = load_data(con, spec, task)
    assert data.personal == ("email", "full_name")
    assert "email" not in data.train.columns and "full_name" not in data.evaluate.columns
    assert data.excluded["email"].startswith("personal data")
    with pytest.raises(ConfigError, match="personal data"):
        load_data(con, spec, Task(kind="classification", target="email", positive_label="x"))
    from workbench.charter.config import CostModel
    from workbench.measure.modeling import assess, fit_baseline

    rule = fit_baseline(None, data.train, data.y_train, task)
    with pytest.raises(ConfigError, match="personal data"):
        assess("baseline", rule, data, task=task, cost=CostModel(), threshold=0.5, slice_columns=["email"])
    con.close()


def test_a_session_scrubs_logged_text_tags_and_figures(people: Path, tmp_path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from workbench.steps.session import Session
    from workbench.store.tracking import Store

    store = Store(tmp_path)
    run = store.start_run("exp", "step")
    s = Session(run_id=run.run_id, store=store, warehouse=people, pilot="exp", step="step", owns_run=False)
    s.log_dict({"worst": "person3@example.org", "n": 1}, "x/details.json")
    s.log_text("Person Number4 could not be scored", "x/note.txt")
    s.set_tags({"note": "about person5@example.org"})
    fig = Figure()
    ax = fig.subplots()
    ax.barh(["person1@example.org", "person2@example.org"], [1, 2])
    ax.set_title("top customer: Person Number1")
    s.log_figure(fig, "figures/people.png")
    fig.draw_without_rendering()
    drawn = " ".join(t.get_text() for t in fig.findobj(Text))
    assert "example.org" not in drawn and "Person Number1" not in drawn and "labels withheld" in drawn
    logged = store.download_text(run.run_id, "x/details.json") + store.download_text(run.run_id, "x/note.txt")
    logged += json.dumps(store.get_run(run.run_id).data.tags)
    assert "[personal data]" in logged and not [v for v in _values() if v in logged]
    with pytest.raises(ValueError):
        with s.child("cand"):
            raise ValueError("cannot score person9@example.org")
    child = next(r for r in store.find_runs("exp") if r.info.run_name == "cand")
    assert "person9@example.org" not in child.data.tags["workbench.failure"]


# -- the canary test ---------------------------------------------------------------------------

CANARY_EMAILS = [f"zq.canary{k}.7f3a9c@example.org" for k in range(8)]
CANARY_NAMES = [f"Zyxwq Canarydottir{k}" for k in range(8)]
CANARY_MARKS = (b"7f3a9c", b"Canarydottir")  # any part of a canary is a leak


def _customers(path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({
        "customer_id": np.arange(1, n + 1),
        "email": [f"user{i}@example.org" for i in range(n)],
        "full_name": [f"Person Number{i}" for i in range(n)],
        "age": rng.integers(18, 80, n),
        "plan": rng.choice(["basic", "plus", "pro"], n),
        "monthly_spend": rng.gamma(2, 20, n).round(2),
        "churned": (rng.random(n) < 0.3).astype(int),
    })
    rows = rng.choice(n, size=len(CANARY_EMAILS), replace=False)
    frame.loc[rows, "email"] = CANARY_EMAILS
    frame.loc[rows, "full_name"] = CANARY_NAMES
    frame.loc[rows, "age"] = 99  # how the crashing candidate recognises a canary row
    frame.to_csv(path, index=False)


def _leaks(blob: bytes) -> list[bytes]:
    return [m for m in CANARY_MARKS if m in blob]


def _canary_path() -> str:
    return os.pathsep.join([str(REPO / "tests" / "pii_kernel"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


@pytest.fixture()
def canary_kernels(tmp_path: Path) -> Iterator[str]:
    """A kernel server started with the runs' PYTHONPATH (the session's was not, so each run would
    start a server of its own): one for both runs. Its socket path. (tests/pii_kernel's
    sitecustomize reads CANARY_FIGURE_LOG as the interpreter starts: the server's, for its kernels.)"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", _canary_path())
        patch.setenv("CANARY_FIGURE_LOG", str(tmp_path / "figures.jsonl"))
        patch.setenv("PYTHONUNBUFFERED", "1")
        server = kernel_server()
    try:
        assert server.ready(), Path(server.socket_path).with_name("server.log").read_text()
        yield server.socket_path
    finally:
        server.stop()


@pytest.mark.slow
def test_canaries_in_personal_columns_appear_in_no_artifact_report_notebook_log_or_figure(
        tmp_path: Path, canary_kernels: str) -> None:
    from workbench.steps.warm_kernels import ENV_SERVER

    from workbench.new import new_pilot

    data = tmp_path / "customers.csv"
    _customers(data)
    made = new_pilot("canary", data, "churned", pilots_dir=tmp_path / "pilots")
    charter = made.charter
    text = charter.read_text()
    assert "personal data (marked pii in the contract)" in text  # email and full_name
    hgb = ("  - name: hgb\n    estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
           "    params: {max_iter: 200}\n")
    assert hgb in text
    charter.write_text(text.replace(hgb, "  - name: crashy\n    estimator: canary_estimator.CrashOnCanary\n"))
    figures = tmp_path / "figures.jsonl"
    env = {**os.environ, "PYTHONPATH": _canary_path(), ENV_SERVER: canary_kernels,
           "CANARY_FIGURE_LOG": str(figures), "CANARY_VALUES": json.dumps([CANARY_EMAILS[0], CANARY_NAMES[0]]),
           "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "workbench.cli", "run", "--pilot", str(charter)]

    # 1. the candidate crashes on a canary row, quoting its e-mail and name
    crashed = subprocess.run(command, capture_output=True, timeout=900, cwd=tmp_path, env={**env, "CANARY_CRASH": "1"})
    terminal = crashed.stdout + crashed.stderr
    assert crashed.returncode == 1, terminal.decode()
    assert crashed.stdout.decode().strip().splitlines()[-1] == "outcome: ERROR"
    assert b"crashy" in crashed.stderr and b"[personal data]" in crashed.stderr, crashed.stderr.decode()
    outcome = json.loads((made.folder / "reports" / "canary" / "outcome.json").read_text())
    assert outcome["failed_step"] == "evaluate" and outcome["skipped_steps"] == ["promote", "report"]

    # 2. the whole pilot again, every step re-run (the profile now drifts against run 1's)
    finished = subprocess.run([*command, "--force"], capture_output=True, timeout=900, cwd=tmp_path, env=env)
    terminal += finished.stdout + finished.stderr
    assert finished.returncode in (3, 7), (finished.stdout + finished.stderr).decode()  # drafted: never a GO
    assert finished.stdout.decode().strip().splitlines()[-1] in ("outcome: DRAFT", "outcome: NO-GO",
                                                                  "outcome: NO BETTER THAN TODAY")

    searched = {"terminal": terminal}
    for folder in ("mlruns", "reports"):
        for path in (made.folder / folder).rglob("*"):
            if path.is_file():
                searched[str(path.relative_to(made.folder))] = path.read_bytes()
    names = set(searched)
    assert "mlruns/mlflow.db" in names
    assert any(n.endswith("profile/customers.json") for n in names)
    assert any(n.endswith("drift/customers.json") for n in names)
    assert any(n.endswith("notebook/evaluate.ipynb") for n in names) and any(n.endswith(".html") for n in names)
    assert any(n.startswith("reports/") and n.endswith(".html") for n in names)  # the scorecard
    leaked = {name: _leaks(blob) for name, blob in searched.items() if _leaks(blob)}
    assert leaked == {}, f"personal data found in: {sorted(leaked)}"
    # the crash was recorded, without the value, on the candidate's run and the pilot run
    assert b"cannot score the row of customer [personal data]" in searched["mlruns/mlflow.db"]

    recorded = [json.loads(line) for line in figures.read_text().splitlines()]
    assert len(recorded) >= 5  # profile histograms, drift, evaluation figures, scorecard images
    texts = "\n".join(t for figure in recorded for t in figure["texts"])
    assert "<texts unreadable" not in texts
    assert not _leaks(texts.encode())
    every_value = set(json.loads(json.dumps(CANARY_EMAILS + CANARY_NAMES)))
    import csv

    with open(data, newline="") as f:
        for row in csv.DictReader(f):
            every_value.update((row["email"], row["full_name"]))
    assert not [v for v in every_value if v in texts]


def test_a_session_keeps_keys_and_labels_of_the_projects_words_and_withholds_the_values(tmp_path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from workbench.steps.session import Session
    from workbench.store.tracking import Store

    titles = ["pilot", "warehouse", "estimator", "distribution", "Data Scientist"]
    csv = tmp_path / "staff.csv"
    csv.write_text("id,job_title\n" + "".join(f"{i},{titles[i % len(titles)]}\n" for i in range(40)))
    db = tmp_path / "wh.duckdb"
    with writer(db) as con:
        ingest_source(con, "staff", Source(path=csv, columns={"id": "INTEGER", "job_title": "VARCHAR"}), csv,
                      pii={"job_title"})
    store = Store(tmp_path / "mlruns")
    run = store.start_run("exp", "step")
    s = Session(run_id=run.run_id, store=store, warehouse=db, pilot="exp", step="step", owns_run=False)
    s.log_dict({"pilot": "exp", "warehouse": str(db), "estimator": "Ridge", "worst": "Data Scientist",
                "top": ["pilot", "distribution"]}, "x/details.json")
    logged = json.loads(store.download_text(run.run_id, "x/details.json"))
    assert logged == {"pilot": "exp", "warehouse": str(db), "estimator": "Ridge", "worst": "[personal data]",
                      "top": ["[personal data]", "[personal data]"]}
    fig = Figure()
    ax = fig.subplots()
    ax.bar(["pilot", "Data Scientist"], [1, 2])
    ax.set_title("Score distribution per estimator")
    ax.set_ylabel("warehouse rows")
    s.log_figure(fig, "figures/staff.png")
    fig.draw_without_rendering()
    assert ax.get_title() == "Score distribution per estimator" and ax.get_ylabel() == "warehouse rows"
    ticks = [t.get_text() for t in ax.xaxis.get_ticklabels()]
    assert not [t for t in ticks if t in titles] and "labels withheld" in ax.get_xlabel()
    assert "Data Scientist" not in " ".join(t.get_text() for t in fig.findobj(Text))


def test_an_executed_notebook_keeps_its_code_paths_and_keys_and_loses_the_job_titles(tmp_path: Path) -> None:
    import nbformat

    from workbench.steps.notebooks import redact_notebook

    titles = ["pilot", "warehouse", "estimator", "distribution", "Data Scientist"]
    csv = tmp_path / "staff.csv"
    csv.write_text("id,job_title\n" + "".join(f"{i},{titles[i % len(titles)]}\n" for i in range(40)))
    db = tmp_path / "wh.duckdb"
    with writer(db) as con:
        ingest_source(con, "staff", Source(path=csv, columns={"id": "INTEGER", "job_title": "VARCHAR"}), csv,
                      pii={"job_title"})
    code = ('warehouse = "/work/pilots/pilot/data/warehouse.duckdb"\npilot_name = "staff"\n'
            's = workbench.session("estimator", warehouse=warehouse)\n'
            's.log_metrics({"pilot.rows": 40, "distribution_gap": 0.1})\nprint(s.query("SELECT * FROM staff"))')
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    table = "   id       job_title\n" + "".join(f"{i:>4}  {titles[i % 5]:>14}\n" for i in range(10))
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=table),
                    nbformat.v4.new_output("display_data", data={
                        "text/html": "".join(f"<tr><td>{i}</td><td>{titles[i % 5]}</td></tr>" for i in range(5)),
                        "text/plain": "<Figure: Score distribution per estimator>"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# The pilot's baseline\nRead from the warehouse."), cell]
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, str(path))
    con = duckdb.connect(str(db), read_only=True)
    redact_notebook(path, lambda texts, names=False: redact(con, texts, names=names))
    con.close()
    after = nbformat.read(str(path), as_version=4)
    assert after.cells[0].source == "# The pilot's baseline\nRead from the warehouse."
    assert after.cells[1].source == code  # code, paths, keys and metric names: nothing rewritten
    outputs = after.cells[1].outputs
    assert outputs[1]["data"]["text/plain"] == "<Figure: Score distribution per estimator>"
    shown = outputs[0]["text"] + outputs[1]["data"]["text/html"]
    assert shown.count("[personal data]") == 15 and not [t for t in titles if t in shown]
