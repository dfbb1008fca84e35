"""Benchmark: the data steps on DuckDB and on Spark (local[1], local[2], Spark Connect) at 1 M, 10 M, 50 M rows.

One synthetic CSV per size (written by DuckDB: id, a group code, two numbers, a date, a
flag), then per engine, each in its own process: ingest (strict, typed), the contract
check (Great Expectations: SQL on DuckDB, the Spark datasource on Spark), the profile
step's whole profile (statistics, quantiles, histograms, top values, duplicates:
``DataEngine.profile``) and a feature view (a join and a CASE, written as a table). Wall time per
phase, and the peak RSS of the whole process tree (the JVM included), sampled every 0.2 s
by this parent process. The contract results must be the same on every engine.
``spark-connect`` runs the same calls through a Spark Connect address (sc://127.0.0.1:PORT)
to a local Connect server (pyspark's own jars, local[2], the same driver-memory cap), which
the measured process starts as its child, so the server's JVM counts in the peak memory.

    python bench/engines.py                         # 1 M, 10 M, 50 M rows (the 50 M CSV is ~3 GB)
    python bench/engines.py --rows 1000000          # one size
    python bench/engines.py --engines duckdb spark-local[2] --driver-memory 4g
    python bench/engines.py --rows 1000000 --engines spark-local[2] spark-connect --driver-memory 1g

Needs the spark extra (`make setup-spark`). Writes bench/results/engines.json, a Markdown
table (printed) and bench/results/engines.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/profile.py would shadow the standard library's `profile` (which Spark's workers import)
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

ENGINES = ["duckdb", "spark-local[1]", "spark-local[2]"]  # and spark-connect, on request

CONTRACT = """\
dataset: events
owner: bench
version: 1.0.0
columns:
  id: {type: BIGINT, nullable: false, unique: true}
  grp: {type: VARCHAR, nullable: false, regex: '^g[0-9]+$'}
  x: {type: DOUBLE, max_null_fraction: 0.05, range: {min: 0, max: 1000}}
  y: {type: BIGINT, range: {min: 0, max: 99}}
  flag: {type: BOOLEAN}
table:
  row_count: {min: 1}
  references: {grp: groups.grp}
  row_checks:
    y_small_when_flagged: "NOT flag OR y < 100"
