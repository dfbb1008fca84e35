"""Benchmark: contract checks on flights scaled to ~1 M, 3.4 M and 10 M rows.

Variants, each in its own subprocess (wall time and peak RSS of that process):

- ``floor``: one hand-written DuckDB query computing the same 13 rules;
- ``workbench``: ``workbench.data.contracts.check_contract`` (GX 1.x SQL engine on DuckDB,
  BOOLEAN_ONLY pass then details for failures);
- ``gx_pandas``: what most users do today: load the table into pandas (the fast arrow
  path) and run GX's pandas engine with the default SUMMARY results (12 rules: the
  row check has no pandas equivalent without custom code).

``check_s`` is the time of the check itself (after imports; for gx_pandas it includes
loading the table, reported separately as ``load_s``); ``total_s`` is the whole process.
Ratios are against the floor's ``check_s`` from the same run. Medians of ``--runs`` runs
(gx_pandas at 10 M: one run, it is slow and needs ~7 GB).

    python bench/contracts.py            # full: 1 M, 3.4 M, 10 M rows
    python bench/contracts.py --quick    # smoke: ~0.3 M and ~0.7 M rows, 1 run, no pandas above 1 M

Writes bench/results/contracts.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEMORY_LIMIT = "512MB"

CONTRACT = """\
dataset: flights
owner: bench
version: 1.0.0
columns:
  id: {unique: true}
  carrier: {nullable: false, regex: '^[A-Z0-9]{2}$'}
  origin: {allowed: [EWR, JFK, LGA]}
  distance: {nullable: false, range: {min: 1}}
  dep_time: {max_null_fraction: 0.05}
  arr_time: {range: {min: 1, max: 2400}}
  air_time: {range: {min: 1, max: 720}}
table:
  row_count: {min: 1}
  unique: [[copy, year, month, day, carrier, flight, origin]]
  references: {carrier: airlines.carrier}
  row_checks:
    cancelled_have_no_times: "dep_time IS NOT NULL OR arr_time IS NULL"
"""

FLOOR_SQL = """
WITH a AS (
  SELECT count(*) AS n,
         count(DISTINCT id) = count(id) AS id_unique,
         count(*) FILTER (carrier IS NULL) AS carrier_null,
         count(*) FILTER (carrier IS NOT NULL AND NOT regexp_full_match(carrier, '^[A-Z0-9]{2}$')) AS carrier_regex,
         count(*) FILTER (origin IS NOT NULL AND origin NOT IN ('EWR', 'JFK', 'LGA')) AS origin_allowed,
         count(*) FILTER (distance IS NULL) AS distance_null,
         count(*) FILTER (distance < 1) AS distance_range,
         count(*) FILTER (dep_time IS NULL) AS dep_time_null,
         count(*) FILTER (arr_time < 1 OR arr_time > 2400) AS arr_time_range,
         count(*) FILTER (air_time < 1 OR air_time > 720) AS air_time_range,
         count(*) FILTER (NOT (dep_time IS NOT NULL OR arr_time IS NULL)) AS row_check
  FROM main.flights),
d AS (SELECT count(*) AS dup_keys FROM (
        SELECT 1 FROM main.flights
        WHERE copy IS NOT NULL AND year IS NOT NULL AND month IS NOT NULL AND day IS NOT NULL
          AND carrier IS NOT NULL AND flight IS NOT NULL AND origin IS NOT NULL
        GROUP BY copy, year, month, day, carrier, flight, origin HAVING count(*) > 1)),
r AS (SELECT count(*) AS orphans FROM main.flights
      WHERE carrier IS NOT NULL AND carrier NOT IN (SELECT carrier FROM main.airlines WHERE carrier IS NOT NULL))
