"""Benchmark: a rerun of the llm-demo's LLM candidate over its 1,000 cached answers.

Run `make llm-demo` once first (it fills pilots/reviews/.llm-cache/); then no server is
needed: every answer comes from the response cache. The issue's target: <= 5 s for 1,000
cached items, with 0 calls and a hit rate of 1.

    python bench/llm_cache.py
"""

from __future__ import annotations

import time
from pathlib import Path

from workbench.charter.config import load_charter
from workbench.data.warehouse import connect_read_only
from workbench.measure.items import fit_item_model, load_items, run_items

charter = load_charter(Path(__file__).parents[1] / "pilots" / "reviews" / "llm.yaml")
spec = next(c for c in charter.eval_set.candidates if c.kind == "llm")
con = connect_read_only(charter.warehouse_path)
data = load_items(con, charter.eval_set, root=charter.root)
con.close()
t0 = time.perf_counter()
model = fit_item_model(spec, data, charter.task.kind, root=charter.root)
run = run_items(model, data, cost=charter.cost, items_per_month=charter.production.items_per_month)
took = time.perf_counter() - t0
m = run.metrics()
print(f"{len(data.ids)} items: {took:.2f} s, llm.calls {m['llm.calls']:.0f}, "
      f"llm.cache_hit_rate {m['llm.cache_hit_rate']:.3f}, quality.macro_f1 {m['quality.macro_f1']:.3f}")