"""

FEATURES = """
SELECT e.id, e.x, e.y, g.region, e.day, CASE WHEN e.x > 500 THEN 1 ELSE 0 END AS high
FROM main.events AS e JOIN main.groups AS g ON e.grp = g.grp
"""


def make_data(folder: Path, rows: int) -> tuple[Path, Path]:
    import duckdb

    events, groups = folder / f"events-{rows}.csv", folder / "groups.csv"
    if not events.exists():
        con = duckdb.connect()
        con.execute(f"""COPY (SELECT range AS id, 'g' || (range % 50) AS grp,
                          CASE WHEN range % 40 = 0 THEN NULL ELSE round((range * 7919 % 100000) / 100.0, 2) END AS x,
                          range % 100 AS y, DATE '2020-01-01' + CAST(range % 1000 AS INTEGER) AS day,
                          range % 3 = 0 AS flag
                        FROM range({rows})) TO '{events}' (HEADER, NULLSTR 'NA')""")
        con.execute(f"COPY (SELECT 'g' || range AS grp, 'r' || (range % 5) AS region FROM range(50)) "
                    f"TO '{groups}' (HEADER)")
        con.close()
    return events, groups


def start_connect(work: Path, driver_memory: str) -> tuple[subprocess.Popen, str]:
    """A local Spark Connect server, a child of this process; (it, its sc:// address)."""
    import socket

    from workbench.data.engines.spark import connect_server_command

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv, env = connect_server_command(port, master="local[2]", conf={
        "spark.driver.memory": driver_memory, "spark.sql.shuffle.partitions": "8"})
    with open(work / "connect-server.log", "ab") as log:
        server = subprocess.Popen(argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"sc://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Spark Connect server did not start: see {work / 'connect-server.log'}") from None
            time.sleep(0.5)


def child(args: argparse.Namespace) -> None:
    """One engine, one size: the phases' wall times as JSON on stdout."""
    from workbench.charter.config import Engine, Source
    from workbench.data.contracts import load_contract
    from workbench.data.engines.duckdb import DuckDBEngine

    work = Path(args.work)
    events = Source(path=Path(args.events), columns={"id": "BIGINT", "grp": "VARCHAR", "x": "DOUBLE",
                                                      "y": "BIGINT", "day": "DATE", "flag": "BOOLEAN"})
    groups = Source(path=Path(args.groups), columns={"grp": "VARCHAR", "region": "VARCHAR"})
    server = None
    if args.engine == "duckdb":
        engine = DuckDBEngine(work / "warehouse.duckdb")
    else:
        from workbench.data.engines.spark import SparkEngine

        master = args.engine.removeprefix("spark-")
        if master == "connect":
            server, master = start_connect(work, args.driver_memory)
        engine = SparkEngine(Engine(kind="spark", master=master, conf={
            "spark.driver.memory": args.driver_memory, "spark.sql.shuffle.partitions": "8"}), work / "lake")
        engine.spark  # the JVM's start, outside the phases  # noqa: B018
    out: dict[str, float | int | list] = {}
    t = time.perf_counter()
    engine.ingest("groups", groups, groups.path)
    engine.ingest("events", events, events.path)
    out["ingest_s"] = time.perf_counter() - t
    (work / "events.yml").write_text(CONTRACT)
    t = time.perf_counter()
    kwargs = {"quarantine": False} if args.engine == "duckdb" else {}
    result = engine.check_contract(load_contract(work / "events.yml"), **kwargs)
    out["contracts_s"] = time.perf_counter() - t
    out["failed_rules"] = sorted(r.rule_id for r in result.rules if not r.success)
    t = time.perf_counter()
    engine.profile("events")  # what the pilot's profile step computes
    out["profile_s"] = time.perf_counter() - t
    t = time.perf_counter()
    fp = engine.write_table("features", FEATURES)
    out["features_s"] = time.perf_counter() - t
    out["feature_rows"] = fp.rows
    if server is not None:
        server.terminate()
        server.wait(timeout=60)
    print(json.dumps(out))


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except psutil.Error:
        return 0


def measure(engine: str, rows: int, events: Path, groups: Path, driver_memory: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="wb-bench-engines-") as work:
        cmd = [sys.executable, __file__, "--child", "--engine", engine, "--events", str(events), "--groups",
               str(groups), "--work", work, "--driver-memory", driver_memory]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        peak = [0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.2)

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        stdout, stderr = proc.communicate()
        watcher.join()
        total = time.perf_counter() - start
    if proc.returncode != 0:
        return {"engine": engine, "rows": rows, "error": stderr.strip().splitlines()[-1:] or ["failed"]}
    result = json.loads(stdout.strip().splitlines()[-1])
    return {"engine": engine, "rows": rows, **result, "total_s": total, "peak_tree_rss_mb": peak[0] / 2**20}


def table(results: list[dict]) -> str:
    head = ("| rows | engine | ingest s | contracts s | profile s | feature view s | total s | peak tree RSS MB | "
            "failed rules |\n|---:|---|---:|---:|---:|---:|---:|---:|---|")
    lines = [head]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['rows']:,} | {r['engine']} | failed: {r['error'][0][:80]} | | | | | | |")
            continue
        lines.append(f"| {r['rows']:,} | {r['engine']} | {r['ingest_s']:.1f} | {r['contracts_s']:.1f} | "
                     f"{r['profile_s']:.1f} | {r['features_s']:.1f} | {r['total_s']:.1f} | "
                     f"{r['peak_tree_rss_mb']:.0f} | {len(r['failed_rules'])} |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for engine in sorted({r["engine"] for r in results}):
        done = sorted((r for r in results if r["engine"] == engine and "error" not in r), key=lambda r: r["rows"])
        xs = [r["rows"] for r in done]
        axes[0].plot(xs, [r["total_s"] for r in done], marker="o", label=engine)
        axes[1].plot(xs, [r["peak_tree_rss_mb"] for r in done], marker="o", label=engine)
    for ax, label in zip(axes, ["wall time, s", "peak tree RSS, MB"], strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("rows")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000, 50_000_000])
    p.add_argument("--engines", nargs="*", default=ENGINES)
    p.add_argument("--driver-memory", default="2g", help="spark.driver.memory: the fixed cap Spark runs under")
    p.add_argument("--data", default=str(ROOT / "bench" / "results" / "engines-data"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--events", help=argparse.SUPPRESS)
    p.add_argument("--groups", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in args.rows:
        events, groups = make_data(data, rows)
        for engine in args.engines:
            results.append(measure(engine, rows, events, groups, args.driver_memory))
            print(json.dumps(results[-1]), flush=True)
    out = ROOT / "bench" / "results"
    (out / "engines.json").write_text(json.dumps(results, indent=1))
    plot(results, out / "engines.png")
    print(table(results))


if __name__ == "__main__":
    main()