SELECT * FROM a, d, r
"""


def build(workdir: Path, copies: int) -> Path:
    db = workdir / f"flights_x{copies}.duckdb"
    if db.exists():
        return db
    import duckdb
    from demos.flights import package_data

    data = package_data()
    csv = workdir / "flights.csv"
    if not csv.exists():
        with zipfile.ZipFile(data / "flights.csv.zip") as z:
            z.extract("flights.csv", workdir)
    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute(f"CREATE TEMP TABLE f AS SELECT * FROM read_csv('{csv}', nullstr='NA')")
    # UNION ALL copies of the real rows; `copy` keeps the natural key unique, `id` is a surrogate key
    union = " UNION ALL ".join(f"SELECT {i} AS copy, * FROM f" for i in range(copies))
    con.execute(f"CREATE TABLE flights AS SELECT row_number() OVER () AS id, * FROM ({union})")
    con.execute(f"CREATE TABLE airlines AS SELECT * FROM read_csv('{data / 'airlines.csv'}', nullstr='NA')")
    con.close()
    tmp.rename(db)
    return db


# ----------------------------------------------------------------------------- children


def run_floor(db: Path) -> dict:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True, config={"memory_limit": MEMORY_LIMIT})
    row = con.execute(FLOOR_SQL).fetchone()
    con.close()
    return {"check_s": time.perf_counter() - t0, "passed": bool(row[1]) and row[11] == 0 and row[12] == 0}


def run_workbench(db: Path, contract_path: Path) -> dict:
    from workbench.data.contracts import check_contract, load_contract

    import great_expectations  # noqa: F401  (import cost is reported in total_s, not check_s)

    c = load_contract(contract_path)
    t0 = time.perf_counter()
    res = check_contract(db, c, memory_limit=MEMORY_LIMIT)
    return {"check_s": time.perf_counter() - t0, "passed": res.passed, "rules": len(res.rules)}


def run_gx_pandas(db: Path) -> dict:
    import duckdb
    import great_expectations as gx
    import great_expectations.expectations as gxe

    t0 = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True)
    rel = con.sql("SELECT * FROM main.flights")
    # the fast path (DESIGN.md): arrow, then pandas; .df() is ~10x slower under pandas 3
    df = (rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()).to_pandas()
    carriers = [r[0] for r in con.execute("SELECT carrier FROM main.airlines").fetchall()]
    con.close()
    load_s = time.perf_counter() - t0
    ctx = gx.get_context(mode="ephemeral")
    batch = (
        ctx.data_sources.add_pandas("p").add_dataframe_asset("flights")
        .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df})
    )
    suite = ctx.suites.add(gx.ExpectationSuite(name="flights", expectations=[
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["copy", "year", "month", "day", "carrier", "flight", "origin"]),
        gxe.ExpectColumnValuesToNotBeNull(column="carrier"),
        gxe.ExpectColumnValuesToMatchRegex(column="carrier", regex="^[A-Z0-9]{2}$"),
        gxe.ExpectColumnValuesToBeInSet(column="origin", value_set=["EWR", "JFK", "LGA"]),
        gxe.ExpectColumnValuesToNotBeNull(column="distance"),
        gxe.ExpectColumnValuesToBeBetween(column="distance", min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="dep_time", mostly=0.95),
        gxe.ExpectColumnValuesToBeBetween(column="arr_time", min_value=1, max_value=2400),
        gxe.ExpectColumnValuesToBeBetween(column="air_time", min_value=1, max_value=720),
        gxe.ExpectColumnValuesToBeInSet(column="carrier", value_set=carriers),
    ]))
    res = batch.validate(suite)
    return {"check_s": time.perf_counter() - t0, "load_s": load_s, "passed": bool(res.success), "rules": 12}


def child(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    db = Path(args.db)
    if args.child == "floor":
        out = run_floor(db)
    elif args.child == "workbench":
        out = run_workbench(db, Path(args.contract))
    else:
        out = run_gx_pandas(db)
    out["total_s"] = time.perf_counter() - started
    # VmHWM: this process's own peak RSS (ru_maxrss of a child survives exec and would
    # include the parent's footprint at fork time)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            out["peak_rss_mb"] = int(line.split()[1]) / 1024
    Path(args.out).write_text(json.dumps(out))


# ----------------------------------------------------------------------------- parent


def measure(variant: str, db: Path, contract: Path) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, __file__, "--child", variant, "--db", str(db), "--contract", str(contract), "--out", str(out)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if status != 0:
        tail = [ln for ln in err.splitlines() if "nanobind" not in ln and "leaked" not in ln][-15:]
        raise SystemExit(f"{variant} on {db.name} failed:\n" + "\n".join(tail))
    res = json.loads(out.read_text())
    out.unlink()
    res["process_wall_s"] = wall
    res.setdefault("peak_rss_mb", usage.ru_maxrss / 1024)  # fallback off Linux (KiB)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, one run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "workbench-bench-contracts"))
    ap.add_argument("--child", choices=["floor", "workbench", "gx_pandas"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--contract", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    sizes = [1, 2] if args.quick else [3, 10, 30]
    runs = 1 if args.quick else args.runs
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    contract = work / "flights.yml"
    contract.write_text(CONTRACT)
    rows_out = []
    for copies in sizes:
        db = build(work, copies)
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        n = con.execute("SELECT count(*) FROM flights").fetchone()[0]
        con.close()
        per: dict[str, list[dict]] = {}
        for variant in ["floor", "workbench", "gx_pandas"]:
            k = runs
            if variant == "gx_pandas" and (copies >= 30 or (args.quick and copies > 1)):
                k = 0 if args.quick else 1
            per[variant] = [measure(variant, db, contract) for _ in range(k)]
            print(f"{n:>11,} rows  {variant:<10} {[round(r['check_s'], 2) for r in per[variant]]}", file=sys.stderr)
        floor = statistics.median(r["check_s"] for r in per["floor"])
        for variant, rs in per.items():
            if not rs:
                continue
            med = {key: statistics.median(r[key] for r in rs) for key in ("check_s", "total_s", "peak_rss_mb")}
            rows_out.append({
                "rows": n, "variant": variant, "runs": len(rs), **{k2: round(v, 3) for k2, v in med.items()},
                "load_s": round(statistics.median(r["load_s"] for r in rs), 3) if "load_s" in rs[0] else None,
                "ratio_vs_floor": round(med["check_s"] / floor, 2),
                "passed": all(r["passed"] for r in rs),
            })
    result = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "memory_limit": MEMORY_LIMIT,
        "quick": args.quick,
        "results": rows_out,
    }
    out = ROOT / "bench" / "results" / "contracts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("| rows | variant | runs | check s (median) | ratio vs floor | total s | peak RSS MB | passed |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for r in rows_out:
        load = f" (load {r['load_s']:.2f})" if r["load_s"] is not None else ""
        print(f"| {r['rows']:,} | {r['variant']} | {r['runs']} | {r['check_s']:.2f}{load} | {r['ratio_vs_floor']:.2f}x "
              f"| {r['total_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['passed']} |")
    print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
