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
# Each candidate in the charter (`candidates:`, an estimator named by import path with its
# parameters) is trained on the training split with the workbench's standard
# preprocessing, and measured on exactly the held-out rows the baseline was: quality at
# the decision threshold, slices, latency, throughput, cost and robustness probes, under
# the same metric names. Rows a candidate cannot score (a null in `fallback_on_null`) are
# served by today's rule — the degraded mode — and counted. Each candidate gets a nested
# run with its model logged (signature and input example) for promotion.

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
from workbench import modeling

s = workbench.session("evaluate", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse,
                      pilot_name=pilot_name, task=task, cost_model=cost_model, spec=spec)
with s.connect() as con:
    data = modeling.load_data(con, s.spec, s.task)
fallback = modeling.fit_baseline(s.spec.baseline, data.train, data.y_train, s.task)  # the degraded mode
s.log_params(data.params())
print(f"{len(data.train):,} training rows, {len(data.evaluate):,} held-out rows; "
      f"{len(s.spec.candidates)} candidate(s): {', '.join(c.name for c in s.spec.candidates)}")

# %%
results = {}
for cand in s.spec.candidates:
    with s.child(cand.name) as c:
        model, threshold = modeling.fit_candidate(cand, data, s.task, s.cost, fallback=fallback)
        c.log_params({"candidate": cand.name, "estimator": cand.estimator,
                      **{f"param.{k}": v for k, v in model.params.items()}})
        c.log_dict(model.preprocessing(), f"{cand.name}/preprocessing.json")
        result = modeling.assess(cand.name, model, data, task=s.task, cost=s.cost, threshold=threshold,
                                 slice_columns=slice_columns, min_slice_rows=min_slice_rows,
                                 single_items=single_items, batch_size=batch_size)
        result.log(c, data.y_eval, prefix=cand.name)
        c.log_model(model, "model", input_example=data.X_eval.head(5),
                    output_example=result.scores.head(5).to_numpy())
        results[cand.name] = result
    print(f"{cand.name}: " + ", ".join(f"{k} {v:.4g}" for k, v in result.quality.metrics().items()))

# %% [markdown]
# ## Side by side

# %%
table = pd.DataFrame({name: r.metrics() for name, r in results.items()})
table = table.loc[[m for m in table.index if not m.startswith("slice.")]]
s.log_table(table.reset_index(names="metric"), "evaluate/candidates.html")
table

# %%
for name, r in results.items():
    for fig in r.figures(data.y_eval).values():
        display(fig)
    if r.slices is not None:
        display(r.slices.to_frame())
    display(r.probes.to_frame())

# %%
s.finish()
