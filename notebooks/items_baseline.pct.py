# ---
# jupyter:
#   jupytext:
#     formats: ipynb,.pct.py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown]
# # Baseline on the eval set: how the work is done today
#
# An eval-set pilot (text classification, retrieval) is judged item by item on a fixed set of
# representative items with known answers (the charter's `eval_set:`). Today's way of doing the
# work — a keyword rule, the recorded outputs of the current process, or your own function — is
# asked every item once, under the same metric names the candidates get: quality, errors (counted
# as wrong), latency, cost and time per 1,000 items, and the quality of each slice.
#
# Run by hand, this notebook logs to a run of its own in the pilot's store; under `make pilot`
# the runner injects the step's run, the task, the cost model and the spec.

# %% tags=["parameters"]
run_id = None
tracking_uri = None
warehouse = None
pilot_name = None
pilot_root = None
cost_model = None
task = None
spec = None

# %%
import pandas as pd

import workbench
from workbench.measure import items, metrics
from workbench.show import items_report

s = workbench.session("baseline", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse,
                      pilot_name=pilot_name, task=task, cost_model=cost_model, spec=spec)
es = s.spec.eval_set
data, root = s.eval_set_items(pilot_root)
rule = items.fit_item_model(es.baseline, data, s.task.kind, root=root)
s.log_params({**data.params(), "baseline": rule.describe(), "baseline.constant": rule.constant})
print(data.summary(), f"Today's way: {rule.describe()}.")

# %% [markdown]
# ## Every item, once

# %%
result = items.run_items(rule, data, cost=s.cost)
s.log_items(result)
metrics.metric_table(items_report.side_by_side({"baseline": result}))

# %%
if s.task.kind == "text-classification":
    display(items_report.confusion_figure(result.quality, title=f"Baseline: {rule.describe()}"))
texts = dict(zip(data.ids, data.texts()))
worst = result.worst(10)
worst.insert(1, "text", [items_report._short(texts[i]) for i in worst["item_id"]])
worst

# %%
s.finish()
