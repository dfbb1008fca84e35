"""The same small tables through DuckDB and Spark give the same answers: contract results,
profile numbers (within float tolerance), the feature view's checksum; a bad value is
refused with file:line on both; a broken Spark set-up is a clear EngineError."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO
from workbench.charter.config import Engine, Source
from workbench.data.contracts import load_contract
from workbench.data.profiling import QUANTILES
from workbench.data.engines.duckdb import DuckDBEngine, arrow_fingerprint
from workbench.errors import IngestError

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

ITEMS = Source(path=Path("items.csv"), columns={
    "id": "INTEGER", "name": "VARCHAR", "price": "DOUBLE", "day": "DATE", "flag": "BOOLEAN",
    "amount": "DECIMAL(10,2)", "shop": "BIGINT"})
SHOPS = Source(path=Path("shops.csv"), columns={"shop": "BIGINT", "city": "VARCHAR"})

CONTRACT = """\
dataset: items
owner: data@example.org
version: 1.0.0
columns:
  id: {type: INTEGER, nullable: false, unique: true}
  name: {type: VARCHAR, nullable: false, regex: '^[a-z]+$'}
  price: {type: DOUBLE, max_null_fraction: 0.2, range: {min: 0, max: 100}}
  flag: {type: BOOLEAN, allowed: [true]}
  shop: {type: BIGINT, nullable: false}
table:
  row_count: {min: 1, max: 1000}
  unique:
    - [name, shop]
  references:
    shop: shops.shop
  row_checks:
    amount_positive: "amount IS NULL OR amount > 0"
"""

FEATURES = """
SELECT i.id, i.price, i.amount, s.city, i.day, i.flag,
       CASE WHEN i.price > 50 THEN 1 ELSE 0 END AS expensive
