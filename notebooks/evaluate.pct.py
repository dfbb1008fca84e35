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
# # Evaluate the candidates on the baseline's held-out work
#
# Each candidate named in the charter is trained on the training months and measured on
# exactly the evaluation set the baseline was: quality, slices, latency, throughput,
# cost and robustness probes, under the same metric names. Each candidate gets a nested
# run of its own, with the model logged (signature and input example) for promotion.
# The split is temporal — trained on earlier months, judged on later ones — so a model
# that only learned the season shows it here.

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
candidates = [{"name": "hgb", "max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31}]

# %%
import workbench
from workbench import evaluation, timing
from workbench import flights_demo as demo

s = workbench.session("evaluate", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name,
                      task=task, cost_model=cost_model)
task_spec, cost = s.task, s.cost
train = range(train_months[0], train_months[1] + 1)
held_out = range(eval_months[0], eval_months[1] + 1)

with s.connect() as con:
    train_set = demo.load_split(con, train, late_minutes=late_minutes)
    eval_set = demo.load_split(con, held_out, late_minutes=late_minutes)
    fallback = demo.RateTableBaseline.fit(con, train, late_minutes=late_minutes)  # the degraded mode
print(f"train {len(train_set):,} flights (months {train_months}), evaluate {len(eval_set):,} (months {eval_months})")

# %%
results = {}
for spec in candidates:
    spec = dict(spec)
    name = spec.pop("name")
    with s.child(name) as c:
        c.log_params({"candidate": name, **spec})
        model = demo.LateArrivalModel(baseline=fallback, **spec).fit(train_set[demo.FEATURES], train_set[demo.TARGET])
        scores = model.predict_proba(eval_set[demo.FEATURES])
        quality = evaluation.evaluate(eval_set[demo.TARGET], scores, task=task_spec)
        slices = evaluation.slice_metrics(eval_set.assign(score=scores.to_numpy()), demo.TARGET, "score",
                                          slice_columns, task=task_spec, min_rows=min_slice_rows)
        timed = timing.time_predictions(model.predict_proba, eval_set[demo.FEATURES], batch_size=batch_size,
                                        single_items=single_items, cost=cost, threads=1)
        probes = evaluation.run_probes(model.predict_proba, eval_set[demo.FEATURES].head(20),
                                       categorical=demo.CATEGORICAL, numeric=demo.NUMERIC,
                                       degraded_mode=demo.LateArrivalModel.is_degraded,
                                       refusal=(demo.InputRefused,))
        c.log_metrics({**quality.metrics(), **slices.metrics(), **timed.metrics(), **probes.metrics()})
        c.log_dict(quality.to_dict(), f"{name}/quality.json")
        c.log_dict(slices.to_dict(), f"{name}/slices.json")
        c.log_table(slices.to_frame(), f"{name}/slices.html")
        c.log_dict(timed.to_dict(), f"{name}/timing.json")
        c.log_dict(probes.to_dict(), f"{name}/probes.json")
        c.log_figure(evaluation.plot_calibration(quality), "figures/calibration.png")
        c.log_figure(timing.plot_latency(timed), "figures/latency.png")
        c.log_model(model, "model", input_example=eval_set[demo.FEATURES].head(5),
                    output_example=scores.head(5).to_numpy())
        results[name] = dict(quality=quality, slices=slices, timing=timed, probes=probes, run_id=c.run_id)
    print(f"{name}: ROC AUC {quality.values['roc_auc']:.3f}, p95 {timed.metrics()['latency.p95_ms']:.2f} ms")

# %% [markdown]
# ## Side by side

# %%
import pandas as pd

table = pd.DataFrame({name: {**r["quality"].metrics(), **r["timing"].metrics(), **r["probes"].metrics()}
                      for name, r in results.items()})
s.log_table(table.reset_index(names="metric"), "evaluate/candidates.html")
table

# %%
for name, r in results.items():
    display(evaluation.plot_calibration(r["quality"]))
    display(timing.plot_latency(r["timing"]))
    display(r["probes"].to_frame())

# %%
s.finish()
