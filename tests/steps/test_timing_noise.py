"""A timing verdict decided inside the noise is measured again and never served from cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import STEP_PARAMS, write_project
from workbench.charter.config import load_charter
from workbench.steps.runner import T_INSIDE_NOISE, run_pilot
from workbench.store.tracking import Store

pytestmark = pytest.mark.slow

TIMING_CELL = """
import time
import workbench
from workbench.measure import timing

s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
calls = [0]
def predict(rows):  # a controlled slow-down: single calls alternate ~0 ms and 30 ms, 12 at a time
    if len(rows) == 1:  # (far apart: on a loaded machine a 1 ms sleep can take 6 ms; see
        if (calls[0] // 12) % 2:  # tests/measure/test_timing.py for where a budget of 12 stays)
            time.sleep(0.03)
        calls[0] += 1
    return [0.0] * len(rows)
t = timing.time_in_blocks(predict, [[float(i)] for i in range(10)], blocks=5, single_items=60, warmup=0,
                          batch_size=5, budgets=timing_budgets, measure_memory=False)
s.log_metrics({"demo.rows": 1, **t.metrics(), **t.block_metrics()})
if t.inside_noise:
    s.set_tags({"workbench.inside_noise": "true"})
"""


@pytest.mark.parametrize("budget, reused", [(12.0, False), (100.0, True)])
def test_a_verdict_inside_the_noise_is_not_reused(tmp_path: Path, budget: float, reused: bool) -> None:
    charter = write_project(
        tmp_path, notebook_cells=(TIMING_CELL,),
        params=STEP_PARAMS + "step_name = 'measure'\nscale = 1\ntiming_budgets = {}\n",
        step_params="scale: 1",
        extra_yaml=f"gates:\n  - {{kind: threshold, metric: latency.p95_ms, op: '<=', value: {budget}}}\n")
    first = run_pilot(load_charter(charter))
    step = Store(tmp_path).get_run(first.steps[-1].run_id)
    assert step.data.metrics["timing.blocks"] == (5 if reused else 15)  # inside the noise: measured again
    assert (step.data.tags.get(T_INSIDE_NOISE) == "true") is not reused
    again = run_pilot(load_charter(charter))
    assert again.steps[-1].status == ("cached" if reused else "executed")
