# ---
# jupyter:
#   jupytext:
#     formats: ipynb,.pct.py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Baseline: how the work is done today
#
# Before any model is judged, measure the incumbent on the same held-out work. For the
# demo, the operations desk flags a departure as likely late from **the historical
# late-arrival rate of its carrier, origin and scheduled hour**, computed in DuckDB on the
# training months. Here it is scored on the evaluation months, timed one flight at a time
# and in batches, costed, sliced and probed with malformed rows — with the same metric
# names the candidates get, so the promotion gates can compare them.
#
# Run by hand, this notebook logs to a run of its own; under `make pilot` the runner
# injects the step's run and parameters.

# %% tags=["parameters"]
run_id = None
tracking_uri = None
warehouse = None
pilot_name = None
cost_model = None
task = None
train_months = [1, 9]
eval_months = [10, 12]
late_minutes = 15.0
slice_columns = ["origin", "carrier"]
min_slice_rows = 200
single_items = 300
batch_size = 2000

# %%
import workbench
from workbench import evaluation, timing
from workbench import flights_demo as demo

s = workbench.session("baseline", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name,
                      task=task, cost_model=cost_model)
task_spec, cost = s.task, s.cost
train = range(train_months[0], train_months[1] + 1)
held_out = range(eval_months[0], eval_months[1] + 1)

with s.connect() as con:
    rule = demo.RateTableBaseline.fit(con, train, late_minutes=late_minutes)
    eval_set = demo.load_split(con, held_out, late_minutes=late_minutes)
s.log_params({"eval.rows": len(eval_set), "rule.groups": len(rule.rates)})
print(f"{len(rule.rates):,} (carrier, origin, hour) groups; {len(eval_set):,} held-out flights, "
      f"late rate {eval_set[demo.TARGET].mean():.1%}")

# %% [markdown]
# ## Quality on the held-out months

# %%
scores = rule.predict_proba(eval_set)
quality = evaluation.evaluate(eval_set[demo.TARGET], scores, task=task_spec)
s.log_metrics(quality.metrics())
s.log_dict(quality.to_dict(), "baseline/quality.json")
s.log_figure(evaluation.plot_calibration(quality), "figures/calibration.png")
s.log_figure(evaluation.plot_confusion(quality), "figures/confusion.png")
quality.metrics()

# %%
evaluation.plot_calibration(quality)

# %% [markdown]
# ## Where the errors concentrate

# %%
frame = eval_set.assign(score=scores)
slices = evaluation.slice_metrics(frame, demo.TARGET, "score", slice_columns, task=task_spec, min_rows=min_slice_rows)
s.log_metrics(slices.metrics())
s.log_dict(slices.to_dict(), "baseline/slices.json")
s.log_table(slices.to_frame(), "baseline/slices.html")
slices.to_frame()

# %% [markdown]
# ## Latency, throughput and cost (same inputs, same way as the candidates)

# %%
timed = timing.time_predictions(rule.predict_proba, eval_set[demo.FEATURES], batch_size=batch_size,
                                single_items=single_items, cost=cost, threads=1)
s.log_metrics(timed.metrics())
s.log_dict(timed.to_dict(), "baseline/timing.json")
s.log_figure(timing.plot_latency(timed), "figures/latency.png")
timed.metrics()

# %%
timing.plot_latency(timed)

# %% [markdown]
# ## Robustness: malformed rows

# %%
probes = evaluation.run_probes(rule.predict_proba, eval_set[demo.FEATURES].head(20),
                               categorical=demo.CATEGORICAL, numeric=demo.NUMERIC,
                               refusal=(demo.InputRefused,))
s.log_metrics(probes.metrics())
s.log_dict(probes.to_dict(), "baseline/probes.json")
probes.to_frame()

# %%
s.finish()