FROM main.items AS i JOIN main.shops AS s ON i.shop = s.shop
WHERE i.price IS NOT NULL
"""


def _items_csv(path: Path, *, bad: str | None = None) -> Path:
    lines = ["id,name,price,day,flag,amount,shop"]
    names = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "lemon"]
    for i in range(1, 41):
        price = "NA" if i % 9 == 0 else f"{(i * 7.25) % 130:.2f}"  # a few above the range's max of 100
        flag = "NA" if i % 11 == 0 else ("true" if i % 3 else "false")
        amount = "NA" if i % 13 == 0 else f"{(i * 3.7) % 40 - 2:.2f}"  # a few negative: the row check fails
        name = names[i % len(names)] + ("" if i % 17 else "X")  # a capital: the regex fails
        lines.append(f"{i},{name},{price},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{flag},{amount},{1 + i % 4}")
    if bad is not None:
        lines.insert(6, bad)
    path.write_text("\n".join(lines) + "\n")
    return path


def _shops_csv(path: Path) -> Path:
    path.write_text("shop,city\n1,Oslo\n2,Lyon\n3,Porto\n")  # shop 4 is missing: references fail
    return path


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, spark: object, spark_conf: dict[str, str]):
    from workbench.data.engines.spark import SparkEngine

    d = tmp_path_factory.mktemp("parity")
    items, shops = _items_csv(d / "items.csv"), _shops_csv(d / "shops.csv")
    (d / "items.yml").write_text(CONTRACT)
    duck = DuckDBEngine(d / "warehouse.duckdb")
    sp = SparkEngine(Engine(kind="spark", master="local[2]", conf=spark_conf), d / "lake")
    for engine in (duck, sp):
        engine.ingest("items", ITEMS, items)
        engine.ingest("shops", SHOPS, shops)
    return d, duck, sp


def test_ingest_writes_the_declared_types_and_nothing_half_written(both) -> None:
    d, duck, sp = both
    fd, fs = duck.fingerprint("items"), sp.fingerprint("items")
    assert fd.rows == fs.rows == 40
    assert dict(fs.columns) == {"id": "int", "name": "string", "price": "double", "day": "date",
                                "flag": "boolean", "amount": "decimal(10,2)", "shop": "bigint"}
    assert sorted(p.name for p in (d / "lake").iterdir()) == ["items", "shops"]  # no temporary folder left
    # the fingerprint is bound to the data: Spark's hash changes when a value does
    assert fs.row_hash != sp.fingerprint("shops").row_hash


def test_contract_results_are_the_same(both) -> None:
    d, duck, sp = both
    contract = load_contract(d / "items.yml")
    rd, rs = duck.check_contract(contract, quarantine=False), sp.check_contract(contract)
    by_id = {r.rule_id: r for r in rs.rules}
    assert rd.row_count == rs.row_count == 40
    assert {r.rule_id for r in rd.rules} == set(by_id)
    failed = sorted(r.rule_id for r in rd.rules if not r.success)
    # the fixture breaks these on purpose: the comparison below is not of passes only
    assert {"items.price.range", "items.name.regex", "items.references.shop",
            "items.row_check.amount_positive"} <= set(failed), failed
    for r in rd.rules:
        s = by_id[r.rule_id]
        assert (s.success, s.error) == (r.success, None), (r.rule_id, s.error)
        assert s.unexpected_count == r.unexpected_count, r.rule_id


def test_profile_numbers_are_the_same(both) -> None:
    _, duck, sp = both
    pd_, ps = duck.profile_stats("items").as_dict(), sp.profile_stats("items").as_dict()
    assert set(pd_) == set(ps)
    compared = 0
    for key, a in pd_.items():
        b = ps[key]
        if a is None or b is None:
            assert a is b, key
            continue
        a, b = float(a), float(b)
        # approximate distinct counts are HyperLogLog sketches in both engines, of other designs
        tol = 0.1 * max(abs(a), 1) if key.endswith("_distinct") else 1e-9 * max(abs(a), 1)
        assert math.isclose(a, b, abs_tol=tol), (key, a, b)
        compared += 1
    assert compared > 30


EVENTS = Source(path=Path("events.csv"), columns={
    "user": "VARCHAR", "at": "TIMESTAMP", "score": "DOUBLE", "level": "INTEGER", "kind": "VARCHAR"})


def _events_csv(path: Path, rows: int = 16_500) -> Path:
    """More distinct users than profiling counts exactly (10,000: the top-k path), fractions of
    seconds, non-finite and missing scores, a few whole rows repeated."""
    lines = ["user,at,score,level,kind"]
    for i in range(rows):
        j = i if i % 500 or not i else i - 1  # every 500th row repeats the one before it
        score = "inf" if j % 997 == 0 else "nan" if j % 991 == 0 else "NA" if j % 13 == 0 else f"{(j * 37 % 1009) / 7:.3f}"
        user = f"u{j % 4 if j % 3 == 0 else j}"  # u0..u3 frequent, every other user about once
        lines.append(f"{user},2025-03-{1 + j % 28:02d} {j % 24:02d}:{j % 60:02d}:{j % 59:02d}.{j % 1000:03d},"
                     f"{score},{j % 7 if j % 11 else 'NA'},{'abc'[j % 3]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _within_a_rank(values: list[float], p: float, got: float, *, slack: float) -> bool:
    """``got`` lies between the order statistics ``slack`` either side of quantile ``p``."""
    xs, n = sorted(values), len(values)
    lo, hi = xs[max(0, math.floor((p - slack) * n) - 1)], xs[min(n - 1, math.ceil((p + slack) * n))]
    return lo - 1e-6 <= got <= hi + 1e-6


def test_the_whole_profile_is_the_same(both) -> None:
    """What the profile step logs, computed by Spark: statistics, histograms on the same bins,
    exact top values (the high-cardinality path too), duplicates, and the counts on a previous
    profile's buckets that make drift exact. Quantiles are each engine's estimate (DuckDB's
    t-digest, Spark's percentile_approx): both lie within a percentile point of the data's."""
    import pyarrow.csv as pcsv

    d, duck, sp = both
    events = _events_csv(d / "events.csv")
    for engine in (duck, sp):
        engine.ingest("events", EVENTS, events)
    data = pcsv.read_csv(events, convert_options=pcsv.ConvertOptions(null_values=["NA", ""])).to_pandas()
    compared = 0
    for table in ("items", "events"):
        first = duck.profile(table, top_k=5)
        on_duck, on_spark = duck.profile(table, top_k=5, reference=first), sp.profile(table, top_k=5, reference=first)
        assert on_spark.engine.startswith("spark ") and on_duck.engine.startswith("duckdb ")
        assert (on_spark.row_count, on_spark.duplicate_rows) == (on_duck.row_count, on_duck.duplicate_rows)
        for a, b in zip(on_duck.columns, on_spark.columns, strict=True):
            da, db = a.to_dict(), b.to_dict()
            qa, qb = da.pop("quantiles"), db.pop("quantiles")
            for key, near in (("mean", 1e-12), ("std", 1e-12), ("skewness", 1e-6)):  # a skew near 0 cancels
                if da.get(key) is not None:
                    assert math.isclose(da.pop(key), db.pop(key), rel_tol=1e-9, abs_tol=near), (table, a.name, key)
            if not a.distinct_is_exact:  # HyperLogLog sketches of two designs
                assert math.isclose(da.pop("distinct_count"), db.pop("distinct_count"), rel_tol=0.1), (table, a.name)
            if a.kind == "categorical" and not a.distinct_is_exact:
                # DuckDB's candidates come from approx_top_k, Spark's from an exact ranking: the
                # frequent values agree, with exact counts; among values seen once or twice the
                # sketch may pick another (Spark's are never less frequent than DuckDB's last)
                ta, tb = da.pop("top_values"), db.pop("top_values")
                heavy = [v for v in ta if v[1] > 0.01 * a.row_count]
                assert len(heavy) == 4 and tb[:4] == heavy and len(tb) == len(ta), (ta, tb)
                assert min(c for _, c in tb) >= min(c for _, c in ta), (ta, tb)
            assert da == db, (table, a.name)
            assert set(qa) == set(qb)
            if qa and table == "events" and a.kind == "numeric":
                values = [v for v in data[a.name].tolist() if v == v and abs(v) != float("inf")]
                for name, p in QUANTILES.items():
                    for got in (qa[name], qb[name]):
                        assert _within_a_rank(values, p, got, slack=0.01), (a.name, name, got)
            compared += 1
    assert compared == 12
    wide = on_spark["user"]
    assert not wide.distinct_is_exact and wide.top_values[0][0] in {"u0", "u1", "u2", "u3"}
    assert on_spark.duplicate_rows == len(range(500, 16_500, 500)) and on_spark["at"].histogram is not None
    assert on_spark["score"].non_finite_count > 0 and on_spark["user"].reference_top is not None


def test_feature_view_checksum_is_the_same(both) -> None:
    _, duck, sp = both
    fd, fs = arrow_fingerprint("view", duck.sql(FEATURES)), arrow_fingerprint("view", sp.sql(FEATURES))
    assert fd.rows == fs.rows > 0
    assert fd.columns == fs.columns
    assert fd.row_hash == fs.row_hash and fd.digest == fs.digest
    # and written as a lake table, it reads back the same
    sp.write_table("features", FEATURES)
    assert arrow_fingerprint("view", sp.sql("SELECT * FROM features")).row_hash == fd.row_hash


@pytest.mark.parametrize(("bad", "says"), [
    ("99,fig,14.6,2024-01-01,true,1.234,1", "column 6 ('amount'): value '1.234' has more than 2 decimal place(s)"),
    ("99,fig,1.5,2024-01-01 10:00,true,1.00,1", "column 4 ('day'): value '2024-01-01 10:00' has a time of day"),
    ("99,fig,1.5,2024-01-01,true,1.00,1.5", "column 7 ('shop'): value '1.5' is not a whole number"),
    ("99,fig,1.5", ""),  # too few fields: each engine words it its own way, both name the line
])
def test_a_bad_value_is_refused_with_file_and_line(both, bad: str, says: str) -> None:
    d, duck, sp = both
    path = _items_csv(d / "bad.csv", bad=bad)
    before = sp.fingerprint("items")
    for engine in (duck, sp):
        with pytest.raises(IngestError) as info:
            engine.ingest("items", ITEMS, path, force=True)
        assert f"{path}:7: {says}" in str(info.value), (engine.kind, str(info.value))
    assert sp.fingerprint("items") == before  # the previous table is unchanged
    assert not [p.name for p in (d / "lake").iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_no_java_is_a_clear_error_naming_the_charter_key(tmp_path: Path) -> None:
    # in a child process: this one's shared session must not be touched
    code = ("from workbench.data.engines.spark import spark_session\n"
            "from workbench.errors import EngineError\n"
            "try:\n    spark_session('local[1]', {}, where='pilot.yaml: engine.master')\n"
            "except EngineError as e:\n    print(e)\n")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "JAVA_HOME": ""}
    env.pop("JAVA_HOME")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    out = done.stdout
    assert "no Java runtime" in out and "pilot.yaml: engine.master" in out and "openjdk-17" in out, \
        out + done.stderr


def test_batch_scores_are_the_same(both) -> None:
    """The champion scores a batch through MLflow's spark_udf as it does on the driver."""
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LinearRegression

    d, duck, sp = both
    x = np.array([[i, i % 4 + 1] for i in range(1, 41)], dtype=float)
    model = LinearRegression().fit(x, x[:, 0] * 0.5 - x[:, 1])
    uri = str(d / "model")
    mlflow.sklearn.save_model(model, uri)
    on_duck = duck.score_batch(uri, "items", ["id", "shop"]).to_pandas().set_index("id")["prediction"]
    on_spark = sp.score_batch(uri, "items", ["id", "shop"]).to_pandas().set_index("id")["prediction"]
    assert len(on_spark) == 40
    assert np.allclose(on_duck.sort_index().to_numpy(), on_spark.sort_index().to_numpy(), rtol=1e-9)


QUARANTINE = """\
dataset: items
owner: data@example.org
version: 1.0.0
columns:
  name: {type: VARCHAR, nullable: false, regex: {pattern: '^[a-z]+$', on_fail: quarantine}}
  price: {type: DOUBLE, range: {min: 0, max: 100, on_fail: quarantine}}
  id: {type: INTEGER, nullable: false, unique: true}
"""


def test_quarantine_moves_the_same_rows_on_both(tmp_path: Path, spark: object, spark_conf: dict[str, str]) -> None:
    """`on_fail: quarantine` on Spark as on DuckDB: the same rows leave the table for
    `items__quarantine`, counted per rule; the rule no longer blocks; the lake is left with
    no temporary folder, and a rerun of ingest on the unchanged file keeps the rows out."""
    from workbench.data.engines.spark import SparkEngine

    items = _items_csv(tmp_path / "items.csv")
    (tmp_path / "items.yml").write_text(QUARANTINE)
    contract = load_contract(tmp_path / "items.yml")
    duck = DuckDBEngine(tmp_path / "warehouse.duckdb")
    sp = SparkEngine(Engine(kind="spark", master="local[2]", conf=spark_conf), tmp_path / "lake")
    for engine in (duck, sp):
        engine.ingest("items", ITEMS, items)
    rd, rs = duck.check_contract(contract), sp.check_contract(contract)
    assert rd.quarantined_rows == rs.quarantined_rows > 0 and rs.quarantine_table == "items__quarantine"
    assert {r.rule_id: r.quarantined_rows for r in rd.rules} == {r.rule_id: r.quarantined_rows for r in rs.rules}
    assert {r.rule_id for r in rs.rules if r.quarantined_rows} == {"items.name.regex", "items.price.range"}
    assert rd.passed and rs.passed  # a quarantined rule does not block
    ids = "SELECT id FROM main.{} ORDER BY id"
    assert duck.sql(ids.format("items")).column("id").to_pylist() == sp.sql(ids.format("items")).column("id").to_pylist()
    moved = sp.sql(ids.format("items__quarantine")).column("id").to_pylist()
    assert moved == duck.sql(ids.format("items__quarantine")).column("id").to_pylist() and len(moved) == rs.quarantined_rows
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == ["items", "items__quarantine"]
    again = sp.ingest("items", ITEMS, items)  # the file is unchanged: not loaded again, rows stay out
    assert again.skipped and again.fingerprint == sp.fingerprint("items") and again.fingerprint.rows == 40 - len(moved)
    assert sp.check_contract(contract).quarantined_rows == 0


def test_a_pilot_with_a_quarantine_rule_runs_on_spark(tmp_path: Path, spark: object, spark_conf: dict[str, str]) -> None:
    """The pilot's steps read what the quarantine left (the lake's table, read back into the
    warehouse), not "data changed under the pilot"; a rerun loads nothing again."""
    import json

    from support import write_project
    from workbench.charter.config import load_charter
    from workbench.steps.runner import run_pilot
    from workbench.store.tracking import Store

    charter_path = write_project(tmp_path, rows=5)  # prices 1.5 .. 7.5
    (tmp_path / "items.yml").write_text(
        "dataset: items\nowner: tester@pilot-team.internal\nversion: 1.0.0\n"
        "columns:\n  price: {type: DOUBLE, range: {min: 0, max: 6.5, on_fail: quarantine}}\n")
    declared = "    columns: {id: INTEGER, name: VARCHAR, price: DOUBLE}\n"
    engine = {"kind": "spark", "master": "local[2]", "lake": "data/lake/", "conf": spark_conf}
    charter_path.write_text(charter_path.read_text().replace(declared, declared + "    contract: items.yml\n")
                            + f"engine: {json.dumps(engine)}\n")
    charter, store = load_charter(charter_path), Store(tmp_path)
    for attempt in ("first", "rerun"):
        result = run_pilot(charter)
        assert result.status == "FINISHED", result
        steps = {o.name: o for o in result.steps}
        measure = steps["measure"]
        rows = store.get_run(measure.run_id if measure.status == "executed" else measure.cached_from).data.metrics
        assert rows["demo.rows"] == 4, (attempt, rows)  # the notebook counted the warehouse's copy
        if attempt == "rerun":
            assert steps["ingest"].status == "cached" and measure.status == "cached", steps
    assert sorted(p.name for p in (tmp_path / "data" / "lake").iterdir()) == ["items", "items__quarantine"]
