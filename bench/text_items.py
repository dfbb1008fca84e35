"""Benchmark: 1,000 eval items through the reviews demo's three candidates, and the cost of
keeping every item's answer (MLflow table artifact + DuckDB table).

For each candidate: training (or index) time, the 1,000 one-item calls, and `Session.log_items`
on a fresh sqlite MLflow store in a temp dir. The issue's target: three non-LLM candidates on
1,000 items, measured and logged, in <= 60 s on 2 cores; logging a few seconds at most.

    python bench/text_items.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from workbench.charter.config import CostModel, load_charter
from workbench.data.warehouse import ingest_all, writer
from workbench.measure.items import fit_item_model, load_items, run_items
from workbench.steps.session import Session
from workbench.store.tracking import Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # demos/ sits beside the package; it is not installed


def main() -> None:
    from demos.text import extract as extract_text_demo

    charter = load_charter(ROOT / "pilots" / "reviews" / "pilot.yaml", check_files=False)
    extract_text_demo("reviews", charter.root / "data")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.duckdb"
        charter = charter.model_copy(update={"warehouse": db})
        with writer(db) as con:
            ingest_all(con, charter)
        con = duckdb.connect(str(db), read_only=True)
        data = load_items(con, charter.eval_set)
        con.close()
        store = Store(Path(tmp) / "mlruns")
        run = store.start_run("bench", "items")
        session = Session(run_id=run.run_id, store=store, warehouse=db, pilot="bench", step="bench", owns_run=False)
        cost = CostModel(compute_usd_per_hour=0.1)
        es = charter.eval_set
        print(f"{len(data.items):,} eval items, {len(data.train):,} training items; {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"{'candidate':<14}{'fit s':>8}{'1,000 items s':>15}{'log s':>8}  macro-F1")
        total = time.perf_counter()
        for spec in (es.baseline, *es.candidates):
            t0 = time.perf_counter()
            model = fit_item_model(spec, data, "text-classification")
            t1 = time.perf_counter()
            result = run_items(model, data, cost=cost)
            t2 = time.perf_counter()
            session.log_items(result)
            t3 = time.perf_counter()
            print(f"{spec.name:<14}{t1 - t0:>8.2f}{t2 - t1:>15.2f}{t3 - t2:>8.2f}  {result.quality.macro_f1:.3f}")
        print(f"all three, fitted, run and logged: {time.perf_counter() - total:.1f} s")
        store.end_run(run.run_id)


if __name__ == "__main__":
    main()
