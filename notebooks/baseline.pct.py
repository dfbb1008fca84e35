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
# # Baseline: how the work is done today
#
# Before any model is judged, measure the incumbent on the same held-out work. Today's
# rule comes from the pilot's charter (`baseline:`): an SQL expression over a row, a rate
# or mean per group learned on the training split, or the training split's prior. It is
# scored on the held-out rows the candidates will face, timed one row at a time and in
# batches, costed, sliced and probed with malformed rows — under the same metric names the
# candidates get, so the promotion gates compare like with like.
#
# Run by hand, this notebook logs to a run of its own in the pilot's store; under
# `make pilot` the runner injects the step's run, the task, the cost model and the spec.

# %% tags=["parameters"]
run_id = None
tracking_uri = None
warehouse = None
pilot_name = None
cost_model = None
task = None
spec = None
slice_columns = []
min_slice_rows = 200
single_items = 300
batch_size = 2000

# %%
import pandas as pd

import workbench
from workbench import formatting
from workbench.measure import metrics, modeling

s = workbench.session("baseline", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse,
                      pilot_name=pilot_name, task=task, cost_model=cost_model, spec=spec)
with s.connect() as con:
    data = modeling.load_data(con, s.spec, s.task)
rule = modeling.fit_baseline(s.spec.baseline, data.train, data.y_train, s.task, time_column=data.time_column)
threshold = modeling.baseline_threshold(rule, data, s.task, s.cost)
s.log_params({**data.params(), "baseline": rule.describe(), "baseline.constant": rule.constant})
print(f"Today's rule: {rule.describe()}.")
print(data.summary())

# %% [markdown]
# ## Quality, slices, latency, cost and robustness on the held-out rows

# %%
result = modeling.assess("baseline", rule, data, task=s.task, cost=s.cost, threshold=threshold,
                         slice_columns=slice_columns, min_slice_rows=min_slice_rows,
                         single_items=single_items, batch_size=batch_size)
figures = s.log_assessment(result, prefix="baseline")
metrics.metric_table(pd.DataFrame({"baseline": result.metrics()}))

# %%
for fig in figures.values():
    display(fig)

# %% [markdown]
# ## Where the errors concentrate, and how it copes with malformed rows

# %%
if result.slices is not None:
    display(formatting.styled(result.slices.to_frame()))
for table in result.probes.tables():  # a wide table's thousands: by kind, and those not handled
    display(formatting.styled(table))

# %%
s.finish()
