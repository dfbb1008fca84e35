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
# # Evaluate the candidates on the baseline's held-out work
#
# Each candidate in the charter (`candidates:`, an estimator named by import path with its
# parameters) is trained on the training split (or the charter's `split.train_sample` of
# it) with the workbench's standard preprocessing, and measured on exactly the held-out
# rows the baseline was — every one of them, streamed from DuckDB: quality at
# the decision threshold, slices, latency, throughput, cost and robustness probes, under
# the same metric names. Rows a candidate cannot score (a null in `fallback_on_null`) are
# served by today's rule — the degraded mode — and counted. Each candidate gets a nested
# run with its model logged (signature and input example) for promotion, and an evaluation
# report against the baseline (`evaluation/report.html`: ROC and PR curves, calibration,
# confusion at the threshold, latency, probes, and the slices that regressed, in colour).
# Today's rule and the current champion are scored on the same rows, so each candidate's
# differences from them are paired, with 95 % intervals (`compare/<reference>.json`).

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
champion = None  # injected: the current champion ({"uri", "version", "threshold"}), compared on the same rows
timing_budgets = {}  # injected: the charter's latency/throughput budgets, re-measured when inside the noise
compare_metrics = None  # injected: the primary and gated metrics compared with intervals (None: the defaults)
candidate_keys = {}  # injected: each candidate's own cache key
reuse = {}  # injected: candidates unchanged since an earlier run ({name: run id}), carried over, not trained again
data_checks_from = None  # injected: an earlier run on the same data, split and code whose leakage and shift results hold

# %%
import pandas as pd

import workbench
from workbench import formatting
from workbench.measure import leakage, metrics, modeling
from workbench.show import evaluation_report

s = workbench.session("evaluate", run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse,
                      pilot_name=pilot_name, task=task, cost_model=cost_model, spec=spec)
with s.connect() as con:
    data = modeling.load_data(con, s.spec, s.task)
# before any training: features that carry the answer (leakage.check_data, on a sample of the training
# rows) and shift between the training and the held-out rows (shift.compare_data, every held-out row
# counted in DuckDB); carried over from `data_checks_from` when the runner found one on the same inputs
findings, shifted = s.data_checks(data, carried_from=data_checks_from)
fallback = modeling.fit_baseline(s.spec.baseline, data.train, data.y_train, s.task,
                                  time_column=data.time_column)  # the degraded mode
s.log_params(data.params())
baseline = s.baseline_evidence()  # the baseline step's results, to judge each candidate against
# today's rule and the champion scored on the very held-out rows each candidate faces: every
# comparison is a paired difference with a 95 % interval (workbench.measure.stats)
references = {"baseline": (modeling.score(fallback, data, task=s.task, keep=slice_columns),
                           modeling.baseline_threshold(fallback, data, s.task, s.cost), "today's rule")}
if champion:  # the scores its own run kept when that run saw these very rows, else its model scores them now;
    # none when it trained on some of these rows (another split of these tables): the run's tag says so
    kept = s.champion_scores(champion, data, keep=slice_columns, like=references["baseline"][0])
    if kept is not None:
        references["champion"] = (kept, champion.get("threshold"), f"champion v{champion['version']}")
print(f"{data.summary()} {len(s.spec.candidates)} candidate(s): {', '.join(c.name for c in s.spec.candidates)}"
      + ("" if baseline else "; no baseline run found to compare with"))

# %% [markdown]
# ## Leakage and shift
#
# A finding blocks a GO (the `leakage` gate) until the charter acknowledges that feature with
# a reason (`leakage: {acknowledged: {FEATURE: "why it is known in time"}}`). Shift is gated
# when the charter has a `shift` gate.

# %%
if findings:
    display(pd.DataFrame([f.to_dict() for f in findings]))
else:
    print(f"No leakage finding on {min(len(data.train), leakage.SAMPLE_ROWS):,} sampled training rows.")
formatting.styled(shifted.to_frame().head(15)) if shifted.columns else None

# %%
results, figures = {}, {}
for cand in s.spec.candidates:
    source = reuse.get(cand.name)  # nothing this candidate depends on changed since that run
    with s.child(cand.name, data=data, tags=s.candidate_tags(cand.name, candidate_keys, source)) as c:
        if source:  # its results carried over; its kept scores compared again with today's rule and the champion
            scored, carried = c.reuse_candidate(source, cand.name, like=references["baseline"][0])
            threshold = carried.get("quality.threshold")
        else:
            model, threshold = modeling.fit_candidate(cand, data, s.task, s.cost, fallback=fallback)
            c.log_params({"candidate": cand.name, "estimator": cand.estimator,
                          **{f"param.{k}": v for k, v in model.params.items()}})
            c.log_dict(model.preprocessing(), f"{cand.name}/preprocessing.json")
            result = modeling.assess(cand.name, model, data, task=s.task, cost=s.cost, threshold=threshold,
                                     slice_columns=slice_columns, min_slice_rows=min_slice_rows,
                                     single_items=single_items, batch_size=batch_size, budgets=timing_budgets)
            scored = result.scored
            c.log_scores(scored, cand.name)
        for ref, (ref_scored, ref_threshold, label) in references.items():
            c.log_comparison(modeling.compare(scored, ref_scored, task=s.task, candidate_name=cand.name,
                                              reference_name=ref, reference_label=label, threshold=threshold,
                                              metrics=compare_metrics, slice_metrics=compare_metrics,
                                              reference_threshold=ref_threshold, slice_columns=slice_columns,
                                              min_slice_rows=min_slice_rows),
                             logged=[s.primary_metric] if s.primary_metric else None)
        if source:
            results[cand.name] = carried
            print(f"{cand.name}: reused from run {source} (unchanged), compared again on the same rows")
            continue
        if result.timing.inside_noise:  # a verdict inside the noise is never served from cache
            s.set_tags({"workbench.inside_noise": "true"})
            c.set_tags({"workbench.inside_noise": "true"})
        figures[cand.name] = c.log_assessment(result, prefix=cand.name, reference=baseline, primary_metric=s.primary_metric)
        c.log_model(model, "model", input_example=data.eval_head(5)[data.features], output_example=result.score_head(5))
        results[cand.name] = result
    print(f"{cand.name}: " + ", ".join(f"{k} {metrics.format_metric(k, v)}" for k, v in result.quality.metrics().items()))

# %% [markdown]
# ## Side by side

# %%
table = pd.DataFrame({**({"baseline": evaluation_report.bundle_metrics(baseline, logged_only=True)} if baseline else {}),
                      **{name: r if isinstance(r, dict) else r.metrics() for name, r in results.items()}})
table = table.loc[[m for m in table.index if not m.startswith("slice.")]]
s.log_table(metrics.metric_table(table), "evaluate/candidates.html")
metrics.metric_table(table)

# %%
for name, r in results.items():
    if name not in figures:  # reused: its figures and tables are in the run it came from
        continue
    for fig in figures[name].values():
        display(fig)
    if r.slices is not None:
        display(formatting.styled(r.slices.to_frame()))
    for table in r.probes.tables():  # a wide table's thousands: by kind, and those not handled
        display(formatting.styled(table))

# %%
s.finish()
