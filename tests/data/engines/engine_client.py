"""Run the parity fixture through the Spark engine on one master, in a process of its own,
and pickle what came back (test_spark_connect.py: pyspark switches a whole process to Spark
Connect's classes once a Connect session exists, so it cannot share the tests' local[2] one).

    python engine_client.py SPEC.json OUT.pickle
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path


def main(spec_path: str, out_path: str) -> None:
    from workbench.charter.config import Engine, Source
    from workbench.data.contracts import load_contract
    from workbench.data.engines.duckdb import arrow_fingerprint
    from workbench.data.engines.spark import SparkEngine, stop_session

    spec = json.loads(Path(spec_path).read_text())
    lake = Path(spec["lake"])
    engine = SparkEngine(Engine(kind="spark", master=spec["master"], conf=spec["conf"]), lake)
    out: dict = {}
    for name, src in spec["sources"].items():
        source = Source(path=Path(src["path"]), columns=src["columns"])
        out[f"fingerprint.{name}"] = engine.ingest(name, source, Path(src["path"])).fingerprint
    out["contract"] = engine.check_contract(load_contract(Path(spec["contract"])))
    out["profile"] = engine.profile_stats("items").as_dict()
    out["features"] = arrow_fingerprint("view", engine.sql(spec["features"]))
    out["features_written"] = engine.write_table("features", spec["features"])
    out["scores"] = engine.score_batch(spec["model"], "items", spec["score_columns"]).to_pydict()
    out["lake"] = sorted(p.name for p in lake.iterdir())
    stop_session()
    Path(out_path).write_bytes(pickle.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
